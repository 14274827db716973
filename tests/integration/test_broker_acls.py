"""The ACLs on the real broker follow the topic registry: a topic added to it is writable by its
producer and readable by its consumers once `provision_acls` has run, and by nobody else."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from cutover_contracts import events
from cutover_contracts.topics import TOPICS, Topic
from cutover_kit.kafka import acl_grants, provision_acls, provision_topics
from tests.support.broker import needs_broker_security, produce_as, read_as
from tests.support.infra import Infra

pytestmark = pytest.mark.infra


async def test_a_topic_added_to_the_registry_gets_its_acls_on_the_broker(infra: Infra) -> None:
    needs_broker_security(infra)
    # Given a new internal topic in the registry: billing produces it, accounts consumes it
    topic = Topic(
        f"billing.acl-probe-{uuid.uuid4().hex[:8]}.v1",
        "billing",
        events.DisconnectBilledV1,
        "A topic only this test knows.",
        consumers=("accounts",),
    )
    registry = {**TOPICS, topic.name: topic}
    await provision_topics(infra.kafka_settings(), registry)
    # ... which, before its ACLs exist, even its producer may not write
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_as(infra, "billing", topic.name, b"early", key=b"1")

    # When the ACLs are provisioned from that registry
    created = await provision_acls(infra.kafka_settings(), registry)

    # Then exactly the new topic's ACLs were added
    assert created is not None and set(created) == acl_grants(registry) - acl_grants()
    # billing writes it with the services' idempotent producer, accounts reads it in its group
    await produce_as(infra, "billing", topic.name, b"hello", key=b"1", idempotent=True)
    [record] = await read_as(infra, "accounts", topic.name, group="accounts.acl-probe")
    assert record.value == b"hello"
    # and nobody else may write or read it, nor read in another principal's group
    for principal in ("accounts", "addresses", "scheduler", "observer"):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce_as(infra, principal, topic.name, b"forged", key=b"1")
    for principal in ("billing", "addresses", "scheduler", "observer"):
        with pytest.raises(TopicAuthorizationFailedError):
            await read_as(infra, principal, topic.name, group=f"{principal}.acl-probe")
    with pytest.raises(GroupAuthorizationFailedError):
        await read_as(infra, "accounts", topic.name, group="billing.acl-probe")
    # Provisioning again adds nothing
    assert await provision_acls(infra.kafka_settings(), registry) == []
