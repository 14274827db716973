"""The scheduler's repository in memory (the API's side: the emitter is tested against PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cutover_scheduler.adapters.repository import Superseding
from cutover_scheduler.domain.model import ScheduledEvent
from tests.unit.fakes.known_accounts import FakeKnownAccounts
from tests.unit.fakes.unit_of_work import FakeUnitOfWork


class FakeSchedulerRepository:
    def __init__(self, *account_ids: int) -> None:
        self.accounts = FakeKnownAccounts(*account_ids)
        self.events: dict[UUID, ScheduledEvent] = {}
        self.now = datetime.now(UTC)

    async def database_now(self) -> datetime:
        return self.now

    async def add(self, **values: Any) -> ScheduledEvent:
        event = ScheduledEvent(
            id=uuid.uuid4(),
            state="pending",
            emitted_at=None,
            outcome=None,
            disconnect_id=None,
            created_at=self.now,
            updated_at=self.now,
            **values,
        )
        self.events[event.id] = event
        return event

    async def get(self, event_id: UUID, *, for_update: bool = False) -> ScheduledEvent | None:
        return self.events.get(event_id)

    async def update(self, event_id: UUID, **values: Any) -> ScheduledEvent:
        event = self.events[event_id] = replace(self.events[event_id], **values)
        return event

    async def cancel_pending_of(self, account_id: int, outcome: str) -> int:
        cancelled = [
            event
            for event in self.events.values()
            if event.account_id == account_id and event.state == "pending"
        ]
        for event in cancelled:
            await self.update(event.id, state="cancelled", outcome=outcome)
        return len(cancelled)

    async def cancel_superseded(self, event_type: str, supersedings: Sequence[Superseding]) -> int:
        cancelled = 0
        for superseding in supersedings:
            for event in list(self.events.values()):
                if (
                    event.account_id == superseding.account_id
                    and event.state == "pending"
                    and event.event_type == event_type
                    and event.id != superseding.sparing
                ):
                    await self.update(event.id, state="cancelled", outcome=superseding.outcome)
                    cancelled += 1
        return cancelled


class FakeSchedulerUnitOfWork(FakeUnitOfWork):
    def __init__(self, *account_ids: int) -> None:
        super().__init__()
        self.scheduled_events = FakeSchedulerRepository(*account_ids)
