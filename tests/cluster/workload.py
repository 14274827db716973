"""The cluster tier's load and its end-state check, shared by its tests and `make chaos`.

`Load` calls the services through the proxy the way the API tells clients to; `given_accounts`
makes accounts with a debit each, a third of them with an address; `check_end_state` reads every
database and the public topics and counts, against what the load sent (`Sent`), what went wrong:
disconnects lost or doubled, final invoices missing, doubled or wrong, debits left uninvoiced,
addresses not released, scheduled events missing or early, completed disconnects missing from
their topic, dead letters. All counts are zero when nothing went wrong."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from cutover_contracts import seeds
from cutover_contracts.topics import ACCOUNT_DISCONNECTED, SCHEDULED_EVENT_DUE, SERVICES, TOPICS
from tests.cluster.stack import Cluster

BASE_ID = 700_000
RESIDENTIAL = str(seeds.RESIDENTIAL)


class UnexpectedAnswer(AssertionError):
    """An answer the load did not expect (and may not retry): a failed request."""


class Load:
    """Calls through the proxy. A 503 (no replica ready, a peer or dependency down) is tried again
    after its Retry-After (at most 1 s), as the API tells clients to, for up to `patience` s; any
    other unexpected answer is an `UnexpectedAnswer`. `through_crashes` also retries what a proxy
    answers when a replica dies or freezes under a request (502, 504) and a connection that
    breaks: safe, since every POST carries an Idempotency-Key. Counts what it did."""

    def __init__(self, *, through_crashes: bool = False, patience: float = 120) -> None:
        self.through_crashes = through_crashes
        self.patience = patience
        self.requests = 0
        self.retried: Counter[str] = Counter()

    @property
    def retried_503(self) -> int:
        return self.retried["503"]

    def _retry(self, status: int) -> bool:
        return status == 503 or (self.through_crashes and status in (502, 504))

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        expect: int | tuple[int, ...],
        body: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        expected = expect if isinstance(expect, tuple) else (expect,)
        deadline = time.monotonic() + self.patience
        while True:
            self.requests += 1
            try:
                response = await client.request(method, url, json=body, headers=headers)
            except httpx.TransportError as error:
                if not self.through_crashes or time.monotonic() >= deadline:
                    raise UnexpectedAnswer(f"{method} {url}: {error!r}") from error
                self.retried["connection"] += 1
                await asyncio.sleep(0.5)
                continue
            if self._retry(response.status_code) and time.monotonic() < deadline:
                self.retried[str(response.status_code)] += 1
                await asyncio.sleep(min(float(response.headers.get("retry-after", "0.5")), 1.0))
                continue
            if response.status_code not in expected:
                raise UnexpectedAnswer(f"{method} {url}: {response.status_code} {response.text}")
            return response.json()


def amount_of(account_id: int) -> int:
    return 1000 + account_id - BASE_ID


def with_address(account_id: int) -> bool:
    return account_id % 3 == 0


async def create_account(load: Load, accounts: httpx.AsyncClient, account_id: int) -> None:
    await load.call(
        accounts,
        "POST",
        "/accounts",
        expect=201,
        key=f"a-{account_id}",
        body={"id": account_id, "name": f"cluster {account_id}", "account_type_id": RESIDENTIAL},
    )


async def post_debit(
    load: Load, billing: httpx.AsyncClient, account_id: int, amount: int, key: str
) -> None:
    await load.call(
        billing,
        "POST",
        f"/accounts/{account_id}/debits",
        expect=201,
        key=key,
        body={"amount": amount, "description": "Fibre"},
    )


async def attach_address(load: Load, addresses: httpx.AsyncClient, account_id: int) -> None:
    """A new serviceable address held by the account. A retried attach whose first answer was
    lost finds the address already the account's (409): that is the attach done."""
    address = await load.call(
        addresses,
        "POST",
        "/serviceable-addresses",
        expect=201,
        key=f"s-{account_id}",
        body={
            "line1": f"{account_id} Cluster Road",
            "city": "Arlington",
            "subdivision": "VA",
            "zip": "22201",
            "country": "US",
        },
    )
    url = f"/serviceable-addresses/{address['id']}"
    attached = await load.call(
        addresses, "PUT", f"{url}/account", expect=(200, 409), body={"account_id": account_id}
    )
    if attached.get("status") == 409:
        held = await load.call(addresses, "GET", url, expect=200)
        if held["account_id"] != account_id:
            raise UnexpectedAnswer(f"PUT {url}/account: {attached}")


