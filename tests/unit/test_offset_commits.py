"""`OffsetCommits`: a consumer group's offsets are committed after their batches, at most once per
interval, only for partitions the member still owns, at once before a rebalance or a stop; and how
a consumer takes its batches (`take_records`)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from faststream.kafka import KafkaBroker

from cutover_contracts.topics import ACCOUNT_DISCONNECTED
from cutover_kit.consumer import (
    BATCH_RECORDS,
    IDLE_WAIT_MS,
    EventConsumer,
    OffsetCommits,
    one_by_one,
    take_records,
)

A0, A1, B0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)


class FakeConsumer:
    def __init__(self, *assigned: TopicPartition, fail: bool = False) -> None:
        self.assigned = set(assigned)
        self.fail = fail
        self.commits: list[dict[TopicPartition, int]] = []
        self.committed = asyncio.Event()

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.set()
        if self.fail:
            raise CommitFailedError("the group rebalanced")
        self.commits.append(dict(offsets))


def batch(*records: tuple[TopicPartition, int]) -> Any:
    return tuple(
        SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o) for tp, o in records
    )


async def test_the_batches_of_an_interval_are_committed_once_after_it() -> None:
    consumer = FakeConsumer(A0, A1, B0)
    offsets = OffsetCommits("test.group", interval=0.05)

    await offsets.applied(consumer, batch((A0, 10), (A0, 11), (B0, 3)))
    await offsets.applied(consumer, batch((A0, 12), (A1, 7)))
    assert consumer.commits == []  # nothing before the interval has passed

    await asyncio.wait_for(consumer.committed.wait(), 5)
    assert consumer.commits == [{A0: 13, A1: 8, B0: 4}]  # the offset after each last record


async def test_a_rebalance_commits_the_revoked_partitions_at_once() -> None:
    consumer = FakeConsumer(A0, A1)
    offsets = OffsetCommits("test.group", interval=60)
    await offsets.applied(consumer, batch((A0, 5), (A1, 9)))

    await offsets.on_partitions_revoked({A0})
    assert consumer.commits == [{A0: 6}]
    # The partition kept waits for the interval (or the stop)
    await offsets.close()
    assert consumer.commits == [{A0: 6}, {A1: 10}]


async def test_a_partition_taken_away_is_left_to_its_new_owner() -> None:
    consumer = FakeConsumer(A0, A1)
    offsets = OffsetCommits("test.group", interval=60)
    await offsets.applied(consumer, batch((A0, 5), (A1, 9)))
    consumer.assigned = {A1}

    await offsets.close()
    assert consumer.commits == [{A1: 10}]


async def test_after_close_each_batch_is_committed_at_once() -> None:
    consumer = FakeConsumer(A0)
    offsets = OffsetCommits("test.group", interval=60)
    await offsets.applied(consumer, batch((A0, 1)))

    await offsets.close()  # the process is stopping; a batch still running finishes after this
    await offsets.applied(consumer, batch((A0, 2)))
    assert consumer.commits == [{A0: 2}, {A0: 3}]


async def test_a_failed_commit_is_logged_not_raised(caplog: Any) -> None:
    consumer = FakeConsumer(A0, fail=True)
    offsets = OffsetCommits("test.group", interval=60)
    await offsets.applied(consumer, batch((A0, 1)))

    await offsets.close()
    assert consumer.committed.is_set()
    assert "offsets not committed" in caplog.text


class PollingConsumer:
    """A consumer whose `getmany` answers what it is given and remembers how it was asked."""

    def __init__(self, ready: dict[TopicPartition, list[int]]) -> None:
        self.ready = ready
        self.asked: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, list]:
        self.asked.append((timeout_ms, max_records))
        return self.ready


async def test_a_batch_is_every_ready_record_and_an_idle_poll_waits_for_the_first() -> None:
    ready = PollingConsumer({A0: [1, 2], B0: [3]})
    assert await take_records(ready) == (1, 2, 3)
    idle = PollingConsumer({})
    assert await take_records(idle) == ()
    # One wait, in aiokafka, for as long as an idle consumer may wait; no pause after it in which
    # an arriving record would not be taken (FastStream's own loop sleeps there).
    assert idle.asked == [(IDLE_WAIT_MS, BATCH_RECORDS)]


def test_every_event_consumer_takes_its_batches_without_a_pause() -> None:
    broker = KafkaBroker("127.0.0.1:9")  # never started
    database = SimpleNamespace(service="billing")

    async def ignore(uow: Any, event: Any, data: Any) -> None:
        return None

    handlers = {ACCOUNT_DISCONNECTED: one_by_one(ignore)}
    EventConsumer(database, name="answers", handlers=handlers).subscribe(broker)  # type: ignore[arg-type]
    assert [subscriber.get_msg for subscriber in broker.subscribers] == [take_records]
