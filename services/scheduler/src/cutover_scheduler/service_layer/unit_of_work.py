"""Scheduler' unit of work: one transaction, and the repositories that read and write in it
(the scheduled events (the API's side; the emitter has its own connection): `uow.scheduled_events`).

The composition root hands this class to the runtime; use cases reach the database only through
`uow.scheduled_events`, so the unit tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_kit.db import UnitOfWork
from cutover_scheduler.adapters.repository import SchedulerRepository


class SchedulerUnitOfWork(UnitOfWork):
    scheduled_events: SchedulerRepository

    def bind(self, session: AsyncSession) -> None:
        self.scheduled_events = SchedulerRepository(session)
