"""The idempotent consumer against real Kafka and PostgreSQL: duplicates applied once, poison and
failing messages dead-lettered with the reason, and the consumer keeps going."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import func, select

from cutover_contracts.envelope import CloudEvent, encode_event
from cutover_contracts.topics import Topic, dead_letter_topic
from cutover_kit import metrics
from cutover_kit.consumer import EventConsumer, one_by_one
from cutover_kit.db import Database, UnitOfWork
from cutover_kit.kafka import make_broker, make_publisher
from cutover_kit.relay import OutboxRelay
from cutover_kit.tables import processed_events
from tests.integration.conftest import create_topic
from tests.support.events import EventTap, wait_until
from tests.support.infra import Infra

pytestmark = pytest.mark.infra


class Ping(BaseModel):
    account_id: int
    fail: bool = False


def ping(account_id: int, *, fail: bool = False, event_id: uuid.UUID | None = None) -> bytes:
    return encode_event(
        CloudEvent(
            id=event_id or uuid.uuid4(),
            source="/test",
            type="test.ping",
            subject=str(account_id),
            time=datetime.now(UTC),
            data={"account_id": account_id, "fail": fail},
        )
    )


async def test_duplicates_apply_once_and_poison_goes_to_the_dead_letter_topic(
    infra: Infra, kit_database: Database
) -> None:
    service = kit_database.service
    topic = Topic(f"test.consumer-{service}.v1", "test", Ping, "consumer test")  # type: ignore[arg-type]
    dead_letters = dead_letter_topic(service)
    await create_topic(infra, topic)
    await create_topic(infra, dead_letters)
    applied: list[int] = []

    async def handler(uow: UnitOfWork, event: CloudEvent, data: Ping) -> None:
        if data.fail:
            raise ValueError(f"cannot handle account {data.account_id}")
        applied.append(data.account_id)

    broker = make_broker(infra.kafka_settings(), client_id="consumer-test")
    consumer = EventConsumer(
        kit_database, name="ping", handlers={topic: one_by_one(handler)}, max_attempts=2
    )
    consumer.subscribe(broker)
    producer = AIOKafkaProducer(**infra.kafka_options())
    await producer.start()
    await broker.start()
    dead_before = metrics.dead_letters.labels(topic.name)._value.get()
    relay_publisher = make_publisher(infra.kafka_settings(), "consumer-test-relay")
    await relay_publisher.start()
    relay = asyncio.create_task(OutboxRelay(kit_database, relay_publisher, poll_seconds=0.2).run())
    try:
        async with EventTap(infra, dead_letters.name) as tap:
            duplicate = uuid.uuid4()
            # Given a stream with a duplicate, undecodable bytes, a failing event, then good ones
            for value in (
                ping(1, event_id=duplicate),
                ping(1, event_id=duplicate),
                b"{not json",
                ping(2, fail=True),
                ping(3),
            ):
                await producer.send_and_wait(topic.name, value, key=b"1")

            # Then the good events are applied once each and the consumer went past the poison
            async def good_ones_applied() -> bool:
                return sorted(applied) == [1, 3]

            await wait_until(good_ones_applied, within=20)
            # And both bad messages are on the dead-letter topic with their reason
            await tap.wait_for(lambda _: len(tap.seen) >= 2, within=20)
            errors = sorted(event.data["error"] for event in tap.seen)
            assert errors[0].startswith("ValueError('cannot handle account 2')")
            assert errors[1].startswith("undecodable: not JSON")
            assert {event.data["original_topic"] for event in tap.seen} == {topic.name}
            assert tap.seen[0].data["consumer_group"] == f"{service}.ping"
            assert metrics.dead_letters.labels(topic.name)._value.get() - dead_before == 2
            async with kit_database.unit_of_work() as uow:
                claimed = await uow.session.scalar(
                    select(func.count()).select_from(processed_events)
                )
            assert claimed == 3  # the duplicate was claimed once; the poison bytes have no id
    finally:
        relay.cancel()
        with suppress(asyncio.CancelledError):
            await relay
        await broker.stop()
        await producer.stop()
        await relay_publisher.stop()
