"""Idempotent Kafka consumers: a batch of records is applied in one transaction, then committed.

For each batch FastStream hands over, `EventConsumer`:
1. decodes every record into a CloudEvent and its data model; one that does not decode, whatever its
   bytes, is dead-lettered at once (retrying cannot fix bytes): kept whole in the service's
   `dead_letters` table and announced, bounded, on its dead-letter topic (see
   `cutover_kit.dead_letters`);
2. claims the batch's event ids in `processed_events` in one statement (a redelivered event is
   skipped);
3. hands each topic's fresh events to its handler in one call, so a handler can apply them with a
   few set-based statements; when a handler raises, the batch is rolled back and done again with
   each event alone in a savepoint, retrying a failing event a bounded number of times and then
   dead-lettering it with the error, so one poison event never blocks its partition (savepoints
   cost two round trips an event, so only a batch that needs them pays for them);
4. commits the transaction (effects + claims + outgoing events + dead letters together); only then
   are the batch's Kafka offsets due for commit (`OffsetCommits`: at most once a second per group,
   so a redelivered second of records is skipped by its claims, never applied twice).
A transient failure (database or broker unreachable, a deadlock or serialisation conflict with
another transaction) aborts the whole batch instead: it is rolled back, which releases every lock it
held, the offsets are rewound, and the batch is consumed again. Such a failure says nothing about
the event, so it is never dead-lettered. A dead letter's id is derived from its record, so a record
redelivered after its letter committed is not dead-lettered twice.

One consumer may serve several topics (one handler each), so that answers touching the same rows,
such as billing's and addresses' answers to one disconnect, are applied one batch at a time instead
of by two transactions that would deadlock each other. The range assignor gives one group member the
same partition numbers of every topic, and every topic is keyed by account id, so an account's events
on all these topics reach the same member.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from sqlalchemy import delete

from cutover_contracts.envelope import CloudEvent, decode_event
from cutover_contracts.topics import Topic, dead_letter_topic
from cutover_kit import context, dead_letters, metrics
from cutover_kit.db import Database, UnitOfWork, transient_kind
from cutover_kit.tables import processed_events

log = logging.getLogger(__name__)

# A handler applies a list of fresh events of one topic, in their order, inside the batch's
# transaction; anything it publishes carries each event's correlation id.
Received = tuple[CloudEvent, Any]
Handler = Callable[[UnitOfWork, list[Received]], Awaitable[None]]


def one_by_one(apply: Callable[[UnitOfWork, CloudEvent, Any], Awaitable[None]]) -> Handler:
    """A handler that applies its events one after the other, each under its correlation id (for
    flows that are not hot enough to deserve set-based SQL)."""

    async def handler(uow: UnitOfWork, received: list[Received]) -> None:
        for event, data in received:
            with context.acting(None, event.correlationid):
                await apply(uow, event, data)

    handler.__doc__ = apply.__doc__
    return handler


# A batch that failed as a whole waits this long before it is consumed again; `None` is a failure
# of Cutover's own code (never of a record: those are dead-lettered), logged with its traceback.
REDELIVERY_BACKOFF_SECONDS = {"conflict": 0.05, "unreachable": 1.0, None: 1.0}


# Records a batch holds at most, and how long an idle consumer waits for the first of them.
BATCH_RECORDS = 500
IDLE_WAIT_MS = 500


async def take_records(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord, ...]:
    """The next batch: whatever records are ready, or the first to come within `IDLE_WAIT_MS`.

    FastStream's batch subscriber asks the same of aiokafka but then sleeps as long as it waited
    (`batch_timeout_ms`) whenever nothing came, so an idle consumer was deaf half the time: a
    record arriving during that sleep waited for its end, up to 50 ms at each hop of a disconnect.
    aiokafka's `getmany` already waits for its timeout when nothing is ready, so nothing spins
    without that sleep. At 5 disconnects/s the end to end p50 went from 67 to 31-35 ms and p99
    from 98 to 53 ms, at the same CPU; at 50/s and 200/s the difference was inside the host's noise
    (`bench/results/batch-wait-ab/`)."""
    batches = await consumer.getmany(timeout_ms=IDLE_WAIT_MS, max_records=BATCH_RECORDS)
    return tuple(chain.from_iterable(batches.values()))


async def _undecoded(message: KafkaMessage) -> KafkaMessage:
    """Hand the handler FastStream's message itself (its raw records and its consumer). FastStream's
    own decoder would parse every record as JSON before the handler runs, and a record it cannot
    parse (an array nested 100,000 deep) would fail the batch forever; the consumer decodes the raw
    records itself, each failure its own dead letter. The broker injects nothing
    (`make_broker`), so this is how the handler gets the message."""
    return message


class HandlerFailed(Exception):
    """A handler raised on the fast path; the batch is done again the careful way."""


class OffsetCommits(ConsumerRebalanceListener):  # type: ignore[misc]
    """Commits a consumer group's Kafka offsets after the batches they end have committed in
    PostgreSQL, at most once per `interval` seconds, instead of once per batch.

    Every offset commit is a request the broker writes to its offsets log; with a commit per batch,
    each group cost the broker a commit for every few events it consumed. Fewer
    commits lose nothing: an offset is committed only after its batch's transaction, and what a
    crash leaves uncommitted (at most `interval` of records) is consumed again and skipped by the
    batch's claims in `processed_events`. Before a rebalance takes partitions away their offsets
    are committed at once, and `close` commits what is left when the process stops.
    """

    def __init__(self, group_id: str, interval: float) -> None:
        self.group_id = group_id
        self.interval = interval
        self._next: dict[TopicPartition, int] = {}  # the offset after each applied batch
        self._consumer: AIOKafkaConsumer | None = None
        self._due: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # commits in order, so an offset never moves back
        self._closing = False

    async def applied(
        self, consumer: AIOKafkaConsumer, records: tuple[ConsumerRecord, ...]
    ) -> None:
        """The batch of `records` has committed in PostgreSQL: its offsets may be committed."""
        self._consumer = consumer
        for record in records:
            self._next[TopicPartition(record.topic, record.partition)] = record.offset + 1
        if self._closing:
            await self.commit()
        elif self._due is None or self._due.done():
            self._due = asyncio.create_task(self._commit_later(), name=f"{self.group_id} offsets")

    async def _commit_later(self) -> None:
        await asyncio.sleep(self.interval)
        await self.commit()

    async def commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit the applied offsets of `partitions` (all by default) this member still owns."""
        async with self._lock:
            consumer = self._consumer
            if consumer is None:
                return
            assigned = consumer.assignment()
            offsets = {
                partition: offset
                for partition, offset in self._next.items()
                if partitions is None or partition in partitions
            }
            for partition in offsets:
                del self._next[partition]
            # A partition taken away is another member's now; it carries on from the last commit.
            offsets = {tp: offset for tp, offset in offsets.items() if tp in assigned}
            if not offsets:
                return
            try:
                await consumer.commit(offsets)
            except KafkaError as error:
                log.warning(
                    "%s: offsets not committed (%r); their records will be skipped as duplicates",
                    self.group_id,
                    error,
                )

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.commit(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass

    async def close(self) -> None:
        """The process is stopping: commit what is applied, and from now on each batch at once
        (the batches still running finish while the broker stops)."""
        self._closing = True
        if self._due is not None:
            self._due.cancel()
        await self.commit()


@dataclass
class Delivery:
    record: ConsumerRecord
    event: CloudEvent | None = None
    data: Any = None
    error: str | None = None


class EventConsumer:
    def __init__(
        self,
        database: Database,
        *,
        name: str,
        handlers: Mapping[Topic, Handler],
        max_attempts: int = 3,
        commit_interval: float = 1.0,
    ) -> None:
        self.database = database
        self.name = name
        self.handlers = {topic.name: (topic, handler) for topic, handler in handlers.items()}
        self.group_id = f"{database.service}.{name}"
        self.max_attempts = max_attempts
        self.dead_letters = dead_letter_topic(database.service)
        self._lag: dict[TopicPartition, int] = {}
        self.offsets = OffsetCommits(self.group_id, commit_interval)

    @property
    def topics(self) -> list[str]:
        return list(self.handlers)

    def subscribe(self, broker: KafkaBroker) -> None:
        async def consume(message: KafkaMessage) -> None:
            records = message.raw_message
            records = records if isinstance(records, tuple) else (records,)
            try:
                await self.consume_batch(records)
            except BaseException:
                # Rewind each partition to the batch's first record: it is consumed again.
                await message.nack()
                raise
            self._record_lag(message.consumer, records)
            await self.offsets.applied(message.consumer, records)

        subscriber = broker.subscriber(
            *self.topics,
            group_id=self.group_id,
            batch=True,  # batches are taken by `take_records`, set below
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            ack_policy=AckPolicy.MANUAL,
            listener=self.offsets,
            decoder=_undecoded,
            title=self.group_id,
            description="; ".join(handler.__doc__ or "" for _, handler in self.handlers.values()),
        )
        subscriber(consume)
        subscriber.get_msg = take_records  # type: ignore[method-assign] # see take_records

    async def consume_batch(self, records: tuple[ConsumerRecord, ...]) -> None:
        deliveries = [self._decode(record) for record in records]
        try:
            try:
                await self._apply_batch(deliveries, careful=False)
            except HandlerFailed:
                # Some event's handler failed: do the batch again, each event in a savepoint
                # with retries, so only that event is dead-lettered.
                await self._apply_batch(deliveries, careful=True)
        except Exception as error:
            kind = transient_kind(error)
            log.warning(
                "%s: batch of %d rolled back (%s: %r); it will be redelivered",
                self.group_id,
                len(records),
                kind or "bug",
                error,
                exc_info=kind is None,
            )
            await asyncio.sleep(REDELIVERY_BACKOFF_SECONDS[kind])
            raise

    def _record_lag(self, consumer: AIOKafkaConsumer, records: tuple[ConsumerRecord, ...]) -> None:
        """Lag from the high-water marks the fetches brought back: no extra request to Kafka."""
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            highwater = consumer.highwater(partition)
            if highwater is not None:
                self._lag[partition] = max(highwater - record.offset - 1, 0)
        assigned = consumer.assignment()
        for topic in self.topics:
            total = sum(
                lag for tp, lag in self._lag.items() if tp.topic == topic and tp in assigned
            )
            metrics.consumer_lag.labels(self.group_id, topic).set(total)

    def _parse(self, topic: str, value: bytes | None) -> Received:
        event = decode_event(value)
        return event, self.handlers[topic][0].data.model_validate(event.data)

    def _decode(self, record: ConsumerRecord) -> Delivery:
        try:
            return Delivery(record, *self._parse(record.topic, record.value))
        except Exception as error:  # noqa: BLE001 - whatever the bytes do, they are dead-lettered
            return Delivery(record, error=f"undecodable: {error}")

    async def _apply_batch(self, deliveries: list[Delivery], *, careful: bool) -> None:
        """One transaction for the batch. The fast path hands each topic's fresh events to its
        handler in one call (set-based handlers take a few statements for all of them); the careful
        path hands them over one at a time, each in a savepoint (two more round trips an event)."""
        outcomes: list[tuple[str, str]] = []
        fresh_by_topic: dict[str, list[Delivery]] = {}
        async with self.database.unit_of_work() as uow:
            fresh = await uow.claim_events(
                self.name, [d.event.id for d in deliveries if d.event is not None]
            )
            for delivery in deliveries:
                record, event = delivery.record, delivery.event
                if event is None:
                    await self._dead_letter(uow, record, delivery.error or "", attempts=1)
                    outcomes.append((record.topic, "dead_lettered"))
                elif event.id not in fresh:
                    outcomes.append((record.topic, "duplicate"))
                else:
                    fresh.discard(event.id)  # the same event twice in one batch is applied once
                    fresh_by_topic.setdefault(record.topic, []).append(delivery)
            for topic, group in fresh_by_topic.items():
                if careful:
                    outcomes += [(topic, await self._apply(uow, delivery)) for delivery in group]
                    continue
                try:
                    await self.handlers[topic][1](uow, [(d.event, d.data) for d in group])
                except Exception as error:
                    if transient_kind(error):
                        raise
                    raise HandlerFailed from error
                outcomes += [(topic, "applied")] * len(group)
            await uow.commit()
        for topic, outcome in outcomes:
            metrics.events_consumed.labels(topic, outcome).inc()
            if outcome == "dead_lettered":
                metrics.dead_letters.labels(topic).inc()

    async def _apply(self, uow: UnitOfWork, delivery: Delivery) -> str:
        assert delivery.event is not None
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with uow.savepoint():
                    await self.handlers[delivery.record.topic][1](
                        uow, [(delivery.event, delivery.data)]
                    )
                return "applied"
            except Exception as error:
                if transient_kind(error):
                    raise
                log.warning("event %s failed on attempt %d: %r", delivery.event.id, attempt, error)
                if attempt == self.max_attempts:
                    await self._dead_letter(
                        uow,
                        delivery.record,
                        repr(error),
                        attempts=attempt,
                        event_id=delivery.event.id,
                    )
        return "dead_lettered"

    async def _dead_letter(
        self,
        uow: UnitOfWork,
        record: ConsumerRecord,
        error: str,
        *,
        attempts: int,
        event_id: Any = None,
    ) -> None:
        if await dead_letters.record_consumed(
            uow,
            consumer=self.group_id,
            topic=self.dead_letters,
            record=record,
            reason=error,
            attempts=attempts,
            event_id=event_id,
        ):
            log.error(
                "dead-lettered %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                error[:500],
            )

    async def reapply(self, uow: UnitOfWork, topic: str, value: bytes | None) -> str | None:
        """Apply a dead letter's stored original again inside `uow` (a redrive): its dedupe claim
        is cleared and taken anew, so it applies once. Returns why it still fails, or None."""
        if topic not in self.handlers:
            return f"{self.group_id} does not consume {topic}"
        try:
            event, data = self._parse(topic, value)
        except Exception as error:  # noqa: BLE001 - the same bytes, the same refusal
            return f"undecodable: {error}"
        await uow.session.execute(
            delete(processed_events).where(
                processed_events.c.consumer == self.name,
                processed_events.c.event_id == event.id,
            )
        )
        await uow.claim_events(self.name, [event.id])
        try:
            async with uow.savepoint():
                await self.handlers[topic][1](uow, [(event, data)])
        except Exception as error:
            if transient_kind(error):
                raise
            return repr(error)
        return None
