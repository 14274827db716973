"""Acting on the broker as one of its principals, for the tests of what the broker allows."""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from cutover_kit.kafka import make_producer
from cutover_kit.publisher import Publisher
from tests.support.infra import Infra


class FakeProducer:
    """A producer a test makes up (it defines `send`), startable and stoppable like aiokafka's."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


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
