"""Initial schema: serviceable addresses, their history, the local copy of accounts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from cutover_kit.migrations import create_kit_tables, create_known_accounts_table, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()
    create_known_accounts_table()
    op.create_table(
        "serviceable_addresses",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("line1", sa.String(length=200), nullable=False),
        sa.Column("line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("subdivision", sa.String(length=100), nullable=False),
        sa.Column("zip", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("normalised", sa.String(length=800), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["known_accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id"),
        sa.UniqueConstraint("normalised"),
    )
    op.create_table(
        "address_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("address_id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("disconnect_id", sa.UUID(), nullable=True),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["address_id"],
            ["serviceable_addresses.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "address_history_account", "address_history", ["account_id", "id"], unique=False
    )
    op.create_index(
        "address_history_address", "address_history", ["address_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("address_history_address", table_name="address_history")
    op.drop_index("address_history_account", table_name="address_history")
    op.drop_table("address_history")
    op.drop_table("serviceable_addresses")
    op.drop_table("known_accounts")
    drop_kit_tables()
