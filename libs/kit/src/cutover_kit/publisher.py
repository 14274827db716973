"""Sending a batch of records to Kafka and waiting for every acknowledgement: what the outbox relay
and the scheduler's emitter both do before they mark their rows.

Kafka may refuse one record for what it is (too large, invalid): sending the same bytes again cannot
succeed, so that refusal is returned for the caller to set the record aside, and the others go on.
Any other failure (the broker unreachable, an authorisation refused, a topic missing) says nothing
about a record: it is raised, the caller's batch is retried, and no record is ever skipped for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

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
