"""Reads and writes of scheduled events for one unit of work (the API's side). It never commits."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_kit.directory import KnownAccounts
from cutover_kit.pagination import PageRequest
from cutover_scheduler.adapters.queries import EventFilter
from cutover_scheduler.adapters.tables import known_accounts, scheduled_events
from cutover_scheduler.domain.model import ScheduledEvent


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

    async def cancel_pending_of(
        self,
        account_id: int,
        outcome: str,
        *,
        event_type: str | None = None,
        sparing: UUID | None = None,
    ) -> int:
        """Cancel the account's pending events (of one type, all but `sparing`) with `outcome`."""
        conditions = [
            scheduled_events.c.account_id == account_id,
            scheduled_events.c.state == "pending",
        ]
        if event_type is not None:
            conditions.append(scheduled_events.c.event_type == event_type)
        if sparing is not None:
            conditions.append(scheduled_events.c.id != sparing)
        result = await self.session.execute(
            update(scheduled_events)
            .where(*conditions)
            .values(state="cancelled", outcome=outcome, updated_at=func.now())
        )
        return result.rowcount
