"""Addresses' repository in memory: serviceable addresses and the account each one serves."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from cutover_addresses.domain.model import ServiceableAddress
from tests.unit.fakes.known_accounts import FakeKnownAccounts
from tests.unit.fakes.unit_of_work import FakeUnitOfWork


class FakeAddressesRepository:
    def __init__(self, *account_ids: int) -> None:
        self.accounts = FakeKnownAccounts(*account_ids)
        self.addresses: dict[UUID, ServiceableAddress] = {}
        self.disconnected: set[int] = set()

    def given_address(self, account_id: int | None = None) -> ServiceableAddress:
        address = ServiceableAddress(
            uuid.uuid4(), "1 Main St", None, "Ely", "CB", "7", "GB", None, None, account_id,
            datetime.now(UTC),
        )  # fmt: skip
        self.addresses[address.id] = address
        return address

    async def account_disconnected(self, account_id: int) -> bool:
        return account_id in self.disconnected

    async def lock(self, address_id: UUID) -> ServiceableAddress | None:
        return self.addresses.get(address_id)

    async def address_of(self, account_id: int) -> UUID | None:
        return next((a.id for a in self.addresses.values() if a.account_id == account_id), None)

    async def attach(self, address_id: UUID, account_id: int) -> None:
        self.addresses[address_id] = replace(self.addresses[address_id], account_id=account_id)

    async def release(self, address_id: UUID, account_id: int) -> None:
        self.addresses[address_id] = replace(self.addresses[address_id], account_id=None)


class FakeAddressesUnitOfWork(FakeUnitOfWork):
    def __init__(self, *account_ids: int) -> None:
        super().__init__()
        self.addresses = FakeAddressesRepository(*account_ids)