async def request_disconnect(
    load: Load, accounts: httpx.AsyncClient, account_id: int, key: str, reason: str
) -> Any:
    return await load.call(
        accounts,
        "POST",
        f"/accounts/{account_id}/disconnect",
        expect=202,
        key=key,
        body={"reason": reason},
    )


async def schedule_disconnect(
    load: Load, scheduler: httpx.AsyncClient, account_id: int, run_at: datetime, reason: str
) -> None:
    await load.call(
        scheduler,
        "POST",
        "/scheduled-events",
        expect=201,
        key=f"e-{account_id}",
        body={
            "event_type": "disconnect_account",
            "account_id": account_id,
            "run_at": run_at.isoformat(),
            "payload": {"reason": reason},
        },
    )


async def schedule_disconnects(
    cluster: Cluster, load: Load, run_at: dict[int, datetime], reason: str
) -> None:
    """A scheduled disconnect of each account at its time, 24 requests at a time."""
    gate = asyncio.Semaphore(24)
    async with cluster.client("scheduler") as scheduler:

        async def one(account_id: int, at: datetime) -> None:
            async with gate:
                await schedule_disconnect(load, scheduler, account_id, at, reason)

        await asyncio.gather(*(one(account_id, at) for account_id, at in run_at.items()))


async def given_accounts(cluster: Cluster, load: Load, ids: list[int]) -> None:
    """Each account with one debit (its amount tells it apart); every third holds an address."""
    gate = asyncio.Semaphore(24)
    async with cluster.client("accounts") as accounts, cluster.client("billing") as billing:
        async with cluster.client("addresses") as addresses:

            async def one(account_id: int) -> None:
                async with gate:
                    await create_account(load, accounts, account_id)
                    await post_debit(
                        load, billing, account_id, amount_of(account_id), f"d-{account_id}"
                    )
                    if with_address(account_id):
                        await attach_address(load, addresses, account_id)

            await asyncio.gather(*(one(account_id) for account_id in ids))


def kafka_layout(cluster: Cluster, *, min_isr: bool = True) -> dict[str, Any]:
    """Per Cutover topic: its partitions' replicas, in-sync replicas and leaders, and (unless
    `min_isr` is false: one request to a node fewer) its min.insync.replicas, as the cluster
    reports them."""
    admin = AdminClient(cluster.admin_config())
    metadata = admin.list_topics(timeout=15)
    configured: dict[str, str] = {}
    if min_isr:
        futures = admin.describe_configs(
            [ConfigResource(ResourceType.TOPIC, name) for name in TOPICS], request_timeout=15
        )
        configured = {
            resource.name: future.result()["min.insync.replicas"].value
            for resource, future in futures.items()
        }
    return {
        name: {
            "min_isr": configured.get(name),
            "partitions": {
                number: {"replicas": list(p.replicas), "isr": list(p.isrs), "leader": p.leader}
                for number, p in metadata.topics[name].partitions.items()
            },
        }
        for name in TOPICS
    }


def assert_replicated(layout: dict[str, Any]) -> None:
    """Every topic with 3 copies in sync and min.insync.replicas 2."""
    for name, topic in layout.items():
        assert topic["min_isr"] == "2", (name, topic["min_isr"])
        for number, partition in topic["partitions"].items():
            assert len(partition["replicas"]) == 3, (name, number, partition)
            assert len(partition["isr"]) == 3, (name, number, partition)


