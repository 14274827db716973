"""Billing' unit of work: one transaction, and the repositories that read and write in it
(debits and invoices, written together under one account lock: one repository, `uow.billing`).

The composition root hands this class to the runtime; use cases reach the database only through
`uow.billing`, so the unit tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_billing.adapters.repository import BillingRepository
from cutover_kit.db import UnitOfWork


class BillingUnitOfWork(UnitOfWork):
    billing: BillingRepository

    def bind(self, session: AsyncSession) -> None:
        self.billing = BillingRepository(session)
