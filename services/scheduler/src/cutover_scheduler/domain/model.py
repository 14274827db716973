"""Scheduled events: what may change while an event waits. (What may be scheduled, the event types
and their payloads, is a contract between the scheduler and accounts: `cutover_contracts.scheduled`.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from cutover_scheduler.domain import errors

State = Literal["pending", "emitted", "completed", "failed", "cancelled"]


@dataclass(frozen=True)
class ScheduledEvent:
    id: UUID
    event_type: str
    account_id: int
    run_at: datetime
    payload: dict[str, Any]
    state: State
    emitted_at: datetime | None
    outcome: str | None
    disconnect_id: UUID | None
    correlation_id: str | None
    scheduled_by: str | None
    created_at: datetime
    updated_at: datetime

    def check_pending(self) -> None:
        """Only a pending event can be changed or cancelled: the others have happened."""
        if self.state != "pending":
            raise errors.NotPending(self.id, self.state)
