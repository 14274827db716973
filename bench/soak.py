"""`make bench-soak`: the leak run. Disconnects at a steady rate for ten minutes, every process'
memory sampled throughout.

Starts Kafka and PostgreSQL in `.local/bench` and the four services, seeds rate × seconds accounts
(as bench-disconnects does: three debits and an address each), then sends disconnects at a fixed
offered rate (default 100/s for 600 s) through bench-disconnects' own client, while the resident
memory of every part of the system is read from /proc every 5 s: each service (its supervisor and
workers), Kafka, and PostgreSQL. For PostgreSQL the figure is the private memory (`RssAnon`) of the
postmaster and its backends: each backend maps the shared buffers too, and counting them once per
backend would show the buffers filling up, not a leak; each sample also splits it by kind (client
backends and their count, autovacuum workers, the rest). Kafka runs with a fixed, pre-touched heap
(`bench.common.infra`, as a production broker does), so its RSS shows what grows beside the heap,
not the heap being committed. The leak check is the slope of a
least-squares line through the samples from minute 2 to the end (the first two minutes are warm-up:
pools, caches and the JIT fill): under 1 MiB per minute for every part. Results go to
bench/results/soak.json and a chart, bench/results/soak.png.

What grows, at minute 2 against the end of the run:
- inside PostgreSQL: each client backend's own slope is kept beside the sum, and every client
  backend is asked to log its memory contexts (`pg_log_backend_memory_contexts`), which are read
  back from the server's log and summed by context name: what PostgreSQL itself holds (caches,
  prepared statements and their plans), against the RSS, which also keeps what the C library's
  allocator was given back and did not return;
- inside Kafka: its resident memory by kind of mapping (/proc/PID/smaps: the log's index files,
  which Kafka maps into memory, other files, anonymous memory) and the JVM's own account of what
  it committed (Native Memory Tracking, `jcmd PID VM.native_memory summary`: heap, code, metaspace,
  threads, ...), for which this bench alone starts the broker with
  `-XX:NativeMemoryTracking=summary`.

Knobs: BENCH_SOAK_RATE (default 100), BENCH_SOAK_SECONDS (600), BENCH_SOAK_SAMPLE_SECONDS (5).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import uvloop

from bench.common import (
    ADMIN_DSN,
    BROKER_HEAP,
    REPO,
    STATE,
    infra,
    machine,
    percentiles,
    write_result,
)
from bench.disconnects import (
    Completions,
    CpuMeter,
    Disconnector,
    children_of,
    fresh_databases,
    seed,
    start_services,
    stop_services,
)
from cutover_contracts.topics import SERVICES

RATE = int(os.environ.get("BENCH_SOAK_RATE", "100"))
SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "600"))
SAMPLE_SECONDS = float(os.environ.get("BENCH_SOAK_SAMPLE_SECONDS", "5"))
WARM_UP_MINUTES = 2.0
TARGET_MIB_PER_MINUTE = 1.0
GRACE_SECONDS = 30


def kafka_pid() -> int:
    return int((STATE / "run" / "kafka.pid").read_text().split()[0])


def _kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _postgres_kind(pid: int) -> str:
    """What a child of the postmaster is, from its title ("postgres: accounts accounts 127.0.0.1…",
    "postgres: autovacuum worker", "postgres: checkpointer", …)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    if "autovacuum worker" in title:
        return "autovacuum workers"
    if "127.0.0.1" in title or "[local]" in title:
        return "client backends"
    return "the rest"