def busiest_leader(layout: dict[str, Any]) -> tuple[int, int, int]:
    """The broker that leads most partitions (asserted to lead one of every consumed topic),
    how many it leads, and how many there are."""
    leaders = Counter(
        partition["leader"]
        for topic in layout.values()
        for partition in topic["partitions"].values()
    )
    victim, victim_leads = leaders.most_common(1)[0]
    for topic in TOPICS.values():
        if topic.consumers:
            led = [p for p in layout[topic.name]["partitions"].values() if p["leader"] == victim]
            assert led, f"broker {victim} leads no partition of {topic.name}"
    return victim, victim_leads, sum(leaders.values())


async def count(cluster: Cluster, service: str, query: str, *args: Any) -> int:
    connection = await cluster.db(service)
    try:
        return int(await connection.fetchval(query, *args))
    finally:
        await connection.close()


async def rows(cluster: Cluster, service: str, query: str, *args: Any) -> list[Any]:
    connection = await cluster.db(service)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def all_completed(cluster: Cluster, manual: list[int], scheduled: list[int]) -> bool:
    """Every account's disconnect completed, and the scheduler heard of each scheduled one."""
    everyone = manual + scheduled
    done = await count(
        cluster,
        "accounts",
        "SELECT count(DISTINCT account_id) FROM disconnects"
        " WHERE state = 'completed' AND account_id = ANY($1)",
        everyone,
    )
    outcomes = await count(
        cluster,
        "scheduler",
        "SELECT count(*) FROM scheduled_events WHERE state = 'completed' AND account_id = ANY($1)",
        scheduled,
    )
    return done == len(everyone) and outcomes == len(scheduled)


async def wait_until_completed(
    cluster: Cluster, manual: list[int], scheduled: list[int], *, after: str
) -> None:
    """Until `all_completed`, for 300 s at most."""
    deadline = time.monotonic() + 300
    while not await all_completed(cluster, manual, scheduled):
        assert time.monotonic() < deadline, f"disconnects still pending 300 s after {after}"
        await asyncio.sleep(0.5)


@dataclass(frozen=True)
class Sent:
    """One account the load disconnected, manually or by a scheduled event, and what its
    disconnect must show: a final invoice of `debits_total`, its address released if it had one."""

    account_id: int
    source: Literal["manual", "scheduled"]
    debits_total: int
    address: bool


FAILURES = (
    "disconnects_lost",
    "disconnects_doubled",
    "disconnects_wrong_source",
    "final_invoices_missing",
    "final_invoices_doubled",
    "final_invoices_wrong",
    "debits_not_invoiced",
    "addresses_not_released",
    "scheduled_events_missing",
    "scheduled_events_early",
    "disconnected_events_missing",
    "dead_letters",
)


