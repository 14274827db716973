"""The accounts database (SQLAlchemy Core: no ORM identity map on the hot path)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

account_statuses = Table(
    "account_statuses",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("activates_account", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

account_types = Table(
    "account_types",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

settings = Table(
    "settings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "disconnect_account_status_id",
        UUID(as_uuid=True),
        ForeignKey("account_statuses.id"),
        nullable=False,
    ),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id = 1", name="settings_single_row"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("account_type_id", UUID(as_uuid=True), ForeignKey("account_types.id"), nullable=False),
    Column(
        "account_status_id", UUID(as_uuid=True), ForeignKey("account_statuses.id"), nullable=False
    ),
    Column("parent_account_id", BigInteger, ForeignKey("accounts.id")),
    Column("activated_at", DateTime(timezone=True)),
    Column("disconnected_at", DateTime(timezone=True)),
    Column("archived_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("id > 0", name="accounts_positive_id"),
    Index("accounts_parent", "parent_account_id"),
    # A list's page is read in (sort column, id) order from the cursor on (the keyset): one index
    # per filter and sort of `GET /accounts`, so a page costs the same at any depth and size.
    Index("accounts_status", "account_status_id", "id"),
    Index("accounts_type", "account_type_id", "id"),
    Index("accounts_name", "name", "id"),
    Index("accounts_created_at", "created_at", "id"),
    Index("accounts_updated_at", "updated_at", "id"),
    Index("accounts_activated_at", "activated_at", "id"),
    Index("accounts_disconnected_at", "disconnected_at", "id"),
    # `?q=` looks for a part of a name (ILIKE '%…%'): trigrams find it without reading the table.
    Index(
        "accounts_name_trgm",
        "name",
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    ),
)

disconnects = Table(
    "disconnects",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("source", String(20), nullable=False),
    Column("scheduled_event_id", UUID(as_uuid=True)),
    Column("reason", Text),
    Column("state", String(20), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("status_id", UUID(as_uuid=True), ForeignKey("account_statuses.id"), nullable=False),
    Column("final_invoice_state", String(20), nullable=False),
    Column("final_invoice_id", UUID(as_uuid=True)),
    Column("final_invoice_total", BigInteger),
    Column("final_invoice_currency", String(3)),
    Column("address_state", String(20), nullable=False),
    Column("released_address_id", UUID(as_uuid=True)),
    # A pending disconnect whose steps have not all answered by its deadline shows as stalled; a
    # retry asks again and moves the deadline, an abandon ends it (and frees the account).
    Column("deadline_at", DateTime(timezone=True), nullable=False),
    Column("retries", Integer, nullable=False, server_default="0"),
    Column("abandoned_at", DateTime(timezone=True)),
    Column("abandoned_by", String(200)),
    Column("abandon_reason", Text),
    CheckConstraint("source IN ('manual', 'scheduled')", name="disconnects_source"),
    CheckConstraint("state IN ('pending', 'completed', 'abandoned')", name="disconnects_state"),
    Index("disconnects_account", "account_id", "requested_at"),
    Index("disconnects_requested_at", "requested_at"),
    Index(
        "disconnects_pending_deadline", "deadline_at", postgresql_where=text("state = 'pending'")
    ),
    # The database, not the code, guarantees one disconnect in flight per account.
    Index(
        "disconnects_one_pending_per_account",
        "account_id",
        unique=True,
        postgresql_where=text("state = 'pending'"),
    ),
)

account_history = Table(
    "account_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("change", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("cause", Text, nullable=False),
    Column("correlation_id", String(128)),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("account_history_account", "account_id", "id"),
)

# Every time an account became active: created in an activating status, a lead made active, or a
# reactivation. The Activations & Disconnections report reads it.
activations = Table(
    "activations",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=False),
    Column("cause", String(20), nullable=False),
    CheckConstraint("cause IN ('created', 'activated', 'reactivated')", name="activations_cause"),
    Index("activations_at", "activated_at"),
    # The report's search finds the accounts by name first, then their activations.
    Index("activations_account", "account_id", "activated_at"),
)
