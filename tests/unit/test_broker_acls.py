"""The broker's ACLs are derived from the topic registry: a topic's producer alone writes it, its
consumers (and `observer`, when it is public) read it, and each principal reads only its own
consumer groups. A topic added to the registry brings its ACLs with it."""

from __future__ import annotations

import importlib

import pytest

from cutover_contracts import events
from cutover_contracts.topics import SCHEDULED_EVENT_DUE, SERVICES, TOPICS, Topic
from cutover_kit.kafka import OBSERVER, AclGrant, acl_grants
from cutover_kit.settings import Settings


def principals(grants: set[AclGrant], topic: str, operation: str) -> set[str]:
    return {
        grant.principal
        for grant in grants
        if grant.resource == "topic" and grant.name == topic and grant.operation == operation
    }


@pytest.mark.parametrize("topic", TOPICS.values(), ids=lambda topic: topic.name)
def test_a_topic_is_written_by_its_producer_and_read_by_its_consumers_only(topic: Topic) -> None:
    grants = acl_grants()

    assert principals(grants, topic.name, "write") == {topic.producer}
    readers = set(topic.consumers) | ({OBSERVER} if topic.public else set())
    assert principals(grants, topic.name, "read") == readers
    # DESCRIBE (metadata, offsets) goes with either, and to nobody else
    assert principals(grants, topic.name, "describe") == readers | {topic.producer}
    # DESCRIBE_CONFIGS (the settings check at start) to the services that use it, not observer
    assert principals(grants, topic.name, "describe_configs") == set(topic.consumers) | {
        topic.producer
    }


def test_only_the_scheduler_may_write_due_events_and_each_service_its_dead_letters() -> None:
    grants = acl_grants()

    assert principals(grants, SCHEDULED_EVENT_DUE.name, "write") == {"scheduler"}
    for service in SERVICES:
        assert principals(grants, f"{service}.dead-letter.v1", "write") == {service}


def test_each_principal_reads_only_the_consumer_groups_named_after_it() -> None:
    groups = {grant for grant in acl_grants() if grant.resource == "group"}

    assert groups == {
        AclGrant(principal, "group", f"{principal}.", "read", prefixed=True)
        for principal in (*SERVICES, OBSERVER)
    }


@pytest.mark.parametrize("service", SERVICES)
def test_the_services_consumer_groups_fall_under_their_acl(service: str) -> None:
    bootstrap = importlib.import_module(f"cutover_{service}.bootstrap")
    runtime = bootstrap.create_app(Settings(service=service)).state.runtime

    assert runtime.consumers
    assert all(consumer.group_id.startswith(f"{service}.") for consumer in runtime.consumers)


def test_a_topic_added_to_the_registry_gets_its_acls() -> None:
    # Given a new public topic billing produces and accounts consumes
    added = Topic(
        "billing.invoice-issued.v1",
        "billing",
        events.DisconnectBilledV1,
        "An invoice was issued.",
        consumers=("accounts",),
        public=True,
    )

    # When the grants are derived from the registry with it
    new = acl_grants({**TOPICS, added.name: added}) - acl_grants()

    # Then exactly its own ACLs are added
    assert new == {
        AclGrant("billing", "topic", added.name, "write"),
        AclGrant("billing", "topic", added.name, "describe"),
        AclGrant("billing", "topic", added.name, "describe_configs"),
        AclGrant("accounts", "topic", added.name, "read"),
        AclGrant("accounts", "topic", added.name, "describe"),
        AclGrant("accounts", "topic", added.name, "describe_configs"),
        AclGrant(OBSERVER, "topic", added.name, "read"),
        AclGrant(OBSERVER, "topic", added.name, "describe"),
    }
