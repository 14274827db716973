"""Each service's composition root subscribes exactly to the topics the contracts say it consumes,
a service run with several workers builds each from the environment, and every Kafka client keeps
its view of the partitions' leaders fresh."""

from __future__ import annotations

import importlib

import pytest

from cutover_contracts.topics import SERVICES, TOPICS
from cutover_kit import cli
from cutover_kit.cli import SERVICE_VARIABLE
from cutover_kit.kafka import METADATA_MAX_AGE_MS, make_broker, make_producer
from cutover_kit.settings import KafkaSettings, Settings


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


async def test_every_kafka_client_looks_for_new_partition_leaders_at_least_every_10_s() -> None:
    # A timed-out request does not make aiokafka refresh its metadata: a client whose requests to
    # a broker cut off the network timed out kept sending them there until its metadata aged
    # (5 min by default), consumers fetching nothing from the healed broker for about 20 s more.
    settings = KafkaSettings()
    producer = make_producer(settings, "wiring")
    # The consumers FastStream builds for a service's subscribers
    consumer = make_broker(settings, "wiring").config.broker_config.builder(group_id="wiring")
    try:
        for client in (producer.client, consumer._client):
            assert client._metadata_max_age_ms == METADATA_MAX_AGE_MS == 10_000
    finally:
        await producer.stop()
        await consumer.stop()
