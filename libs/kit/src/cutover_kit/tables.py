"""Tables every service's database has, created by each service's first Alembic migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# Events waiting for the relay. A row is written in the same transaction as the state change it
# announces, so an event exists if and only if the change committed. A row Kafka refuses as a
# record (too large, invalid) is set aside, listed with the dead letters, and the rest flows on.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("topic", String(249), nullable=False),
    Column("key", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("set_aside_at", DateTime(timezone=True)),
    Index(
        "outbox_unpublished",
        "id",
        postgresql_where=text("published_at IS NULL AND set_aside_at IS NULL"),
    ),
)

# One row per consumed event: written in the same transaction as the event's effects, so a
# redelivered event finds its row and is skipped (the eventsourcing "tracking record").
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("processed_events_processed_at", "processed_at"),
)

# The first answer to every POST that carried an Idempotency-Key, replayed to retries.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(300), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("idempotency_keys_created_at", "created_at"),
)

# What could not be applied, for operators: a consumed record that did not decode or whose handler
# kept failing, or an outgoing event Kafka refused (consumer `outbox-relay`). The original bytes are
# kept whole here (the dead-letter topic carries a bounded copy), so a redrive re-applies them. A
# consumed record's letter has an id derived from the record, so a redelivery is the same letter.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("consumer", String(200), nullable=False),
    Column("topic", String(249), nullable=False),
    Column("partition", Integer),
    Column("offset", BigInteger),
    Column("key", LargeBinary),
    Column("value", LargeBinary),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("event_id", UUID(as_uuid=True)),
    Column("outbox_id", BigInteger),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("state", String(20), nullable=False, server_default="open"),
    Column("state_changed_at", DateTime(timezone=True)),
    Column("state_changed_by", String(200)),
    Column("discard_reason", Text),
    CheckConstraint("state IN ('open', 'redriven', 'discarded')", name="dead_letters_state"),
    Index("dead_letters_state_received", "state", "received_at"),
)

# Every write made through a service's HTTP API, in the transaction of the write: who, what, on which
# resource, under which request id (`GET /audit-log`).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", String(200), nullable=False),
    Column("action", String(300), nullable=False),
    Column("resource", Text, nullable=False),
    Column("request_id", String(128)),
    Index("audit_log_at", "at"),
    Index("audit_log_actor_at", "actor", "at"),
)

# Who publishes a database's outbox: one row per relay, the leader's lease. A replica takes it with
# the next epoch once `expires_at` has passed; the leader renews it with its own epoch at every
# batch, which fails once another replica has taken it, so a leader that hung and woke is fenced
# (`cutover_kit.relay`).
relay_leases = Table(
    "relay_leases",
    metadata,
    Column("relay", String(200), primary_key=True),
    Column("epoch", BigInteger, nullable=False),
    Column("holder", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("taken_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
