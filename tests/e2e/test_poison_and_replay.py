"""Poison messages on every consumed topic, and a topic replayed from offset 0, against the running
system."""

from __future__ import annotations

import importlib
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from cutover_contracts.envelope import CloudEvent, decode_event, encode_event
from cutover_contracts.topics import ACCOUNT_DISCONNECT_REQUESTED, TOPICS, dead_letter_topic
from cutover_kit.settings import Settings
from tests.support.api import debit, disconnect, new_account, ok
from tests.support.events import EventTap, wait_until
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

CONSUMED = [(name, service) for name, topic in TOPICS.items() for service in topic.consumers]


def poisons(topic_name: str) -> list[tuple[str, bytes]]:
    topic = TOPICS[topic_name]
    wrong_version = CloudEvent(
        id=uuid.uuid4(),
        source="/test",
        type=topic.event_type.replace(".v1", ".v9"),
        subject="1",
        time="2026-01-01T00:00:00Z",
        data={"account_id": 1},
    )
    return [
        ("invalid JSON", b"{not json"),
        ("missing fields", encode_event(wrong_version)),
    ]


def groups(service: str, topic: str) -> int:
    bootstrap = importlib.import_module(f"cutover_{service}.bootstrap")
    consumers = bootstrap.create_app(Settings(service=service)).state.runtime.consumers
    return sum(topic in consumer.topics for consumer in consumers)


async def dead_letter_count(system: System, service: str, topic: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system[service].url}/metrics")).text
    for line in text.splitlines():
        if line.startswith(f'cutover_dead_letters_total{{topic="{topic}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize(("topic", "service"), CONSUMED, ids=[f"{s}:{t}" for t, s in CONSUMED])
async def test_poison_lands_on_the_dead_letter_topic_and_the_consumer_keeps_going(
    system: System, topic: str, service: str
) -> None:
    producer = AIOKafkaProducer(**system.infra.kafka_options())
    await producer.start()
    dead = dead_letter_topic(service).name
    before = await dead_letter_count(system, service, topic)
    sent = poisons(topic)
    try:
        async with EventTap(system.infra, dead) as tap:
            for _, value in sent:
                await producer.send_and_wait(topic, value, key=b"1")
            letters = [
                await tap.wait_for(
                    lambda e, v=value: (
                        e.data["original_topic"] == topic
                        and e.data["original_value"] == v.decode(errors="replace")
                    ),
                    within=20,
                )
                for _, value in sent
            ]
    finally:
        await producer.stop()
    assert all(letter.data["error"].startswith("undecodable") for letter in letters)
    # counted once per consumer group of the service that reads the topic
    expected = before + 2 * groups(service, topic)

    async def all_counted() -> bool:
        return await dead_letter_count(system, service, topic) >= expected

    await wait_until(all_counted, within=20)
    assert await dead_letter_count(system, service, topic) == expected
    # and the service still works end to end
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        await disconnect(accounts, account["id"])


async def duplicates_seen(system: System, topic: str) -> float:
    """Billing's count of redelivered events it skipped on `topic`."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{system['billing'].url}/metrics")).text
    prefix = f'cutover_events_consumed_total{{outcome="duplicate",topic="{topic}"}}'
    line = next((row for row in text.splitlines() if row.startswith(prefix)), "")
    return float(line.rsplit(" ", 1)[1]) if line else 0.0


def is_request(value: bytes) -> bool:
    try:
        ACCOUNT_DISCONNECT_REQUESTED.data.model_validate(decode_event(value).data)
    except ValueError:
        return False
    return True


async def test_a_topic_replayed_from_offset_zero_applies_nothing_twice(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        account = await new_account(accounts)
        await debit(billing, account["id"], 900)
        await disconnect(accounts, account["id"])
        invoices_before = ok(await billing.get(f"/accounts/{account['id']}/invoices"))["items"]

    # Every disconnect request ever published goes through the consumers again
    name = ACCOUNT_DISCONNECT_REQUESTED.name
    reader = AIOKafkaConsumer(**system.infra.kafka_options(), enable_auto_commit=False)
    await reader.start()
    partitions = [TopicPartition(name, p) for p in reader.partitions_for_topic(name) or []]
    if not partitions:
        await reader._client.force_metadata_update()
        partitions = [TopicPartition(name, p) for p in reader.partitions_for_topic(name) or []]
    reader.assign(partitions)
    await reader.seek_to_beginning(*partitions)
    ends = await reader.end_offsets(partitions)
    records = []

    async def behind() -> bool:
        return any([await reader.position(p) < ends[p] for p in partitions])

    while await behind():
        for batch in (await reader.getmany(timeout_ms=500)).values():
            records.extend(batch)
    await reader.stop()
    # (the poison tests' messages are on the topic too: they are dead-lettered again, not duplicates)
    genuine = [record for record in records if is_request(record.value)]
    assert genuine
    before = await duplicates_seen(system, name)
    producer = AIOKafkaProducer(**system.infra.kafka_options())
    await producer.start()
    try:
        for record in records:
            await producer.send(name, record.value, key=record.key)
        await producer.flush()
    finally:
        await producer.stop()

    async def consumed_again() -> bool:
        return await duplicates_seen(system, name) >= before + len(genuine)

    await wait_until(consumed_again, within=30)
    async with system.client("billing") as billing:
        invoices_after = ok(await billing.get(f"/accounts/{account['id']}/invoices"))["items"]
    assert invoices_after == invoices_before
