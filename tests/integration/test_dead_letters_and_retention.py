"""No record stops a pipeline, against real PostgreSQL and Kafka: the relay sets aside a row Kafka
refuses and publishes the rest in order; it never skips a row for a broker failure; a dead letter
is bounded, kept whole in the database, once per record, and can be redriven or discarded; the dedupe
records are pruned only after their retention window."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaConnectionError
from pydantic import BaseModel
from sqlalchemy import func, select, text, update

from cutover_contracts.envelope import CloudEvent, encode_event
from cutover_contracts.topics import Topic, dead_letter_topic
from cutover_kit import dead_letters
from cutover_kit.consumer import EventConsumer, one_by_one
from cutover_kit.db import Database, UnitOfWork
from cutover_kit.kafka import make_broker, make_publisher
from cutover_kit.relay import OutboxRelay
from cutover_kit.tables import dead_letters as dead_letters_table
from cutover_kit.tables import idempotency_keys, outbox, processed_events
from tests.integration.conftest import create_topic
from tests.support.broker import FakeProducer, publisher_over
from tests.support.events import EventTap, wait_until
from tests.support.infra import Infra

pytestmark = pytest.mark.infra


class Note(BaseModel):
    account_id: int
    text: str = ""


def note_topic(database: Database, name: str) -> Topic:
    return Topic(f"test.{name}-{database.service}.v1", "test", Note, name)  # type: ignore[arg-type]


async def publish(database: Database, topic: Topic, *notes: Note) -> None:
    async with database.unit_of_work() as uow:
        for note in notes:
            await uow.publish(topic, note, account_id=note.account_id)
        await uow.commit()


async def test_a_row_kafka_refuses_is_set_aside_and_the_rows_after_it_flow_in_order(
    infra: Infra, kit_database: Database
) -> None:
    topic = note_topic(kit_database, "set-aside")
    await create_topic(infra, topic)
    publisher = make_publisher(infra.kafka_settings(), "set-aside-test")
    await publisher.start()
    relay = OutboxRelay(kit_database, publisher)
    try:
        async with EventTap(infra, topic.name) as tap:
            # Given one account's events where the middle one is larger than Kafka accepts
            await publish(
                kit_database,
                topic,
                Note(account_id=7, text="before"),
                Note(account_id=7, text="x" * 2_000_000),
                Note(account_id=7, text="after"),
            )

            # When the relay, holding the lease, publishes
            assert await relay.take_lease()
            assert await relay.publish_batch() == 3

            # Then the two others arrive, in their order
            await tap.wait_for(lambda _: len(tap.seen) >= 2, within=10)
            assert [event.data["text"] for event in tap.seen] == ["before", "after"]
        async with kit_database.unit_of_work() as uow:
            rows = (await uow.session.execute(select(outbox).order_by(outbox.c.id))).all()
            letter = (await uow.session.execute(select(dead_letters_table))).one()
        # And the refused one is set aside, kept whole as a letter of the relay's
        assert [row.published_at is not None for row in rows] == [True, False, True]
        assert rows[1].set_aside_at is not None
        assert letter.consumer == dead_letters.RELAY
        assert letter.outbox_id == rows[1].id and letter.event_id == rows[1].event_id
        assert letter.value == rows[1].value and letter.size == len(rows[1].value)
        assert letter.sha256 == hashlib.sha256(rows[1].value).hexdigest()
        assert "MessageSizeTooLarge" in letter.reason
        # And the next batch does not try it again
        assert await relay.publish_batch() == 0
    finally:
        await publisher.stop()


@dataclass
class UnreachableBroker(FakeProducer):
    """A producer whose every send fails the way a broker that is down makes it fail."""

    sends: list[str] = field(default_factory=list)

    async def send(self, topic: str, **_: Any) -> asyncio.Future[None]:
        self.sends.append(topic)
        raise KafkaConnectionError("broker down")


async def test_a_broker_failure_is_retried_never_a_reason_to_skip_rows(
    kit_database: Database,
) -> None:
    topic = note_topic(kit_database, "broker-down")
    # Given rows to publish and a broker that does not answer
    await publish(kit_database, topic, Note(account_id=1), Note(account_id=2))
    relay = OutboxRelay(kit_database, await publisher_over(UnreachableBroker()))
    assert await relay.take_lease()

    # When the relay tries, it fails
    with pytest.raises(KafkaConnectionError):
        await relay.publish_batch()

    # Then no row is published or set aside: they wait for the broker
    async with kit_database.unit_of_work() as uow:
        rows = (await uow.session.execute(select(outbox))).all()
        letters = await uow.session.scalar(select(func.count()).select_from(dead_letters_table))
    assert len(rows) == 2
    assert all(row.published_at is None and row.set_aside_at is None for row in rows)
    assert letters == 0


def raw_event(account_id: int, *, fail: bool = False) -> bytes:
    return encode_event(
        CloudEvent(
            id=uuid.uuid4(),
            source="/test",
            type="test.note",
            subject=str(account_id),
            time=datetime.now(UTC),
            data={"account_id": account_id, "text": "fail" if fail else "ok"},
        )
    )


@dataclass
class RuntimeStub:
    """What a redrive needs of a service runtime."""

    service: str
    database: Database
    consumers: list[EventConsumer]


async def test_dead_letters_are_bounded_kept_once_and_redriven_once_the_cause_is_fixed(
    infra: Infra, kit_database: Database
) -> None:
    service = kit_database.service
    topic = note_topic(kit_database, "letters")
    await create_topic(infra, topic)
    await create_topic(infra, dead_letter_topic(service))
    broken = {"yes"}
    applied: list[str] = []

    async def handler(uow: UnitOfWork, event: CloudEvent, data: Note) -> None:
        if broken and data.text == "fail":
            raise ValueError("the cause is not fixed yet")
        applied.append(str(event.id))

    consumer = EventConsumer(
        kit_database, name="notes", handlers={topic: one_by_one(handler)}, max_attempts=1
    )
    broker = make_broker(infra.kafka_settings(), client_id="letters-test")
    consumer.subscribe(broker)
    producer = AIOKafkaProducer(**infra.kafka_options())
    relay_publisher = make_publisher(infra.kafka_settings(), "letters-relay")
    await producer.start()
    await relay_publisher.start()
    await broker.start()
    relay = asyncio.create_task(OutboxRelay(kit_database, relay_publisher, poll_seconds=0.2).run())
    huge, long_key = b"\xff" * 400_000, b"k" * 400 + b"\x00"
    try:
        async with EventTap(infra, dead_letter_topic(service).name) as tap:
            # Given on one partition: 400 KB of 0xFF under a 400-character key with a NUL, an
            # event whose handler fails, a good one
            for value, key in (
                (huge, long_key),
                (raw_event(5, fail=True), b"5"),
                (raw_event(6), b""),
            ):
                await producer.send_and_wait(topic.name, value, key=key, partition=0)

            # Then the good one is applied: nothing stopped the partition
            async def good_one_applied() -> bool:
                return len(applied) == 1

            await wait_until(good_one_applied, within=20)
            # And both bad ones are on the dead-letter topic, bounded, with size and digest
            await tap.wait_for(lambda _: len(tap.seen) >= 2, within=20)
            letters = {event.data["original_size"]: event.data for event in tap.seen}
            big = letters[len(huge)]
            assert big["original_truncated"] is True
            assert big["original_sha256"] == hashlib.sha256(huge).hexdigest()
            assert len(big["original_value"].encode()) < 64 * 1024
            assert len(tap.seen) == 2
        async with kit_database.unit_of_work() as uow:
            rows = {row.size: row for row in await uow.session.execute(select(dead_letters_table))}
        # And the database keeps both originals whole, keys included
        assert rows[len(huge)].value == huge and rows[len(huge)].key == long_key
        failing = next(row for size, row in rows.items() if size != len(huge))

        # When the same records are consumed again (offsets lost), no second letter is made
        await consumer.consume_batch(tuple(_record(topic.name, row) for row in rows.values()))
        async with kit_database.unit_of_work() as uow:
            letters = await uow.session.scalar(select(func.count()).select_from(dead_letters_table))
        assert letters == 2

        stub = RuntimeStub(service, kit_database, [consumer])
        # When the undecodable one is redriven, it fails and stays open
        with pytest.raises(dead_letters.RedriveFailed):
            await dead_letters.redrive(stub, kit_database.unit_of_work(), rows[len(huge)].id)  # type: ignore[arg-type]
        # When the failing one is redriven once its cause is fixed, it is applied, once
        broken.clear()
        redriven = await dead_letters.redrive(stub, kit_database.unit_of_work(), failing.id)  # type: ignore[arg-type]
        assert redriven.state == "redriven"
        assert applied[-1] == str(failing.event_id) and len(applied) == 2
        with pytest.raises(dead_letters.DeadLetterNotOpen):
            await dead_letters.redrive(stub, kit_database.unit_of_work(), failing.id)  # type: ignore[arg-type]
        # And the other is discarded with a reason
        discarded = await dead_letters.discard(
            kit_database.unit_of_work(), rows[len(huge)].id, "garbage from a test producer"
        )
        assert (discarded.state, discarded.discard_reason) == (
            "discarded",
            "garbage from a test producer",
        )
    finally:
        relay.cancel()
        with suppress(asyncio.CancelledError):
            await relay
        await broker.stop()
        await producer.stop()
        await relay_publisher.stop()


def _record(topic: str, letter: Any) -> ConsumerRecord[bytes, bytes]:
    """The record a letter was made of, as a redelivery would bring it again."""
    return ConsumerRecord(
        topic,
        letter.partition,
        letter.offset,
        0,
        0,
        letter.key,
        letter.value,
        None,
        0,
        0,
        (),
    )


async def test_dedupe_records_are_pruned_after_their_window_and_deduplicate_inside_it(
    kit_database: Database,
) -> None:
    recent, old = uuid.uuid4(), uuid.uuid4()
    async with kit_database.unit_of_work() as uow:
        # Given an event handled now and one handled 15 days ago, and two idempotency keys alike
        await uow.claim_events("notes", [recent, old])
        await uow.session.execute(
            update(processed_events)
            .where(processed_events.c.event_id == old)
            .values(processed_at=func.now() - text("interval '15 days'"))
        )
        for key, age in (("recent", "0 days"), ("old", "15 days")):
            await uow.session.execute(
                idempotency_keys.insert().values(
                    scope="POST /x",
                    key=key,
                    request_hash="0" * 64,
                    created_at=func.now() - text(f"interval '{age}'"),
                )
            )
        await uow.commit()

    # When the leader prunes with a 14-day window
    leader = OutboxRelay(kit_database, None, dedupe_retention_hours=14 * 24)  # type: ignore[arg-type]
    assert await leader.take_lease()
    pruned = await leader.prune()

    # Then only what is past the window went
    assert pruned == {"outbox": 0, "processed_events": 1, "idempotency_keys": 1}
    # And a redelivery of the recent event is still recognised as a duplicate
    async with kit_database.unit_of_work() as uow:
        assert await uow.claim_events("notes", [recent]) == set()
        keys = await uow.session.scalars(select(idempotency_keys.c.key))
        assert list(keys) == ["recent"]
