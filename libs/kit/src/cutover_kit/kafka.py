"""Kafka clients built from `KafkaSettings`, and the explicit provisioning step: topics and ACLs.

Topics are never auto-created by the broker: `provision_topics` creates each one Cutover uses with
its declared settings (`cutover_kit.topic_specs`), and `reconcile_topics` checks existing ones. `provision_acls`
grants each principal what the topic registry says it needs, and nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from cutover_contracts.topics import SERVICES, TOPICS, Topic
from cutover_kit.publisher import MAX_REQUEST_BYTES, Publisher
from cutover_kit.settings import KafkaSettings
from cutover_kit.topic_specs import (
    Drift,
    admin_client,
    find_drift,
    repair_config_drift,
    topic_specs,
)

log = logging.getLogger(__name__)


# How old a client's view of the partitions' leaders may get, for producers and consumers alike.
# aiokafka refreshes it on a "not the leader" answer, not on a timeout, so a client whose requests
# to a broker cut off the network timed out kept sending them to that broker until the metadata's
# age ran out (5 min by default) or the broker came back: a producer retried its batch there, and a
# consumer fetched from it, and went on fetching after the heal, getting nothing, until the healed
# broker itself learnt it led those partitions no more (about 20 s later in the partition test).
# At most 10 s old, the view finds the partitions' new leaders during the cut.
METADATA_MAX_AGE_MS = 10_000


def make_producer(settings: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send is never written twice and order per key is kept."""
    return AIOKafkaProducer(
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        # No linger: every send is a whole batch handed over by `send_batch`, so waiting for more
        # records only delays it (and cost CPU: bench/results/linger-ab/).
        linger_ms=0,
        max_batch_size=256 * 1024,
        max_request_size=MAX_REQUEST_BYTES,
        request_timeout_ms=15_000,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        **settings.client_options(),
    )


def make_publisher(settings: KafkaSettings, client_id: str) -> Publisher:
    """The relay's and emitter's producer, replaced after a batch that failed or was not
    acknowledged within `KAFKA_ACK_DEADLINE_SECONDS`."""
    return Publisher(
        lambda: make_producer(settings, client_id), deadline=settings.ack_deadline_seconds
    )


def _security(settings: KafkaSettings) -> BaseSecurity | None:
    options = settings.client_options()
    context: ssl.SSLContext | None = options.get("ssl_context")
    if settings.sasl_mechanism is None:
        return BaseSecurity(ssl_context=context, use_ssl=True) if context else None
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return sasl[settings.sasl_mechanism](
        username=settings.sasl_username or "",
        password=settings.sasl_password.get_secret_value() if settings.sasl_password else "",
        ssl_context=context,
        use_ssl=context is not None,
    )


def make_broker(settings: KafkaSettings, client_id: str) -> KafkaBroker:
    """The FastStream broker that runs a service's subscribers (it publishes nothing itself).

    Without FastStream's dependency injection (`apply_types`): the one subscriber,
    `EventConsumer`, takes the message from its decoder, and the injection of a `KafkaMessage`
    parameter ran a thread-pool hop for every batch of every consumer group."""
    return KafkaBroker(
        settings.bootstrap_servers.split(","),
        client_id=client_id,
        apply_types=False,
        security=_security(settings),
        allow_auto_create_topics=False,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        logger=logging.getLogger(f"{client_id}.kafka"),
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
    )


async def provision_topics(
    settings: KafkaSettings, topics: Mapping[str, Topic] = TOPICS
) -> list[str]:
    """Create every missing Cutover topic with its declared settings (`topic_specs`); return the
    names created. Existing topics are left as they are: `reconcile_topics` checks them."""
    specs = topic_specs(settings, topics)
    admin = AIOKafkaAdminClient(client_id="cutover-provisioning", **settings.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=dict(spec.config),
            )
            for spec in specs.values()
            if spec.name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return [topic.name for topic in missing]
    finally:
        await admin.close()


async def reconcile_topics(
    settings: KafkaSettings, topics: Mapping[str, Topic] = TOPICS
) -> tuple[list[Drift], list[Drift]]:
    """Compare every existing topic with its spec, put back the settings that can change in place
    (retention, cleanup policy, min.insync.replicas); return (repaired, left for an operator:
    partitions and replication factor, which are never changed automatically)."""
    specs = topic_specs(settings, topics)

    def reconcile() -> tuple[list[Drift], list[Drift]]:
        admin = admin_client(settings)
        drift = find_drift(admin, specs.values())
        left, repaired = repair_config_drift(admin, specs, drift)
        return repaired, left

    return await asyncio.to_thread(reconcile)


ACL_PROPAGATION_TIMEOUT_SECONDS = 15.0
# The principal other teams read the public topics with; its consumer groups start with `observer.`.
OBSERVER = "observer"


@dataclass(frozen=True, order=True)
class AclGrant:
    """One ALLOW ACL: `principal` may do `operation` on the topic or group `name` (exactly, or every
    name starting with it when `prefixed`), from any host."""

    principal: str
    resource: Literal["topic", "group"]
    name: str
    operation: Literal["read", "write", "describe", "describe_configs"]
    prefixed: bool = False