def memory_mib(services: dict[str, int]) -> tuple[dict[str, float], dict[str, float]]:
    """Resident memory of each part now, MiB (see the module's docstring for PostgreSQL's), and
    PostgreSQL's split by kind of process with the count of client backends: a pool that opens
    connections, or autovacuum workers that come and go, move the sum without anything leaking."""
    kafka = kafka_pid()
    postmaster = int((STATE / "pg" / "postmaster.pid").read_text().split()[0])
    parts = {
        name: sum(_kib(p, "VmRSS") for p in (pid, *children_of(pid)))
        for name, pid in services.items()
    }
    parts["kafka"] = _kib(kafka, "VmRSS")
    kinds: dict[str, float] = {"client backends": 0, "autovacuum workers": 0, "the rest": 0}
    backends: dict[str, float] = {}
    for pid in children_of(postmaster):
        kind = _postgres_kind(pid)
        if kind != "gone":
            kib = _kib(pid, "RssAnon")
            kinds[kind] += kib
            if kind == "client backends":
                backends[str(pid)] = round(kib / 1024, 2)
    kinds["the rest"] += _kib(postmaster, "RssAnon")
    parts["postgres"] = sum(kinds.values())
    postgres: dict = {kind: round(kib / 1024, 2) for kind, kib in kinds.items()}
    postgres["client backend count"] = len(backends)
    postgres["backends"] = backends
    return {name: round(kib / 1024, 2) for name, kib in parts.items()}, postgres


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    minutes, mib = zip(*points, strict=True)
    return round(statistics.linear_regression(minutes, mib).slope, 3)


def slope_mib_per_minute(samples: list[dict], part: str) -> float:
    """Least-squares slope of the part's memory over the samples after the warm-up."""
    return _slope(
        [(s["minute"], s["mib"][part]) for s in samples if s["minute"] >= WARM_UP_MINUTES]
    )


def backend_slopes(samples: list[dict]) -> dict[str, float]:
    """The slope of each client backend alive in every sample after the warm-up (a pool's
    connections; one that came or went meanwhile has no line to fit)."""
    kept = [s for s in samples if s["minute"] >= WARM_UP_MINUTES]
    if not kept:
        return {}
    steady = set.intersection(*(set(s["postgres"]["backends"]) for s in kept))
    return {
        pid: _slope([(s["minute"], s["postgres"]["backends"][pid]) for s in kept])
        for pid in sorted(steady)
    }


CONTEXTS_WITHIN_SECONDS = 10.0
GRAND_TOTAL = re.compile(r"\[(?P<pid>\d+)\].*LOG:  Grand total: ")
CONTEXT_LINE = re.compile(
    r"\[(?P<pid>\d+)\].*LOG:  level: \d+; (?P<name>[^:]+?)(?::| containing) (?P<total>\d+) total"
)


