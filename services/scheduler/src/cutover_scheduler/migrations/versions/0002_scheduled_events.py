"""Scheduled events (with the partial index the emitter reads) and the local copy of accounts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cutover_kit.migrations import create_known_accounts_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_known_accounts_table()
    op.create_table(
        "scheduled_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=50), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("disconnect_id", sa.UUID(), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
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
        sa.CheckConstraint(
            "state IN ('pending', 'emitted', 'completed', 'failed', 'cancelled')",
            name="scheduled_events_state",
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "scheduled_events_account", "scheduled_events", ["account_id", "run_at"], unique=False
    )
    op.create_index(
        "scheduled_events_due",
        "scheduled_events",
        ["run_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "scheduled_events_due",
        table_name="scheduled_events",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_index("scheduled_events_account", table_name="scheduled_events")
    op.drop_table("scheduled_events")
    op.drop_table("known_accounts")
