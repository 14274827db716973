"""On the cluster with each Kafka node in its own network namespace, the node that leads most
partitions is cut off the network (from the other nodes and from every client: its packets are
dropped, its connections hang) while manual and scheduled disconnects keep coming, for longer than
Kafka takes to notice (the cluster moves its leadership away and drops it from every ISR); then
the network heals. Every disconnect completes, each with exactly one final invoice holding its
account's debit, every address is released, every scheduled event is emitted once and none before
its time, nothing is dead-lettered (the same end state as the broker-kill test), and the cut node
catches up: it is back in the ISR of every partition.

Run it with `make test-cluster`; its figures are printed and added to
.local/cluster-test-report.json under `network_partition`."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import KafkaException

from tests.cluster.conftest import STATE, Cluster
from tests.cluster.workload import (
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

MANUAL, SCHEDULED = 150, 150
BASE = 900_000
CUT_SECONDS = 45  # longer than replica.lag.time.max.ms (30 s) and the broker session (9 s)
REPORT = STATE.parent / f"{STATE.name}-test-report.json"


def led_or_in_sync(layout: dict[str, Any], broker: int) -> int:
    """How many partitions `broker` leads or is in the ISR of."""
    return sum(
        1
        for topic in layout.values()
        for partition in topic["partitions"].values()
        if partition["leader"] == broker or broker in partition["isr"]
    )


async def test_a_broker_cut_off_the_network_loses_nothing_and_catches_up(
    partitionable_cluster: Cluster,
) -> None:
    cluster = partitionable_cluster
    load = Load()
    manual = list(range(BASE, BASE + MANUAL))
    scheduled = list(range(BASE + MANUAL, BASE + MANUAL + SCHEDULED))

    # Given every topic with 3 copies in sync and min.insync.replicas 2, and the victim: the node
    # that leads most partitions (one of every consumed topic)
    layout = await asyncio.to_thread(kafka_layout, cluster)
    assert_replicated(layout)
    victim, victim_leads, partitions = busiest_leader(layout)

    # And accounts with a debit each, a third of them holding an address, and scheduled
    # disconnects due every 0.3 s from 20 s on: before, during and after the cut
    await given_accounts(cluster, load, manual + scheduled)
    first_due = datetime.now(UTC) + timedelta(seconds=20)
    await schedule_disconnects(
        cluster,
        load,
        {
            account_id: first_due + timedelta(seconds=0.3 * n)
            for n, account_id in enumerate(scheduled)
        },
        "network partition",
    )
    await asyncio.sleep(max(0.0, (first_due - datetime.now(UTC)).total_seconds()))

    # When manual disconnects are requested at a steady pace (one every 0.3 s) and, 5 s in, the
    # victim is cut off for CUT_SECONDS, then healed
    figures: dict[str, Any] = {}

    async def request_disconnects() -> None:
        async with cluster.client("accounts") as accounts:
            requests = []
            for account_id in manual:
                requests.append(
                    asyncio.create_task(
                        request_disconnect(
                            load, accounts, account_id, f"x-{account_id}", "network partition"
                        )
                    )
                )
                await asyncio.sleep(0.3)
            await asyncio.gather(*requests)

    async def cut_and_heal() -> None:
        await asyncio.sleep(5)
        await asyncio.to_thread(cluster.kafka, "cut-node", str(victim))
        cut_at = time.monotonic()
        # Then the rest of the cluster notices: it leads nothing and is in no ISR (a metadata
        # request that meets the cut node times out, and is asked again)
        noticed = None
        while time.monotonic() - cut_at < CUT_SECONDS:
            if noticed is None:
                with suppress(KafkaException):
                    layout = await asyncio.to_thread(kafka_layout, cluster, min_isr=False)
                    if led_or_in_sync(layout, victim) == 0:
                        noticed = time.monotonic() - cut_at
            await asyncio.sleep(1)
        assert noticed is not None, f"broker {victim}, cut off, still leads or is in an ISR"
        await asyncio.to_thread(cluster.kafka, "heal-node", str(victim))
        figures.update(cut_seconds=round(time.monotonic() - cut_at, 1))
        figures.update(healed_at=time.monotonic(), noticed_seconds_after_cut=round(noticed, 1))

    try:
        await asyncio.gather(request_disconnects(), cut_and_heal())
    finally:
        # A failed test still leaves the network whole for the stack's stop
        await asyncio.to_thread(cluster.kafka, "heal-node", str(victim))

    # Then every disconnect completes, manual and scheduled, once, with nothing lost or doubled
    await wait_until_completed(cluster, manual, scheduled, after="the heal")
    deadline = time.monotonic() + 300
    completed_after_heal = time.monotonic() - figures["healed_at"]
    lateness = await assert_each_done_once(cluster, manual, scheduled)

    # And the cut node catches up: back in the ISR of every partition
    while True:
        layout = await asyncio.to_thread(kafka_layout, cluster, min_isr=False)
        if all(
            victim in p["isr"] and len(p["isr"]) == 3
            for topic in layout.values()
            for p in topic["partitions"].values()
        ):
            break
        assert time.monotonic() < deadline, f"broker {victim} did not rejoin every ISR"
        await asyncio.sleep(1)
    rejoined_after_heal = time.monotonic() - figures["healed_at"]

    report = {
        "victim_broker": victim,
        "partitions_it_led": victim_leads,
        "partitions_total": partitions,
        "manual_disconnects": MANUAL,
        "scheduled_disconnects": SCHEDULED,
        "cut_seconds": figures["cut_seconds"],
        "out_of_every_isr_seconds_after_cut": figures["noticed_seconds_after_cut"],
        "all_completed_seconds_after_heal": round(completed_after_heal, 1),
        "back_in_every_isr_seconds_after_heal": round(rejoined_after_heal, 1),
        "scheduled_lateness_seconds_max": round(lateness[-1], 2),
        "requests": load.requests,
        "retried_503": load.retried_503,
    }
    previous = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    REPORT.write_text(json.dumps({**previous, "network_partition": report}, indent=2) + "\n")
    print("network partition:", json.dumps(report))
