"""`cutover-topics`: the explicit provisioning step that creates Cutover's Kafka topics with their
declared settings (`cutover_kit.topic_specs`), puts back a drifted retention, cleanup policy or
min.insync.replicas, reports a topic whose partitions or replication factor differ (never changed
automatically), and creates the ACLs that let each service write its own topics and read what it
consumes. Run it as `admin`; running it again changes nothing."""

from __future__ import annotations

import asyncio
import sys

from cutover_kit.kafka import provision_acls, provision_topics, reconcile_topics
from cutover_kit.settings import KafkaSettings


def main() -> None:
    settings = KafkaSettings()
    created = asyncio.run(provision_topics(settings))
    print(
        f"topics: {len(created)} created ({settings.topic_partitions} partitions, 1 for dead"
        f" letters; replication factor {settings.topic_replication_factor},"
        f" min.insync.replicas {settings.min_insync_replicas})"
        + (": " + ", ".join(created) if created else "; all present")
    )
    repaired, left = asyncio.run(reconcile_topics(settings))
    for drift in repaired:
        print(f"topics: put back {drift}")
    for drift in left:
        print(f"topics: DRIFT left for an operator: {drift}", file=sys.stderr)
    granted = asyncio.run(provision_acls(settings))
    if granted is None:
        print("acls: none (the broker enforces no ACLs)")
    else:
        print(f"acls: {len(granted)} created" + ("" if granted else "; all present"))
