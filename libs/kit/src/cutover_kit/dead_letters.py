"""Dead letters: what a service could not apply or could not publish, kept for operators.

A consumed record that does not decode, or whose handler keeps failing, and an outgoing event that
Kafka refuses as a record (too large, invalid) each become a row of the service's `dead_letters`
table, with the original bytes whole, in the same transaction that moves past them: so no record
stops a pipeline, and none is lost. The dead-letter topic carries a bounded copy (key and value cut,
size and SHA-256 kept) so that it is never larger than the broker accepts.

Operators list them, read one, redrive it (re-applied inside the consuming service, after clearing
that event's dedupe claim; never by writing to another service's topic) or discard it with a reason.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from aiokafka import ConsumerRecord
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_contracts.events import DeadLetterV1
from cutover_contracts.topics import Topic
from cutover_kit import context
from cutover_kit.auth import requires
from cutover_kit.db import UnitOfWork, any_of, outbox_channel
from cutover_kit.dependencies import RuntimeOf
from cutover_kit.errors import Conflict, DoesNotExist, Unprocessable
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Listing, Page, PageRequest
from cutover_kit.tables import dead_letters, outbox

if TYPE_CHECKING:
    from cutover_kit.runtime import ServiceRuntime

# The relay's letters name it as their consumer.
RELAY = "outbox-relay"
# What the dead-letter topic carries of an original; the table keeps it whole.
TOPIC_VALUE_BYTES = 16 * 1024
TOPIC_KEY_BYTES = 1024
PREVIEW_BYTES = 4096
REASON_CHARS = 2000
# A consumed record's letter id is derived from the record: a redelivery is the same letter.
LETTER_NAMESPACE = uuid.UUID("3d0b6f0e-0d5c-4a8e-9f55-2b7f9a1c6e42")

State = Literal["open", "redriven", "discarded"]


def _text(raw: bytes | None, limit: int) -> str | None:
    """Bytes as readable text, cut to `limit` bytes (PostgreSQL text holds no NUL)."""
    if raw is None:
        return None
    return raw[:limit].decode(errors="replace").replace("\x00", "\\x00")


def _clean(reason: str) -> str:
    return reason.replace("\x00", "\\x00")[:REASON_CHARS]


def _account_key(raw: bytes | None) -> str:
    """The dead letter's Kafka key: the original's account id when it is one, else `unknown`."""
    text = (raw or b"").decode(errors="replace")
    return text if text.isdigit() and len(text) <= 19 else "unknown"


async def record_consumed(
    uow: UnitOfWork,
    *,
    consumer: str,
    topic: Topic,
    record: ConsumerRecord,
    reason: str,
    attempts: int,
    event_id: UUID | None,
) -> bool:
    """Keep a consumed record the consumer could not apply, and announce it (bounded) on the
    dead-letter topic; False when this record was dead-lettered already (a redelivery)."""
    value = record.value or b""
    letter_id = uuid.uuid5(
        LETTER_NAMESPACE, f"{consumer}/{record.topic}/{record.partition}/{record.offset}"
    )
    sha256 = hashlib.sha256(value).hexdigest()
    reason = _clean(reason)
    kept = (
        await uow.session.execute(
            pg_insert(dead_letters)
            .values(
                id=letter_id,
                consumer=consumer,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                size=len(value),
                sha256=sha256,
                event_id=event_id,
                reason=reason,
                attempts=attempts,
            )
            .on_conflict_do_nothing()
            .returning(dead_letters.c.id)
        )
    ).first()
    if kept is None:
        return False
    key = record.key or b""
    await uow.publish(
        topic,
        DeadLetterV1(
            consumer_group=consumer,
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
            original_key=_text(record.key, TOPIC_KEY_BYTES),
            original_value=_text(value, TOPIC_VALUE_BYTES) or "",
            original_size=len(value),
            original_sha256=sha256,
            original_truncated=len(value) > TOPIC_VALUE_BYTES or len(key) > TOPIC_KEY_BYTES,
            dead_letter_id=letter_id,
            error=reason,
            attempts=attempts,
            failed_at=datetime.now(UTC),
        ),
        account_id=_account_key(record.key),
        event_id=letter_id,
    )
    return True


async def record_refused(session: AsyncSession, refused: list[tuple[Row[Any], str]]) -> None:
    """Set aside outbox rows Kafka refused as records, each kept as a letter of the relay's."""
    await session.execute(
        update(outbox)
        .where(any_of(outbox.c.id, [row.id for row, _ in refused]))
        .values(set_aside_at=datetime.now(UTC))
    )
    await session.execute(
        insert(dead_letters),
        [
            {
                "id": uuid.uuid4(),
                "consumer": RELAY,
                "topic": row.topic,
                "key": row.key.encode(),
                "value": row.value,
                "size": len(row.value),
                "sha256": hashlib.sha256(row.value).hexdigest(),
                "event_id": row.event_id,
                "outbox_id": row.id,
                "reason": _clean(reason),
                "attempts": 1,
            }
            for row, reason in refused
        ],
    )