def kafka_memory(kafka: int) -> dict[str, dict[str, float]]:
    """The broker's resident memory by kind of mapping, and what the JVM says it committed, MiB."""
    resident = {"log indexes": 0.0, "other files": 0.0, "anonymous": 0.0}
    kind = "anonymous"
    for line in Path(f"/proc/{kafka}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and ":" not in fields[0]:  # a mapping's header: range perms ... [path]
            path = fields[5] if len(fields) > 5 else ""
            kind = (
                "log indexes"
                if path.endswith((".index", ".timeindex"))
                else "other files"
                if path.startswith("/")
                else "anonymous"
            )
        elif fields[0] == "Rss:":
            resident[kind] += int(fields[1]) / 1024
    summary = subprocess.run(
        ["jcmd", str(kafka), "VM.native_memory", "summary"], capture_output=True, text=True
    ).stdout
    committed = {
        match["name"]: round(int(match["kib"]) / 1024, 2)
        for match in re.finditer(
            r"^-\s+(?P<name>[\w ]+?) \(reserved=\d+KB, committed=(?P<kib>\d+)KB", summary, re.M
        )
    }
    return {
        "resident_mib": {kind: round(mib, 2) for kind, mib in resident.items()},
        "jvm_committed_mib": committed,
    }


async def memory_contexts() -> dict[str, dict[str, int]]:
    """Every client backend's memory contexts, bytes by context name (the children a context
    has beyond the hundred it lists are summed as `more child contexts`), read back from the
    server's log after asking each backend to write them there."""
    log = STATE / "log" / "postgres.log"
    start = log.stat().st_size
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        asked = {
            str(row["pid"])
            for row in await admin.fetch(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"
                " AND pid <> pg_backend_pid() AND pg_log_backend_memory_contexts(pid)"
            )
        }
    finally:
        await admin.close()
    # Each backend logs at its next interrupt check: read until every one asked has logged its
    # grand total (one that exits meanwhile never will, hence the deadline).
    deadline = time.monotonic() + CONTEXTS_WITHIN_SECONDS
    while True:
        contexts: dict[str, dict[str, int]] = {}
        finished: set[str] = set()
        with log.open(errors="replace") as text:
            text.seek(start)
            for line in text:
                if match := CONTEXT_LINE.search(line):
                    name = re.sub(
                        r"^\d+ more child contexts$", "more child contexts", match["name"]
                    )
                    backend = contexts.setdefault(match["pid"], {})
                    backend[name] = backend.get(name, 0) + int(match["total"])
                elif match := GRAND_TOTAL.search(line):
                    finished.add(match["pid"])
        if asked <= finished or time.monotonic() > deadline:
            return {pid: contexts[pid] for pid in finished & contexts.keys()}
        await asyncio.sleep(0.2)


def context_growth(first: dict[str, dict[str, int]], last: dict[str, dict[str, int]]) -> dict:
    """What the backends in both snapshots held at each, MiB by context name, largest growth
    first, and their totals."""
    both = first.keys() & last.keys()

    def summed(snapshot: dict[str, dict[str, int]]) -> dict[str, int]:
        names: dict[str, int] = {}
        for pid in both:
            for name, size in snapshot[pid].items():
                names[name] = names.get(name, 0) + size
        return names

    before, after = summed(first), summed(last)
    growth = sorted(
        before.keys() | after.keys(),
        key=lambda name: after.get(name, 0) - before.get(name, 0),
        reverse=True,
    )
    mib = 1024 * 1024
    return {
        "backends": len(both),
        "total_mib": [round(sum(before.values()) / mib, 2), round(sum(after.values()) / mib, 2)],
        "by_context_mib": {
            name: [round(before.get(name, 0) / mib, 3), round(after.get(name, 0) / mib, 3)]
            for name in growth[:12]
        },
    }


async def send_steadily(client: Disconnector, ids: list[int]) -> tuple[dict[int, float], list]:
    """Offer each id's disconnect at its own instant of a fixed rate, for SECONDS and not much
    longer: requests still queued for one of the client's connections a grace period after the
    last offer are cancelled, so the run lasts what it says however far the machine falls behind
    (what was completed is counted). The offer times and the HTTP times of those answered."""
    offered: dict[int, float] = {}
    http_ms: list[float] = []

    async def one(account_id: int) -> None:
        offered[account_id] = time.time()
        began = time.perf_counter()
        await client.disconnect(account_id)
        http_ms.append((time.perf_counter() - began) * 1000)

    tasks = []
    t0 = time.monotonic()
    for n, account_id in enumerate(ids):
        await asyncio.sleep(max(0.0, t0 + n / RATE - time.monotonic()))
        tasks.append(asyncio.create_task(one(account_id)))
    _, late = await asyncio.wait(tasks, timeout=GRACE_SECONDS)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return offered, http_ms


async def sample_memory(
    services: dict[str, int], samples: list[dict], contexts: list[dict], stop: asyncio.Event
) -> None:
    """Every part's memory every SAMPLE_SECONDS; what PostgreSQL and Kafka hold inside (the
    module's docstring) once, when the warm-up is over."""
    started = time.monotonic()
    while not stop.is_set():
        minute = (time.monotonic() - started) / 60
        parts, postgres = memory_mib(services)
        samples.append({"minute": round(minute, 3), "mib": parts, "postgres": postgres})
        if minute >= WARM_UP_MINUTES and not contexts:
            contexts.append(
                {"postgres": await memory_contexts(), "kafka": kafka_memory(kafka_pid())}
            )
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)
        except TimeoutError:
            pass


