"""Reads and writes of the billing database for one unit of work. It never commits."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
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
from cutover_kit.db import any_of, in_one_statement, rows_of
from cutover_kit.directory import KnownAccounts
from cutover_kit.pagination import PageRequest

_INVOICE_ROWS = rows_of(
    id=("invoice_ids", PG_UUID(as_uuid=True)),
    number=("numbers", BigInteger),
    account_id=("account_ids", BigInteger),
    currency=("currencies", Text),
    total=("totals", BigInteger),
    disconnect_id=("disconnect_ids", PG_UUID(as_uuid=True)),
)
_LINE_ROWS = rows_of(
    invoice_id=("line_invoice_ids", PG_UUID(as_uuid=True)),
    debit_id=("line_debit_ids", PG_UUID(as_uuid=True)),
    position=("line_positions", Integer),
    description=("line_descriptions", Text),
    amount=("line_amounts", BigInteger),
)
# Invoices, their lines and their debits' invoice ids in one statement, each row passed as arrays:
# one execution, not one a row.
ISSUE_INVOICES = in_one_statement(
    insert(invoices).from_select(
        ["id", "number", "account_id", "currency", "total", "disconnect_id", "kind", "issued_at"],
        select(
            _INVOICE_ROWS,
            bindparam("kind", type_=Text),
            bindparam("issued_at", type_=DateTime(timezone=True)),
        ),
    ),
    insert(invoice_lines).from_select(
        ["invoice_id", "debit_id", "position", "description", "amount"], _LINE_ROWS
    ),
    update(debits)
    .where(debits.c.id == _LINE_ROWS.c.debit_id)
    .values(invoice_id=_LINE_ROWS.c.invoice_id),
)


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
        return (await self.uninvoiced_by_account([account_id], for_update=for_update)).get(
            account_id, []
        )

    async def uninvoiced_by_account(
        self, account_ids: list[int], *, for_update: bool = False
    ) -> dict[int, list[Debit]]:
        """The accounts' uninvoiced debits in posting order, read (and locked) in one query."""
        query = (
            select(debits)
            .where(any_of(debits.c.account_id, account_ids), debits.c.invoice_id.is_(None))
            .order_by(debits.c.account_id, debits.c.created_at, debits.c.id)
        )
        if for_update:
            query = query.with_for_update()
        found: dict[int, list[Debit]] = defaultdict(list)
        for row in await self.session.execute(query):
            found[row.account_id].append(Debit(**row._mapping))
        return found

    async def debits_of(
        self, account_id: int, invoiced: bool | None, page: PageRequest
    ) -> tuple[list[Debit], str | None]:
        query = select(debits).where(debits.c.account_id == account_id)
        if invoiced is not None:
            query = query.where(
                debits.c.invoice_id.is_not(None) if invoiced else debits.c.invoice_id.is_(None)
            )
        return await page.fetch(self.session, query, Debit)

    async def add_invoice(
        self,
        account_id: int,
        kind: Literal["regular", "final"],
        charged: list[Debit],
        *,
        disconnect_id: UUID | None = None,
    ) -> Invoice:
        """Issue an invoice over `charged` (uninvoiced debits locked by this transaction)."""
        [invoice] = await self.add_invoices(kind, [(account_id, charged, disconnect_id)])
        return invoice

    async def add_invoices(
        self,
        kind: Literal["regular", "final"],
        orders: list[tuple[int, list[Debit], UUID | None]],
    ) -> list[Invoice]:
        """Issue one invoice per (account, locked uninvoiced debits, disconnect), numbered in the
        order given, with a handful of statements whatever their count."""
        if not orders:
            return []
        # The numbers and the issue time are taken together under the counter's row lock, so
        # numbers follow issue times (clock_timestamp(): the time now, not the transaction's start).
        last, issued_at = (
            await self.session.execute(
                update(invoice_number)
                .values(last_number=invoice_number.c.last_number + len(orders))
                .returning(invoice_number.c.last_number, func.clock_timestamp())
            )
        ).one()
        issued = []
        for number, (account_id, charged, disconnect_id) in enumerate(
            orders, start=last - len(orders) + 1
        ):
            lines, total = lines_of(charged)
            issued.append(
                Invoice(
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
            )
        invoiced = [
            (invoice.id, position, line)
            for invoice in issued
            for position, line in enumerate(invoice.lines)
        ]
        await self.session.execute(
            ISSUE_INVOICES,
            {
                "invoice_ids": [invoice.id for invoice in issued],
                "numbers": [invoice.number for invoice in issued],
                "account_ids": [invoice.account_id for invoice in issued],
                "currencies": [invoice.currency for invoice in issued],
                "totals": [invoice.total for invoice in issued],
                "disconnect_ids": [invoice.disconnect_id for invoice in issued],
                "kind": kind,
                "issued_at": issued_at,
                "line_invoice_ids": [invoice_id for invoice_id, _, _ in invoiced],
                "line_debit_ids": [line.debit_id for _, _, line in invoiced],
                "line_positions": [position for _, position, _ in invoiced],
                "line_descriptions": [line.description for _, _, line in invoiced],
                "line_amounts": [line.amount for _, _, line in invoiced],
            },
        )
        return issued

    async def invoice(self, invoice_id: UUID) -> Invoice | None:
        rows = await self._with_lines(
            list(await self.session.execute(select(invoices).where(invoices.c.id == invoice_id)))
        )
        return rows[0] if rows else None

    async def final_invoices_of(self, disconnect_ids: list[UUID]) -> dict[UUID, Invoice]:
        rows = await self._with_lines(
            list(
                await self.session.execute(
                    select(invoices).where(any_of(invoices.c.disconnect_id, disconnect_ids))
                )
            )
        )
        return {invoice.disconnect_id: invoice for invoice in rows if invoice.disconnect_id}

    async def invoices_of(
        self, account_id: int, page: PageRequest
    ) -> tuple[list[Invoice], str | None]:
        query = select(invoices).where(invoices.c.account_id == account_id)
        rows, next_cursor = await page.fetch(self.session, query)
        return await self._with_lines(rows), next_cursor

    async def _with_lines(self, invoice_rows: list[Any]) -> list[Invoice]:
        """The invoices with their lines, read in one query for all of them."""
        if not invoice_rows:
            return []
        line_rows = await self.session.execute(
            select(invoice_lines)
            .where(any_of(invoice_lines.c.invoice_id, [row.id for row in invoice_rows]))
            .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
        )
        lines: dict[UUID, list[InvoiceLine]] = defaultdict(list)
        for line in line_rows:
            lines[line.invoice_id].append(InvoiceLine(line.debit_id, line.description, line.amount))
        return [Invoice(**row._mapping, lines=tuple(lines[row.id])) for row in invoice_rows]

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
