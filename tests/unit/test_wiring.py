"""Each service's composition root subscribes exactly to the topics the contracts say it consumes."""

from __future__ import annotations

import importlib

import pytest

from cutover_contracts.topics import SERVICES, TOPICS
from cutover_kit.settings import Settings


@pytest.mark.parametrize("service", SERVICES)
def test_subscriptions_match_the_declared_consumers(service: str) -> None:
    bootstrap = importlib.import_module(f"cutover_{service}.bootstrap")
    app = bootstrap.create_app(Settings(service=service))
    subscribed = {name for consumer in app.state.runtime.consumers for name in consumer.topics}
    declared = {name for name, topic in TOPICS.items() if service in topic.consumers}
    assert subscribed == declared
