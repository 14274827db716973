"""The scheduler's emitter against real PostgreSQL and Kafka: never early, exactly once with two
replicas, nothing lost when a replica dies or freezes mid-batch, a live one keeping its claim
however slow Kafka is, moved and cancelled events obeyed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, insert, select, text

from cutover_contracts.events import ScheduledEventDueV1, ScheduledEventOutcomeV1
from cutover_contracts.topics import Topic
from cutover_kit.db import Database
from cutover_kit.kafka import make_producer, make_publisher
from cutover_kit.relay import asyncpg_dsn
from cutover_scheduler.adapters.emitter import Emitter
from cutover_scheduler.adapters.tables import scheduled_events
from cutover_scheduler.domain.errors import NotPending
from cutover_scheduler.service_layer import scheduled_events as use_cases
from tests.integration.conftest import create_topic
from tests.support.broker import FakeProducer, publisher_over
from tests.support.events import EventTap, wait_until
from tests.support.infra import Infra

pytestmark = pytest.mark.infra


async def database_now(database: Database):  # noqa: ANN201
    async with database.unit_of_work() as uow:
        return await uow.session.scalar(select(func.clock_timestamp()))


async def insert_events(
    database: Database, run_at, count: int, account_id: int = 1
) -> list[uuid.UUID]:  # noqa: ANN001
    ids = [uuid.uuid4() for _ in range(count)]
    async with database.unit_of_work() as uow:
        await uow.session.execute(
            insert(scheduled_events),
            [
                {
                    "id": event_id,
                    "event_type": "disconnect_account",
                    "account_id": account_id + n % 50,
                    "run_at": run_at,
                    "payload": {},
                }
                for n, event_id in enumerate(ids)
            ],
        )
        await uow.session.execute(text("NOTIFY scheduler_wakeup"))
        await uow.commit()
    return ids


@asynccontextmanager
async def emitters(
    infra: Infra, database: Database, topic: Topic, count: int, **options
) -> AsyncIterator[None]:  # noqa: ANN003
    publishers = [make_publisher(infra.kafka_settings(), f"emitter-{n}") for n in range(count)]
    for publisher in publishers:
        await publisher.start()
    tasks = [
        asyncio.create_task(
            Emitter(asyncpg_dsn(database.url), publisher, topic=topic.name, **options).run()
        )
        for publisher in publishers
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        for publisher in publishers:
            await publisher.stop()


async def asleep(database: Database) -> None:
    """Wait until the emitter has looked for its next event and found none: its connection is idle
    after that query, the emitter waiting on the wake-up or its poll."""

    async def idle_after_next() -> bool:
        async with database.unit_of_work() as uow:
            return bool(
                await uow.session.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'idle' AND query LIKE '%min(run_at)%'"
                    )
                )
            )

    await wait_until(idle_after_next, within=10)


async def due_topic(infra: Infra) -> Topic:
    topic = Topic(f"test.due-{uuid.uuid4().hex[:8]}.v1", "scheduler", ScheduledEventDueV1, "test")
    await create_topic(infra, topic, partitions=6)
    return topic


async def test_thousands_due_in_one_second_with_two_replicas_none_early_none_twice_none_lost(
    infra: Infra, scheduler_database: Database
) -> None:
    topic = await due_topic(infra)
    now = await database_now(scheduler_database)
    due_ids = await insert_events(scheduler_database, now + timedelta(seconds=2), 3000)
    control = await insert_events(scheduler_database, now + timedelta(hours=1), 100)
    async with (
        EventTap(infra, topic.name) as tap,
        emitters(infra, scheduler_database, topic, 2, batch_size=500),
    ):
        await tap.wait_for(lambda _: len(tap.seen) >= 3000, within=60)
        await tap.drain(within=1.0)

    ids = [event.id for event in tap.seen]
    assert len(ids) == len(set(ids)), "an event was emitted twice"
    assert set(ids) == set(due_ids), "an event was lost, or a control event fired"
    for event in tap.seen:
        assert event.data["emitted_at"] >= event.data["run_at"], "emitted before run_at"
    async with scheduler_database.unit_of_work() as uow:
        states = dict(
            (
                await uow.session.execute(
                    select(scheduled_events.c.state, func.count()).group_by(
                        scheduled_events.c.state
                    )
                )
            ).all()
        )
        early = await uow.session.scalar(
            select(func.count()).where(scheduled_events.c.emitted_at < scheduled_events.c.run_at)
        )
    assert states == {"emitted": 3000, "pending": len(control)}
    assert early == 0


HANGING_REPLICA = """
import asyncio, sys
from cutover_kit.publisher import Publisher
from cutover_scheduler.adapters.emitter import Emitter
from tests.support.broker import FakeProducer

class HangingProducer(FakeProducer):
    async def send(self, *args, **kwargs):
        print("claimed", flush=True)
        await asyncio.Event().wait()   # the broker never answers

