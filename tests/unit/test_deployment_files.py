"""docker-compose.yml cannot run here (no Docker engine); these checks keep it honest: valid YAML,
in step with the local scripts and the settings (same variables, ports, versions, broker security),
published on 127.0.0.1 only, and holding no secret (they come from the .env `make compose-env`
writes)."""

from __future__ import annotations

import ipaddress
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from cutover_contracts.topics import SERVICES
from cutover_kit.settings import DEFAULT_PORTS, KafkaSettings, Settings
from tests.support.infra import REPO

COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
PRINCIPALS = ("admin", *SERVICES, "observer")
# The broker settings that make it trust no stranger; the dev and the compose broker share them.
BROKER_SECURITY = (
    "sasl.enabled.mechanisms=SCRAM-SHA-512",
    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
    "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found=false",
    "super.users=User:admin;User:ANONYMOUS",
)


def known_variables() -> set[str]:
    names = {f"KAFKA_{name.upper()}" for name in KafkaSettings.model_fields}
    names |= {field.alias for field in Settings.model_fields.values() if field.alias}
    return names


def test_every_service_is_composed_on_its_documented_port() -> None:
    for service in SERVICES:
        definition = COMPOSE["services"][service]
        assert definition["command"] == ["python", "-m", f"cutover_{service}", "serve"]
        port = DEFAULT_PORTS[service]
        assert definition["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_the_console_is_composed_with_no_credential_but_its_cookie_key() -> None:
    console = COMPOSE["services"]["console"]
    assert console["command"] == ["python", "-m", "cutover_console", "serve"]
    assert console["ports"] == ["127.0.0.1:8080:8080"]
    environment = console["environment"]
    assert set(environment) == {
        "CUTOVER_HTTP_HOST",
        "CONSOLE_SECRET_KEY",
        *(f"{service.upper()}_URL" for service in SERVICES),
    }
    for service in SERVICES:
        assert environment[f"{service.upper()}_URL"] == f"http://{service}:{DEFAULT_PORTS[service]}"


def test_services_are_configured_only_with_variables_the_settings_read() -> None:
    for service in SERVICES:
        environment = COMPOSE["services"][service]["environment"]
        assert set(environment) <= known_variables(), set(environment) - known_variables()


def test_compose_runs_the_kafka_version_the_local_scripts_fetch() -> None:
    pom = (REPO / "infra" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>(.+)</kafka.version>", pom)
    assert version is not None
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{version.group(1)}"
    assert COMPOSE["services"]["postgres"]["image"] == "postgres:15"


def test_compose_creates_one_database_per_service_and_migrates_each() -> None:
    sql = (REPO / "infra" / "docker" / "create-databases.sql").read_text()
    assert sorted(re.findall(r"CREATE DATABASE (\w+);", sql)) == sorted(SERVICES)
    migrate = " ".join(COMPOSE["services"]["migrate"]["command"])
    assert "cutover-topics" in migrate
    for service in SERVICES:
        assert f"python -m cutover_{service} migrate" in migrate


def test_every_published_port_is_bound_to_the_loopback_interface() -> None:
    published = {
        name: definition.get("ports", []) for name, definition in COMPOSE["services"].items()
    }
    assert {"postgres", "kafka", *SERVICES} <= {name for name, ports in published.items() if ports}
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), (name, port)


def test_no_secret_has_a_value_in_the_file() -> None:
    # Every password or token is a required variable (`${NAME:?...}`), never a default (`:-`)
    for name, definition in COMPOSE["services"].items():
        for variable, value in (definition.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", variable):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), (name, variable)
    assert not re.search(r"\$\{[A-Z_]*(PASSWORD|TOKEN|SECRET)[A-Z_]*:?-", COMPOSE_TEXT)


def test_make_compose_env_writes_every_secret_the_file_needs(tmp_path: Path) -> None:
    script = tmp_path / "infra" / "docker" / "compose-env.sh"
    script.parent.mkdir(parents=True)
    script.write_bytes((REPO / "infra" / "docker" / "compose-env.sh").read_bytes())
    script.chmod(0o755)

    subprocess.run([script], check=True, capture_output=True)

    env_file = tmp_path / ".env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    written = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    needed = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_TEXT))
    assert needed == set(written)
    assert all(len(value) >= 32 for value in written.values())
    assert len(set(written.values())) == len(written)  # each its own
    Fernet(written["CONSOLE_SECRET_KEY"])  # a key the console accepts


def test_make_compose_env_keeps_what_env_has_and_adds_what_it_lacks(tmp_path: Path) -> None:
    script = tmp_path / "infra" / "docker" / "compose-env.sh"
    script.parent.mkdir(parents=True)
    script.write_bytes((REPO / "infra" / "docker" / "compose-env.sh").read_bytes())
    script.chmod(0o755)
    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=kept-from-an-older-compose-env-run-0123\n")

    subprocess.run([script], check=True, capture_output=True)
    first = env_file.read_text()
    subprocess.run([script], check=True, capture_output=True)

    assert env_file.read_text() == first  # a second run changes nothing
    written = dict(line.split("=", 1) for line in first.splitlines() if "=" in line)
    assert written["POSTGRES_PASSWORD"] == "kept-from-an-older-compose-env-run-0123"
    assert set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_TEXT)) == set(written)


