"""On the engines a deployment runs on (3 Kafka nodes, 2 replicas of every service behind HAProxy),
the Kafka broker that leads most partitions is killed with SIGKILL while at least 200 disconnects
are in flight and manual and scheduled disconnects keep coming: every disconnect completes, each with exactly one final
invoice holding its account's debit, every address is released, every scheduled event is emitted
once and none before its time, and nothing is dead-lettered. Then every service replica is
restarted, one at a time (SIGTERM: it drains), under a steady disconnect load: no request fails,
nothing is lost or doubled. Every request goes through the proxy with a client that retries a 503
(and only a 503), each POST carrying an Idempotency-Key.

Run it with `make test-cluster`; the figures it measures are printed and written to
.local/cluster-test-report.json."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from cutover_contracts import seeds
from cutover_contracts.topics import SERVICES, TOPICS
from tests.cluster.conftest import STATE, Cluster

pytestmark = pytest.mark.cluster

MANUAL, SCHEDULED = 200, 340  # immediate disconnects, scheduled ones
SCHEDULED_BURST, BURST_AT = 300, 90  # scheduled ones due at one instant, that many s on
IN_FLIGHT = 200  # disconnects accepted and not completed when the broker dies, at least
BASE_ID = 700_000
REPORT = STATE.parent / f"{STATE.name}-test-report.json"
RESIDENTIAL = str(seeds.RESIDENTIAL)


class Load:
    """Calls through the proxy. A 503 (no replica ready, a peer or dependency down) is tried again
    after its Retry-After (at most 1 s), as the API tells clients to; any other unexpected answer
    fails the test. Counts what it did."""

    def __init__(self) -> None:
        self.requests = 0
        self.retried_503 = 0

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        *,
        expect: int,
        body: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        deadline = time.monotonic() + 120
        while True:
            self.requests += 1
            response = await client.request(method, url, json=body, headers=headers)
            if response.status_code == 503 and time.monotonic() < deadline:
                self.retried_503 += 1
                await asyncio.sleep(min(float(response.headers.get("retry-after", "0.5")), 1.0))
                continue
            assert response.status_code == expect, (
                f"{method} {url}: {response.status_code} {response.text}"
            )
            return response.json()


def amount_of(account_id: int) -> int:
    return 1000 + account_id - BASE_ID


def with_address(account_id: int) -> bool:
    return account_id % 3 == 0


async def given_accounts(cluster: Cluster, load: Load, ids: list[int]) -> None:
    """Each account with one debit (its amount tells it apart); every third holds an address."""
    gate = asyncio.Semaphore(24)
    async with cluster.client("accounts") as accounts, cluster.client("billing") as billing:
        async with cluster.client("addresses") as addresses:

            async def one(account_id: int) -> None:
                async with gate:
                    await load.call(
                        accounts,
                        "POST",
                        "/accounts",
                        expect=201,
                        key=f"a-{account_id}",
                        body={
                            "id": account_id,
                            "name": f"cluster {account_id}",
                            "account_type_id": RESIDENTIAL,
                        },
                    )
                    await load.call(
                        billing,
                        "POST",
                        f"/accounts/{account_id}/debits",
                        expect=201,
                        key=f"d-{account_id}",
                        body={"amount": amount_of(account_id), "description": "Fibre"},
                    )
                    if with_address(account_id):
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
                        await load.call(
                            addresses,
                            "PUT",
                            f"/serviceable-addresses/{address['id']}/account",
                            expect=200,
                            body={"account_id": account_id},
                        )

            await asyncio.gather(*(one(account_id) for account_id in ids))


def kafka_layout(cluster: Cluster) -> dict[str, Any]:
    """Per Cutover topic: its partitions' replicas, in-sync replicas and leaders, and its
    min.insync.replicas, as the cluster reports them."""
    admin = AdminClient(cluster.admin_config())
    metadata = admin.list_topics(timeout=15)
    futures = admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, name) for name in TOPICS], request_timeout=15
    )
    min_isr = {
        resource.name: future.result()["min.insync.replicas"].value
        for resource, future in futures.items()
    }
    return {
        name: {
            "min_isr": min_isr[name],
            "partitions": {
                number: {"replicas": list(p.replicas), "isr": list(p.isrs), "leader": p.leader}
                for number, p in metadata.topics[name].partitions.items()
            },
        }
        for name in TOPICS
    }


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


async def assert_each_done_once(
    cluster: Cluster, manual: list[int], scheduled: list[int]
) -> list[float]:
    """Every account of `manual` and `scheduled` disconnected exactly once, with one final invoice
    of its debit and its address released; every scheduled event completed, none early; nothing
    dead-lettered. Returns the scheduled events' lateness (emitted_at - run_at), sorted."""
    everyone = manual + scheduled
    # Each account has exactly one disconnect, from the right source, with one final invoice
    # of its debit and its address released
    disconnects = await rows(
        cluster,
        "accounts",
        "SELECT account_id, source, state, final_invoice_state, final_invoice_id,"
        " final_invoice_total, address_state, requested_at, scheduled_event_id"
        " FROM disconnects WHERE account_id = ANY($1)",
        everyone,
    )
    by_account = Counter(row["account_id"] for row in disconnects)
    assert set(by_account) == set(everyone) and set(by_account.values()) == {1}
    for row in disconnects:
        account_id = row["account_id"]
        assert row["source"] == ("manual" if account_id in manual else "scheduled"), dict(row)
        assert row["final_invoice_state"] == "issued", dict(row)
        assert row["final_invoice_total"] == amount_of(account_id), dict(row)
        assert row["address_state"] == ("released" if with_address(account_id) else "none")

    finals = await rows(
        cluster,
        "billing",
        "SELECT id, account_id, total FROM invoices WHERE kind = 'final' AND account_id = ANY($1)",
        everyone,
    )
    assert sorted(row["account_id"] for row in finals) == sorted(everyone), "one final invoice each"
    assert {row["id"] for row in finals} == {row["final_invoice_id"] for row in disconnects}
    assert all(row["total"] == amount_of(row["account_id"]) for row in finals)
    uninvoiced = await count(
        cluster,
        "billing",
        "SELECT count(*) FROM debits WHERE invoice_id IS NULL AND account_id = ANY($1)",
        everyone,
    )
    assert uninvoiced == 0
    still_held = await count(
        cluster,
        "addresses",
        "SELECT count(*) FROM serviceable_addresses WHERE account_id = ANY($1)",
        everyone,
    )
    assert still_held == 0

    # Every scheduled event was emitted once, none before its run_at (the database's clock),
    # and the disconnect it started was requested no earlier either
    events = await rows(
        cluster,
        "scheduler",
        "SELECT id, account_id, state, run_at, emitted_at FROM scheduled_events"
        " WHERE account_id = ANY($1)",
        scheduled,
    )
    assert len(events) == len(scheduled)
    run_at = {row["id"]: row["run_at"] for row in events}
    for row in events:
        assert row["state"] == "completed", dict(row)
        assert row["emitted_at"] >= row["run_at"], dict(row)
    for row in disconnects:
        if row["source"] == "scheduled":
            assert row["requested_at"] >= run_at[row["scheduled_event_id"]], dict(row)
    lateness = sorted((row["emitted_at"] - row["run_at"]).total_seconds() for row in events)

    # Nothing was dead-lettered anywhere
    for service in ("accounts", "billing", "addresses", "scheduler"):
        assert await count(cluster, service, "SELECT count(*) FROM dead_letters") == 0, service
    return lateness or [0.0]


