"""The local copy of accounts that billing, addresses and the scheduler keep, in memory."""

from __future__ import annotations

from datetime import datetime


class FakeKnownAccounts:
    def __init__(self, *account_ids: int) -> None:
        self.archived: dict[int, bool] = dict.fromkeys(account_ids, False)

    async def account_archived(self, account_id: int) -> bool | None:
        return self.archived.get(account_id)

    async def remember_account(self, account_id: int) -> None:
        self.archived.setdefault(account_id, False)

    async def mark_archived(self, account_id: int, archived_at: datetime) -> None:
        self.archived[account_id] = True

    async def lock(self, *account_ids: int) -> None:
        pass


class NoDirectory:
    """The accounts directory, never needed when the local copy knows the account."""

    async def lookup(self, account_id: int) -> None:
        raise AssertionError(f"account {account_id} should be known locally")
