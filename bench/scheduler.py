"""`make bench-scheduler`: Cutover's scheduler under a burst and under a steady load.

Burst: N events (default 100,000) all due at one instant, plus control events due an hour later,
with one and then two emitter replicas (separate processes). Steady: a constant rate of events
coming due (default 2,000/s for 60 s). A Kafka consumer measures every emission: lateness is when
that consumer has the event in hand minus `run_at` (where a peer measures its own: when its handler
runs), and, beside it, the record's timestamp (when Kafka took it) minus `run_at`; an event
is early when its `emitted_at` (the database clock, to the microsecond) is before its `run_at`;
duplicate, missing and control-fired events are counted. Kafka, PostgreSQL, the replicas and the measuring consumer all
share this machine. A burst with one replica warms the broker up first and is not counted. Results
go to bench/results/scheduler.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import (
    POSTGRES,
    REPO,
    fresh_service_database,
    infra,
    kafka_env,
    kafka_options,
    machine,
    percentiles,
)

DSN = f"postgresql://postgres@{POSTGRES}/bench_scheduler"
BURST = int(os.environ.get("BENCH_BURST_EVENTS", "100000"))
STEADY_RATE = int(os.environ.get("BENCH_STEADY_RATE", "2000"))
STEADY_SECONDS = int(os.environ.get("BENCH_STEADY_SECONDS", "60"))
CONTROL = 1000
BATCH = int(os.environ.get("CUTOVER_SCHEDULER_BATCH_SIZE", "5000"))
LEAD_SECONDS = 5.0


async def fresh_topic() -> str:
    name = f"bench.scheduled-event-due-{uuid.uuid4().hex[:6]}.v1"
    admin = AIOKafkaAdminClient(**kafka_options())
    await admin.start()
    await admin.create_topics([NewTopic(name, num_partitions=6, replication_factor=1)])
    await admin.close()
    return name


async def schedule(connection: asyncpg.Connection, run_ats: list[datetime]) -> set[uuid.UUID]:
    rows = [
        (uuid.uuid4(), "disconnect_account", 1 + n % 10_000, run_at, "{}")
        for n, run_at in enumerate(run_ats)
    ]
    await connection.copy_records_to_table(
        "scheduled_events",
        records=rows,
        columns=["id", "event_type", "account_id", "run_at", "payload"],
    )
    return {row[0] for row in rows}


async def measure(
    topic: str, expected: set[uuid.UUID], control: set[uuid.UUID], deadline: float
) -> dict:
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_options(),
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4()}",
        enable_auto_commit=False,
    )
    await consumer.start()
    lateness_ms: list[float] = []  # receipt by this consumer − run_at: where a peer measures
    sent_lateness_ms: list[float] = []  # the record's timestamp − run_at: when Kafka took it
    seen: set[str] = set()
    duplicates = early = control_fired = 0
    first = last = None
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            received_ms = time.time() * 1000
            for records in batches.values():
                for record in records:
                    event = json.loads(record.value)
                    event_id = event["id"]
                    if event_id in seen:
                        duplicates += 1
                        continue
                    seen.add(event_id)
                    if uuid.UUID(event_id) in control:
                        control_fired += 1
                    run_at = datetime.fromisoformat(event["data"]["run_at"])
                    # Early is judged by the database clock, to the microsecond: the guarantee.
                    early += datetime.fromisoformat(event["data"]["emitted_at"]) < run_at
                    # The peers' lateness is when their handler ran, so Cutover's is when a
                    # consumer has the event in hand; when the broker took it is kept beside it.
                    lateness_ms.append(received_ms - run_at.timestamp() * 1000)
                    sent_lateness_ms.append(record.timestamp - run_at.timestamp() * 1000)
                    first = record.timestamp if first is None else min(first, record.timestamp)
                    last = record.timestamp if last is None else max(last, record.timestamp)
            if len(seen) >= len(expected):
                break
    finally:
        await consumer.stop()
    missing = len(expected - {uuid.UUID(i) for i in seen})
    return {
        "events": len(expected),
        "emitted": len(seen),
        "missing": missing,
        "duplicates": duplicates,
        "early": early,
        "control_fired": control_fired,
        "lateness_ms": percentiles(lateness_ms),
        "lateness_at_send_ms": percentiles(sent_lateness_ms),
        "first_ms": first,
        "last_ms": last,
    }


async def run(kind: str, replicas: int) -> dict:
    await fresh_service_database("scheduler")
    topic = await fresh_topic()
    connection = await asyncpg.connect(DSN)
    now = await connection.fetchval("SELECT clock_timestamp()")
    start = now + timedelta(seconds=LEAD_SECONDS)
    if kind == "burst":
        run_ats = [start] * BURST
        duration = 0.0
    else:
        total = STEADY_RATE * STEADY_SECONDS
        run_ats = [start + timedelta(seconds=n / STEADY_RATE) for n in range(total)]
        duration = float(STEADY_SECONDS)
    expected = await schedule(connection, run_ats)
    control = await schedule(connection, [now + timedelta(hours=1)] * CONTROL)
    await connection.close()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.replica",
            DSN,
            topic,
            str(BATCH),
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
            # admin: the bench topic is not in the registry, so no service principal may write it
            env={**os.environ, **kafka_env("admin")},
        )
        for _ in range(replicas)
    ]
    for process in processes:
        assert process.stdout is not None
        await asyncio.wait_for(process.stdout.readline(), 30)
    try:
        result = await measure(
            topic, expected, control, time.monotonic() + LEAD_SECONDS + duration + 120
        )
        await asyncio.sleep(1.0)  # a control event firing late would still be counted below
    finally:
        for process in processes:
            process.terminate()
            await process.wait()
    start_ms = start.timestamp() * 1000
    drain_s = (result.pop("last_ms") - start_ms) / 1000 if result["emitted"] else None
    result.pop("first_ms")
    result.update(
        kind=kind, replicas=replicas, drain_seconds=round(drain_s, 3) if drain_s else None
    )
    if kind == "burst" and drain_s:
        result["events_per_second"] = round(len(expected) / drain_s)
    else:
        result["rate_per_second"] = STEADY_RATE
        result["seconds"] = STEADY_SECONDS
    return result


def table(results: list[dict]) -> str:
    lines = [
        "| load | replicas | events | drain s | events/s | lateness p50 / p99 / max ms | early | dup | missing | control fired |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        load = (
            "burst"
            if r["kind"] == "burst"
            else f"steady {r['rate_per_second']}/s × {r['seconds']} s"
        )
        late = r["lateness_ms"]
        lines.append(
            f"| {load} | {r['replicas']} | {r['events']} | {r['drain_seconds']} | "
            f"{r.get('events_per_second', '—')} | {late['p50']} / {late['p99']} / {late['max']} | "
            f"{r['early']} | {r['duplicates']} | {r['missing']} | {r['control_fired']} |"
        )
    return "\n".join(lines)


SCENARIOS = (("burst", 1), ("burst", 2), ("steady", 1))


async def warm_up() -> dict:
    """One burst with one replica, not counted. The broker starts with the bench, and its JIT
    compiles its hot code for minutes under its first load, as a broker in service did long
    before: without this that CPU and time fell in the first scenario measured."""
    print("warm-up: one burst with 1 replica, not counted ...", flush=True)
    return await run("burst", 1)


async def measure_all() -> list[dict]:
    """Every scenario, after a warm-up, with the infrastructure already started."""
    await warm_up()
    results = []
    for kind, replicas in SCENARIOS:
        print(f"{kind} with {replicas} replica(s) ...", flush=True)
        results.append(await run(kind, replicas))
        print(json.dumps(results[-1]), flush=True)
    return results


def write_results(results: list[dict]) -> None:
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "batch_size": BATCH,
        "results": results,
    }
    out = REPO / "bench" / "results" / "scheduler.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(table(results))
    print(f"written to {out.relative_to(REPO)}")


async def main() -> None:
    print("starting Kafka and PostgreSQL in .local/bench ...", flush=True)
    infra("start")
    try:
        results = await measure_all()
    finally:
        infra("stop")
    write_results(results)


if __name__ == "__main__":
    asyncio.run(main())
