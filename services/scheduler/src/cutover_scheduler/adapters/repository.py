"""Reads and writes of scheduled events for one unit of work (the API's side). It never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import BigInteger, Text, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_kit.db import rows_of
from cutover_kit.directory import KnownAccounts
from cutover_kit.pagination import PageRequest
from cutover_scheduler.adapters.queries import EventFilter
from cutover_scheduler.adapters.tables import known_accounts, scheduled_events
from cutover_scheduler.domain.model import ScheduledEvent


class Superseding(NamedTuple):
    """Something that started for `account_id` and ends its other pending events of a type (all
    but `sparing`, the event that started it, if any) with `outcome`."""

    account_id: int
    sparing: UUID | None
    outcome: str


class SchedulerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.accounts = KnownAccounts(session, known_accounts)

    async def database_now(self) -> datetime:
        return (await self.session.execute(select(func.clock_timestamp()))).scalar_one()

    async def add(self, **values: Any) -> ScheduledEvent:
        row = (
            await self.session.execute(
                insert(scheduled_events)
                .values(id=uuid.uuid4(), **values)
                .returning(scheduled_events)
            )
        ).one()
        return ScheduledEvent(**row._mapping)

    async def get(self, event_id: UUID, *, for_update: bool = False) -> ScheduledEvent | None:
        query = select(scheduled_events).where(scheduled_events.c.id == event_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return ScheduledEvent(**row._mapping) if row else None

    async def update(self, event_id: UUID, **values: Any) -> ScheduledEvent:
        row = (
            await self.session.execute(
                update(scheduled_events)
                .where(scheduled_events.c.id == event_id)
                .values(**values, updated_at=func.now())
                .returning(scheduled_events)
            )
        ).one()
        return ScheduledEvent(**row._mapping)

    async def record_outcome(
        self,
        event: ScheduledEvent,
        *,
        state: str,
        outcome: str,
        disconnect_id: UUID | None,
    ) -> ScheduledEvent:
        """The event's outcome; one never marked emitted is marked emitted now, by the database
        clock (it was sent, never earlier than due)."""
        return await self.update(
            event.id,
            state=state,
            outcome=outcome,
            disconnect_id=disconnect_id,
            emitted_at=event.emitted_at or func.clock_timestamp(),
        )

    async def list_events(
        self, filters: EventFilter, page: PageRequest
    ) -> tuple[list[ScheduledEvent], str | None]:
        query = select(scheduled_events).where(*filters.conditions())
        return await page.fetch(self.session, query, ScheduledEvent)

    async def cancel_superseded(self, event_type: str, supersedings: Sequence[Superseding]) -> int:
        """Cancel, in one statement, each superseding's account's pending events of `event_type`
        but the one it spares, with its outcome; an event that several cover gets the first one's,
        as if they had come one by one."""
        rows = rows_of(
            ordinality="n",
            account_id=("account_ids", BigInteger),
            sparing=("sparing", PG_UUID(as_uuid=True)),
            outcome=("outcomes", Text),
        )
        superseded = (
            select(scheduled_events.c.id, rows.c.outcome)
            .join(
                rows,
                and_(
                    rows.c.account_id == scheduled_events.c.account_id,
                    scheduled_events.c.id.is_distinct_from(rows.c.sparing),
                ),
            )
            .where(
                scheduled_events.c.state == "pending",
                scheduled_events.c.event_type == event_type,
            )
            .ext(distinct_on(scheduled_events.c.id))
            .order_by(scheduled_events.c.id, rows.c.n)
            .subquery()
        )
        result = await self.session.execute(
            update(scheduled_events)
            .where(scheduled_events.c.id == superseded.c.id)
            .values(state="cancelled", outcome=superseded.c.outcome, updated_at=func.now()),
            {
                "account_ids": [s.account_id for s in supersedings],
                "sparing": [s.sparing for s in supersedings],
                "outcomes": [s.outcome for s in supersedings],
            },
        )
        return result.rowcount

    async def cancel_pending_of(self, account_id: int, outcome: str) -> int:
        """Cancel the account's pending events with `outcome`."""
        result = await self.session.execute(
            update(scheduled_events)
            .where(
                scheduled_events.c.account_id == account_id,
                scheduled_events.c.state == "pending",
            )
            .values(state="cancelled", outcome=outcome, updated_at=func.now())
        )
        return result.rowcount