async def main():
    publisher = Publisher(HangingProducer, deadline=60.0)
    await publisher.start()
    emitter = Emitter(sys.argv[1], publisher, batch_size=500, lease_seconds=float(sys.argv[2]))
    await emitter.emit_batch(await emitter.connect())

asyncio.run(main())
"""


@pytest.mark.parametrize("failure", ["killed", "frozen"])
async def test_a_replica_that_dies_or_freezes_after_claiming_a_batch_loses_nothing(
    infra: Infra, scheduler_database: Database, failure: str
) -> None:
    topic = await due_topic(infra)
    now = await database_now(scheduler_database)
    due_ids = await insert_events(scheduler_database, now, 300)
    replica = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HANGING_REPLICA,
        asyncpg_dsn(scheduler_database.url),
        "1.0",
        stdout=asyncio.subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert replica.stdout is not None
    assert (await asyncio.wait_for(replica.stdout.readline(), 20)).strip() == b"claimed"
    # Killed: its locks go with the connection. Frozen (its broker never answering would not do:
    # a live emitter keeps its claim while it waits): the 1 s lease ends its transaction.
    replica.send_signal(signal.SIGKILL if failure == "killed" else signal.SIGSTOP)
    async with (
        EventTap(infra, topic.name) as tap,
        emitters(infra, scheduler_database, topic, 1, batch_size=500),
    ):
        await tap.wait_for(lambda _: len(tap.seen) >= 300, within=30)
    with suppress(ProcessLookupError):
        replica.kill()
    await replica.wait()
    assert {event.id for event in tap.seen} == set(due_ids)


async def test_moved_events_fire_at_their_new_time_and_cancelled_ones_never(
    infra: Infra, scheduler_database: Database
) -> None:
    topic = await due_topic(infra)
    now = await database_now(scheduler_database)
    [earlier] = await insert_events(scheduler_database, now + timedelta(seconds=60), 1)
    [later] = await insert_events(scheduler_database, now + timedelta(seconds=20), 1)
    [cancelled] = await insert_events(scheduler_database, now + timedelta(seconds=20), 1)
    async with (
        EventTap(infra, topic.name) as tap,
        emitters(infra, scheduler_database, topic, 1, batch_size=500, max_sleep=5.0),
    ):
        start = await database_now(scheduler_database)
        await use_cases.change(
            scheduler_database.unit_of_work(), earlier, run_at=start + timedelta(seconds=0.6)
        )
        await use_cases.change(
            scheduler_database.unit_of_work(), later, run_at=start + timedelta(seconds=1.5)
        )
        # due at 1 s, before the later one fires, then cancelled: it must never fire
        await use_cases.change(
            scheduler_database.unit_of_work(), cancelled, run_at=start + timedelta(seconds=1.0)
        )
        await use_cases.cancel(scheduler_database.unit_of_work(), cancelled)

        fired_early = await tap.wait_for(lambda e: e.id == earlier, within=10)
        fired_late = await tap.wait_for(lambda e: e.id == later, within=10)
        await tap.drain(within=0.5)

    assert fired_early.data["emitted_at"] >= (start + timedelta(seconds=0.6)).isoformat()
    assert fired_late.data["emitted_at"] >= (start + timedelta(seconds=1.5)).isoformat()
    assert cancelled not in {event.id for event in tap.seen}
    event = await use_cases.get(scheduler_database.unit_of_work(), cancelled)
    assert event.state == "cancelled"
    assert (
        json.loads(json.dumps(fired_late.data))["run_at"]
        == (start + timedelta(seconds=1.5)).isoformat()
    )


async def test_an_idle_scheduler_wakes_for_a_new_event_before_its_next_poll(
    infra: Infra, scheduler_database: Database
) -> None:
    topic = await due_topic(infra)
    async with (
        EventTap(infra, topic.name) as tap,
        emitters(infra, scheduler_database, topic, 1, max_sleep=30.0),
    ):
        await asleep(scheduler_database)
        now = await database_now(scheduler_database)
        [event_id] = await insert_events(scheduler_database, now + timedelta(seconds=0.3), 1)
        # Without the NOTIFY it would sleep 30 s; it fires after its run_at instead.
        fired = await tap.wait_for(lambda e: e.id == event_id, within=10)
    assert fired.data["emitted_at"] >= fired.data["run_at"]


class SlowAcks(FakeProducer):
    """A real producer whose acknowledgements reach the emitter `delay` seconds late, as from a
    slow broker; `handed` is set once the emitter has handed it an event."""

    def __init__(self, producer: AIOKafkaProducer, delay: float) -> None:
        self.producer = producer
        self.delay = delay
        self.handed = asyncio.Event()

    async def send(self, *args, **kwargs) -> asyncio.Future:  # noqa: ANN002, ANN003
        delivery = await self.producer.send(*args, **kwargs)
        self.handed.set()
        return asyncio.ensure_future(self._late(delivery))

    async def _late(self, delivery: asyncio.Future):  # noqa: ANN202
        acknowledgement = await delivery
        await asyncio.sleep(self.delay)  # the slow broker, not a wait in the test
        return acknowledgement


async def test_a_batch_whose_acknowledgements_outlast_the_lease_keeps_its_claim(
    infra: Infra, scheduler_database: Database
) -> None:
    # Given an event due now, and an emitter with a 1 s lease whose acknowledgements take 1.5 s
    lease = 1.0
    topic = await due_topic(infra)
    [event_id] = await insert_events(scheduler_database, await database_now(scheduler_database), 1)
    producer = make_producer(infra.kafka_settings(), "emitter-slow-acks")
    await producer.start()
    slow = SlowAcks(producer, delay=1.5 * lease)
    dsn = asyncpg_dsn(scheduler_database.url)
    emitter = Emitter(dsn, await publisher_over(slow), topic=topic.name, lease_seconds=lease)
    connection = await emitter.connect()
    try:
        async with EventTap(infra, topic.name) as tap:
            emission = asyncio.create_task(emitter.emit_batch(connection))
            await asyncio.wait_for(slow.handed.wait(), 10)

            # When an operator cancels it while its acknowledgements are pending
            cancel = asyncio.create_task(
                use_cases.cancel(scheduler_database.unit_of_work(), event_id)
            )
            emitted, cancelled = await asyncio.wait_for(
                asyncio.gather(emission, cancel, return_exceptions=True), 20
            )
            await tap.wait_for(lambda event: event.id == event_id, within=10)
    finally:
        await connection.close()
        await producer.stop()

    # Then the emitter kept its claim to the end, and the cancel, which waited for it, came too
    # late: the event was sent, so it reads emitted, not cancelled
    assert isinstance(cancelled, NotPending), (
        f"cancelled while being sent: {cancelled!r}; the emitter's batch: {emitted!r}"
    )
    assert emitted == 1, f"the emitter lost its claim: {emitted!r}"
    event = await use_cases.get(scheduler_database.unit_of_work(), event_id)
    assert event.state == "emitted" and event.emitted_at is not None


async def test_an_outcome_for_an_event_never_marked_emitted_records_when_it_was_known(
    scheduler_database: Database,
) -> None:
    """The event was sent but its batch never marked (the batch failed after the broker wrote it,
    or a frozen emitter's producer sent it after the lease): it is still `pending` when accounts'
    outcome arrives."""
    run_at = await database_now(scheduler_database) - timedelta(seconds=1)
    [event_id] = await insert_events(scheduler_database, run_at, 1)
    disconnect_id = uuid.uuid4()

    async with scheduler_database.unit_of_work() as uow:
        await use_cases.record_outcome(
            uow,
            ScheduledEventOutcomeV1(
                scheduled_event_id=event_id,
                account_id=1,
                outcome="completed",
                disconnect_id=disconnect_id,
            ),
        )
        await uow.commit()

    async with scheduler_database.unit_of_work() as uow:
        event = (
            await uow.session.execute(
                select(scheduled_events).where(scheduled_events.c.id == event_id)
            )
        ).one()
    assert event.state == "completed" and event.disconnect_id == disconnect_id
    assert event.emitted_at is not None and event.emitted_at >= event.run_at


async def test_an_event_kafka_refuses_fails_and_the_rest_of_its_batch_is_emitted(
    infra: Infra, scheduler_database: Database
) -> None:
    topic = await due_topic(infra)
    now = await database_now(scheduler_database)
    # Given a batch of due events, one of which carries a payload larger than Kafka accepts
    ids = await insert_events(scheduler_database, now, 5)
    async with scheduler_database.unit_of_work() as uow:
        await uow.session.execute(
            scheduled_events.update()
            .where(scheduled_events.c.id == ids[2])
            .values(payload={"reason": "x" * 2_000_000})
        )
        await uow.commit()

    async with EventTap(infra, topic.name) as tap:
        async with emitters(infra, scheduler_database, topic, 1, batch_size=500):
            # Then the other four are emitted
            await tap.wait_for(lambda _: len(tap.seen) >= 4, within=20)

            # And the refused one fails with the reason instead of blocking them
            async def settled() -> dict[uuid.UUID, tuple[str, str | None]] | None:
                async with scheduler_database.unit_of_work() as uow:
                    rows = await uow.session.execute(
                        select(
                            scheduled_events.c.id,
                            scheduled_events.c.state,
                            scheduled_events.c.outcome,
                        ).where(scheduled_events.c.id.in_(ids))
                    )
                    states = {row.id: (row.state, row.outcome) for row in rows}
                return states if all(s != "pending" for s, _ in states.values()) else None

            states = await wait_until(settled, within=20)
    assert {event.id for event in tap.seen} == set(ids) - {ids[2]}
    assert states[ids[2]][0] == "failed"
    assert "MessageSizeTooLarge" in (states[ids[2]][1] or "")
    assert {states[i][0] for i in ids if i != ids[2]} == {"emitted"}
