"""On the cluster mode (3 Kafka nodes, 2 replicas of every service behind HAProxy), one replica of
each service is frozen with SIGSTOP while manual and scheduled disconnects flow: the replica whose
outbox relay leads its service, and for the scheduler the leader while its emitter holds a claim.
They stay frozen longer than the consumers' session timeout and both leases, then get SIGCONT.

While they are frozen: every relay's leadership moves to the other replica within the lease (plus
the standby's poll), PostgreSQL cuts the frozen emitter's claim after the scheduler's lease, and
every consumer group of the four services goes on with its live member alone. Once they wake: each
woken relay says it was fenced (`cutover_outbox_relay_fenced_total` on its own /metrics) and no
longer leads, every group takes its woken member back, and every disconnect completes exactly once
(one final invoice of the account's debit, its address released once, every scheduled event
completed and none early, nothing dead-lettered).

Run it with `make test-cluster`; its figures are printed and added to .local/cluster-test-report.json."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from cutover_contracts.topics import SERVICES
from cutover_kit.settings import Settings
from cutover_scheduler.bootstrap import EmitterSettings
from tests.cluster.stack import OFFSET, Cluster, replica_pids
from tests.cluster.test_broker_failover import REPORT
from tests.cluster.workload import (
    Load,
    assert_each_done_once,
    count,
    given_accounts,
    rows,
    with_address,
)

pytestmark = pytest.mark.cluster

MANUAL, SCHEDULED = 120, 180
SCHEDULED_TOGETHER = 6  # scheduled events due at each instant, one instant a second
BASE_ID = 900_000
RELAY_LEASE = Settings.model_fields["relay_lease_seconds"].default
RELAY_POLL = 0.5  # the cluster fixture's CUTOVER_RELAY_POLL_SECONDS
SCHEDULER_LEASE = EmitterSettings.model_fields["lease_seconds"].default
SESSION_TIMEOUT = 10.0  # aiokafka's session_timeout_ms, which the consumers keep
# What a 2-core machine shared with other suites may add to a bound.
SLACK = 5.0
FROZEN_AT_LEAST = max(RELAY_LEASE, SCHEDULER_LEASE, SESSION_TIMEOUT) + 5.0
# Under HAProxy's 60 s server timeout: a request a frozen replica took still gets its answer.
FROZEN_AT_MOST = 40.0
# The emitter's claim (its batch's transaction) as pg_stat_activity shows it: claimed, or waiting
# for Kafka's acknowledgements while it keeps the claim. A transaction gets an id once it locks a
# row, so one that claimed nothing has none.
CLAIMING = (
    "SELECT pid, xact_start, backend_xid FROM pg_stat_activity WHERE datname = 'scheduler'"
    " AND state = 'idle in transaction' AND backend_xid IS NOT NULL"
    " AND client_port = ANY($1::int[])"
    " AND (query LIKE '%FOR UPDATE SKIP LOCKED%' OR query = 'SELECT 1')"
)
# The events a transaction holds locked: a row locked FOR UPDATE carries the locker's id in xmax.
CLAIMED = "SELECT id FROM scheduled_events WHERE xmax::text = $1::text AND state = 'pending'"


def replica_port(replica: str) -> int:
    """Where the replica itself listens (infra/stack.sh's replica_port), behind the proxy."""
    service, r = replica.rsplit("-", 1)
    return 31001 + OFFSET + 4 * (int(r) - 1) + SERVICES.index(service)


def local_ports(pid: int) -> set[int]:
    """The local ports of the process's TCP sockets: its database sessions' `client_port`."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def consumer_groups(cluster: Cluster) -> dict[str, tuple[str, int]]:
    """Every consumer group of the four services: its state and how many members it has."""
    admin = AdminClient(cluster.admin_config())
    listed = admin.list_consumer_groups(request_timeout=15).result()
    names = [g.group_id for g in listed.valid if g.group_id.split(".", 1)[0] in SERVICES]
    described = admin.describe_consumer_groups(names, request_timeout=15)
    return {
        name: (future.result().state.name, len(future.result().members))
        for name, future in described.items()
    }


async def metric(replica: str, name: str) -> float:
    async with httpx.AsyncClient(timeout=10) as client:
        text = (await client.get(f"http://127.0.0.1:{replica_port(replica)}/metrics")).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@contextmanager
def frozen_until_released(pids: list[int]) -> Iterator[None]:
    """The processes stay stopped until the block ends, whatever happens in it."""
    try:
        yield
    finally:
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


async def freeze_while_claiming(
    cluster: Cluster, pid: int, within: float
) -> tuple[int, list[Any], float]:
    """SIGSTOP the scheduler replica `pid` while its emitter holds a claim; return the claim's
    database backend, the events it holds and when the replica froze. A stop that lands just after
    the batch committed is undone (SIGCONT) and tried again on a later batch."""
    db = await cluster.db("scheduler")
    try:
        deadline = time.monotonic() + within
        ports, ports_read = local_ports(pid), time.monotonic()
        while True:
            assert time.monotonic() < deadline, f"its emitter held no claim within {within} s"
            if time.monotonic() - ports_read > 1.0:  # a session may have been opened anew
                ports, ports_read = local_ports(pid), time.monotonic()
            claim = await db.fetchrow(CLAIMING, list(ports))
            if claim is None:
                await asyncio.sleep(0.002)
                continue
            os.kill(pid, signal.SIGSTOP)
            frozen_at = time.monotonic()
            # A COMMIT already on its way would end the transaction within a moment: the claim
            # counts only if it is still open a moment later.
            holding = True
            while holding and time.monotonic() - frozen_at < 0.5:
                holding = bool(
                    await db.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND xact_start = $2"
                        " AND state = 'idle in transaction'",
                        claim["pid"],
                        claim["xact_start"],
                    )
                )
                await asyncio.sleep(0.05)
            claimed = [row["id"] for row in await db.fetch(CLAIMED, str(claim["backend_xid"]))]
            if holding and claimed:
                return claim["pid"], claimed, frozen_at
            os.kill(pid, signal.SIGCONT)
    finally:
        await db.close()


async def test_a_replica_of_each_service_frozen_is_replaced_and_fenced_and_doubles_nothing(
    cluster: Cluster,
) -> None:
    load = Load()
    manual = list(range(BASE_ID, BASE_ID + MANUAL))
    scheduled = list(range(BASE_ID + MANUAL, BASE_ID + MANUAL + SCHEDULED))
    everyone = manual + scheduled

    # Given accounts with a debit each, a third holding an address
    started = time.monotonic()
    await given_accounts(cluster, load, everyone)
    setup_seconds = time.monotonic() - started

    # And scheduled disconnects due from 20 s on, SCHEDULED_TOGETHER at each second
    due_from = datetime.now(UTC) + timedelta(seconds=20)
    async with cluster.client("scheduler") as scheduler:
        gate = asyncio.Semaphore(24)

        async def schedule(n: int, account_id: int) -> None:
            async with gate:
                await load.call(
                    scheduler,
                    "POST",
                    "/scheduled-events",
                    expect=201,
                    key=f"f-{account_id}",
                    body={
                        "event_type": "disconnect_account",
                        "account_id": account_id,
                        "run_at": (
                            due_from + timedelta(seconds=n // SCHEDULED_TOGETHER)
                        ).isoformat(),
                        "payload": {"reason": "replica stop test"},
                    },
                )

        await asyncio.gather(*(schedule(n, a) for n, a in enumerate(scheduled)))

    # And every relay's leader, each a replica of the cluster
    before = {service: await cluster.relay_lease(service) for service in SERVICES}
    assert all(replica is not None for _, replica in before.values()), before
    pids = {replica: pid for pid, replica in replica_pids().items()}
    groups_before = await asyncio.to_thread(consumer_groups, cluster)
    assert groups_before and all(members == 2 for _, members in groups_before.values()), (
        groups_before
    )
    await asyncio.sleep(max(0.0, (due_from - datetime.now(UTC)).total_seconds() - 5))

    # When manual disconnects are requested at a steady pace (one every 0.2 s), from 5 s before
    # the scheduled ones come due; a request a frozen replica took waits for it to wake
    async def request_disconnects() -> None:
        async with cluster.client("accounts") as accounts:
            accounts.timeout = httpx.Timeout(FROZEN_AT_MOST + 30)

            async def one(account_id: int) -> None:
                await load.call(
                    accounts,
                    "POST",
                    f"/accounts/{account_id}/disconnect",
                    expect=202,
                    key=f"y-{account_id}",
                    body={"reason": "replica stop test"},
                )

            requests = []
            for account_id in manual:
                requests.append(asyncio.create_task(one(account_id)))
                await asyncio.sleep(0.2)
            await asyncio.gather(*requests)

    requesting = asyncio.create_task(request_disconnects())

    # And the scheduler's relay leader is frozen (SIGSTOP) while its emitter holds a claim, and
    # the relay leaders of the three others at once
    victims = {service: replica for service, (_, replica) in before.items()}
    scheduler_pid = pids[victims["scheduler"]]
    figures: dict[str, Any] = {"frozen": victims}
    with frozen_until_released([pids[replica] for replica in victims.values()]):
        claim_backend, claimed, frozen_at = await freeze_while_claiming(
            cluster, scheduler_pid, within=30
        )
        figures["events_claimed_by_the_frozen_emitter"] = len(claimed)
        figures["scheduler_frozen_after_due_s"] = round(
            (datetime.now(UTC) - due_from).total_seconds(), 1
        )
        frozen_since = {"scheduler": frozen_at}
        for service in ("accounts", "billing", "addresses"):
            os.kill(pids[victims[service]], signal.SIGSTOP)
            frozen_since[service] = time.monotonic()

        # Then, while they are frozen, every relay's lease moves to the other replica within
        # the lease and the standby's poll
        takeover: dict[str, float] = {}
        claim_cut_after: float | None = None
        claimed_emitted_after: float | None = None
        rebalanced_after: float | None = None
        while True:
            now = time.monotonic()
            for service in SERVICES:
                if service not in takeover:
                    epoch, holder = await cluster.relay_lease(service)
                    if epoch > before[service][0]:
                        assert holder not in (None, victims[service]), (service, holder)
                        takeover[service] = now - frozen_since[service]
            # And PostgreSQL cuts the frozen emitter's claim after the scheduler's lease
            if claim_cut_after is None and not await count(
                cluster,
                "scheduler",
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                claim_backend,
            ):
                claim_cut_after = now - frozen_at
            # And the other replica emits the events it held
            if claimed_emitted_after is None and not await count(
                cluster,
                "scheduler",
                "SELECT count(*) FROM scheduled_events WHERE id = ANY($1) AND emitted_at IS NULL",
                claimed,
            ):
                claimed_emitted_after = now - frozen_at
            # And every consumer group goes on with its live member alone
            if rebalanced_after is None:
                groups = await asyncio.to_thread(consumer_groups, cluster)
                if all(g == ("STABLE", 1) for g in groups.values()):
                    rebalanced_after = now - frozen_at
            done = len(takeover) == len(SERVICES) and None not in (
                claim_cut_after,
                claimed_emitted_after,
                rebalanced_after,
            )
            if (done and now - frozen_at >= FROZEN_AT_LEAST) or now - frozen_at >= FROZEN_AT_MOST:
                break
            await asyncio.sleep(0.1)
        figures["frozen_seconds"] = round(time.monotonic() - frozen_at, 1)
    woken_at = time.monotonic()

    bound = RELAY_LEASE + RELAY_POLL + SLACK
    assert set(takeover) == set(SERVICES), f"leadership not taken over: {takeover}"
    assert all(seconds <= bound for seconds in takeover.values()), (takeover, bound)
    assert claim_cut_after is not None and claim_cut_after <= SCHEDULER_LEASE + SLACK, (
        claim_cut_after
    )
    assert claimed_emitted_after is not None, "the frozen emitter's events were not taken over"
    assert rebalanced_after is not None, f"groups still waiting for the frozen members: {groups}"
    figures |= {
        "relay_takeover_seconds": {s: round(v, 2) for s, v in takeover.items()},
        "relay_takeover_bound_seconds": bound,
        "emitter_claim_cut_after_seconds": round(claim_cut_after, 2),
        "claimed_events_emitted_after_seconds": round(claimed_emitted_after, 2),
        "groups_rebalanced_after_seconds": round(rebalanced_after, 2),
    }

    # Then, once woken, each frozen leader says it was fenced and no longer leads, and the lease
    # stays with the replica that took it over
    fenced_after: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while len(fenced_after) < len(SERVICES):
        assert time.monotonic() < deadline, f"not fenced within 60 s: {fenced_after}"
        for service, replica in victims.items():
            if (
                service not in fenced_after
                and await metric(replica, "cutover_outbox_relay_fenced_total") >= 1
            ):
                assert await metric(replica, "cutover_outbox_relay_leader") == 0, replica
                fenced_after[service] = time.monotonic() - woken_at
        await asyncio.sleep(0.2)
    for service in SERVICES:
        _, holder = await cluster.relay_lease(service)
        assert holder != victims[service], (service, holder)
    figures["fenced_seconds_after_waking"] = {s: round(v, 1) for s, v in fenced_after.items()}

    # And every group takes its woken member back
    deadline = time.monotonic() + 120
    while not all(
        g == ("STABLE", 2) for g in (await asyncio.to_thread(consumer_groups, cluster)).values()
    ):
        assert time.monotonic() < deadline, "the woken replicas did not rejoin their groups"
        await asyncio.sleep(1)
    figures["groups_rejoined_seconds_after_waking"] = round(time.monotonic() - woken_at, 1)

    # And every disconnect completes exactly once: one final invoice of the account's debit, its
    # address released once, every scheduled event completed and none early, nothing dead-lettered
    await requesting

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
        assert time.monotonic() < deadline, "disconnects still pending 300 s after waking"
        await asyncio.sleep(0.5)
    figures["all_completed_seconds_after_waking"] = round(time.monotonic() - woken_at, 1)
    lateness = await assert_each_done_once(cluster, manual, scheduled)
    releases = await rows(
        cluster,
        "addresses",
        "SELECT account_id, count(*) AS releases FROM address_history"
        " WHERE action = 'release' AND account_id = ANY($1) GROUP BY account_id",
        everyone,
    )
    assert {r["account_id"]: r["releases"] for r in releases} == {
        a: 1 for a in everyone if with_address(a)
    }

    figures |= {
        "accounts": len(everyone),
        "setup_seconds": round(setup_seconds, 1),
        "scheduled_lateness_seconds_max": round(lateness[-1], 2),
        "requests": load.requests,
        "retried_503": load.retried_503,
    }
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    REPORT.write_text(json.dumps({**report, "replica_stop": figures}, indent=2) + "\n")
    print("replica stop:", json.dumps(figures))
