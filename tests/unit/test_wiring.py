"""Each service's composition root subscribes exactly to the topics the contracts say it consumes,
and a service run with several workers builds each from the environment."""

from __future__ import annotations

import importlib

import pytest

from cutover_contracts.topics import SERVICES, TOPICS
from cutover_kit import cli
from cutover_kit.cli import SERVICE_VARIABLE
from cutover_kit.settings import Settings


@pytest.mark.parametrize("service", SERVICES)
def test_subscriptions_match_the_declared_consumers(service: str) -> None:
    bootstrap = importlib.import_module(f"cutover_{service}.bootstrap")
    app = bootstrap.create_app(Settings(service=service))
    subscribed = {name for consumer in app.state.runtime.consumers for name in consumer.topics}
    declared = {name for name, topic in TOPICS.items() if service in topic.consumers}
    assert subscribed == declared


def test_a_service_run_with_workers_builds_each_worker_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BILLING_WORKERS", "3")
    monkeypatch.setenv(SERVICE_VARIABLE, "billing")
    monkeypatch.setattr(cli, "configure_logging", lambda *_: None)  # keep pytest's log capture
    assert Settings(service="billing").workers == 3
    assert Settings(service="accounts").workers == 1
    app = cli.worker_app()
    assert app.state.runtime.service == "billing"
