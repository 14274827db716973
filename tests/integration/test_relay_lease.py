"""The outbox relay's lease and fence against real PostgreSQL and Kafka, with two relays on one
database: a leader that hangs loses leadership one lease after its last renewal, another relay
takes over and publishes everything in order, and the hung one, when it wakes, is fenced: it sends
nothing more, marks nothing, and the only records it can still deliver are late copies of events
already delivered, which a consumer deduping on the CloudEvent id skips."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from cutover_contracts.topics import Topic
from cutover_kit.db import Database
from cutover_kit.kafka import make_publisher
from cutover_kit.relay import LeaseLost, OutboxRelay
from cutover_kit.tables import relay_leases
from tests.integration.conftest import create_topic
from tests.integration.test_outbox_relay import (
    Counted,
    all_published,
    sequences_per_account,
    write_events,
)
from tests.support.broker import FakeProducer, publisher_over
from tests.support.events import EventTap, wait_until
from tests.support.infra import Infra

pytestmark = pytest.mark.infra

LEASE = 1.0
POLL = 0.1
# What a loaded machine may add to lease + poll before the standby has taken over.
SLACK = 2.0
ACCOUNTS, PER_ACCOUNT = 3, 2


@dataclass
class RecordingProducer(FakeProducer):
    """Counts what a relay hands it; it never gets to send anything in these tests."""

    sends: list[str] = field(default_factory=list)

    async def send(self, topic: str, **_: Any) -> asyncio.Future[None]:
        self.sends.append(topic)
        raise AssertionError("a fenced relay sent a record")


@asynccontextmanager
async def running_relay(
    infra: Infra, database: Database, lease: float = LEASE
) -> AsyncIterator[OutboxRelay]:
    """A relay with a real producer, running until the block ends (it is then cancelled, as
    when its process stops)."""
    publisher = make_publisher(infra.kafka_settings(), f"lease-{database.service}")
    await publisher.start()
    relay = OutboxRelay(database, publisher, batch_size=50, poll_seconds=POLL, lease_seconds=lease)
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await publisher.stop()


async def wait_for_leader(relay: OutboxRelay, within: float) -> float:
    """Seconds until `relay` leads; fail after `within`."""
    started = time.monotonic()
    while not relay.is_leader:
        assert time.monotonic() - started < within, f"no takeover within {within} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def lease_row(database: Database) -> Any:
    async with database.unit_of_work() as uow:
        return (await uow.session.execute(select(relay_leases))).one()


def fenced_total() -> float:
    return REGISTRY.get_sample_value("cutover_outbox_relay_fenced_total") or 0.0


def lease_topic(database: Database, name: str) -> Topic:
    return Topic(f"test.{name}-{database.service}.v1", "test", Counted, "lease test")  # type: ignore[arg-type]


async def test_a_leader_hung_between_batches_is_replaced_after_its_lease_and_fenced_on_waking(
    infra: Infra, kit_database: Database
) -> None:
    topic = lease_topic(kit_database, "hung-idle")
    await create_topic(infra, topic)
    # Given a relay that took the lease and then hung (it never runs again until it wakes)
    recording = RecordingProducer()
    hung = OutboxRelay(
        kit_database, await publisher_over(recording), poll_seconds=POLL, lease_seconds=LEASE
    )
    assert await hung.take_lease()
    hung_lease = await lease_row(kit_database)
    hung_at = time.monotonic()
    fenced_before = fenced_total()
    async with EventTap(infra, topic.name) as tap:
        await write_events(kit_database, topic, accounts=ACCOUNTS, per_account=PER_ACCOUNT)

        # When a second relay runs
        async with running_relay(infra, kit_database) as standby:
            # Then it takes over within the lease and its poll, not before the lease ran out
            await wait_for_leader(standby, within=LEASE + POLL + SLACK)
            took_over_after = time.monotonic() - hung_at
            lease = await lease_row(kit_database)
            assert lease.epoch == hung_lease.epoch + 1 and lease.holder == standby.holder
            assert lease.taken_at >= hung_lease.expires_at
            # And publishes every event once, in commit order per account, and marks it
            # published (a batch's mark commits after the send the tap sees: a relay stopped
            # between the two leaves the batch for the next leader to send again)
            await tap.wait_for(lambda _: len(tap.seen) >= ACCOUNTS * PER_ACCOUNT, within=10)
            await wait_until(lambda: all_published(kit_database), within=10)

            # When the hung relay wakes, it is fenced: its next batch sends and marks nothing
            with pytest.raises(LeaseLost):
                await hung.publish_batch()
            assert not await hung.take_lease()
            assert recording.sends == []
            assert fenced_total() == fenced_before + 1
            # And only the new leader leads
            assert standby.is_leader and not hung.is_leader
        await tap.drain(within=1.0)
    assert sequences_per_account(tap.seen) == {
        a: list(range(PER_ACCOUNT)) for a in range(1, ACCOUNTS + 1)
    }
    print(f"takeover {took_over_after:.2f} s after the leader's last renewal (lease {LEASE} s)")


async def test_a_leader_that_stops_hands_its_lease_over_at_once(
    infra: Infra, kit_database: Database
) -> None:
    long_lease = 30.0
    # Given a relay leading with a long lease
    async with running_relay(infra, kit_database, lease=long_lease) as leader:
        await wait_for_leader(leader, within=10)
        held = await lease_row(kit_database)
    # When it stops (its task cancelled, as when its process gets SIGTERM)
    # Then the next relay leads within its poll, long before the lease would have run out
    async with running_relay(infra, kit_database, lease=long_lease) as successor:
        await wait_for_leader(successor, within=POLL + SLACK)
    assert (await lease_row(kit_database)).epoch == held.epoch + 1


# A relay in a process of its own, whose records leave the producer 3 s after they were handed to
# it (as records still in a producer's buffer when its process freezes do) and whose
# acknowledgements never come back: it holds its batch until it is frozen.
FROZEN_RELAY = """
import asyncio, logging, sys
from cutover_kit.db import Database
from cutover_kit.kafka import make_producer
from cutover_kit.publisher import Publisher
from cutover_kit.relay import OutboxRelay
from cutover_kit.settings import KafkaSettings
from tests.support.broker import FakeProducer

