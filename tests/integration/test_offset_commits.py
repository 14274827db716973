"""Offsets committed once an interval (`cutover_kit.consumer.OffsetCommits`) against real Kafka and
PostgreSQL: what a crash leaves uncommitted is consumed again and applied nothing twice, a stop
commits what was applied, and an idle group does not wait for another batch to commit."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.topics import Topic
from cutover_kit import metrics
from cutover_kit.consumer import EventConsumer, one_by_one
from cutover_kit.db import Database, UnitOfWork
from cutover_kit.kafka import make_broker
from tests.integration.conftest import create_topic
from tests.support.events import wait_until
from tests.support.infra import Infra
from tests.support.records import record

pytestmark = pytest.mark.infra


class Tick(BaseModel):
    n: int


async def ticks(infra: Infra, database: Database, count: int) -> Topic:
    """A fresh topic holding `count` tick events."""
    topic = Topic(f"test.ticks-{uuid.uuid4().hex[:8]}.v1", "test", Tick, "offset commit test")  # type: ignore[arg-type]
    await create_topic(infra, topic)
    producer = AIOKafkaProducer(**infra.kafka_options())
    await producer.start()
    try:
        for n in range(count):
            tick = record(topic, Tick(n=n), account_id=n)
            await producer.send_and_wait(topic.name, tick.value, key=tick.key)
    finally:
        await producer.stop()
    return topic


def subscribed(
    infra: Infra, database: Database, topic: Topic, applied: list[int], *, interval: float
) -> tuple[EventConsumer, KafkaBroker]:
    async def handler(uow: UnitOfWork, event: CloudEvent, data: Tick) -> None:
        applied.append(data.n)

    broker = make_broker(infra.kafka_settings(), client_id="offsets-test")
    consumer = EventConsumer(
        database, name="ticks", handlers={topic: one_by_one(handler)}, commit_interval=interval
    )
    consumer.subscribe(broker)
    return consumer, broker


async def committed(infra: Infra, group_id: str) -> int:
    """The group's committed offsets, summed over the partitions."""
    admin = AIOKafkaAdminClient(**infra.kafka_options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return sum(max(meta.offset, 0) for meta in offsets.values())


async def test_a_crash_before_the_commit_redelivers_and_a_stop_commits(
    infra: Infra, kit_database: Database
) -> None:
    topic = await ticks(infra, kit_database, 6)
    applied: list[int] = []

    # Given a member whose next commit is an hour away, which applies every event and then dies
    first, broker = subscribed(infra, kit_database, topic, applied, interval=3600)
    await broker.start()

    async def all_applied() -> bool:
        return sorted(applied) == list(range(6))

    await wait_until(all_applied, within=30)
    await broker.stop()  # like a crash: the offsets are not committed
    assert await committed(infra, first.group_id) == 0

    # When the group starts again, it consumes the six events again and applies none of them
    duplicates = metrics.events_consumed.labels(topic.name, "duplicate")
    before = duplicates._value.get()
    second, broker = subscribed(infra, kit_database, topic, applied, interval=3600)
    await broker.start()
    try:

        async def all_skipped() -> bool:
            return duplicates._value.get() - before >= 6

        await wait_until(all_skipped, within=30)
        assert sorted(applied) == list(range(6))
        # And a stop (the runtime closes the offsets before the broker) commits what was applied
        await second.offsets.close()
        assert await committed(infra, second.group_id) == 6
    finally:
        await broker.stop()
        await first.offsets.close()  # its hour-long timer, which the crash would have ended


async def test_an_idle_group_commits_within_the_interval(
    infra: Infra, kit_database: Database
) -> None:
    topic = await ticks(infra, kit_database, 4)
    consumer, broker = subscribed(infra, kit_database, topic, [], interval=0.2)
    await broker.start()
    try:

        async def all_committed() -> bool:
            return await committed(infra, consumer.group_id) == 4

        # No batch follows the four events: the commit does not wait for one
        await wait_until(all_committed, within=20)
    finally:
        await consumer.offsets.close()
        await broker.stop()
