"""The scheduler's unit of work: one transaction, and the repository that reads and writes in it.

`uow.scheduled_events` holds the scheduled events as the API sees them (the emitter claims and
publishes them on its own connection). The composition root hands this class to the runtime; use
cases reach the database only through it, so the unit tier runs them on a fake unit of work.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cutover_kit.db import UnitOfWork
from cutover_scheduler.adapters.repository import SchedulerRepository


class SchedulerUnitOfWork(UnitOfWork):
    scheduled_events: SchedulerRepository

    def bind(self, session: AsyncSession) -> None:
        self.scheduled_events = SchedulerRepository(session)