# --- operating them -------------------------------------------------------------------------------


class DeadLetterNotFound(DoesNotExist):
    code = "dead-letter-not-found"
    subject = "Dead letter"
    id_member = "dead_letter_id"


class DeadLetterNotOpen(Conflict):
    code = "dead-letter-not-open"

    def __init__(self, letter_id: UUID, state: str) -> None:
        super().__init__(
            f"Dead letter {letter_id} is {state}: only an open one can be redriven or discarded.",
            dead_letter_id=letter_id,
            state=state,
        )


class RedriveFailed(Unprocessable):
    code = "redrive-failed"

    def __init__(self, letter_id: UUID, reason: str) -> None:
        super().__init__(
            f"Dead letter {letter_id} still cannot be applied: {reason}. It stays open.",
            dead_letter_id=letter_id,
        )


class DeadLetterOut(BaseModel):
    id: UUID
    consumer: str = Field(description="The consumer group, or `outbox-relay` for a refused event")
    topic: str
    partition: int | None
    offset: int | None
    key: str | None = Field(description="The original key as text (cut to 1 KiB)")
    reason: str
    received_at: datetime
    state: State
    size: int = Field(description="The original value's size in bytes")
    sha256: str
    attempts: int
    event_id: UUID | None
    state_changed_at: datetime | None
    state_changed_by: str | None
    discard_reason: str | None
    value_preview: str | None = Field(description="The first 4 KiB of the original, as text")
    truncated: bool = Field(description="Whether value_preview is cut")

    @classmethod
    def of(cls, row: Row[Any]) -> DeadLetterOut:
        values = dict(row._mapping)
        raw = values.pop("value")
        return cls(
            **{name: values[name] for name in cls.model_fields if name in values and name != "key"},
            key=_text(values["key"], TOPIC_KEY_BYTES),
            value_preview=_text(raw, PREVIEW_BYTES),
            truncated=len(raw or b"") > PREVIEW_BYTES,
        )


class DiscardBody(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, description="Why it is dropped")


async def _locked(uow: UnitOfWork, letter_id: UUID) -> Row[Any]:
    row = (
        await uow.session.execute(
            select(dead_letters).where(dead_letters.c.id == letter_id).with_for_update()
        )
    ).first()
    if row is None:
        raise DeadLetterNotFound(letter_id)
    if row.state != "open":
        raise DeadLetterNotOpen(letter_id, row.state)
    return row


async def _close(uow: UnitOfWork, letter_id: UUID, state: State, reason: str | None) -> Row[Any]:
    return (
        await uow.session.execute(
            update(dead_letters)
            .where(dead_letters.c.id == letter_id)
            .values(
                state=state,
                state_changed_at=datetime.now(UTC),
                state_changed_by=context.actor.get(),
                discard_reason=reason,
            )
            .returning(dead_letters)
        )
    ).one()


