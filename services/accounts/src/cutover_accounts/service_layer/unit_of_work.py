"""Accounts' unit of work: one transaction, and the repository that reads and writes in it.

`uow.accounts` holds accounts, their statuses and types, disconnects and history in one repository:
every lifecycle change locks the one account row, and the name is the domain's. The composition
root hands this class to the runtime; use cases reach the database only through it, so the unit
tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_kit.db import UnitOfWork


class AccountsUnitOfWork(UnitOfWork):
    accounts: AccountsRepository

    def bind(self, session: AsyncSession) -> None:
        self.accounts = AccountsRepository(session)
