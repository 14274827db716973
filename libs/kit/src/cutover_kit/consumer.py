"""Idempotent Kafka consumers: a batch of records is applied in one transaction, then committed.

For each batch FastStream hands over, `EventConsumer`:
1. decodes every record into a CloudEvent and its data model; one that does not decode goes to the
   service's dead-letter topic at once (retrying cannot fix bytes);
2. claims the event id in `processed_events` (a redelivered event is skipped);
3. runs the handler inside a savepoint, retrying a failing event a bounded number of times, then
   dead-letters it with the error so one poison event never blocks its partition;
4. commits the transaction (effects + claims + outgoing events + dead letters together), and only
   then lets FastStream commit the Kafka offsets.
An infrastructure failure (database or broker down) aborts the whole batch: nothing is committed,
the offsets are rewound, and the batch is consumed again once the failure clears.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord
from cutover_contracts.envelope import CloudEvent, EventDecodeError, decode_event
from cutover_contracts.events import DeadLetterV1, EventData
from cutover_contracts.topics import Topic, dead_letter_topic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cutover_kit import context, metrics
from cutover_kit.db import Database, UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[UnitOfWork, CloudEvent, Any], Awaitable[None]]

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def is_infrastructure_error(error: BaseException) -> bool:
    if isinstance(error, INFRASTRUCTURE_ERRORS):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class EventConsumer:
    def __init__(
        self,
        database: Database,
        *,
        topic: Topic,
        handler: Handler,
        name: str,
        max_attempts: int = 3,
    ) -> None:
        self.database = database
        self.topic = topic
        self.handler = handler
        self.name = name
        self.group_id = f"{database.service}.{name}"
        self.max_attempts = max_attempts
        self.dead_letters = dead_letter_topic(database.service)

    def subscribe(self, broker: KafkaBroker) -> None:
        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message
            await self.consume_batch(records if isinstance(records, tuple) else (records,))

        broker.subscriber(
            self.topic.name,
            group_id=self.group_id,
            batch=True,
            max_records=500,
            batch_timeout_ms=50,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{self.group_id}:{self.topic.name}",
            description=self.handler.__doc__,
        )(consume)

    async def consume_batch(self, records: tuple[ConsumerRecord, ...]) -> None:
        try:
            async with self.database.unit_of_work() as uow:
                for record in records:
                    await self._consume_one(uow, record)
                await uow.commit()
        except Exception as error:
            if is_infrastructure_error(error):
                log.warning(
                    "batch on %s not processed (%s); will be redelivered", self.topic.name, error
                )
                # Back off so a database outage does not turn into a tight redelivery loop.
                await asyncio.sleep(1.0)
            raise

    async def _consume_one(self, uow: UnitOfWork, record: ConsumerRecord) -> None:
        try:
            event = decode_event(record.value)
            data = self.topic.data.model_validate(event.data)
        except (EventDecodeError, ValidationError) as error:
            await self._dead_letter(uow, record, f"undecodable: {error}", attempts=1)
            return
        if not await uow.claim_event(self.name, event.id):
            metrics.events_consumed.labels(self.topic.name, "duplicate").inc()
            return
        token = context.correlation_id.set(event.correlationid)
        try:
            await self._apply(uow, record, event, data)
        finally:
            context.correlation_id.reset(token)

    async def _apply(
        self, uow: UnitOfWork, record: ConsumerRecord, event: CloudEvent, data: EventData
    ) -> None:
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with uow.savepoint():
                    await self.handler(uow, event, data)
                metrics.events_consumed.labels(self.topic.name, "applied").inc()
                return
            except Exception as error:
                if is_infrastructure_error(error):
                    raise
                log.warning("event %s failed on attempt %d: %r", event.id, attempt, error)
                if attempt == self.max_attempts:
                    await self._dead_letter(uow, record, repr(error), attempts=attempt)

    async def _dead_letter(
        self, uow: UnitOfWork, record: ConsumerRecord, error: str, *, attempts: int
    ) -> None:
        key = record.key.decode(errors="replace") if record.key else None
        await uow.publish(
            self.dead_letters,
            DeadLetterV1(
                consumer_group=self.group_id,
                original_topic=record.topic,
                original_partition=record.partition,
                original_offset=record.offset,
                original_key=key,
                original_value=(record.value or b"").decode(errors="replace"),
                error=error[:2000],
                attempts=attempts,
                failed_at=datetime.now(UTC),
            ),
            account_id=key or "unknown",
        )
        metrics.dead_letters.labels(record.topic).inc()
        metrics.events_consumed.labels(self.topic.name, "dead_lettered").inc()
        log.error(
            "dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset, error
        )
