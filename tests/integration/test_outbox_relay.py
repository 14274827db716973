"""The outbox relay against real PostgreSQL and Kafka: every committed event published exactly
once, in commit order per account, even with two relays running at once, or a producer that
stops acknowledging."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from contextlib import suppress
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from cutover_contracts.topics import Topic
from cutover_kit.db import Database, outbox_channel
from cutover_kit.kafka import make_producer, make_publisher
from cutover_kit.publisher import Publisher
from cutover_kit.relay import OutboxRelay
from cutover_kit.tables import outbox
from tests.integration.conftest import create_topic
from tests.support.broker import FakeProducer
from tests.support.events import EventTap, wait_until
from tests.support.infra import Infra, connect

pytestmark = pytest.mark.infra


class Counted(BaseModel):
    account_id: int
    sequence: int


async def write_events(database: Database, topic: Topic, accounts: int, per_account: int) -> None:
    for sequence in range(per_account):
        async with database.unit_of_work() as uow:
            for account_id in range(1, accounts + 1):
                await uow.publish(
                    topic, Counted(account_id=account_id, sequence=sequence), account_id=account_id
                )
            await uow.commit()


def sequences_per_account(events: list[Any]) -> dict[int, list[int]]:
    """Each account's `Counted` sequence numbers, in the order the events arrived."""
    sequences: dict[int, list[int]] = defaultdict(list)
    for event in events:
        sequences[event.data["account_id"]].append(event.data["sequence"])
    return dict(sequences)


async def test_two_relays_publish_every_event_once_and_in_order_per_account(
    infra: Infra, kit_database: Database
) -> None:
    topic = Topic(f"test.relay-{kit_database.service}.v1", "test", Counted, "relay test")  # type: ignore[arg-type]
    await create_topic(infra, topic)
    publishers = [make_publisher(infra.kafka_settings(), f"relay-{n}") for n in range(2)]
    for publisher in publishers:
        await publisher.start()
    relays = [
        OutboxRelay(kit_database, publisher, batch_size=50, poll_seconds=0.2)
        for publisher in publishers
    ]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]
    try:
        async with EventTap(infra, topic.name) as tap:
            # Given events committed while both relays run
            await write_events(kit_database, topic, accounts=10, per_account=30)

            # Then all 300 arrive, none twice, each account's in the order committed
            await tap.wait_for(lambda _: len(tap.seen) >= 300, within=30)
            await tap.drain(within=1.0)
            ids = [event.id for event in tap.seen]
            assert len(ids) == len(set(ids)) == 300
            sequences = sequences_per_account(tap.seen)
            assert all(seq == list(range(30)) for seq in sequences.values())
            # And exactly one relay was the leader
            assert sum(relay.is_leader for relay in relays) == 1
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        for publisher in publishers:
            await publisher.stop()


class NeverAcknowledges(FakeProducer):
    """Takes every record and never answers, as aiokafka's idempotent producer does for a broker
    that stopped answering, or for a partition whose sequence it lost after a failed batch."""

    async def send(self, topic: str, **_: object) -> asyncio.Future[None]:
        return asyncio.get_running_loop().create_future()


async def test_a_producer_that_stops_acknowledging_is_replaced_and_no_event_is_lost(
    infra: Infra, kit_database: Database
) -> None:
    topic = Topic(f"test.stalled-{kit_database.service}.v1", "test", Counted, "stall test")  # type: ignore[arg-type]
    await create_topic(infra, topic)
    # Given a relay whose producer takes its first batch and never acknowledges it
    first = [NeverAcknowledges()]
    publisher = Publisher(
        lambda: first.pop() if first else make_producer(infra.kafka_settings(), "relay-fresh"),
        deadline=1.0,
    )
    await publisher.start()
    stalled = publisher.producer
    relay = OutboxRelay(kit_database, publisher, batch_size=50, poll_seconds=0.2)
    task = asyncio.create_task(relay.run())
    try:
        async with EventTap(infra, topic.name) as tap:
            await write_events(kit_database, topic, accounts=5, per_account=4)

            # Then after the deadline the batch goes again with a fresh producer: every event
            # arrives, once, in order per account, and is marked published
            await tap.wait_for(lambda _: len(tap.seen) >= 20, within=20)
            await wait_until(lambda: all_published(kit_database), within=10)
            await tap.drain(within=1.0)
            assert publisher.producer is not stalled
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await publisher.stop()
    ids = [event.id for event in tap.seen]
    assert len(ids) == len(set(ids)) == 20
    assert all(seq == list(range(4)) for seq in sequences_per_account(tap.seen).values())


async def all_published(database: Database) -> bool:
    async with database.unit_of_work() as uow:
        published = (await uow.session.scalars(select(outbox.c.published_at))).all()
    return all(at is not None for at in published)


async def test_a_commit_wakes_the_relay_and_a_rollback_does_not(
    infra: Infra, kit_database: Database
) -> None:
    topic = Topic(f"test.wake-{kit_database.service}.v1", "test", Counted, "wake-up test")  # type: ignore[arg-type]
    woken: asyncio.Queue[str] = asyncio.Queue()
    listener = await connect(infra, kit_database.url.rsplit("/", 1)[1])
    await listener.add_listener(
        outbox_channel(kit_database.service), lambda *a: woken.put_nowait(a[2])
    )
    try:
        async with kit_database.unit_of_work() as uow:
            await uow.publish(topic, Counted(account_id=1, sequence=0), account_id=1)
            # rolled back: no wake-up
        async with kit_database.unit_of_work() as uow:
            await uow.publish(topic, Counted(account_id=1, sequence=1), account_id=1)
            await uow.commit()

        assert await asyncio.wait_for(woken.get(), timeout=5) == outbox_channel(
            kit_database.service
        )
        assert woken.empty()
        async with kit_database.unit_of_work() as uow:
            stored = await uow.session.scalar(select(func.count()).select_from(outbox))
        assert stored == 1
    finally:
        await listener.close()


async def test_a_commit_wakes_its_own_leading_relay_in_process_and_notifies_only_otherwise(
    infra: Infra, kit_database: Database
) -> None:
    topic = Topic(f"test.local-wake-{kit_database.service}.v1", "test", Counted, "wake-up test")  # type: ignore[arg-type]
    notified: asyncio.Queue[str] = asyncio.Queue()
    listener = await connect(infra, kit_database.url.rsplit("/", 1)[1])
    await listener.add_listener(
        outbox_channel(kit_database.service), lambda *a: notified.put_nowait(a[2])
    )

    class Relay:
        """This process's relay, as the unit of work sees it."""

        is_leader = True
        woken = asyncio.Event()

        def wake(self) -> None:
            self.woken.set()

    relay = kit_database.relay = Relay()
    try:
        # Given this process's relay leads: a commit wakes it in the process, no NOTIFY
        async with kit_database.unit_of_work() as uow:
            await uow.publish(topic, Counted(account_id=1, sequence=0), account_id=1)
            await uow.commit()
        assert relay.woken.is_set()
        # When it no longer leads, a commit NOTIFYs whichever relay leads
        relay.is_leader = False
        relay.woken.clear()
        async with kit_database.unit_of_work() as uow:
            await uow.publish(topic, Counted(account_id=1, sequence=1), account_id=1)
            await uow.commit()
        # Then exactly one NOTIFY arrives (notifications come in commit order: the first commit's
        # would have come before it), and the relay was not woken in the process
        assert await asyncio.wait_for(notified.get(), timeout=5) == outbox_channel(
            kit_database.service
        )
        assert notified.empty()
        assert not relay.woken.is_set()
    finally:
        kit_database.relay = None
        await listener.close()
