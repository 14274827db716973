"""No record stops a pipeline, tried generatively (hypothesis) against the running system.

Each example produces a handful of arbitrary records onto the topics Cutover consumes: random bytes
up to near the broker's limit, tombstones, JSON that is no event, events with impossible values (ids
past int64, a year-0 time), and valid events for accounts nobody knows, under long, NUL and empty
keys. Then a real disconnect and a scheduled one must complete within 10 s, and every hostile record
must have ended exactly where its class says, once, in every consumer group that reads its topic:
dead-lettered (a row in that service's `dead_letters`) or applied (its id claimed in
`processed_events`, no letter).
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.topics import (
    ACCOUNT_ARCHIVED,
    ACCOUNT_CREATED,
    ACCOUNT_DISCONNECT_REQUESTED,
    ACCOUNT_REACTIVATED,
    DISCONNECT_ADDRESS_RELEASED,
    DISCONNECT_BILLED,
    SCHEDULED_EVENT_DUE,
    SCHEDULED_EVENT_OUTCOME,
    SERVICES,
    TOPICS,
)
from cutover_kit.relay import asyncpg_dsn
from cutover_kit.settings import Settings
from tests.support.api import (
    ACTIVE,
    INACTIVE,
    RESIDENTIAL,
    at,
    completed_disconnect,
    event_in_state,
    new_account,
    ok,
    schedule,
)
from tests.support.events import wait_until
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

Fate = Literal["dead", "applied"]


@dataclass(frozen=True)
class Reader:
    service: str
    name: str  # the consumer's name: its claims in processed_events
    group: str  # its consumer group: its dead letters


def readers() -> dict[str, list[Reader]]:
    """Every consumed topic and the consumers that read it, as the services wire them."""
    found: dict[str, list[Reader]] = defaultdict(list)
    for service in SERVICES:
        bootstrap = importlib.import_module(f"cutover_{service}.bootstrap")
        runtime = bootstrap.create_app(Settings(service=service)).state.runtime
        for consumer in runtime.consumers:
            for topic in consumer.topics:
                found[topic].append(Reader(service, consumer.name, consumer.group_id))
    return dict(found)


READERS = readers()
CONSUMED = sorted(READERS)


def valid_data(topic: str, account_id: int, text: str) -> dict[str, Any]:
    """Valid data of `topic` for an account nobody knows, carrying `text` where a string goes."""
    now = datetime.now(UTC).isoformat()
    data: dict[str, dict[str, Any]] = {
        ACCOUNT_CREATED.name: {
            "name": text or "x",
            "account_type_id": RESIDENTIAL,
            "account_status_id": ACTIVE,
            "created_at": now,
        },
        ACCOUNT_DISCONNECT_REQUESTED.name: {
            "disconnect_id": str(uuid.uuid4()),
            "source": "manual",
            "reason": text,
            "status_id": INACTIVE,
            "requested_at": now,
        },
        ACCOUNT_REACTIVATED.name: {"account_status_id": ACTIVE, "activated_at": now},
        ACCOUNT_ARCHIVED.name: {"archived_at": now},
        SCHEDULED_EVENT_OUTCOME.name: {
            "scheduled_event_id": str(uuid.uuid4()),
            "outcome": "failed",
            "reason": text,
        },
        DISCONNECT_BILLED.name: {
            "disconnect_id": str(uuid.uuid4()),
            "final_invoice_state": "not_required",
        },
        DISCONNECT_ADDRESS_RELEASED.name: {
            "disconnect_id": str(uuid.uuid4()),
            "address_state": "none",
        },
        SCHEDULED_EVENT_DUE.name: {
            "scheduled_event_id": str(uuid.uuid4()),
            "event_type": "disconnect_account",
            "run_at": now,
            "emitted_at": now,
            "payload": {"reason": text},
        },
    }
    values = {"account_id": account_id, **data[topic]}
    TOPICS[topic].data.model_validate(values)  # the sample itself must be valid
    return values


def envelope(topic: str, data: dict[str, Any], *, time: str | None = None) -> dict[str, Any]:
    event = CloudEvent(
        id=uuid.uuid4(),
        source="/hostile",
        type=TOPICS[topic].event_type,
        subject=str(data.get("account_id")),
        time=datetime.now(UTC),
        data=data,
    )
    document = event.model_dump(mode="json")
    if time is not None:
        document["time"] = time
    return document


@dataclass(frozen=True)
class Hostile:
    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    fate: Fate
    event_id: uuid.UUID | None = None


keys = st.sampled_from([None, b"", b"1", b"\x00", b"k" * 400 + b"\x00\xff", "ключ".encode()])
unknown_accounts = st.integers(min_value=10**15, max_value=2**62)
texts = st.one_of(st.text(max_size=40), st.integers(1, 300_000).map(lambda n: "é" * n))
impossible_ids = st.sampled_from([0, -1, 2**63, 10**40])


@st.composite
def hostile(draw: st.DrawFn) -> Hostile:
    topic = draw(st.sampled_from(CONSUMED))
    key = draw(keys)
    kind = draw(
        st.sampled_from(["bytes", "huge", "tombstone", "not-an-event", "impossible", "valid"])
    )
    if kind == "bytes":
        return Hostile(kind, topic, key, draw(st.binary(max_size=2048)), "dead")
    if kind == "huge":
        size = draw(st.integers(100_000, 900_000))
        return Hostile(
            kind, topic, key, draw(st.sampled_from([b"\xff", b"{", b"["])) * size, "dead"
        )
    if kind == "tombstone":  # a record needs a key or a value
        return Hostile(kind, topic, key or b"1", None, "dead")
    if kind == "not-an-event":
        value = draw(
            st.sampled_from(
                [b"[]", b"42", b'"text"', b"null", b'{"id": 1}', b"[" * 100_000, b"9" * 5000]
            )
        )
        return Hostile(kind, topic, key, value, "dead")
    data = valid_data(topic, draw(unknown_accounts), draw(texts))
    if kind == "impossible":
        if draw(st.booleans()):
            document = envelope(topic, {**data, "account_id": draw(impossible_ids)})
        else:
            document = envelope(topic, data, time="0000-01-01T00:00:00Z")
        return Hostile(kind, topic, key, _json(document), "dead")
    document = envelope(topic, data)
    return Hostile(kind, topic, key, _json(document), "applied", uuid.UUID(document["id"]))


def _json(document: dict[str, Any]) -> bytes:
    # Not ASCII-escaped: the largest text (300,000 "é") stays at 600 KB, within the broker's limit.
    return json.dumps(document, ensure_ascii=False).encode()


async def outcomes(
    databases: dict[str, asyncpg.Connection], record: Hostile, partition: int, offset: int
) -> dict[Reader, tuple[int, int]]:
    """For each reader of the record's topic: (its letters of this record, its claims of it)."""
    seen = {}
    for reader in READERS[record.topic]:
        connection = databases[reader.service]
        letters = await connection.fetchval(
            'SELECT count(*) FROM dead_letters WHERE consumer = $1 AND topic = $2 AND "partition" = $3'
            ' AND "offset" = $4',
            reader.group,
            record.topic,
            partition,
            offset,
        )
        claims = 0
        if record.event_id is not None:
            claims = await connection.fetchval(
                "SELECT count(*) FROM processed_events WHERE consumer = $1 AND event_id = $2",
                reader.name,
                record.event_id,
            )
        seen[reader] = (letters, claims)
    return seen


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    # The same examples on every run: CI is a gate, not a lottery (hypothesis' own shrinking and
    # random search are for a developer's `--hypothesis-seed=…` runs).
    derandomize=True,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
)
@given(records=st.lists(hostile(), min_size=1, max_size=5))
async def test_every_hostile_record_ends_applied_or_dead_lettered_once_and_nothing_stops(
    system: System, records: list[Hostile]
) -> None:
    producer = AIOKafkaProducer(**system.infra.kafka_options(), max_request_size=1_048_000)
    databases = {
        service: await asyncpg.connect(asyncpg_dsn(system.infra.database_url(service)))
        for service in SERVICES
    }
    await producer.start()
    try:
        # Given hostile records on the consumed topics
        placed = []
        for record in records:
            sent = await producer.send_and_wait(record.topic, record.value, key=record.key)
            placed.append((record, sent.partition, sent.offset))

        # When a disconnect and a scheduled one are requested after them
        async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
            account, later = await new_account(accounts), await new_account(accounts)
            started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)
            event = await schedule(scheduler, "disconnect_account", later["id"], at(1))

            # Then both complete within 10 s
            await completed_disconnect(accounts, started["id"], within=10)
            done = await event_in_state(scheduler, event["id"], ("completed", "failed"), within=11)
            assert done["state"] == "completed", done

        # And every hostile record ended where its class says, once, in every reader
        for record, partition, offset in placed:

            async def settled(
                record: Hostile = record, partition: int = partition, offset: int = offset
            ) -> dict[Reader, tuple[int, int]] | None:
                seen = await outcomes(databases, record, partition, offset)
                return seen if all(sum(pair) for pair in seen.values()) else None

            seen = await wait_until(settled, within=10)
            expected = (1, 0) if record.fate == "dead" else (0, 1)
            assert all(pair == expected for pair in seen.values()), (record.kind, seen)
    finally:
        await producer.stop()
        for connection in databases.values():
            await connection.close()


def test_the_record_classes_reach_every_consumed_topic() -> None:
    """The generator's table covers every topic a service consumes, and each has readers."""
    assert set(CONSUMED) == {name for name, topic in TOPICS.items() if topic.consumers}
    assert all(READERS[name] for name in CONSUMED)
