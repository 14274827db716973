"""Accounts' unit of work: one transaction, and the repositories that read and write in it
(accounts, their statuses and types, disconnects and history: one repository, `uow.accounts`, since one account row is what every use case locks).

The composition root hands this class to the runtime; use cases reach the database only through
`uow.accounts`, so the unit tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_kit.db import UnitOfWork


class AccountsUnitOfWork(UnitOfWork):
    accounts: AccountsRepository

    def bind(self, session: AsyncSession) -> None:
        self.accounts = AccountsRepository(session)
