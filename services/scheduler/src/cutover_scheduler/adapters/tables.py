"""The scheduler database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from cutover_kit.directory import known_accounts_table

metadata = MetaData()

# The scheduler's local copy of accounts: it refuses unknown and archived accounts at creation.
known_accounts = known_accounts_table(metadata)

scheduled_events = Table(
    "scheduled_events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("event_type", String(50), nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("run_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("state", String(20), nullable=False, server_default="pending"),
    Column("emitted_at", DateTime(timezone=True)),
    Column("outcome", Text),
    Column("disconnect_id", UUID(as_uuid=True)),
    Column("correlation_id", String(128)),
    # The actor who scheduled it (the token's name or sub): accounts records it on what it does.
    Column("scheduled_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "state IN ('pending', 'emitted', 'completed', 'failed', 'cancelled')",
        name="scheduled_events_state",
    ),
    # The emitter's only question, "what is due?", reads this small partial index.
    Index("scheduled_events_due", "run_at", postgresql_where=text("state = 'pending'")),
    Index("scheduled_events_account", "account_id", "run_at"),
)
