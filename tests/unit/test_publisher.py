"""The publisher replaces a producer that stops working (aiokafka's idempotent producer waits for
ever on a broker that never answers, and stays out of sequence after a failed batch), and hands it
whole batches, partitioned as its default partitioner does, a refusal applying to a whole batch."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka.errors import MessageSizeTooLargeError, OutOfOrderSequenceNumber
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import REGISTRY

from cutover_kit.publisher import HEADERS, MAX_REQUEST_BYTES, Publisher, send_all
from tests.support.broker import FakeBatch, FakeProducer

RECORDS = [("topic", b"1", b"one"), ("topic", b"2", b"two")]


@dataclass
class Producer(FakeProducer):
    """Acknowledges every record, unless told to fail, to refuse, or never to answer."""

    name: str
    failure: Exception | None = None
    silent: bool = False
    refuse: bytes | None = None
    starts_fail: bool = False
    sent: list[bytes] = field(default_factory=list)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        if self.starts_fail:
            raise ConnectionError("broker unreachable")

    async def stop(self) -> None:
        self.stopped.set()

    async def send(
        self, topic: str, *, value: bytes, key: bytes, headers: object
    ) -> asyncio.Future:
        if value == self.refuse:
            raise MessageSizeTooLargeError()
        self.sent.append(value)
        acknowledgement = asyncio.get_running_loop().create_future()
        if self.failure is not None:
            acknowledgement.set_exception(self.failure)
        elif not self.silent:
            acknowledgement.set_result(None)
        return acknowledgement


def publisher_of(*producers: Producer, deadline: float = 0.2) -> Publisher:
    """A publisher whose producer is made from `producers`, one after the other."""
    made = iter(producers)
    return Publisher(lambda: next(made), deadline=deadline)  # type: ignore[arg-type, return-value]


def replaced_total() -> float:
    return REGISTRY.get_sample_value("cutover_kafka_producer_replaced_total") or 0.0


async def test_a_batch_never_acknowledged_fails_at_the_deadline_and_the_next_goes_by_a_fresh_producer() -> (
    None
):
    silent, fresh = Producer("silent", silent=True), Producer("fresh")
    publisher = publisher_of(silent, fresh, deadline=0.2)
    await publisher.start()
    before = replaced_total()

    with pytest.raises(TimeoutError, match="within 0.2 s"):
        await asyncio.wait_for(publisher.send_batch(RECORDS), 5)

    assert publisher.producer is fresh and replaced_total() == before + 1
    await asyncio.wait_for(silent.stopped.wait(), 5)  # stopped in the background
    assert await publisher.send_batch(RECORDS) == [None, None]
    assert fresh.sent == [b"one", b"two"]


async def test_a_batch_that_fails_is_raised_and_its_producer_replaced() -> None:
    # aiokafka never rewinds a partition's sequence after a failed batch: its producer is done
    broken, fresh = Producer("broken", failure=OutOfOrderSequenceNumber()), Producer("fresh")
    publisher = publisher_of(broken, fresh)
    await publisher.start()

    with pytest.raises(OutOfOrderSequenceNumber):
        await publisher.send_batch(RECORDS)

    assert publisher.producer is fresh
    assert await publisher.send_batch(RECORDS) == [None, None]


async def test_a_batch_kafka_refuses_is_returned_record_by_record_and_keeps_the_producer() -> None:
    # Kafka refuses a batch as a whole: here the batch of the other topic
    producer = Producer("one", refuse=b"two")
    publisher = publisher_of(producer)
    await publisher.start()

    outcomes = await publisher.send_batch([RECORDS[0], ("other", b"2", b"two")])

    assert outcomes[0] is None and "MessageSizeTooLarge" in (outcomes[1] or "")
    assert publisher.producer is producer


async def test_a_record_larger_than_a_request_is_refused_before_it_is_sent() -> None:
    producer = Producer("one")
    publisher = publisher_of(producer)
    await publisher.start()
    huge = b"x" * (MAX_REQUEST_BYTES + 1)

    outcomes = await publisher.send_batch([RECORDS[0], ("topic", b"2", huge), RECORDS[1]])

    assert outcomes[0] is None and outcomes[2] is None
    assert "MessageSizeTooLarge" in (outcomes[1] or "")
    assert producer.sent == [b"one", b"two"]


@dataclass
class Partitioned(FakeProducer):
    """Takes every batch at once, keeping which partition each went to; a batch holds 4 records."""

    batches: list[tuple[str, int, FakeBatch]] = field(default_factory=list)

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(12))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(capacity=4)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future:
        self.batches.append((topic, partition, batch))
        acknowledged = asyncio.get_running_loop().create_future()
        acknowledged.set_result(None)
        return acknowledged


async def test_records_go_in_full_batches_by_the_default_partitioner_in_their_order() -> None:
    producer = Partitioned()
    records = [("topic", str(n % 30).encode(), str(n).encode()) for n in range(300)]

    assert await send_all(producer, records) == [None] * 300  # type: ignore[arg-type]

    # Each partition's batches hold its keys' records, in the order they were given
    partitions = list(range(12))
    for partition in partitions:
        batches = [batch for _, p, batch in producer.batches if p == partition]
        assert all(len(batch.records) <= 4 for batch in batches)
        assert [record for batch in batches for record in batch.records] == [
            (key, value, HEADERS)
            for _, key, value in records
            if DefaultPartitioner()(key, partitions, partitions) == partition
        ]
    assert {topic for topic, _, _ in producer.batches} == {"topic"}


async def test_while_kafka_is_unreachable_the_failed_producer_stays_until_a_fresh_one_starts() -> (
    None
):
    broken = Producer("broken", failure=OutOfOrderSequenceNumber())
    unstartable, fresh = Producer("unstartable", starts_fail=True), Producer("fresh")
    publisher = publisher_of(broken, unstartable, fresh)
    await publisher.start()

    with pytest.raises(OutOfOrderSequenceNumber):
        await publisher.send_batch(RECORDS)
    assert publisher.producer is broken  # nothing to replace it with yet
    await asyncio.wait_for(unstartable.stopped.wait(), 5)

    with pytest.raises(OutOfOrderSequenceNumber):
        await publisher.send_batch(RECORDS)
    assert publisher.producer is fresh


async def test_two_batches_failing_on_one_producer_replace_it_once() -> None:
    broken, fresh, spare = Producer("broken", silent=True), Producer("fresh"), Producer("spare")
    publisher = publisher_of(broken, fresh, spare, deadline=0.2)
    await publisher.start()

    outcomes = await asyncio.gather(
        publisher.send_batch(RECORDS), publisher.send_batch(RECORDS), return_exceptions=True
    )

    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    assert publisher.producer is fresh and spare.sent == []


async def test_stop_does_not_wait_for_ever_on_a_producer_that_cannot_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # aiokafka's stop flushes first, which lasts as long as the broker is away
    class Unflushable(Producer):
        async def stop(self) -> None:
            await asyncio.Event().wait()

    monkeypatch.setattr("cutover_kit.publisher.STOP_SECONDS", 0.1)
    publisher = publisher_of(Unflushable("unflushable"))
    await publisher.start()

    await asyncio.wait_for(publisher.stop(), 5)
