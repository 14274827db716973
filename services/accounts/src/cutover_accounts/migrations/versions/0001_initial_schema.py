"""Initial schema: accounts, statuses, types, settings, disconnects, history; seeded statuses/types.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cutover_kit.migrations import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Fixed ids, so the seeded statuses and types are the same in every environment.
LEAD = "00000000-0000-4000-8000-000000000001"
ACTIVE = "00000000-0000-4000-8000-000000000002"
INACTIVE = "00000000-0000-4000-8000-000000000003"
SEEDED_TYPES = {
    "00000000-0000-4000-8000-000000000101": "Residential",
    "00000000-0000-4000-8000-000000000102": "Commercial",
    "00000000-0000-4000-8000-000000000103": "Government",
}


def upgrade() -> None:
    create_kit_tables()
    # Ids the service assigns; a caller-chosen id that the sequence reaches later is skipped.
    op.execute("CREATE SEQUENCE accounts_id_seq")
    op.create_table(
        "account_statuses",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("activates_account", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "account_types",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_type_id", sa.UUID(), nullable=False),
        sa.Column("account_status_id", sa.UUID(), nullable=False),
        sa.Column("parent_account_id", sa.BigInteger(), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disconnected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id > 0", name="accounts_positive_id"),
        sa.ForeignKeyConstraint(
            ["account_status_id"],
            ["account_statuses.id"],
        ),
        sa.ForeignKeyConstraint(
            ["account_type_id"],
            ["account_types.id"],
        ),
        sa.ForeignKeyConstraint(
            ["parent_account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("accounts_parent", "accounts", ["parent_account_id"], unique=False)
    op.create_table(
        "settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disconnect_account_status_id", sa.UUID(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("id = 1", name="settings_single_row"),
        sa.ForeignKeyConstraint(
            ["disconnect_account_status_id"],
            ["account_statuses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "account_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "account_history_account", "account_history", ["account_id", "id"], unique=False
    )
    op.create_table(
        "disconnects",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("scheduled_event_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_id", sa.UUID(), nullable=False),
        sa.Column("final_invoice_state", sa.String(length=20), nullable=False),
        sa.Column("final_invoice_id", sa.UUID(), nullable=True),
        sa.Column("final_invoice_total", sa.BigInteger(), nullable=True),
        sa.Column("final_invoice_currency", sa.String(length=3), nullable=True),
        sa.Column("address_state", sa.String(length=20), nullable=False),
        sa.Column("released_address_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("source IN ('manual', 'scheduled')", name="disconnects_source"),
        sa.CheckConstraint("state IN ('pending', 'completed')", name="disconnects_state"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["account_statuses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "disconnects_account", "disconnects", ["account_id", "requested_at"], unique=False
    )
    op.create_index(
        "disconnects_one_pending_per_account",
        "disconnects",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("state = 'pending'"),
    )
    statuses = sa.table(
        "account_statuses",
        sa.column("id", sa.UUID),
        sa.column("name", sa.String),
        sa.column("activates_account", sa.Boolean),
    )
    op.bulk_insert(
        statuses,
        [
            {"id": LEAD, "name": "Lead", "activates_account": False},
            {"id": ACTIVE, "name": "Active", "activates_account": True},
            {"id": INACTIVE, "name": "Inactive", "activates_account": False},
        ],
    )
    types = sa.table("account_types", sa.column("id", sa.UUID), sa.column("name", sa.String))
    op.bulk_insert(types, [{"id": id_, "name": name} for id_, name in SEEDED_TYPES.items()])
    settings = sa.table(
        "settings", sa.column("id", sa.Integer), sa.column("disconnect_account_status_id", sa.UUID)
    )
    op.bulk_insert(settings, [{"id": 1, "disconnect_account_status_id": INACTIVE}])


def downgrade() -> None:
    op.drop_index(
        "disconnects_one_pending_per_account",
        table_name="disconnects",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_index("disconnects_account", table_name="disconnects")
    op.drop_table("disconnects")
    op.drop_index("account_history_account", table_name="account_history")
    op.drop_table("account_history")
    op.drop_table("settings")
    op.drop_index("accounts_parent", table_name="accounts")
    op.drop_table("accounts")
    op.drop_table("account_types")
    op.drop_table("account_statuses")
    op.execute("DROP SEQUENCE accounts_id_seq")
    drop_kit_tables()