@dataclass
class EndState:
    """What `check_end_state` found: per failure kind, how many and a few of them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAILURES, 0))
    examples: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    lateness: list[float] = field(default_factory=list)
    redelivered_records: dict[str, int] = field(default_factory=dict)

    def found(self, kind: str, example: Any, n: int = 1) -> None:
        self.counts[kind] += n
        if len(self.examples[kind]) < 5:
            self.examples[kind].append(example)

    @property
    def failures(self) -> dict[str, int]:
        return {kind: n for kind, n in self.counts.items() if n}


def read_topic(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    """Every record of a topic, from the start to its end when called, as CloudEvents."""
    clients = cluster.clients
    admin = clients["principals"]["admin"]
    consumer = Consumer(
        {
            "bootstrap.servers": clients["bootstrap_servers"],
            "security.protocol": clients["security_protocol"],
            "sasl.mechanism": clients["sasl_mechanism"],
            "sasl.username": admin["username"],
            "sasl.password": admin["password"],
            "group.id": "cutover-end-state-check",
            "enable.auto.commit": False,
            "log_level": 3,
        }
    )
    try:
        partitions = consumer.list_topics(name, timeout=15).topics[name].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=15)[1]
            for p in partitions
        }
        consumer.assign([TopicPartition(name, p, 0) for p, end in ends.items() if end > 0])
        left = {p for p, end in ends.items() if end > 0}
        events = []
        deadline = time.monotonic() + 120
        while left:
            assert time.monotonic() < deadline, f"{name}: not read to its end in 120 s"
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            if message.offset() < ends[message.partition()]:
                events.append(json.loads(message.value()))
            if message.offset() >= ends[message.partition()] - 1:
                left.discard(message.partition())
        return events
    finally:
        consumer.close()


def read_topic_until(
    cluster: Cluster,
    name: str,
    expected: set[str],
    key: Callable[[dict[str, Any]], str],
    patience: float = 60.0,
) -> list[dict[str, Any]]:
    """`read_topic`, again with a fresh client while a record of `expected` (by `key`) is missing,
    for `patience` seconds; then what the last read found.

    A node just back from a network partition answers as the leader of the partitions it led
    before the cut, with their ends as they were then, until it has caught up with the cluster's
    metadata (seconds). A client that asks it first reads those partitions only to those ends,
    and misses every record written to them since: the records are there, on the new leaders."""
    deadline = time.monotonic() + patience
    while True:
        records = read_topic(cluster, name)
        missing = len(expected - {key(record) for record in records})
        if not missing or time.monotonic() > deadline:
            return records
        # No pause: a read takes about a second (a new client, then the topic to its end).
        print(f"{name}: {missing} records not found; reading again with a fresh client")


async def check_end_state(cluster: Cluster, sent: list[Sent]) -> EndState:
    """Reads the four databases and the topics that end a disconnect and start a scheduled one,
    and counts what differs from `sent` (see the module's docstring)."""
    state = EndState()
    ids = [one.account_id for one in sent]
    expected = {one.account_id: one for one in sent}
    scheduled = [one.account_id for one in sent if one.source == "scheduled"]

    disconnects = await rows(
        cluster,
        "accounts",
        "SELECT id, account_id, source, state, final_invoice_state, final_invoice_id,"
        " final_invoice_total, address_state, requested_at, scheduled_event_id"
        " FROM disconnects WHERE account_id = ANY($1)",
        ids,
    )
    by_account: dict[int, list[Any]] = defaultdict(list)
    for row in disconnects:
        by_account[row["account_id"]].append(row)
    finals = await rows(
        cluster,
        "billing",
        "SELECT id, account_id, total FROM invoices WHERE kind = 'final' AND account_id = ANY($1)",
        ids,
    )
    finals_of: dict[int, list[Any]] = defaultdict(list)
    for row in finals:
        finals_of[row["account_id"]].append(row)

    for account_id, one in expected.items():
        mine = by_account.get(account_id, [])
        completed = [row for row in mine if row["state"] == "completed"]
        if not completed:
            state.found("disconnects_lost", {"account_id": account_id, "rows": len(mine)})
            continue
        if len(mine) > 1:
            state.found("disconnects_doubled", account_id, len(mine) - 1)
        row = completed[0]
        if row["source"] != one.source:
            state.found("disconnects_wrong_source", dict(row))
        invoices = finals_of.get(account_id, [])
        if not invoices or row["final_invoice_state"] != "issued":
            state.found("final_invoices_missing", account_id)
        elif len(invoices) > 1:
            state.found("final_invoices_doubled", account_id, len(invoices) - 1)
        elif (
            invoices[0]["total"] != one.debits_total
            or row["final_invoice_total"] != one.debits_total
            or invoices[0]["id"] != row["final_invoice_id"]
        ):
            state.found("final_invoices_wrong", {"account_id": account_id, **dict(invoices[0])})
        if row["address_state"] != ("released" if one.address else "none"):
            state.found("addresses_not_released", dict(row))

    for row in await rows(
        cluster,
        "billing",
        "SELECT account_id, count(*) AS n FROM debits"
        " WHERE invoice_id IS NULL AND account_id = ANY($1) GROUP BY account_id",
        ids,
    ):
        state.found("debits_not_invoiced", row["account_id"], row["n"])
    for row in await rows(
        cluster,
        "addresses",
        "SELECT id, account_id FROM serviceable_addresses WHERE account_id = ANY($1)",
        ids,
    ):
        state.found("addresses_not_released", dict(row))

    # Every scheduled event emitted and completed, none before its run_at (the database's clock),
    # and the disconnect it started requested no earlier either
    events = await rows(
        cluster,
        "scheduler",
        "SELECT id, account_id, state, run_at, emitted_at FROM scheduled_events"
        " WHERE account_id = ANY($1)",
        scheduled,
    )
    run_at = {row["id"]: row["run_at"] for row in events}
    for account_id in set(scheduled) - {row["account_id"] for row in events}:
        state.found("scheduled_events_missing", {"account_id": account_id})
    for row in events:
        if row["state"] != "completed" or row["emitted_at"] is None:
            state.found("scheduled_events_missing", dict(row))
        elif row["emitted_at"] < row["run_at"]:
            state.found("scheduled_events_early", dict(row))
    for row in disconnects:
        started_by = row["scheduled_event_id"]
        if (
            started_by is not None
            and started_by in run_at
            and row["requested_at"] < run_at[started_by]
        ):
            state.found("scheduled_events_early", dict(row))
    state.lateness = sorted(
        (row["emitted_at"] - row["run_at"]).total_seconds()
        for row in events
        if row["emitted_at"] is not None
    ) or [0.0]

    # On the topics: each completed disconnect's AccountDisconnected, each scheduled event's due
    # record, none of them stamped before its run_at. A record seen again with the same id is a
    # redelivery (at least once; consumers dedupe on the id), counted but not a failure.
    disconnected = await asyncio.to_thread(
        read_topic_until,
        cluster,
        ACCOUNT_DISCONNECTED.name,
        {str(row["id"]) for row in disconnects if row["state"] == "completed"},
        lambda record: record["data"]["disconnect_id"],
    )
    due = await asyncio.to_thread(
        read_topic_until,
        cluster,
        SCHEDULED_EVENT_DUE.name,
        {str(row["id"]) for row in events},
        lambda record: record["data"]["scheduled_event_id"],
    )
    for name, records in (
        (ACCOUNT_DISCONNECTED.name, disconnected),
        (SCHEDULED_EVENT_DUE.name, due),
    ):
        state.redelivered_records[name] = len(records) - len({record["id"] for record in records})
    published = {record["data"]["disconnect_id"] for record in disconnected}
    for row in disconnects:
        if row["state"] == "completed" and str(row["id"]) not in published:
            state.found("disconnected_events_missing", str(row["id"]))
    due_of = {record["data"]["scheduled_event_id"]: record["data"] for record in due}
    for row in events:
        record = due_of.get(str(row["id"]))
        if record is None:
            state.found("scheduled_events_missing", {"id": str(row["id"]), "on_topic": False})
        elif datetime.fromisoformat(record["emitted_at"]) < row["run_at"]:
            state.found("scheduled_events_early", record)

    for service in SERVICES:
        dead = await count(cluster, service, "SELECT count(*) FROM dead_letters")
        if dead:
            state.found("dead_letters", service, dead)
    return state


async def assert_each_done_once(
    cluster: Cluster, manual: list[int], scheduled: list[int]
) -> list[float]:
    """Every account of `manual` and `scheduled` (each with its one debit of `amount_of`, every
    third with an address) disconnected exactly once from the right source, with one final invoice
    of its debit and its address released; every scheduled event completed, none early; nothing
    dead-lettered. Returns the scheduled events' lateness (emitted_at - run_at), sorted."""
    sent = [
        Sent(account_id, source, amount_of(account_id), with_address(account_id))
        for source, ids in (("manual", manual), ("scheduled", scheduled))
        for account_id in ids
    ]
    state = await check_end_state(cluster, sent)
    assert not state.failures, (state.failures, dict(state.examples))
    return state.lateness
