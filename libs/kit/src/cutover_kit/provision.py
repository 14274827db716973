"""`cutover-topics`: the explicit provisioning step that creates Cutover's Kafka topics."""

from __future__ import annotations

import asyncio

from cutover_kit.kafka import provision_topics
from cutover_kit.settings import KafkaSettings


def main() -> None:
    settings = KafkaSettings()
    created = asyncio.run(provision_topics(settings))
    print(
        f"topics: {len(created)} created ({settings.topic_partitions} partitions, "
        f"replication factor {settings.topic_replication_factor})"
        + (": " + ", ".join(created) if created else "; all present")
    )
