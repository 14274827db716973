"""The cluster mode of the stack, started by the project's own script (`infra/stack.sh
up-cluster`) for a module of the cluster tier or for `make chaos`: 3 Kafka nodes, 2 replicas of
every service, HAProxy in front.

It uses the cluster mode's state dir and ports (.local/cluster, PostgreSQL 31432, Kafka
31092-31097, replicas 31001-31008), from a clean state, with the proxy on 31101-31104 and the
console on 31180 so that it never meets a `make up` on 8001-8004. CUTOVER_TEST_SLOT=N moves every
port up by 200·N and the state to .local/cluster-N, as the other tiers' slots do (200, not 100:
slot 1's replicas would meet slot 0's proxy). It refuses to start over a `make up-cluster` that is
running (it would wipe it). CUTOVER_TEST_KEEP_INFRA=1 leaves it running after the test, for a look.
With network namespaces (`started(network_namespaces=True)`), each Kafka node runs in its own, so
that a test can cut one off the network (infra/kafka-cluster.sh, KAFKA_CLUSTER_NETNS)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from cutover_contracts.topics import SERVICES

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "infra" / "stack.sh"
KAFKA_CLUSTER = REPO / "infra" / "kafka-cluster.sh"
SLOT = int(os.environ.get("CUTOVER_TEST_SLOT", "0"))
OFFSET = 200 * SLOT
STATE = REPO / ".local" / ("cluster" if SLOT == 0 else f"cluster-{SLOT}")
TOKEN = "test-token-operator"
PROXY = {
    name: port + OFFSET
    for name, port in {
        "accounts": 31101,
        "billing": 31102,
        "addresses": 31103,
        "scheduler": 31104,
    }.items()
}
POSTGRES_PORT = 31432 + OFFSET
REPLICAS = [f"{service}-{r}" for service in SERVICES for r in (1, 2)]


@dataclass
class Cluster:
    env: dict[str, str]

    async def relay_lease(self, service: str) -> tuple[int, str | None]:
        """The lease of the service's outbox relay (`relay_leases`): its epoch and the replica
        holding it (`accounts-2`), or None when its holder is no replica of the stack."""
        connection = await self.db(service)
        try:
            lease = await connection.fetchrow("SELECT epoch, holder FROM relay_leases")
        finally:
            await connection.close()
        pid = int(lease["holder"].split(":")[-2])  # host:pid:suffix
        return lease["epoch"], replica_pids().get(pid)

    @property
    def clients(self) -> dict[str, Any]:
        return json.loads((STATE / "kafka" / "clients.json").read_text())

    def admin_config(self) -> dict[str, Any]:
        clients = self.clients
        admin = clients["principals"]["admin"]
        return {
            "bootstrap.servers": clients["bootstrap_servers"],
            "security.protocol": clients["security_protocol"],
            "sasl.mechanism": clients["sasl_mechanism"],
            "sasl.username": admin["username"],
            "sasl.password": admin["password"],
            "log_level": 3,
        }

    def client(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{PROXY[service]}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30.0,
            limits=httpx.Limits(max_connections=64),
        )

    async def db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            host="127.0.0.1", port=POSTGRES_PORT, user="postgres", database=service
        )

    def kafka(self, *arguments: str) -> None:
        subprocess.run([KAFKA_CLUSTER, *arguments], env=self.env, check=True)

    def stack(self, *arguments: str) -> None:
        subprocess.run([STACK, *arguments], env=self.env, check=True)


def replica_pids() -> dict[int, str]:
    """pid → replica (`accounts-2`), from the stack's pid files."""
    return {int((STATE / "run" / f"{replica}.pid").read_text()): replica for replica in REPLICAS}


def _running(env: dict[str, str]) -> bool:
    status = subprocess.run(
        [STACK, "status-cluster"], env=env, capture_output=True, text=True, check=False
    )
    return " running (pid" in status.stdout


class ClusterRunning(RuntimeError):
    """A cluster stack already runs in the state dir that would be wiped."""


@contextmanager
def started(*, network_namespaces: bool = False) -> Iterator[Cluster]:
    env = {
        **os.environ,
        "CUTOVER_STATE_DIR": str(STATE),
        "CUTOVER_API_TOKEN": TOKEN,
        "CUTOVER_RATE_LIMITS": "operator=10000000",
        "CUTOVER_RELAY_POLL_SECONDS": "0.5",
        "POSTGRES_PORT": str(POSTGRES_PORT),
        "KAFKA_CLUSTER_BASE_PORT": str(31092 + OFFSET),
        "KAFKA_CLUSTER_NETNS": "1" if network_namespaces else "0",
        "CUTOVER_REPLICA_BASE_PORT": str(31001 + OFFSET),
        "CONSOLE_PORT": str(31180 + OFFSET),
        **{f"{name.upper()}_PORT": str(port) for name, port in PROXY.items()},
    }
    if _running(env):
        raise ClusterRunning(
            f"a cluster stack runs in {STATE} (make up-cluster?): stop it (make down-cluster)"
            " first; this starts its own from a clean state"
        )
    subprocess.run([STACK, "clean-cluster"], env=env, check=True)
    try:
        subprocess.run([STACK, "up-cluster"], env=env, check=True)
        yield Cluster(env)
    finally:
        if not os.environ.get("CUTOVER_TEST_KEEP_INFRA"):
            subprocess.run([STACK, "down-cluster"], env=env, check=False)
