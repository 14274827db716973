"""Sending a batch of records to Kafka and waiting for every acknowledgement: what the outbox relay
and the scheduler's emitter both do before they mark their rows.

Kafka may refuse one record for what it is (too large, invalid): sending the same bytes again cannot
succeed, so that refusal is returned for the caller to set the record aside, and the others go on.
Any other failure (the broker unreachable, an authorisation refused, a topic missing) says nothing
about a record: it is raised, the caller's batch is retried, and no record is ever skipped for it.

Both callers hold a claim in PostgreSQL while they wait for Kafka (the emitter its batch's row locks,
the relay its lease), in a transaction that PostgreSQL cuts after a lease of inactivity so that a
frozen process loses it; `while_touching` keeps a live caller's transaction busy meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from cutover_contracts.envelope import CONTENT_TYPE

HEADERS = [("content-type", CONTENT_TYPE.encode())]
REFUSED_RECORD = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
)
# (topic, key, value)
Record = tuple[str, bytes, bytes]
T = TypeVar("T")


async def send_batch(producer: AIOKafkaProducer, records: Iterable[Record]) -> list[str | None]:
    """Send every record in order (an idempotent producer keeps each partition's order) and wait
    for all acknowledgements; return, per record, None when Kafka took it or why it refused it."""
    sent: list[asyncio.Future[object] | str] = []
    for topic, key, value in records:
        try:
            sent.append(await producer.send(topic, value=value, key=key, headers=HEADERS))
        except REFUSED_RECORD as refusal:
            sent.append(repr(refusal))
    acks = iter(
        await asyncio.gather(
            *(ack for ack in sent if not isinstance(ack, str)), return_exceptions=True
        )
    )
    outcomes: list[str | None] = []
    for ack in sent:
        result = ack if isinstance(ack, str) else next(acks)
        if isinstance(result, REFUSED_RECORD):
            result = repr(result)
        elif isinstance(result, BaseException):
            raise result
        outcomes.append(result if isinstance(result, str) else None)
    return outcomes


async def while_touching(
    work: Awaitable[T], touch: Callable[[], Awaitable[object]], every: float
) -> T:
    """Await `work`, calling `touch` every `every` seconds until it is done.

    The sends wait for Kafka too (a full batch waits until its partition's previous one is
    acknowledged), so they are part of `work`. `touch` runs a statement in the caller's
    transaction, which only this coroutine uses meanwhile, so a touch never overlaps another
    statement; work done within `every` costs no extra round trip.
    """
    pending = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait((pending,), timeout=every)
            if done:
                return pending.result()
            await touch()
    finally:
        pending.cancel()  # a no-op unless the batch is abandoned (lost connection, cancelled)
