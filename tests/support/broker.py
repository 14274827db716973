"""Acting on the broker as one of its principals, for the tests of what the broker allows."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from cutover_kit.kafka import make_producer
from cutover_kit.publisher import Publisher
from tests.support.infra import Infra


class FakeBatch:
    """What `FakeProducer.create_batch` gives: the records appended, up to `capacity` (as
    aiokafka's, a batch that is full refuses the record: None)."""

    def __init__(self, capacity: int | None = None) -> None:
        self.records: list[tuple[bytes, bytes, Any]] = []
        self.capacity = capacity

    def append(self, *, timestamp: None, key: bytes, value: bytes, headers: Any) -> bool | None:
        if len(self.records) == self.capacity:
            return None
        self.records.append((key, value, headers))
        return True


class FakeProducer:
    """A producer a test makes up, startable and stoppable like aiokafka's. It defines `send`, one
    record at a time; the batches the publisher hands over (`create_batch`, `send_batch`) go to it
    record by record, and the batch fails as a whole when one of its records does, as in Kafka."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: Any) -> asyncio.Future:
        raise NotImplementedError

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future:
        try:
            acks = [
                await self.send(topic, value=value, key=key, headers=headers)
                for key, value, headers in batch.records
            ]
        except Exception as refused:  # noqa: BLE001 - the answer to the whole batch
            failed = asyncio.get_running_loop().create_future()
            failed.set_exception(refused)
            return failed
        return asyncio.ensure_future(asyncio.gather(*acks))


async def publisher_over(producer: FakeProducer, deadline: float = 30.0) -> Publisher:
    """A started publisher that sends through `producer`, which also stands in for every
    replacement of it."""
    publisher = Publisher(lambda: producer, deadline=deadline)  # type: ignore[arg-type, return-value]
    await publisher.start()
    return publisher


def needs_broker_security(infra: Infra) -> None:
    if not infra.kafka_secured:
        pytest.skip("this broker has no SASL and enforces no ACLs (testcontainers' default)")


async def produce_as(
    infra: Infra, principal: str, topic: str, value: bytes, key: bytes, *, idempotent: bool = False
) -> None:
    """One record, acknowledged by the broker or refused with its error. `idempotent` makes the
    producer the services use (enable_idempotence, acks=all); otherwise the plainest producer,
    as anyone holding a principal's password could write."""
    producer = (
        make_producer(infra.kafka_settings(principal), client_id=f"test-{principal}")
        if idempotent
        else AIOKafkaProducer(**infra.kafka_options(principal), request_timeout_ms=10_000)
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def read_as(
    infra: Infra, principal: str, topic: str, group: str, within: float = 15.0
) -> list[ConsumerRecord]:
    """The records of `topic` from its start, read as `principal` in consumer group `group`;
    the broker's refusal is raised as its error."""
    consumer = AIOKafkaConsumer(
        topic,
        **infra.kafka_options(principal),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            if batches:
                return [record for records in batches.values() for record in records]
        return []
    finally:
        await consumer.stop()


async def records_of(infra: Infra, topic: str) -> list[ConsumerRecord]:
    """Every record the broker holds on `topic` now, read as `admin` without a consumer group."""
    consumer = AIOKafkaConsumer(**infra.kafka_options(), enable_auto_commit=False)
    try:
        await consumer.start()
        if not consumer.partitions_for_topic(topic):
            await consumer._client.force_metadata_update()  # the topic is not in its metadata yet
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [p for p, end in ends.items() if await consumer.position(p) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()
