"""The scheduler HTTP API's bodies. Times must carry an offset; naive times are a 422."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cutover_contracts.scheduled import PAYLOADS
from cutover_kit.pagination import Instant
from cutover_scheduler.domain.model import ScheduledEvent


class ScheduledEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(
        max_length=50,
        description="What to do when due; its payload's shape depends on it",
        json_schema_extra={"enum": sorted(PAYLOADS)},
    )
    account_id: StrictInt = Field(gt=0, le=2**63 - 1)
    # RFC 3339 text, as documented (a bare number would otherwise be read as Unix seconds).
    run_at: Instant = Field(description="The minimum start time; in the future, with offset")
    payload: dict[str, Any] = Field(
        default_factory=dict,
        description="disconnect_account: {reason?}; change_account_status: {account_status_id}",
    )


class ScheduledEventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_at: Instant | None = None
    payload: dict[str, Any] | None = None


class ScheduledEventOut(BaseModel):
    id: UUID
    event_type: str
    account_id: int
    run_at: datetime
    payload: dict[str, Any]
    state: Literal["pending", "emitted", "completed", "failed", "cancelled"]
    emitted_at: datetime | None
    lateness_ms: float | None = Field(description="emitted_at minus run_at, in milliseconds")
    outcome: str | None
    disconnect_id: UUID | None
    scheduled_by: str | None = Field(description="The actor who scheduled it")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, event: ScheduledEvent) -> ScheduledEventOut:
        lateness = (
            (event.emitted_at - event.run_at).total_seconds() * 1000 if event.emitted_at else None
        )
        return cls(
            id=event.id,
            event_type=event.event_type,
            account_id=event.account_id,
            run_at=event.run_at,
            payload=event.payload,
            state=event.state,
            emitted_at=event.emitted_at,
            lateness_ms=lateness,
            outcome=event.outcome,
            disconnect_id=event.disconnect_id,
            scheduled_by=event.scheduled_by,
            created_at=event.created_at,
            updated_at=event.updated_at,
        )
