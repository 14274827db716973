"""Addresses' unit of work: one transaction, and the repository that reads and writes in it.

`uow.addresses` holds the serviceable addresses, the account each one serves and their history.
The composition root hands this class to the runtime; use cases reach the database only through
it, so the unit tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_addresses.adapters.repository import AddressesRepository
from cutover_kit.db import UnitOfWork


class AddressesUnitOfWork(UnitOfWork):
    addresses: AddressesRepository

    def bind(self, session: AsyncSession) -> None:
        self.addresses = AddressesRepository(session)