def chart(document: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = document["samples"]
    minutes = [s["minute"] for s in samples]
    figure, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
    for axis, (part, verdict) in zip(axes.flat, document["slopes"].items(), strict=False):
        axis.plot(minutes, [s["mib"][part] for s in samples], color="#1f6f4a", linewidth=1)
        axis.axvline(WARM_UP_MINUTES, color="#7a8794", linestyle=":", linewidth=1)
        axis.set_title(
            f"{part}: {verdict['mib_per_minute']:+.2f} MiB/min "
            f"({'ok' if verdict['ok'] else 'over 1'})",
            fontsize=9,
        )
        axis.set_ylabel("MiB", fontsize=8)
        axis.margins(y=0.3)
    for axis in axes[-1]:
        axis.set_xlabel("minute", fontsize=8)
    figure.suptitle(
        f"Resident memory, {document['rate_per_second']} disconnects/s offered for "
        f"{document['seconds']} s ({document['completed_per_second']}/s completed; slope from "
        f"minute {WARM_UP_MINUTES:g}); "
        f"{document['date'][:10]}, {document['machine']['summary']}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


async def main() -> None:
    print("starting Kafka and PostgreSQL in .local/bench ...", flush=True)
    # The JVM's account of its memory (see the docstring). What the tracking costs the broker's
    # CPU was not measured: this bench's figures are memory.
    os.environ["KAFKA_HEAP"] = f"{BROKER_HEAP} -XX:NativeMemoryTracking=summary"
    infra("start")
    processes: list[subprocess.Popen] = []
    count = RATE * SECONDS
    try:
        await fresh_databases()
        print(f"seeding {count} accounts ...", flush=True)
        await seed(count)
        processes = start_services()
        services = dict(zip(SERVICES, processes, strict=True))
        meter = CpuMeter(services)
        done = Completions()
        await done.start()
        client = Disconnector()
        samples: list[dict] = []
        contexts: list[dict] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(
            sample_memory({name: p.pid for name, p in services.items()}, samples, contexts, stop)
        )
        print(f"soak: {RATE} disconnects/s for {SECONDS} s ...", flush=True)
        meter.start()
        ids = list(range(1, count + 1))
        sent, http_ms = await send_steadily(client, ids)
        await done.wait(ids, within=GRACE_SECONDS)
        stop.set()
        await sampler
        contexts.append({"postgres": await memory_contexts(), "kafka": kafka_memory(kafka_pid())})
        cpu = meter.per(sum(i in done.at for i in ids))
        await client.close()
        await done.stop()
    finally:
        stop_services(processes)
    slopes = {}
    for part in samples[0]["mib"]:
        slope = slope_mib_per_minute(samples, part)
        slopes[part] = {"mib_per_minute": slope, "ok": slope < TARGET_MIB_PER_MINUTE}
    kept = [s["postgres"] for s in samples if s["minute"] >= WARM_UP_MINUTES]
    postgres_after_warm_up = {
        kind: {
            "first": kept[0][kind],
            "last": kept[-1][kind],
            "min": min(k[kind] for k in kept),
            "max": max(k[kind] for k in kept),
        }
        for kind in kept[0]
        if kind != "backends"
    }
    backends = backend_slopes(samples)
    e2e = [done.at[i] - sent[i] * 1000 for i in ids if i in done.at]
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "rate_per_second": RATE,
        "seconds": SECONDS,
        "offered": count,
        "completed": len(e2e),
        "completed_per_second": round(len(e2e) / SECONDS, 1),
        "end_to_end_ms": percentiles(e2e),
        "http_ms": percentiles(http_ms),
        "cpu_ms_per_disconnect": cpu,
        "warm_up_minutes": WARM_UP_MINUTES,
        "target_mib_per_minute": TARGET_MIB_PER_MINUTE,
        "slopes": slopes,
        "max_slope_mib_per_minute": max(s["mib_per_minute"] for s in slopes.values()),
        "postgres_after_warm_up": postgres_after_warm_up,
        "postgres_backend_slopes": {
            "backends": len(backends),
            "max_mib_per_minute": max(backends.values(), default=None),
            "median_mib_per_minute": statistics.median(backends.values()) if backends else None,
            "each": backends,
        },
        "postgres_memory_contexts": (
            context_growth(*(c["postgres"] for c in contexts)) if len(contexts) == 2 else None
        ),
        "kafka_memory": dict(
            zip(("minute_2", "end"), (c["kafka"] for c in contexts), strict=False)
        ),
        "samples": samples,
    }
    out = write_result("soak.json", document)
    chart(document, out.with_suffix(".png"))
    print(json.dumps({k: document[k] for k in ("completed_per_second", "end_to_end_ms", "slopes")}))
    print(f"written to {out.relative_to(REPO)} and {out.with_suffix('.png').relative_to(REPO)}")


if __name__ == "__main__":
    uvloop.run(main())
