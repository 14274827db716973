"""Scheduled events: what may be scheduled, and what may change while an event waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cutover_scheduler.domain import errors

State = Literal["pending", "emitted", "completed", "failed", "cancelled"]


class DisconnectAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class ChangeAccountStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_status_id: UUID


# The scheduler is generic: an event type is a name and the shape of its payload. Accounts decides
# what each one does when it is due.
EVENT_TYPES: dict[str, type[BaseModel]] = {
    "disconnect_account": DisconnectAccount,
    "change_account_status": ChangeAccountStatus,
}


def valid_payload(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    shape = EVENT_TYPES.get(event_type)
    if shape is None:
        raise errors.UnknownEventType(event_type, sorted(EVENT_TYPES))
    try:
        return shape.model_validate(payload).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        raise errors.InvalidPayload(event_type, str(error)) from error


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
