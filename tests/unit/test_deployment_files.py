"""docker-compose.yml cannot run here (no Docker engine); these checks keep it honest: valid YAML,
and in step with the local scripts and the settings (same variables, ports, versions)."""

from __future__ import annotations

import re

import yaml

from cutover_contracts.topics import SERVICES
from cutover_kit.settings import DEFAULT_PORTS, KafkaSettings, Settings
from tests.support.infra import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def known_variables() -> set[str]:
    names = {f"KAFKA_{name.upper()}" for name in KafkaSettings.model_fields}
    names |= {field.alias for field in Settings.model_fields.values() if field.alias}
    return names


def test_every_service_is_composed_on_its_documented_port() -> None:
    for service in SERVICES:
        definition = COMPOSE["services"][service]
        assert definition["command"] == ["python", "-m", f"cutover_{service}", "serve"]
        port = DEFAULT_PORTS[service]
        assert definition["ports"] == [f"{port}:{port}"]


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
