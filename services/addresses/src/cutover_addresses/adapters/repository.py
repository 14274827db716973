"""Reads and writes of the addresses database for one unit of work. It never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, insert, literal, select, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_addresses.adapters.tables import (
    address_history,
    known_accounts,
    serviceable_addresses,
)
from cutover_addresses.domain.model import ServiceableAddress
from cutover_kit.db import any_of, in_one_statement, rows_of
from cutover_kit.directory import KnownAccounts
from cutover_kit.pagination import PageRequest, contains_pattern, plan_for_the_pattern

COLUMNS = [column for column in serviceable_addresses.c if column.name != "normalised"]


_DISCONNECTED = rows_of(
    account_id=("account_ids", BigInteger),
    disconnected_at=("disconnected_ats", DateTime(timezone=True)),
)
_UPSERT_DISCONNECTED = pg_insert(known_accounts).from_select(
    ["account_id", "disconnected_at"], select(_DISCONNECTED)
)
_MARK_DISCONNECTED = _UPSERT_DISCONNECTED.on_conflict_do_update(
    index_elements=["account_id"],
    set_={"disconnected_at": _UPSERT_DISCONNECTED.excluded.disconnected_at},
)
_RELEASES = rows_of(
    address_id=("address_ids", PG_UUID(as_uuid=True)),
    account_id=("account_ids", BigInteger),
    disconnect_id=("disconnect_ids", PG_UUID(as_uuid=True)),
)
# A batch's releases in one statement, each row passed as arrays: the addresses freed and their
# history.
_RELEASE = in_one_statement(
    update(serviceable_addresses)
    .where(serviceable_addresses.c.id == _RELEASES.c.address_id)
    .values(account_id=None),
    insert(address_history).from_select(
        ["address_id", "account_id", "disconnect_id", "action", "reason"],
        select(_RELEASES, literal("release"), literal("disconnect")),
    ),
)


class AddressesRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.accounts = KnownAccounts(session, known_accounts)

    async def address_of(self, account_id: int) -> UUID | None:
        return await self.session.scalar(
            select(serviceable_addresses.c.id).where(
                serviceable_addresses.c.account_id == account_id
            )
        )

    async def account_disconnected(self, account_id: int) -> bool:
        return bool(
            await self.session.scalar(
                select(known_accounts.c.disconnected_at.is_not(None)).where(
                    known_accounts.c.account_id == account_id
                )
            )
        )

    async def mark_disconnected(self, disconnected: list[tuple[int, datetime]]) -> None:
        """Remember these accounts as disconnected, holding their local-copy rows (in id order,
        like every lock of them) until commit, so a concurrent attach waits and then sees it."""
        latest: dict[int, datetime] = {}
        for account_id, at in disconnected:
            latest[account_id] = max(at, latest.get(account_id, at))
        ordered = sorted(latest.items())
        await self.session.execute(
            _MARK_DISCONNECTED,
            {
                "account_ids": [account_id for account_id, _ in ordered],
                "disconnected_ats": [at for _, at in ordered],
            },
        )

    async def mark_reactivated(self, account_id: int, activated_at: datetime) -> None:
        await self.session.execute(
            update(known_accounts)
            .where(
                known_accounts.c.account_id == account_id,
                known_accounts.c.disconnected_at <= activated_at,
            )
            .values(disconnected_at=None)
        )

    async def lock(self, address_id: UUID) -> ServiceableAddress | None:
        row = (
            await self.session.execute(
                select(*COLUMNS).where(serviceable_addresses.c.id == address_id).with_for_update()
            )
        ).first()
        return ServiceableAddress(**row._mapping) if row else None

    async def add(self, normalised: str, **values: Any) -> ServiceableAddress | None:
        """Insert the address; None when an equal (normalised) address exists already."""
        row = (
            await self.session.execute(
                pg_insert(serviceable_addresses)
                .values(id=uuid.uuid4(), normalised=normalised, **values)
                .on_conflict_do_nothing(index_elements=["normalised"])
                .returning(*COLUMNS)
            )
        ).first()
        return ServiceableAddress(**row._mapping) if row else None

    async def id_of_normalised(self, normalised: str) -> UUID:
        return (
            await self.session.execute(
                select(serviceable_addresses.c.id).where(
                    serviceable_addresses.c.normalised == normalised
                )
            )
        ).scalar_one()

    async def get(self, address_id: UUID) -> ServiceableAddress | None:
        row = (
            await self.session.execute(
                select(*COLUMNS).where(serviceable_addresses.c.id == address_id)
            )
        ).first()
        return ServiceableAddress(**row._mapping) if row else None

    async def attach(self, address_id: UUID, account_id: int) -> None:
        await self.session.execute(
            update(serviceable_addresses)
            .where(serviceable_addresses.c.id == address_id)
            .values(account_id=account_id)
        )
        await self._history(address_id, account_id, "attach", "manual", None)

    async def release_accounts(self, releases: list[tuple[int, UUID]]) -> dict[UUID, UUID]:
        """Free the address of each (account, disconnect), in order; return disconnect id →
        released address id. An account without an address, or whose address an earlier pair in
        the list released, is left out."""
        held = {
            row.account_id: row.id
            for row in await self.session.execute(
                select(serviceable_addresses.c.id, serviceable_addresses.c.account_id)
                .where(any_of(serviceable_addresses.c.account_id, [a for a, _ in releases]))
                .order_by(serviceable_addresses.c.id)
                .with_for_update()
            )
        }
        # Each account's address goes to the first of its disconnects in the list.
        released: dict[UUID, tuple[UUID, int]] = {}
        for account_id, disconnect_id in releases:
            if disconnect_id not in released and (address_id := held.pop(account_id, None)):
                released[disconnect_id] = (address_id, account_id)
        if not released:
            return {}
        await self.session.execute(
            _RELEASE,
            {
                "address_ids": [address_id for address_id, _ in released.values()],
                "account_ids": [account_id for _, account_id in released.values()],
                "disconnect_ids": list(released),
            },
        )
        return {disconnect_id: address_id for disconnect_id, (address_id, _) in released.items()}

    async def list_addresses(
        self, available: bool | None, q: str | None, page: PageRequest
    ) -> tuple[list[ServiceableAddress], str | None]:
        query = select(*COLUMNS)
        if available is not None:
            account = serviceable_addresses.c.account_id
            query = query.where(account.is_(None) if available else account.is_not(None))
        if q:
            await plan_for_the_pattern(self.session)
            matches = serviceable_addresses.c.normalised.like(contains_pattern(q))
            return await page.search(self.session, query, matches, ServiceableAddress)
        return await page.fetch(self.session, query, ServiceableAddress)

    async def release(self, address_id: UUID, account_id: int) -> None:
        await self.session.execute(
            update(serviceable_addresses)
            .where(serviceable_addresses.c.id == address_id)
            .values(account_id=None)
        )
        await self._history(address_id, account_id, "release", "manual", None)

    async def history_of_account(
        self, account_id: int, page: PageRequest
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = select(address_history).where(address_history.c.account_id == account_id)
        return await page.fetch(self.session, query, dict)

    async def released_by(self, disconnect_ids: list[UUID]) -> dict[UUID, UUID]:
        """The addresses these disconnects already released: disconnect id → address id."""
        rows = await self.session.execute(
            select(address_history.c.disconnect_id, address_history.c.address_id).where(
                any_of(address_history.c.disconnect_id, disconnect_ids)
            )
        )
        return {row.disconnect_id: row.address_id for row in rows}

    async def _history(
        self,
        address_id: UUID,
        account_id: int,
        action: str,
        reason: str,
        disconnect_id: UUID | None,
    ) -> None:
        await self.session.execute(
            insert(address_history).values(
                address_id=address_id,
                account_id=account_id,
                action=action,
                reason=reason,
                disconnect_id=disconnect_id,
            )
        )