class HeldInTheProducer(FakeProducer):
    def __init__(self, producer):
        self.producer = producer
        self.deliveries = []

    async def send(self, topic, value, key, headers):
        if not self.deliveries:
            print("handed", flush=True)
        self.deliveries.append(asyncio.ensure_future(self._deliver(topic, value, key, headers)))
        return asyncio.get_running_loop().create_future()

    async def _deliver(self, topic, value, key, headers):
        await asyncio.sleep(3.0)
        await (await self.producer.send(topic, value=value, key=key, headers=headers))

async def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    producer = make_producer(KafkaSettings(), "lease-frozen")
    await producer.start()
    database = Database(sys.argv[1], service=sys.argv[2])
    held = HeldInTheProducer(producer)
    publisher = Publisher(lambda: held, deadline=60.0)
    await publisher.start()
    relay = OutboxRelay(database, publisher, batch_size=3, poll_seconds=0.1, lease_seconds=1.0)
    await relay.run()

asyncio.run(main())
"""


async def lines_until(stream: asyncio.StreamReader, marker: bytes, within: float) -> bytes:
    """Read `stream` until a line holding `marker`; return everything read."""
    read = b""
    deadline = time.monotonic() + within
    while marker not in read:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} within {within} s: {read.decode()[-2000:]}"
        line = await asyncio.wait_for(stream.readline(), remaining)
        assert line, f"the stream ended before {marker!r}: {read.decode()[-2000:]}"
        read += line
    return read


async def test_a_leader_frozen_within_a_batch_is_replaced_and_its_late_records_are_only_copies(
    infra: Infra, kit_database: Database
) -> None:
    topic = lease_topic(kit_database, "frozen-batch")
    await create_topic(infra, topic)
    async with EventTap(infra, topic.name) as tap:
        # Given six events (three accounts, two each), and a leader that handed the first three
        # (each account's first) to its producer and froze (SIGSTOP) before Kafka had them
        await write_events(kit_database, topic, accounts=ACCOUNTS, per_account=PER_ACCOUNT)
        frozen = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            FROZEN_RELAY,
            kit_database.url,
            kit_database.service,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **infra.kafka_env("admin")},
        )
        assert frozen.stdout is not None and frozen.stderr is not None
        try:
            # A process's start (its imports) took over a minute on a saturated machine.
            await lines_until(frozen.stdout, b"handed", within=120)
            frozen.send_signal(signal.SIGSTOP)
            frozen_at = time.monotonic()
            frozen_lease = await lease_row(kit_database)

            # When a second relay runs
            async with running_relay(infra, kit_database) as standby:
                # Then it takes over within the lease (PostgreSQL ends the frozen batch's
                # transaction after a lease of inactivity, and its lock with it)
                await wait_for_leader(standby, within=LEASE + POLL + SLACK)
                took_over_after = time.monotonic() - frozen_at
                lease = await lease_row(kit_database)
                assert lease.epoch == frozen_lease.epoch + 1
                # And publishes all six, the frozen leader's three included, and marks them
                total = ACCOUNTS * PER_ACCOUNT
                await tap.wait_for(lambda _: len(tap.seen) >= total, within=10)
                await wait_until(lambda: all_published(kit_database), within=10)

                # When the frozen leader wakes (SIGCONT), it is fenced: it says so
                frozen.send_signal(signal.SIGCONT)
                log = await lines_until(frozen.stderr, b"outbox relay fenced", within=15)
                assert f"led with epoch {frozen_lease.epoch}".encode() in log
                # And its producer delivers the three records it held, late
                await tap.wait_for(lambda _: len(tap.seen) >= total + ACCOUNTS, within=15)
                await tap.drain(within=1.0)
                assert standby.is_leader
        finally:
            with suppress(ProcessLookupError):
                frozen.kill()
            await frozen.wait()

    # Then what a consumer observes: every event once in commit order per account, then a
    # second copy of each event the frozen leader held, after the newer event of its account
    first: dict[int, list[int]] = defaultdict(list)
    late: dict[int, list[int]] = defaultdict(list)
    seen_ids: set[Any] = set()
    for event in tap.seen:
        copies = late if event.id in seen_ids else first
        copies[event.data["account_id"]].append(event.data["sequence"])
        seen_ids.add(event.id)
    assert first == {a: [0, 1] for a in range(1, ACCOUNTS + 1)}
    assert late == {a: [0] for a in range(1, ACCOUNTS + 1)}, "only the held records, once each"
    assert len(tap.seen) == total + ACCOUNTS

    # And a consumer that dedupes on the CloudEvent id (the kit's claim) applies each event
    # once, in commit order per account
    applied: dict[int, list[int]] = defaultdict(list)
    for event in tap.seen:
        async with kit_database.unit_of_work() as uow:
            if await uow.claim_events("lease-test", [event.id]):
                applied[event.data["account_id"]].append(event.data["sequence"])
            await uow.commit()
    assert applied == first
    print(f"takeover {took_over_after:.2f} s after the freeze (lease {LEASE} s)")
