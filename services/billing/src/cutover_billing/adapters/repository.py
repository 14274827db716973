"""Reads and writes of the billing database for one unit of work. It never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_billing.adapters.tables import (
    debits,
    invoice_lines,
    invoice_number,
    invoices,
    known_accounts,
)
from cutover_billing.domain.model import Debit, Invoice, InvoiceLine
from cutover_billing.domain.model import invoice_lines as lines_of
from cutover_kit.directory import KnownAccounts


class BillingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.accounts = KnownAccounts(session, known_accounts)

    async def add_debit(
        self, account_id: int, amount: int, currency: str, description: str
    ) -> Debit:
        row = (
            await self.session.execute(
                insert(debits)
                .values(
                    id=uuid.uuid4(),
                    account_id=account_id,
                    amount=amount,
                    currency=currency,
                    description=description,
                )
                .returning(debits)
            )
        ).one()
        return Debit(**row._mapping)

    async def uninvoiced(self, account_id: int, *, for_update: bool = False) -> list[Debit]:
        query = (
            select(debits)
            .where(debits.c.account_id == account_id, debits.c.invoice_id.is_(None))
            .order_by(debits.c.created_at, debits.c.id)
        )
        if for_update:
            query = query.with_for_update()
        return [Debit(**row._mapping) for row in await self.session.execute(query)]

    async def debits_of(self, account_id: int, invoiced: bool | None) -> list[Debit]:
        query = select(debits).where(debits.c.account_id == account_id)
        if invoiced is not None:
            query = query.where(
                debits.c.invoice_id.is_not(None) if invoiced else debits.c.invoice_id.is_(None)
            )
        rows = await self.session.execute(query.order_by(debits.c.created_at, debits.c.id))
        return [Debit(**row._mapping) for row in rows]

    async def add_invoice(
        self,
        account_id: int,
        kind: Literal["regular", "final"],
        charged: list[Debit],
        *,
        issued_at: datetime,
        disconnect_id: UUID | None = None,
    ) -> Invoice:
        """Issue an invoice over `charged` (uninvoiced debits locked by this transaction)."""
        lines, total = lines_of(charged)
        number = (
            await self.session.execute(
                update(invoice_number)
                .values(last_number=invoice_number.c.last_number + 1)
                .returning(invoice_number.c.last_number)
            )
        ).scalar_one()
        invoice = Invoice(
            id=uuid.uuid4(),
            number=number,
            account_id=account_id,
            kind=kind,
            currency=charged[0].currency,
            total=total,
            issued_at=issued_at,
            disconnect_id=disconnect_id,
            lines=lines,
        )
        await self.session.execute(
            insert(invoices).values(
                id=invoice.id,
                number=invoice.number,
                account_id=account_id,
                kind=kind,
                currency=invoice.currency,
                total=total,
                issued_at=issued_at,
                disconnect_id=disconnect_id,
            )
        )
        await self.session.execute(
            insert(invoice_lines),
            [
                {
                    "invoice_id": invoice.id,
                    "debit_id": line.debit_id,
                    "position": position,
                    "description": line.description,
                    "amount": line.amount,
                }
                for position, line in enumerate(lines)
            ],
        )
        await self.session.execute(
            update(debits)
            .where(debits.c.id.in_([debit.id for debit in charged]))
            .values(invoice_id=invoice.id)
        )
        return invoice

    async def invoice(self, invoice_id: UUID) -> Invoice | None:
        return await self._invoice_where(invoices.c.id == invoice_id)

    async def final_invoice_of(self, disconnect_id: UUID) -> Invoice | None:
        return await self._invoice_where(invoices.c.disconnect_id == disconnect_id)

    async def invoices_of(self, account_id: int) -> list[Invoice]:
        ids = await self.session.scalars(
            select(invoices.c.id)
            .where(invoices.c.account_id == account_id)
            .order_by(invoices.c.number)
        )
        return [invoice for invoice_id in ids if (invoice := await self.invoice(invoice_id))]

    async def _invoice_where(self, condition) -> Invoice | None:  # noqa: ANN001
        row = (await self.session.execute(select(invoices).where(condition))).first()
        if row is None:
            return None
        line_rows = await self.session.execute(
            select(invoice_lines)
            .where(invoice_lines.c.invoice_id == row.id)
            .order_by(invoice_lines.c.position)
        )
        lines = tuple(
            InvoiceLine(line.debit_id, line.description, line.amount) for line in line_rows
        )
        values = dict(row._mapping)
        return Invoice(**values, lines=lines)

    async def uninvoiced_summary(self, account_id: int) -> tuple[int, int, str | None]:
        row = (
            await self.session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(debits.c.amount), 0),
                    func.min(debits.c.currency),
                ).where(debits.c.account_id == account_id, debits.c.invoice_id.is_(None))
            )
        ).one()
        return int(row[0]), int(row[1]), row[2]