def acl_grants(
    topics: Mapping[str, Topic] = TOPICS, services: Iterable[str] = SERVICES
) -> set[AclGrant]:
    """What the registry allows, one Kafka principal per service (its name) and `observer`:
    - the producer of a topic (dead-letter topics included) WRITE and DESCRIBE on it; WRITE is all
      an idempotent producer needs since Kafka 2.8 (it implies IDEMPOTENT_WRITE on the cluster);
    - each consumer READ and DESCRIBE on it, and `observer` the same on every public topic;
    - the producer and each consumer DESCRIBE_CONFIGS on it: a service checks at start that its
      topics have their declared settings;
    - each of them READ on its own consumer groups, `<principal>.` PREFIXED, which is how the
      services name them (`<service>.<consumer>`); READ on a group covers joining, committing
      and fetching its offsets.
    `admin` is a super user of the broker and needs no ACL."""
    grants: set[AclGrant] = set()
    for topic in topics.values():
        grants |= {
            AclGrant(topic.producer, "topic", topic.name, "write"),
            AclGrant(topic.producer, "topic", topic.name, "describe"),
            AclGrant(topic.producer, "topic", topic.name, "describe_configs"),
        }
        readers = set(topic.consumers) | ({OBSERVER} if topic.public else set())
        for reader in readers:
            grants |= {
                AclGrant(reader, "topic", topic.name, "read"),
                AclGrant(reader, "topic", topic.name, "describe"),
            }
        # The services check their topics' settings at start (`cutover_kit.topic_specs`).
        grants |= {
            AclGrant(consumer, "topic", topic.name, "describe_configs")
            for consumer in topic.consumers
        }
    for principal in (*services, OBSERVER):
        grants.add(AclGrant(principal, "group", f"{principal}.", "read", prefixed=True))
    return grants


_RESOURCE = {"topic": ResourceType.TOPIC, "group": ResourceType.GROUP}
_OPERATION = {
    "read": AclOperation.READ,
    "write": AclOperation.WRITE,
    "describe": AclOperation.DESCRIBE,
    "describe_configs": AclOperation.DESCRIBE_CONFIGS,
}


def _binding(grant: AclGrant) -> AclBinding:
    return AclBinding(
        _RESOURCE[grant.resource],
        grant.name,
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        f"User:{grant.principal}",
        "*",
        _OPERATION[grant.operation],
        AclPermissionType.ALLOW,
    )


def admin_client_config(settings: KafkaSettings) -> dict[str, Any]:
    """The same connection as `client_options`, for confluent-kafka (librdkafka): aiokafka's admin
    client has no ACL API."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.bootstrap_servers,
        "security.protocol": settings.security_protocol,
        "log_level": 4,  # warnings and worse: librdkafka's info lines are noise for one call
    }
    for key, value in (
        ("ssl.ca.location", settings.ssl_cafile),
        ("ssl.certificate.location", settings.ssl_certfile),
        ("ssl.key.location", settings.ssl_keyfile),
    ):
        if value:
            config[key] = value
    if settings.sasl_mechanism:
        config["sasl.mechanism"] = settings.sasl_mechanism
        config["sasl.username"] = settings.sasl_username or ""
        config["sasl.password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        )
    return config


async def provision_acls(
    settings: KafkaSettings, topics: Mapping[str, Topic] = TOPICS
) -> list[AclGrant] | None:
    """Create every missing ACL of `acl_grants(topics)`, as the principal in `settings` (`admin`);
    return the grants created, or None when the broker enforces no ACLs (no authorizer: a broker
    without security, where there is nothing to provision). Like topics, ACLs are only added:
    one the registry no longer implies is left for an operator to remove."""
    return await asyncio.to_thread(_provision_acls, admin_client_config(settings), topics)


def _provision_acls(config: dict[str, Any], topics: Mapping[str, Topic]) -> list[AclGrant] | None:
    admin = AdminClient(config)
    try:
        existing = _acl_bindings(admin)
    except KafkaException as error:
        if error.args[0].code() == KafkaError.SECURITY_DISABLED:
            return None
        raise
    missing = [grant for grant in sorted(acl_grants(topics)) if _binding(grant) not in existing]
    if missing:
        futures = admin.create_acls([_binding(grant) for grant in missing], request_timeout=15)
        for future in futures.values():
            future.result()
        # The controller has them; wait until the broker enforces them too, so a client started
        # right after provisioning is not refused.
        deadline = time.monotonic() + ACL_PROPAGATION_TIMEOUT_SECONDS
        while not {_binding(grant) for grant in missing} <= _acl_bindings(admin):
            if time.monotonic() > deadline:
                raise TimeoutError("the broker does not show the ACLs just created")
            time.sleep(0.1)
    return missing


def _acl_bindings(admin: AdminClient) -> set[AclBinding]:
    every = AclBindingFilter(
        ResourceType.ANY,
        None,
        ResourcePatternType.ANY,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    return set(admin.describe_acls(every, request_timeout=15).result())
