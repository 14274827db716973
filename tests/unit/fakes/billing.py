"""Billing's repository in memory: debits, and invoices over them."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from cutover_billing.domain.model import Debit, Invoice, invoice_lines
from tests.unit.fakes.known_accounts import FakeKnownAccounts
from tests.unit.fakes.unit_of_work import FakeUnitOfWork


class FakeBillingRepository:
    def __init__(self, *account_ids: int) -> None:
        self.accounts = FakeKnownAccounts(*account_ids)
        self.debits: dict[UUID, Debit] = {}
        self.invoices: list[Invoice] = []

    async def add_debit(
        self, account_id: int, amount: int, currency: str, description: str
    ) -> Debit:
        debit = Debit(
            uuid.uuid4(), account_id, amount, currency, description, datetime.now(UTC), None
        )
        self.debits[debit.id] = debit
        return debit

    async def uninvoiced(self, account_id: int, *, for_update: bool = False) -> list[Debit]:
        return [
            debit
            for debit in self.debits.values()
            if debit.account_id == account_id and debit.invoice_id is None
        ]

    async def add_invoice(
        self,
        account_id: int,
        kind: Literal["regular", "final"],
        charged: list[Debit],
        *,
        disconnect_id: UUID | None = None,
    ) -> Invoice:
        lines, total = invoice_lines(charged)
        invoice = Invoice(
            uuid.uuid4(),
            len(self.invoices) + 1,
            account_id,
            kind,
            charged[0].currency,
            total,
            datetime.now(UTC),
            disconnect_id,
            lines,
        )
        self.invoices.append(invoice)
        for debit in charged:
            self.debits[debit.id] = replace(debit, invoice_id=invoice.id)
        return invoice


class FakeBillingUnitOfWork(FakeUnitOfWork):
    def __init__(self, *account_ids: int) -> None:
        super().__init__()
        self.billing = FakeBillingRepository(*account_ids)
