"""Billing's unit of work: one transaction, and the repository that reads and writes in it.

`uow.billing` holds debits and invoices together: an invoice is issued over the debits it charges,
under the one account lock, so splitting them would only pass that lock between two objects. The
composition root hands this class to the runtime; use cases reach the database only through it,
so the unit tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_billing.adapters.repository import BillingRepository
from cutover_kit.db import UnitOfWork


class BillingUnitOfWork(UnitOfWork):
    billing: BillingRepository

    def bind(self, session: AsyncSession) -> None:
        self.billing = BillingRepository(session)
