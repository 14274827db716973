"""Procrastinate's harness for Cutover's peer benchmark (`python -m bench.peers`).

Runs in its own virtual environment (.local/bench/peers/procrastinate-venv, from requirements.txt
beside this file), never in the project's:
    procrastinate-venv/bin/python harness.py --dsn URL --scenario burst|steady ...

One run is one scenario in a fresh database: Procrastinate applies its schema, the jobs are deferred
with `scheduled_at` (a burst all due at one instant T, or a steady rate spread evenly from T) plus
control jobs due an hour later, one worker with a no-op task records (job id, scheduled_at, when it
ran), and one JSON summary goes to stdout once every job ran. Progress goes to stderr.

Lateness is the wall clock when the task ran (this process, same machine as PostgreSQL) minus the
job's `scheduled_at` as Procrastinate stored it; T comes from the database clock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import time
from datetime import datetime, timedelta
from importlib.metadata import version

import procrastinate
from procrastinate import jobs as jobs_module

parser = argparse.ArgumentParser()
parser.add_argument("--dsn", required=True)
parser.add_argument("--scenario", choices=["burst", "steady"], default="burst")
parser.add_argument("--jobs", type=int, default=100_000)
parser.add_argument("--rate", type=int, default=2000)
parser.add_argument("--seconds", type=int, default=60)
parser.add_argument("--control", type=int, default=1000)
parser.add_argument("--lead", type=float, default=10.0)
parser.add_argument("--timeout", type=float, default=600.0)
parser.add_argument("--concurrency", type=int, default=25)
parser.add_argument("--polling-interval", type=float, default=0.01)
parser.add_argument("--workers", type=int, default=8)
parser.add_argument("--pool", type=int, default=40)
args = parser.parse_args()

SETTINGS = {
    "workers in the process": args.workers,
    "concurrency": args.concurrency,
    "fetch_job_polling_interval": args.polling_interval,
    "listen_notify": True,
    "pool max_size": args.pool,
    "insert": "job_manager.batch_defer_jobs_async, 5,000 a call",
}

# The app lives in the script on purpose (the worker runs in this very process): drop that warning.
logging.getLogger("procrastinate.blueprints").addFilter(
    lambda record: getattr(record, "action", None) != "app_defined_in___main__"
)
app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(
        conninfo=args.dsn, min_size=args.pool, max_size=args.pool
    )
)
runs: list[tuple[int, datetime, float, bool]] = []
seen: set[int] = set()
expected = 0
finished = asyncio.Event()


@app.task(name="noop", pass_context=True)
async def noop(context: procrastinate.JobContext, control: bool = False) -> None:
    ran = time.time()
    job = context.job
    runs.append((job.id, job.scheduled_at, ran, control))
    if not control and job.id not in seen:
        seen.add(job.id)
        if len(seen) == expected:
            finished.set()


def progress(message: str) -> None:
    print(f"  procrastinate: {message}", file=sys.stderr, flush=True)


async def main() -> None:
    global expected
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        rows = await app.connector.execute_query_all_async("SELECT clock_timestamp() AS now")
        start = rows[0]["now"] + timedelta(seconds=args.lead)
        if args.scenario == "burst":
            due = [start] * args.jobs
            duration = 0.0
        else:
            due = [
                start + timedelta(seconds=n / args.rate) for n in range(args.rate * args.seconds)
            ]
            duration = float(args.seconds)
        expected = len(due)
        progress(f"scheduling {expected} jobs (+{args.control} control) ...")
        later = start + timedelta(hours=1)
        jobs = [job(at, False) for at in due] + [job(later, True) for _ in range(args.control)]
        for offset in range(0, len(jobs), 5000):
            await app.job_manager.batch_defer_jobs_async(jobs[offset : offset + 5000])
        del jobs

        workers = [
            asyncio.create_task(
                app.run_worker_async(
                    name=f"worker-{n}",
                    concurrency=args.concurrency,
                    fetch_job_polling_interval=args.polling_interval,
                    listen_notify=True,
                    install_signal_handlers=False,
                )
            )
            for n in range(args.workers)
        ]
        margin = start.timestamp() - time.time()
        progress(f"worker started {margin:.1f} s before T; waiting ...")
        deadline = start.timestamp() - time.time() + duration + args.timeout
        try:
            await asyncio.wait_for(finished.wait(), max(deadline, 0))
        except TimeoutError:
            progress("timed out")
        await asyncio.sleep(1.0)  # a late duplicate or control job is still counted
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    print(
        json.dumps(
            {
                **summarize(start.timestamp(), expected),
                "scenario": args.scenario,
                "ready_margin_seconds": round(margin, 3),
                "settings": SETTINGS,
                "version": version("procrastinate"),
            }
        )
    )


def job(at: datetime, control: bool) -> jobs_module.Job:
    return jobs_module.Job(
        id=None,
        queue="default",
        lock=None,
        queueing_lock=None,
        task_name="noop",
        task_kwargs={"control": True} if control else {},
        scheduled_at=at,
    )


def summarize(start: float, expected: int) -> dict:
    """The shape every harness prints, with the formulas of bench/scheduler.py."""
    first: dict[int, tuple] = {}
    duplicates = 0
    for run in runs:
        if run[0] in first:
            duplicates += 1
        else:
            first[run[0]] = run
    lateness = sorted((ran - at.timestamp()) * 1000 for _, at, ran, _ in first.values())
    early = sum(ran < at.timestamp() for _, at, ran, _ in first.values())
    control_fired = sum(control for *_, control in first.values())
    handled = len(first) - control_fired
    out = {
        "jobs": expected,
        "handled": handled,
        "missing": expected - handled,
        "duplicates": duplicates,
        "early": early,
        "control_fired": control_fired,
        "drain_seconds": None,
        "jobs_per_second": None,
        "lateness_ms": {"p50": None, "p99": None, "max": None},
    }
    if lateness:
        drain = max(ran for _, _, ran, _ in runs) - start
        out.update(
            drain_seconds=round(drain, 3),
            jobs_per_second=round(expected / drain),
            lateness_ms={
                "p50": round(statistics.median(lateness), 1),
                "p99": round(lateness[max(int(len(lateness) * 0.99) - 1, 0)], 1),
                "max": round(lateness[-1], 1),
            },
        )
    return out


if __name__ == "__main__":
    asyncio.run(main())
