"""`make bench-mass-disconnect`: a month-end delinquency run, as an ISP has one.

Starts Kafka and PostgreSQL in `.local/bench` and seeds N accounts (default 20,000), each with three
debits and a serviceable address (as bench-disconnects does), and N scheduled `disconnect_account`
events all due at one instant T, written into the scheduler's database. Then it starts the four
services and follows every stage on Kafka from T: emitted (`scheduler.scheduled-event-due.v1`),
status changed (`accounts.account-status-changed.v1`), invoiced (`billing.disconnect-billed.v1`),
released (`addresses.disconnect-address-released.v1`) and completed
(`accounts.account-disconnected.v1`), each by its record timestamp. It reports completions per second
(N over the time from T to the last completion), when each stage finished, the CPU each part spent
per disconnect, and checks from the databases: no event emitted before T (by the database clock),
exactly one final invoice per account. Results go to bench/results/mass-disconnect.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import asyncpg
import uvloop
from aiokafka import AIOKafkaConsumer

from bench.common import REPO, infra, kafka_options, machine, write_result
from bench.disconnects import CpuMeter, fresh_databases, seed, start_services, stop_services, url
from cutover_contracts.topics import (
    ACCOUNT_DISCONNECTED,
    ACCOUNT_STATUS_CHANGED,
    DISCONNECT_ADDRESS_RELEASED,
    DISCONNECT_BILLED,
    SCHEDULED_EVENT_DUE,
    SERVICES,
)

ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "20000"))
# The instant every event is due, this long after the events are written: the services start and
# warm up meanwhile, so the run measures the delinquency run, not the start.
LEAD_SECONDS = int(os.environ.get("BENCH_LEAD_SECONDS", "30"))
STAGES = {
    SCHEDULED_EVENT_DUE.name: "emitted",
    ACCOUNT_STATUS_CHANGED.name: "status changed",
    DISCONNECT_BILLED.name: "invoiced",
    DISCONNECT_ADDRESS_RELEASED.name: "released",
    ACCOUNT_DISCONNECTED.name: "completed",
}


async def schedule_all(count: int, due: datetime) -> None:
    connection = await asyncpg.connect(url("scheduler"))
    await connection.copy_records_to_table(
        "scheduled_events",
        records=[
            (uuid.uuid4(), "disconnect_account", i, due, '{"reason": "delinquent"}', "bench")
            for i in range(1, count + 1)
        ],
        columns=["id", "event_type", "account_id", "run_at", "payload", "scheduled_by"],
    )
    await connection.close()


class Stages:
    """Per stage, the record timestamp (ms) of each account's event from now on (the bench's
    broker keeps the topics of earlier runs, whose account ids are the same)."""

    def __init__(self) -> None:
        self.since_ms = time.time() * 1000
        self.at: dict[str, dict[int, int]] = defaultdict(dict)
        self.consumer = AIOKafkaConsumer(
            *STAGES,
            **kafka_options(),
            auto_offset_reset="earliest",
            group_id=f"bench-{uuid.uuid4()}",
            enable_auto_commit=False,
        )

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=10_000)
            for partition, records in batches.items():
                stage = STAGES[partition.topic]
                for record in records:
                    if record.timestamp >= self.since_ms:
                        self.at[stage].setdefault(int(record.key), record.timestamp)

    async def wait(self, count: int, within: float) -> None:
        deadline = time.monotonic() + within
        while len(self.at["completed"]) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        self.task.cancel()
        await self.consumer.stop()


async def checks(due: datetime) -> dict:
    scheduler = await asyncpg.connect(url("scheduler"))
    early = await scheduler.fetchval(
        "SELECT count(*) FROM scheduled_events WHERE emitted_at < run_at"
    )
    states = dict(
        await scheduler.fetch("SELECT state, count(*) FROM scheduled_events GROUP BY state")
    )
    await scheduler.close()
    billing = await asyncpg.connect(url("billing"))
    finals = await billing.fetch(
        "SELECT account_id, count(*) AS n FROM invoices WHERE kind = 'final' GROUP BY account_id"
    )
    await billing.close()
    per_account = [row["n"] for row in finals]
    return {
        "emitted_early": early,
        "scheduled_event_states": states,
        "accounts_with_one_final_invoice": sum(1 for n in per_account if n == 1),
        "accounts_with_several_final_invoices": sum(1 for n in per_account if n > 1),
        "accounts_without_final_invoice": ACCOUNTS - len(per_account),
    }


async def main() -> None:
    print("starting a fresh Kafka and PostgreSQL in .local/bench ...", flush=True)
    # Fresh: the services' consumer groups would otherwise resume on an earlier run's due events
    # and apply them to this run's accounts (same ids).
    infra("clean")
    infra("start")
    processes: list[subprocess.Popen] = []
    try:
        await fresh_databases()
        print(f"seeding {ACCOUNTS} accounts and their scheduled disconnects ...", flush=True)
        await seed(ACCOUNTS)
        stages = Stages()
        due = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
        await schedule_all(ACCOUNTS, due)
        await stages.start()
        processes = start_services()
        meter = CpuMeter(dict(zip(SERVICES, processes, strict=True)))
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        meter.start()
        print(f"{ACCOUNTS} disconnects due at {due.isoformat()} ...", flush=True)
        await stages.wait(ACCOUNTS, within=900)
        cpu = meter.per(len(stages.at["completed"]))
        await stages.stop()
        found = await checks(due)
    finally:
        stop_services(processes)
    due_ms = due.timestamp() * 1000
    finished = {
        stage: round((max(times.values()) - due_ms) / 1000, 2) if times else None
        for stage, times in ((s, stages.at[s]) for s in STAGES.values())
    }
    completed = len(stages.at["completed"])
    seconds = finished["completed"]
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "accounts": ACCOUNTS,
        "completed": completed,
        "completions_per_second": round(completed / seconds, 1) if seconds else None,
        "stage_done_seconds_after_due": finished,
        "cpu_ms_per_disconnect": cpu,
        "checks": found,
    }
    print(json.dumps(document, indent=2), flush=True)
    out = write_result("mass-disconnect.json", document)
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    uvloop.run(main())
