"""Accounts' repository in memory, seeded like the migrations seed the database."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cutover_accounts.adapters.repository import HistoryEntry, LockedForDisconnect
from cutover_accounts.domain.model import Account, AccountStatus, Disconnect
from tests.unit.fakes.unit_of_work import FakeUnitOfWork

LEAD = AccountStatus(uuid.uuid4(), "Lead", activates_account=False)
ACTIVE = AccountStatus(uuid.uuid4(), "Active", activates_account=True)
INACTIVE = AccountStatus(uuid.uuid4(), "Inactive", activates_account=False)
RESIDENTIAL = uuid.uuid4()


class FakeAccountsRepository:
    def __init__(self) -> None:
        self.statuses = {status.id: status for status in (LEAD, ACTIVE, INACTIVE)}
        self.types = {RESIDENTIAL}
        self.disconnect_status = INACTIVE.id
        self.accounts: dict[int, Account] = {}
        self.disconnects: dict[UUID, Disconnect] = {}
        self.activations: list[tuple[int, datetime, str]] = []
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []
        self._ids = itertools.count(1)

    # --- statuses, types, settings

    async def status(self, status_id: UUID) -> AccountStatus | None:
        return self.statuses.get(status_id)

    async def status_named(self, name: str) -> AccountStatus:
        return next(status for status in self.statuses.values() if status.name == name)

    async def type_exists(self, type_id: UUID) -> bool:
        return type_id in self.types

    async def disconnect_status_id(self) -> UUID:
        return self.disconnect_status

    async def set_disconnect_status(self, status_id: UUID) -> None:
        self.disconnect_status = status_id

    # --- accounts

    async def next_account_id(self) -> int:
        return next(self._ids)

    async def add_account(self, **values: Any) -> Account | None:
        if values["id"] in self.accounts:
            return None
        account = Account(disconnected_at=None, archived_at=None, **values)
        self.accounts[account.id] = account
        return account

    async def get(self, account_id: int, *, for_update: bool = False) -> Account | None:
        return self.accounts.get(account_id)

    async def update_account(self, account_id: int, **values: Any) -> Account:
        account = replace(self.accounts[account_id], **values, updated_at=datetime.now(UTC))
        self.accounts[account_id] = account
        return account

    async def lock_parent_links(self) -> None:
        pass

    async def is_ancestor_or_self(self, account_id: int, of: int) -> bool:
        current: int | None = of
        while current is not None:
            if current == account_id:
                return True
            current = self.accounts[current].parent_account_id
        return False

    async def record_activation(self, account_id: int, at: datetime, cause: str) -> None:
        self.activations.append((account_id, at, cause))

    async def record_history(
        self, account_id: int, change: str, cause: str, **details: Any
    ) -> None:
        self.history.append((account_id, change, cause, details))

    async def record_histories(self, entries: list[HistoryEntry]) -> None:
        self.history += [(e.account_id, e.change, e.cause, e.details) for e in entries]

    # --- disconnects

    def _of(self, account_id: int) -> list[Disconnect]:
        return sorted(
            (d for d in self.disconnects.values() if d.account_id == account_id),
            key=lambda d: d.requested_at,
        )

    async def pending_disconnect_id(self, account_id: int) -> UUID | None:
        return next((d.id for d in self._of(account_id) if d.state == "pending"), None)

    async def lock_for_disconnects(self, account_ids: list[int]) -> dict[int, LockedForDisconnect]:
        locked = {}
        for account_id in sorted(set(account_ids) & set(self.accounts)):
            history = self._of(account_id)
            locked[account_id] = LockedForDisconnect(
                self.accounts[account_id],
                await self.pending_disconnect_id(account_id),
                bool(history) and history[-1].state == "abandoned",
                self.disconnect_status,
            )
        return locked

    async def record_disconnect_starts(
        self, started: list[Disconnect], history: list[HistoryEntry]
    ) -> None:
        for disconnect in started:
            await self.update_account(
                disconnect.account_id,
                account_status_id=disconnect.status_id,
                disconnected_at=disconnect.requested_at,
            )
            self.disconnects[disconnect.id] = disconnect
        await self.record_histories(history)

    async def lock_disconnect(self, disconnect_id: UUID) -> Disconnect | None:
        return self.disconnects.get(disconnect_id)

    async def update_disconnect(self, disconnect_id: UUID, **values: Any) -> Disconnect:
        disconnect = replace(self.disconnects[disconnect_id], **values)
        self.disconnects[disconnect_id] = disconnect
        return disconnect


class FakeAccountsUnitOfWork(FakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.accounts = FakeAccountsRepository()
