"""Kafka records built by hand, to hand a consumer exactly the deliveries a test needs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiokafka import ConsumerRecord
from pydantic import BaseModel

from cutover_contracts import seeds
from cutover_contracts.envelope import CloudEvent, encode_event
from cutover_contracts.events import AccountDisconnectRequestedV1
from cutover_contracts.topics import SCHEDULED_EVENT_DUE, Topic

INACTIVE = seeds.INACTIVE


def record(
    topic: Topic,
    data: BaseModel,
    *,
    account_id: int,
    event_id: uuid.UUID | None = None,
    offset: int = 0,
) -> ConsumerRecord:
    event = CloudEvent(
        id=event_id or uuid.uuid4(),
        source=f"/cutover/{topic.producer}",
        type=topic.event_type,
        subject=str(account_id),
        time=datetime.now(UTC),
        data=data.model_dump(mode="json"),
    )
    value = encode_event(event)
    key = str(account_id).encode()
    return ConsumerRecord(topic.name, 0, offset, 0, 0, key, value, None, len(key), len(value), [])


def disconnect_request(account_id: int) -> AccountDisconnectRequestedV1:
    """A fresh disconnect of `account_id`, as accounts requests it."""
    return AccountDisconnectRequestedV1(
        disconnect_id=uuid.uuid4(),
        account_id=account_id,
        source="manual",
        status_id=INACTIVE,
        requested_at=datetime.now(UTC),
    )


def due_event(
    account_id: int, event_type: str = "disconnect_account", **payload: object
) -> tuple[str, bytes]:
    """A `scheduler.scheduled-event-due.v1` record's value as the scheduler would write it, and the
    scheduled event's id."""
    scheduled_event_id = uuid.uuid4()
    now = datetime.now(UTC)
    event = CloudEvent(
        id=scheduled_event_id,
        source="/cutover/scheduler",
        type=SCHEDULED_EVENT_DUE.event_type,
        subject=str(account_id),
        time=now,
        data={
            "scheduled_event_id": str(scheduled_event_id),
            "event_type": event_type,
            "account_id": account_id,
            "run_at": now.isoformat(),
            "emitted_at": now.isoformat(),
            "payload": payload,
        },
    )
    return str(scheduled_event_id), encode_event(event)