async def redrive(runtime: ServiceRuntime, uow: UnitOfWork, letter_id: UUID) -> Row[Any]:
    """Apply the stored original again, in the consumer that refused it; a relay's letter goes
    back to the outbox queue. Fails (and stays open) when the cause is still there."""
    async with uow:
        letter = await _locked(uow, letter_id)
        if letter.consumer == RELAY:
            await uow.session.execute(
                update(outbox).where(outbox.c.id == letter.outbox_id).values(set_aside_at=None)
            )
            uow.notify_on_commit(outbox_channel(runtime.service))
        else:
            consumer = next((c for c in runtime.consumers if c.group_id == letter.consumer), None)
            if consumer is None:
                raise RedriveFailed(letter_id, f"no consumer {letter.consumer} runs here")
            failure = await consumer.reapply(uow, letter.topic, letter.value)
            if failure is not None:
                raise RedriveFailed(letter_id, failure)
        closed = await _close(uow, letter_id, "redriven", None)
        await uow.commit()
        return closed


async def discard(uow: UnitOfWork, letter_id: UUID, reason: str) -> Row[Any]:
    async with uow:
        await _locked(uow, letter_id)
        closed = await _close(uow, letter_id, "discarded", reason)
        await uow.commit()
        return closed


LETTERS = Listing(
    {"received_at": dead_letters.c.received_at},
    default="-received_at",
    id_column=dead_letters.c.id,
    sortable=False,
)
# `/dead-letters` on every service (all four consume, and all four publish through a relay); every
# route, reading included (the originals are raw payloads), is for operators: scope `ops`.
router = APIRouter(prefix="/dead-letters", tags=["dead letters"], dependencies=[requires("ops")])


@router.get("", summary="Dead letters, newest first", responses=problems(422))
async def list_letters(
    runtime: RuntimeOf,
    page: Annotated[PageRequest, LETTERS.query],
    state: State | None = None,
    topic: Annotated[str | None, Query(max_length=249)] = None,
) -> Page[DeadLetterOut]:
    query = select(dead_letters)
    if state is not None:
        query = query.where(dead_letters.c.state == state)
    if topic is not None:
        query = query.where(dead_letters.c.topic == topic)
    async with runtime.database.unit_of_work() as uow:
        found = await page.fetch(uow.session, query)
    return Page.of(found, DeadLetterOut.of)


@router.get("/{letter_id}", summary="One dead letter", responses=problems(404, 422))
async def get_letter(letter_id: UUID, runtime: RuntimeOf) -> DeadLetterOut:
    async with runtime.database.unit_of_work() as uow:
        row = (
            await uow.session.execute(select(dead_letters).where(dead_letters.c.id == letter_id))
        ).first()
    if row is None:
        raise DeadLetterNotFound(letter_id)
    return DeadLetterOut.of(row)


@router.post(
    "/{letter_id}/redrive",
    summary="Apply the stored original again, once its cause is fixed",
    responses=problems(404, 409, 422, 503),
)
async def redrive_letter(
    letter_id: UUID, runtime: RuntimeOf, idempotency: Idempotency
) -> DeadLetterOut:
    uow = runtime.database.unit_of_work()

    async def act() -> DeadLetterOut:
        return DeadLetterOut.of(await redrive(runtime, uow, letter_id))

    return await idempotency.run(uow, None, 200, act)


@router.post(
    "/{letter_id}/discard",
    summary="Drop a dead letter, saying why",
    responses=problems(404, 409, 422),
)
async def discard_letter(
    letter_id: UUID, body: DiscardBody, runtime: RuntimeOf, idempotency: Idempotency
) -> DeadLetterOut:
    uow = runtime.database.unit_of_work()

    async def act() -> DeadLetterOut:
        return DeadLetterOut.of(await discard(uow, letter_id, body.reason))

    return await idempotency.run(uow, body, 200, act)
