"""Tables every service's database has, created by each service's first Alembic migration."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

# Events waiting for the relay. A row is written in the same transaction as the state change it
# announces, so an event exists if and only if the change committed.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("topic", String(249), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Index("outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)

# One row per consumed event: written in the same transaction as the event's effects, so a
# redelivered event finds its row and is skipped (the eventsourcing "tracking record").
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
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
)
