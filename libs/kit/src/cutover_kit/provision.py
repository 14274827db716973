"""`cutover-topics`: the explicit provisioning step that creates Cutover's Kafka topics and the ACLs
that let each service write its own topics and read what it consumes. Run it as `admin`."""

from __future__ import annotations

import asyncio

from cutover_kit.kafka import provision_acls, provision_topics
from cutover_kit.settings import KafkaSettings


def main() -> None:
    settings = KafkaSettings()
    created = asyncio.run(provision_topics(settings))
    print(
        f"topics: {len(created)} created ({settings.topic_partitions} partitions, "
        f"replication factor {settings.topic_replication_factor})"
        + (": " + ", ".join(created) if created else "; all present")
    )
    granted = asyncio.run(provision_acls(settings))
    if granted is None:
        print("acls: none (the broker enforces no ACLs)")
    else:
        print(f"acls: {len(granted)} created" + ("" if granted else "; all present"))