async def test_a_broker_killed_under_load_loses_nothing_and_doubles_nothing(
    cluster: Cluster,
) -> None:
    load = Load()
    manual = list(range(BASE_ID, BASE_ID + MANUAL))
    scheduled = list(range(BASE_ID + MANUAL, BASE_ID + MANUAL + SCHEDULED))
    everyone = manual + scheduled

    # Given every topic with 3 copies and min.insync.replicas 2, and the victim: the broker that
    # leads most partitions, which leads a partition of every topic a service consumes
    layout = await asyncio.to_thread(kafka_layout, cluster)
    for name, topic in layout.items():
        assert topic["min_isr"] == "2", (name, topic["min_isr"])
        for number, partition in topic["partitions"].items():
            assert len(partition["replicas"]) == 3, (name, number, partition)
            assert len(partition["isr"]) == 3, (name, number, partition)
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

    # And accounts with a debit each, a third of them holding an address
    started = time.monotonic()
    await given_accounts(cluster, load, everyone)
    setup_seconds = time.monotonic() - started

    # And scheduled disconnects: SCHEDULED_BURST of them due at one instant, BURST_AT s from now
    # (the scheduler emits them together, so hundreds are in flight at once), the others due
    # every 0.5 s from 15 s before it, before, during and after the broker's death
    burst_at = datetime.now(UTC) + timedelta(seconds=BURST_AT)
    async with cluster.client("scheduler") as scheduler:
        gate = asyncio.Semaphore(24)

        async def schedule(account_id: int, run_at: datetime) -> None:
            async with gate:
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
                        "payload": {"reason": "cluster test"},
                    },
                )

        await asyncio.gather(
            *(schedule(account_id, burst_at) for account_id in scheduled[:SCHEDULED_BURST])
        )
        await asyncio.gather(
            *(
                schedule(account_id, burst_at + timedelta(seconds=-15 + 0.5 * n))
                for n, account_id in enumerate(scheduled[SCHEDULED_BURST:])
            )
        )
    # The manual disconnects below flow from 25 s before the burst to 5 s after it.
    await asyncio.sleep(max(0.0, (burst_at - datetime.now(UTC)).total_seconds() - 25))

    # When manual disconnects are requested at a steady pace (one every 0.15 s, an Idempotency-Key
    # each) from now on, and the victim is killed (SIGKILL) as soon as IN_FLIGHT disconnects are
    # accepted and not completed (counted in accounts' database), the requests and the scheduled
    # events flowing on
    accepted: list[str] = []
    kill_figures: dict[str, Any] = {}

    async def request_disconnects() -> None:
        async with cluster.client("accounts") as accounts:

            async def one(account_id: int) -> None:
                body = await load.call(
                    accounts,
                    "POST",
                    f"/accounts/{account_id}/disconnect",
                    expect=202,
                    key=f"x-{account_id}",
                    body={"reason": "cluster test"},
                )
                accepted.append(body["id"])

            requests = []
            for account_id in manual:
                requests.append(asyncio.create_task(one(account_id)))
                await asyncio.sleep(0.15)
            await asyncio.gather(*requests)

    async def kill_when_in_flight() -> None:
        """In flight: a disconnect requested, by a person (accepted by accounts) or by the
        scheduler (its due event emitted to Kafka), and not completed; each account counted once."""
        peak, in_flight = 0, 0
        accounts_db, scheduler_db = await cluster.db("accounts"), await cluster.db("scheduler")
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                pending = {
                    row[0]
                    for row in await accounts_db.fetch(
                        "SELECT account_id FROM disconnects WHERE state = 'pending'"
                    )
                }
                completed = {
                    row[0]
                    for row in await accounts_db.fetch(
                        "SELECT account_id FROM disconnects WHERE state = 'completed'"
                    )
                }
                emitted = {
                    row[0]
                    for row in await scheduler_db.fetch(
                        "SELECT account_id FROM scheduled_events WHERE emitted_at IS NOT NULL"
                    )
                }
                in_flight = len(pending | (emitted - completed))
                peak = max(peak, in_flight)
                if in_flight >= IN_FLIGHT:
                    break
                await asyncio.sleep(0.02)
        finally:
            await accounts_db.close()
            await scheduler_db.close()
        await asyncio.to_thread(cluster.kafka, "kill-node", str(victim))
        kill_figures.update(
            killed_at=time.monotonic(),
            in_flight_at_kill=in_flight,
            peak_in_flight_before_kill=peak,
            pending_in_accounts_at_kill=len(pending),
            manual_accepted_at_kill=len(accepted),
        )

    burst = time.monotonic()
    await asyncio.gather(request_disconnects(), kill_when_in_flight())
    requested_seconds = time.monotonic() - burst

    # Then every disconnect completes, manual and scheduled, and the scheduler hears of each
    # scheduled one (its outcome, by Kafka)
    async def all_completed() -> bool:
        done = await count(
            cluster,
            "accounts",
            "SELECT count(*) FROM disconnects WHERE state = 'completed' AND account_id = ANY($1)",
            everyone,
        )
        outcomes = await count(
            cluster,
            "scheduler",
            "SELECT count(*) FROM scheduled_events WHERE state = 'completed'"
            " AND account_id = ANY($1)",
            scheduled,
        )
        return done == len(everyone) and outcomes == len(scheduled)

    deadline = time.monotonic() + 300
    while not await all_completed():
        assert time.monotonic() < deadline, "disconnects still pending 300 s after the kill"
        await asyncio.sleep(0.5)
    drained_after_kill = time.monotonic() - kill_figures["killed_at"]

    lateness = await assert_each_done_once(cluster, manual, scheduled)

    # And the killed broker, started again, catches up: every partition back to 3 in sync
    await asyncio.to_thread(cluster.kafka, "start-node", str(victim))
    caught_up_deadline = time.monotonic() + 120
    while True:
        layout = await asyncio.to_thread(kafka_layout, cluster)
        if all(
            len(p["isr"]) == 3 for topic in layout.values() for p in topic["partitions"].values()
        ):
            break
        assert time.monotonic() < caught_up_deadline, "the restarted broker did not catch up"
        await asyncio.sleep(1)

    report = {
        "victim_broker": victim,
        "partitions_it_led": victim_leads,
        "partitions_total": sum(leaders.values()),
        "accounts": len(everyone),
        "setup_seconds": round(setup_seconds, 1),
        "manual_disconnects": MANUAL,
        "scheduled_disconnects": SCHEDULED,
        "in_flight_at_kill": kill_figures["in_flight_at_kill"],
        "pending_in_accounts_at_kill": kill_figures["pending_in_accounts_at_kill"],
        "manual_accepted_at_kill": kill_figures["manual_accepted_at_kill"],
        "requesting_seconds": round(requested_seconds, 1),
        "all_completed_seconds_after_kill": round(drained_after_kill, 1),
        "scheduled_lateness_seconds_max": round(lateness[-1], 2),
        "scheduled_lateness_seconds_median": round(lateness[len(lateness) // 2], 2),
        "requests": load.requests,
        "retried_503": load.retried_503,
    }
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    print("cluster test:", json.dumps(report))
    # And the broker died with at least IN_FLIGHT disconnects in flight
    assert kill_figures["in_flight_at_kill"] >= IN_FLIGHT, kill_figures


ROLLING = 240  # accounts disconnected during the rolling restart, at most
ROLLING_BASE_ID = 800_000
REPLICAS = [f"{service}-{r}" for service in SERVICES for r in (1, 2)]


async def test_a_rolling_restart_of_every_replica_fails_no_request_and_loses_nothing(
    cluster: Cluster,
) -> None:
    load = Load()
    ids = list(range(ROLLING_BASE_ID, ROLLING_BASE_ID + ROLLING))
    await given_accounts(cluster, load, ids)

    # When every replica is stopped (SIGTERM: it drains) and started again, one at a time, while
    # disconnects are requested at a steady pace and read back, all through the proxy
    restarted = asyncio.Event()
    requested: list[int] = []
    reads = 0

    async def steady_load() -> None:
        nonlocal reads
        async with cluster.client("accounts") as accounts, cluster.client("billing") as billing:
            for account_id in ids:
                if restarted.is_set():
                    break
                await load.call(
                    accounts,
                    "POST",
                    f"/accounts/{account_id}/disconnect",
                    expect=202,
                    key=f"r-{account_id}",
                    body={"reason": "rolling restart"},
                )
                requested.append(account_id)
                await load.call(accounts, "GET", f"/accounts/{account_id}/disconnects", expect=200)
                await load.call(billing, "GET", f"/accounts/{account_id}/invoices", expect=200)
                reads += 2
                await asyncio.sleep(0.8)

    async def restart_every_replica() -> None:
        try:
            for replica in REPLICAS:
                await asyncio.to_thread(cluster.stack, "stop-replica", replica)
                await asyncio.to_thread(cluster.stack, "start-replica", replica)
        finally:
            restarted.set()

    started = time.monotonic()
    load_task = asyncio.create_task(steady_load())
    await restart_every_replica()
    restart_seconds = time.monotonic() - started
    load_covered_restarts = not load_task.done()
    await load_task

    # Then no request failed (the client only retried 503s), and every disconnect requested
    # completes once, with one final invoice and its address released
    deadline = time.monotonic() + 300
    while await count(
        cluster,
        "accounts",
        "SELECT count(*) FROM disconnects WHERE state = 'completed' AND account_id = ANY($1)",
        requested,
    ) < len(requested):
        assert time.monotonic() < deadline, "disconnects still pending 300 s after the restarts"
        await asyncio.sleep(0.5)
    await assert_each_done_once(cluster, requested, [])
    assert len(requested) >= 50, "too few disconnects during the restarts to prove anything"

    figures = {
        "replicas_restarted": len(REPLICAS),
        "restart_seconds": round(restart_seconds, 1),
        "load_ran_through_every_restart": load_covered_restarts,
        "disconnects_during_restarts": len(requested),
        "reads_during_restarts": reads,
        "requests": load.requests,
        "retried_503": load.retried_503,
    }
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    REPORT.write_text(json.dumps({**report, "rolling_restart": figures}, indent=2) + "\n")
    print("rolling restart:", json.dumps(figures))
