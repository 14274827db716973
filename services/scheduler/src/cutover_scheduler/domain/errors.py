from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cutover_kit.errors import Conflict, DoesNotExist, Unprocessable


class ScheduledEventNotFound(DoesNotExist):
    code = "scheduled-event-not-found"
    subject = "Scheduled event"
    id_member = "scheduled_event_id"


class UnknownEventType(Unprocessable):
    code = "unknown-event-type"

    def __init__(self, event_type: str, known: list[str]) -> None:
        super().__init__(
            f"Unknown event type {event_type!r}; the scheduler knows {', '.join(known)}.",
            event_type=event_type,
        )


class InvalidPayload(Unprocessable):
    code = "invalid-payload"

    def __init__(self, event_type: str, reason: str) -> None:
        super().__init__(f"The payload does not fit {event_type}: {reason}", event_type=event_type)


class RunAtNotInFuture(Unprocessable):
    code = "run-at-not-in-future"

    def __init__(self, run_at: datetime) -> None:
        super().__init__(
            f"run_at {run_at.isoformat()} is not in the future.", run_at=run_at.isoformat()
        )


class NotPending(Conflict):
    code = "scheduled-event-not-pending"

    def __init__(self, event_id: UUID, state: str) -> None:
        super().__init__(
            f"Scheduled event {event_id} is {state}; only a pending event can be changed or "
            "cancelled.",
            scheduled_event_id=event_id,
            state=state,
        )
