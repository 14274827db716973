"""Each Cutover topic's declared settings, and the check of a broker's topics against them.

What is declared, and why (the README's topic table says the same):
- **partitions**: every event topic has `KAFKA_TOPIC_PARTITIONS` (6). They are all keyed by account
  id and must have the same count: accounts' one consumer over billing's and addresses' answers
  relies on an account's records having the same partition number in both topics (range
  assignor). 6 lets up to 6 members of a consumer group share the work (2 replicas each running one
  member per group use 2, with room to grow), and a count is never raised afterwards, since that
  would move keys to other partitions and break the per-account order. Dead-letter topics have 1:
  a trickle that operators read in order, consumed by no Cutover service.
- **replication factor**: `KAFKA_TOPIC_REPLICATION_FACTOR` (1 on the single dev broker, 3 on a
  cluster), and **min.insync.replicas** `KAFKA_TOPIC_MIN_INSYNC_REPLICAS` (2 from 3 copies up, else
  1): with producers at acks=all a write is on two brokers before it is acknowledged, and one broker
  may die without stopping writes.
- **retention** `KAFKA_TOPIC_RETENTION_HOURS` (168), never longer than the consumers' dedupe window
  (the settings refuse it), so a replayed record is always recognised; **cleanup.policy** `delete`
  everywhere: every record is an event (a fact of its own), none is the latest state of its key, so
  compaction would drop facts that consumers and other teams count on.

`provision_topics` creates what is missing with these settings and puts back a drifted retention,
cleanup policy or min.insync.replicas; a topic with another partition count or replication factor
is reported, never changed (that is an operator's decision). Every service checks the topics it
produces and consumes when it starts: drift is logged, counted (`cutover_topic_drift`) and shown in
`/readyz` under `topics`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ResourceType,
)

from cutover_contracts.topics import TOPICS, Topic
from cutover_kit.settings import KafkaSettings

log = logging.getLogger(__name__)

DEAD_LETTER_PARTITIONS = 1
ADMIN_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: Mapping[str, str] = field(default_factory=dict)


def is_dead_letter(topic: Topic) -> bool:
    return topic.name.endswith(".dead-letter.v1")


def topic_spec(topic: Topic, settings: KafkaSettings) -> TopicSpec:
    return TopicSpec(
        name=topic.name,
        partitions=DEAD_LETTER_PARTITIONS if is_dead_letter(topic) else settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        config={
            "cleanup.policy": "delete",
            "retention.ms": str(int(settings.topic_retention_hours * 3_600_000)),
            "min.insync.replicas": str(settings.min_insync_replicas),
        },
    )


def topic_specs(
    settings: KafkaSettings, topics: Mapping[str, Topic] = TOPICS
) -> dict[str, TopicSpec]:
    return {name: topic_spec(topic, settings) for name, topic in topics.items()}


def topics_of(service: str, topics: Mapping[str, Topic] = TOPICS) -> dict[str, Topic]:
    """The topics a service produces or consumes: the ones it checks at start."""
    return {
        name: topic
        for name, topic in topics.items()
        if topic.producer == service or service in topic.consumers
    }


@dataclass(frozen=True)
class Drift:
    topic: str
    setting: str
    declared: str
    actual: str

    def __str__(self) -> str:
        return f"{self.topic}: {self.setting} is {self.actual}, declared {self.declared}"


def admin_client(settings: KafkaSettings) -> AdminClient:
    from cutover_kit.kafka import admin_client_config

    return AdminClient(admin_client_config(settings))


def find_drift(admin: AdminClient, specs: Iterable[TopicSpec]) -> list[Drift]:
    """Compare the broker's topics with their specs (blocking: run it in a thread)."""
    specs = list(specs)
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_SECONDS)
    drift: list[Drift] = []
    present: list[TopicSpec] = []
    for spec in specs:
        topic = metadata.topics.get(spec.name)
        if topic is None or topic.error is not None:
            drift.append(Drift(spec.name, "existence", "present", "missing"))
            continue
        present.append(spec)
        if len(topic.partitions) != spec.partitions:
            drift.append(
                Drift(spec.name, "partitions", str(spec.partitions), str(len(topic.partitions)))
            )
        copies = min(len(p.replicas) for p in topic.partitions.values())
        if copies != spec.replication_factor:
            drift.append(
                Drift(spec.name, "replication.factor", str(spec.replication_factor), str(copies))
            )
    if present:
        resources = [ConfigResource(ResourceType.TOPIC, spec.name) for spec in present]
        futures = admin.describe_configs(resources, request_timeout=ADMIN_TIMEOUT_SECONDS)
        actual = {resource.name: future.result() for resource, future in futures.items()}
        for spec in present:
            entries: dict[str, Any] = actual[spec.name]
            for key, declared in spec.config.items():
                value = entries[key].value if key in entries else None
                if value != declared:
                    drift.append(Drift(spec.name, key, declared, str(value)))
    return drift


def repair_config_drift(admin: AdminClient, specs: Mapping[str, TopicSpec], drift: list[Drift]):
    """Put back the drifted settings that can be changed in place (retention, cleanup policy,
    min.insync.replicas); return the drift left for an operator (partitions, replicas)."""
    fixable: dict[str, list[Drift]] = {}
    left: list[Drift] = []
    for item in drift:
        if item.setting in specs[item.topic].config:
            fixable.setdefault(item.topic, []).append(item)
        else:
            left.append(item)
    if fixable:
        resources = [
            ConfigResource(
                ResourceType.TOPIC,
                topic,
                incremental_configs=[
                    ConfigEntry(
                        item.setting,
                        item.declared,
                        incremental_operation=AlterConfigOpType.SET,
                    )
                    for item in items
                ],
            )
            for topic, items in fixable.items()
        ]
        futures = admin.incremental_alter_configs(resources, request_timeout=ADMIN_TIMEOUT_SECONDS)
        for future in futures.values():
            future.result()
    return left, [item for items in fixable.values() for item in items]


async def check_topics(settings: KafkaSettings, topics: Mapping[str, Topic]) -> list[Drift]:
    """The drift of `topics` from their specs, as the principal of `settings`."""
    specs = topic_specs(settings, topics).values()
    return await asyncio.to_thread(lambda: find_drift(admin_client(settings), specs))
