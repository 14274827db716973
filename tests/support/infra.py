"""Real Kafka and PostgreSQL for the test session, started once.

Where they come from, in order:
1. `KAFKA_BOOTSTRAP_SERVERS` and `CUTOVER_TEST_POSTGRES_URL` (postgresql://user:password@host:port)
   when both are given: the suite uses them and starts nothing;
2. testcontainers, when a Docker engine answers;
3. otherwise the project's own scripts (`infra/kafka.sh`, `infra/postgres.sh`) start a private
   broker and cluster in `.local/test` on their own ports, from a clean state, and stop them after.
Every session gets fresh databases, migrated by Alembic like production, and fresh topics and ACLs.

The broker the scripts start requires SASL/SCRAM and enforces ACLs, like the dev stack: every client
a test makes connects as a principal of its `clients.json` (`Infra.kafka_options`), `admin` unless
the test is about what another principal may do; each service process connects as itself. A given
broker (1.) is described by `CUTOVER_TEST_KAFKA_CLIENTS`, the path of its clients.json, when it has
security; testcontainers' broker (2.) has none, and the tests of the broker's ACLs skip there.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from cutover_contracts.topics import SERVICES
from cutover_kit.kafka import provision_acls, provision_topics
from cutover_kit.migrations import upgrade
from cutover_kit.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[2]
# CUTOVER_TEST_SLOT=N moves every port the suite uses up by 100·N and its state to its own folder,
# so two work trees on one machine can run their suites at the same time.
TEST_SLOT = int(os.environ.get("CUTOVER_TEST_SLOT", "0"))
TEST_STATE = REPO / ".local" / ("test" if TEST_SLOT == 0 else f"test-{TEST_SLOT}")
LOCAL_PORTS = {
    name: str(port + 100 * TEST_SLOT)
    for name, port in {
        "KAFKA_PORT": 19092,
        "KAFKA_CONTROLLER_PORT": 19093,
        "POSTGRES_PORT": 15432,
    }.items()
}


class LocalControl:
    """Stop and start the broker and the cluster the suite started itself (for fault tests)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def _run(self, script: str, command: str) -> None:
        subprocess.run([REPO / "infra" / script, command], env=self.env, check=True)

    def stop_kafka(self) -> None:
        self._run("kafka.sh", "stop")

    def start_kafka(self) -> None:
        self._run("kafka.sh", "start")

    def stop_postgres(self) -> None:
        self._run("postgres.sh", "stop")

    def start_postgres(self) -> None:
        self._run("postgres.sh", "start")


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    postgres_host: str
    postgres_port: int
    postgres_user: str
    postgres_password: str
    control: LocalControl | None = None
    # The broker's clients.json (BRIEF §6) when it requires SASL; None for a broker without security.
    kafka_clients: Mapping[str, Any] | None = field(default=None, repr=False)

    @property
    def kafka_secured(self) -> bool:
        return self.kafka_clients is not None

    def database_url(self, service: str) -> str:
        credentials = self.postgres_user + (
            f":{self.postgres_password}" if self.postgres_password else ""
        )
        return (
            f"postgresql+asyncpg://{credentials}@{self.postgres_host}:{self.postgres_port}"
            f"/test_{service}"
        )

    def service_env(self) -> dict[str, str]:
        """The environment service processes need to use this infrastructure, Kafka credentials
        aside (`kafka_env`: each service connects as its own principal)."""
        env = {
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
        }
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = self.database_url(service)
        return env

    def kafka_env(self, principal: str = "admin") -> dict[str, str]:
        """The `KAFKA_*` variables of a process that connects as `principal`."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap}
        if self.kafka_clients is not None:
            credentials = self.kafka_clients["principals"][principal]
            env |= {
                "KAFKA_SECURITY_PROTOCOL": self.kafka_clients["security_protocol"],
                "KAFKA_SASL_MECHANISM": self.kafka_clients["sasl_mechanism"],
                "KAFKA_SASL_USERNAME": credentials["username"],
                "KAFKA_SASL_PASSWORD": credentials["password"],
            }
        return env

    def kafka_settings(self, principal: str = "admin") -> KafkaSettings:
        """Settings for the kit's clients (producers, brokers, provisioning) as `principal`."""
        variables = self.kafka_env(principal)
        return KafkaSettings(
            **{name.removeprefix("KAFKA_").lower(): value for name, value in variables.items()}
        )

    def kafka_options(self, principal: str = "admin") -> dict[str, Any]:
        """Connection options for an aiokafka producer, consumer or admin client as `principal`:
        `AIOKafkaProducer(**infra.kafka_options(), ...)`."""
        return self.kafka_settings(principal).client_options()


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    return result.returncode == 0


