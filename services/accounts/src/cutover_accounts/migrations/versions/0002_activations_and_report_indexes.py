"""Activations (for the report) and the indexes the lists and the report use.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            "cause IN ('created', 'activated', 'reactivated')", name="activations_cause"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("activations_at", "activations", ["activated_at"], unique=False)
    # Accounts active before this revision count as activated when they were.
    op.execute(
        "INSERT INTO activations (account_id, activated_at, cause) "
        "SELECT id, activated_at, 'created' FROM accounts WHERE activated_at IS NOT NULL"
    )
    op.create_index("accounts_name", "accounts", ["name"], unique=False)
    op.create_index("accounts_status", "accounts", ["account_status_id"], unique=False)
    op.create_index("disconnects_requested_at", "disconnects", ["requested_at"], unique=False)


def downgrade() -> None:
    op.drop_index("disconnects_requested_at", table_name="disconnects")
    op.drop_index("accounts_status", table_name="accounts")
    op.drop_index("accounts_name", table_name="accounts")
    op.drop_index("activations_at", table_name="activations")
    op.drop_table("activations")
