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
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.cluster.stack import REPLICAS, STATE, Cluster
from tests.cluster.workload import (
    BASE_ID,
    Load,
    assert_each_done_once,
    assert_replicated,
    busiest_leader,
    given_accounts,
    kafka_layout,
    request_disconnect,
    schedule_disconnects,
    wait_until_completed,
)

pytestmark = pytest.mark.cluster

MANUAL, SCHEDULED = 200, 340  # immediate disconnects, scheduled ones
SCHEDULED_BURST, BURST_AT = 300, 90  # scheduled ones due at one instant, that many s on
IN_FLIGHT = 200  # disconnects accepted and not completed when the broker dies, at least
REPORT = STATE.parent / f"{STATE.name}-test-report.json"


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
    assert_replicated(layout)
    victim, victim_leads, partitions = busiest_leader(layout)

    # And accounts with a debit each, a third of them holding an address
    started = time.monotonic()
    await given_accounts(cluster, load, everyone)
    setup_seconds = time.monotonic() - started

    # And scheduled disconnects: SCHEDULED_BURST of them due at one instant, BURST_AT s from now
    # (the scheduler emits them together, so hundreds are in flight at once), the others due
    # every 0.5 s from 15 s before it, before, during and after the broker's death
    burst_at = datetime.now(UTC) + timedelta(seconds=BURST_AT)
    await schedule_disconnects(
        cluster, load, dict.fromkeys(scheduled[:SCHEDULED_BURST], burst_at), "cluster test"
    )
    await schedule_disconnects(
        cluster,
        load,
        {
            account_id: burst_at + timedelta(seconds=-15 + 0.5 * n)
            for n, account_id in enumerate(scheduled[SCHEDULED_BURST:])
        },
        "cluster test",
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
                body = await request_disconnect(
                    load, accounts, account_id, f"x-{account_id}", "cluster test"
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
    await wait_until_completed(cluster, manual, scheduled, after="the kill")
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
        "partitions_total": partitions,
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
                await request_disconnect(
                    load, accounts, account_id, f"r-{account_id}", "rolling restart"
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
    await wait_until_completed(cluster, requested, [], after="the restarts")
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