@contextmanager
def _local_infra() -> Iterator[Infra]:
    env = {**os.environ, "CUTOVER_STATE_DIR": str(TEST_STATE), **LOCAL_PORTS}
    kafka, postgres = REPO / "infra" / "kafka.sh", REPO / "infra" / "postgres.sh"
    # A clean broker every session: no topic or consumer offset left from an earlier run.
    subprocess.run([kafka, "clean"], env=env, check=True)
    subprocess.run([postgres, "start"], env=env, check=True)
    subprocess.run([kafka, "start"], env=env, check=True)
    try:
        yield Infra(
            f"127.0.0.1:{LOCAL_PORTS['KAFKA_PORT']}",
            "127.0.0.1",
            int(LOCAL_PORTS["POSTGRES_PORT"]),
            "postgres",
            "",
            LocalControl(env),
            json.loads((TEST_STATE / "kafka" / "clients.json").read_text()),
        )
    finally:
        if not os.environ.get("CUTOVER_TEST_KEEP_INFRA"):
            subprocess.run([kafka, "stop"], env=env, check=False)
            subprocess.run([postgres, "stop"], env=env, check=False)


@contextmanager
def _containers() -> Iterator[Infra]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15") as postgres, KafkaContainer().with_kraft() as kafka:
        yield Infra(
            kafka.get_bootstrap_server(),
            postgres.get_container_host_ip(),
            int(postgres.get_exposed_port(5432)),
            postgres.username,
            postgres.password,
        )


@contextmanager
def _given() -> Iterator[Infra]:
    url = urlsplit(os.environ["CUTOVER_TEST_POSTGRES_URL"])
    clients = os.environ.get("CUTOVER_TEST_KAFKA_CLIENTS")
    yield Infra(
        os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        url.hostname or "127.0.0.1",
        url.port or 5432,
        url.username or "postgres",
        url.password or "",
        kafka_clients=json.loads(Path(clients).read_text()) if clients else None,
    )


@contextmanager
def test_infrastructure() -> Iterator[Infra]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("CUTOVER_TEST_POSTGRES_URL"):
        source = _given
    elif _docker_engine_answers():
        source = _containers
    else:
        source = _local_infra
    with source() as infra:
        asyncio.run(_drop_test_databases(infra))
        asyncio.run(_fresh_databases(infra))
        for service in SERVICES:
            upgrade(migrations_of(service), infra.database_url(service))
        asyncio.run(provision_topics(infra.kafka_settings()))
        asyncio.run(provision_acls(infra.kafka_settings()))
        yield infra


async def connect(infra: Infra, database: str = "postgres") -> asyncpg.Connection:
    """A plain asyncpg connection: to the cluster's `postgres` database, or to `test_<service>`."""
    return await asyncpg.connect(
        host=infra.postgres_host,
        port=infra.postgres_port,
        user=infra.postgres_user,
        password=infra.postgres_password or None,
        database=database,
    )


async def _drop_test_databases(infra: Infra) -> None:
    """Drop every database an earlier session made (they all start with `test_`)."""
    connection = await connect(infra)
    try:
        names = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'"
        )
        for row in names:
            await connection.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()


async def _fresh_databases(infra: Infra, names: tuple[str, ...] = SERVICES) -> None:
    connection = await connect(infra)
    try:
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "test_{name}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "test_{name}"')
    finally:
        await connection.close()


def migrations_of(service: str) -> Path:
    return REPO / "services" / service / "src" / f"cutover_{service}" / "migrations"


async def fresh_database(infra: Infra, name: str) -> str:
    """An empty database of its own; returns its URL."""
    await _fresh_databases(infra, (name,))
    return infra.database_url(name)


async def fresh_kit_database(infra: Infra, name: str) -> str:
    """A database of its own with the kit's tables (outbox, processed events, keys, dead letters),
    for tests of the shared machinery that must not meet the running services' relays. The
    scheduler's migrations make them (the scheduler's own tables come along, unused)."""
    url = await fresh_database(infra, name)
    # Alembic runs its own event loop; give it a thread of its own.
    await asyncio.to_thread(upgrade, migrations_of("scheduler"), url)
    return url
