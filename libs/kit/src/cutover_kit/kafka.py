"""Kafka clients built from `KafkaSettings`, and the explicit topic provisioning step.

Topics are never auto-created by the broker: `provision_topics` creates each one Cutover uses with
the configured partitions and replication factor, and leaves existing ones alone.
"""

from __future__ import annotations

import logging
import ssl

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from cutover_contracts.topics import TOPICS
from cutover_kit.settings import KafkaSettings

log = logging.getLogger(__name__)


def make_producer(settings: KafkaSettings, client_id: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send is never written twice and order per key is kept."""
    return AIOKafkaProducer(
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
        **settings.client_options(),
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
    """The FastStream broker that runs a service's subscribers (it publishes nothing itself)."""
    return KafkaBroker(
        settings.bootstrap_servers.split(","),
        client_id=client_id,
        security=_security(settings),
        allow_auto_create_topics=False,
        logger=logging.getLogger(f"{client_id}.kafka"),
        log_level=logging.DEBUG,
        graceful_timeout=10.0,
    )


async def provision_topics(settings: KafkaSettings) -> list[str]:
    """Create every missing Cutover topic; return the names created."""
    admin = AIOKafkaAdminClient(client_id="cutover-provisioning", **settings.client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs={
                    "retention.ms": str(int(settings.topic_retention_hours * 3_600_000))
                },
            )
            for name in TOPICS
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
        return [topic.name for topic in missing]
    finally:
        await admin.close()
