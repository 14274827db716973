"""What billing, addresses and scheduler know of accounts they have not heard of yet.

Each keeps a local copy of accounts (`known_accounts`) fed by accounts' created and archived events;
an account created a moment ago may not have arrived yet, so a miss asks the accounts API once before
saying "unknown". When accounts does not answer, that miss is a 503 with `Retry-After`
(`PeerUnavailable`), never a 500: the caller may retry, nothing was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import AccountArchivedV1, AccountCreatedV1
from cutover_contracts.topics import ACCOUNT_ARCHIVED, ACCOUNT_CREATED, Topic
from cutover_kit.consumer import Handler, one_by_one
from cutover_kit.db import UnitOfWork, any_of, rows_of
from cutover_kit.errors import AccountNotFound, Conflict, PeerUnavailable


@dataclass(frozen=True)
class AccountFacts:
    account_id: int
    archived: bool
    disconnected: bool


class AccountsDirectory:
    def __init__(self, base_url: str, auth: httpx.Auth | None, timeout: float = 2.0) -> None:
        """`auth`: the calling service's own identity (`accounts:read` is all it needs)."""
        self._client = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=timeout)

    async def lookup(self, account_id: int) -> AccountFacts | None:
        """The account as the accounts service knows it now; None when it does not exist."""
        try:
            response = await self._client.get(f"/accounts/{account_id}")
        except httpx.HTTPError as error:
            raise PeerUnavailable("accounts", f"{type(error).__name__}") from error
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise PeerUnavailable("accounts", f"answered {response.status_code}")
        body = response.json()
        return AccountFacts(
            account_id=body["id"],
            archived=body.get("archived_at") is not None,
            disconnected=body.get("disconnected_at") is not None,
        )

    async def close(self) -> None:
        await self._client.aclose()


class LocalAccountCopy(Protocol):
    """A service's own table of the accounts it has heard of."""

    async def account_archived(self, account_id: int) -> bool | None:
        """True/False when known (archived or not), None when never heard of."""

    async def remember_account(self, account_id: int) -> None: ...


class ArchivedAccount(Conflict):
    code = "account-archived"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is archived: nothing can be added to it.", account_id=account_id
        )


async def require_active_account(
    local: LocalAccountCopy, directory: AccountsDirectory, account_id: int
) -> AccountFacts | None:
    """Refuse unknown and archived accounts; learn an account created a moment ago on the way, and
    return what accounts said of it (None when the local copy answered)."""
    archived = await local.account_archived(account_id)
    facts = None
    if archived is None:
        facts = await directory.lookup(account_id)
        if facts is None:
            raise AccountNotFound(account_id)
        await local.remember_account(account_id)
        archived = facts.archived
    if archived:
        raise ArchivedAccount(account_id)
    return facts


def known_accounts_table(metadata: MetaData, *extra: Column[Any]) -> Table:
    """The local copy of accounts that billing, addresses and scheduler each keep, fed by accounts'
    events, with any `extra` columns a service needs of it. Its row is also the lock that
    serialises a service's changes to one account."""
    return Table(
        "known_accounts",
        metadata,
        Column("account_id", BigInteger, primary_key=True),
        Column("archived_at", DateTime(timezone=True)),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        *extra,
    )


class KnownAccounts:
    """`LocalAccountCopy` over a service's `known_accounts` table, in one unit of work."""

    def __init__(self, session: AsyncSession, table: Table) -> None:
        self.session = session
        self.table = table

    async def account_archived(self, account_id: int) -> bool | None:
        row = (
            await self.session.execute(
                select(self.table.c.archived_at).where(self.table.c.account_id == account_id)
            )
        ).first()
        return None if row is None else row.archived_at is not None

    async def remember_account(self, account_id: int) -> None:
        await self.remember_accounts([account_id])

    async def remember_accounts(self, account_ids: list[int]) -> None:
        await self.session.execute(
            pg_insert(self.table)
            .from_select(["account_id"], select(rows_of(account_id=("account_ids", BigInteger))))
            .on_conflict_do_nothing(),
            {"account_ids": account_ids},
        )

    async def mark_archived(self, account_id: int, archived_at: datetime) -> None:
        await self.session.execute(
            pg_insert(self.table)
            .values(account_id=account_id, archived_at=archived_at)
            .on_conflict_do_update(index_elements=["account_id"], set_={"archived_at": archived_at})
        )

    async def lock(self, *account_ids: int) -> None:
        """Hold the accounts' row locks until commit, taken in id order (no deadlock between two
        transactions locking overlapping sets)."""
        await self.session.execute(
            select(self.table.c.account_id)
            .where(any_of(self.table.c.account_id, account_ids))
            .order_by(self.table.c.account_id)
            .with_for_update()
        )


def local_copy_handlers(table: Table) -> dict[Topic, Handler]:
    """The consumer handlers that keep a service's `known_accounts` in step with accounts."""

    async def on_account_created(uow: UnitOfWork, _: CloudEvent, data: AccountCreatedV1) -> None:
        """Remember the new account."""
        await KnownAccounts(uow.session, table).remember_account(data.account_id)

    async def on_account_archived(uow: UnitOfWork, _: CloudEvent, data: AccountArchivedV1) -> None:
        """Mark the account archived: nothing more may be added to it."""
        await KnownAccounts(uow.session, table).mark_archived(data.account_id, data.archived_at)

    return {
        ACCOUNT_CREATED: one_by_one(on_account_created),
        ACCOUNT_ARCHIVED: one_by_one(on_account_archived),
    }