@pytest.mark.parametrize("script", ["infra/kafka.sh", "infra/docker/kafka-start.sh"])
def test_the_dev_and_the_compose_broker_are_secured_alike(script: str) -> None:
    text = (REPO / script).read_text()
    for setting in BROKER_SECURITY:
        assert setting in text, setting
    assert f"PRINCIPALS=({' '.join(PRINCIPALS)})" in text
    assert "--add-scram" in text
    # the controller listener, the one without SASL, listens on loopback only (kafka.sh's
    # KAFKA_HOST, loopback unless kafka-cluster.sh puts a node on its host-internal bridge)
    assert re.search(r"CONTROLLER://(127\.0\.0\.1|\$KAFKA_HOST):", text)
    if "CONTROLLER://$KAFKA_HOST:" in text:
        assert 'KAFKA_HOST="${KAFKA_HOST:-127.0.0.1}"' in text


def test_the_cluster_s_network_namespaces_are_private_and_one_per_test_slot(tmp_path: Path) -> None:
    """Cut-off brokers (KAFKA_CLUSTER_NETNS=1) listen on a private subnet of their own per base
    port, so two test slots never share one; without namespaces they stay on loopback."""

    def hosts(base_port: int, netns: str) -> list[str]:
        bootstrap = subprocess.run(
            [REPO / "infra" / "kafka-cluster.sh", "bootstrap"],
            env={
                "PATH": "/usr/bin:/bin",
                "CUTOVER_STATE_DIR": str(tmp_path),
                "KAFKA_CLUSTER_BASE_PORT": str(base_port),
                "KAFKA_CLUSTER_NETNS": netns,
            },
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return [address.rsplit(":", 1)[0] for address in bootstrap.split(",")]

    subnets = set()
    for slot in range(5):
        isolated = hosts(31092 + 200 * slot, "1")
        assert all(
            ipaddress.ip_address(host) in ipaddress.ip_network("10.0.0.0/8") for host in isolated
        )
        subnets.add(ipaddress.ip_network(f"{isolated[0]}/24", strict=False))
        assert hosts(31092 + 200 * slot, "0") == ["127.0.0.1"] * 3
    assert len(subnets) == 5


def test_each_composed_service_connects_to_kafka_as_itself_and_migrate_as_admin() -> None:
    for name, principal in (*((s, s) for s in SERVICES), ("migrate", "admin")):
        environment = COMPOSE["services"][name]["environment"]
        assert environment["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert environment["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert environment["KAFKA_SASL_USERNAME"] == principal
        assert environment["KAFKA_SASL_PASSWORD"].startswith(
            f"${{KAFKA_{principal.upper()}_PASSWORD:?"
        )
    kafka = COMPOSE["services"]["kafka"]["environment"]
    assert set(kafka) == {f"KAFKA_{principal.upper()}_PASSWORD" for principal in PRINCIPALS}
