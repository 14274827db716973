"""Initial schema: the local copy of accounts, debits, invoices and lines, the invoice number counter.

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
    op.create_table(
        "invoice_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="invoice_number_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    create_known_accounts_table()
    op.create_table(
        "invoices",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnect_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("kind IN ('regular', 'final')", name="invoices_kind"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["known_accounts.account_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("disconnect_id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index("invoices_account", "invoices", ["account_id", "number"], unique=False)
    op.create_table(
        "debits",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("invoice_id", sa.UUID(), nullable=True),
        sa.CheckConstraint("amount > 0", name="debits_positive_amount"),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["known_accounts.account_id"],
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("debits_account", "debits", ["account_id", "created_at"], unique=False)
    op.create_index(
        "debits_uninvoiced",
        "debits",
        ["account_id"],
        unique=False,
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    op.create_table(
        "invoice_lines",
        sa.Column("invoice_id", sa.UUID(), nullable=False),
        sa.Column("debit_id", sa.UUID(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debit_id"],
            ["debits.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
        ),
        sa.PrimaryKeyConstraint("invoice_id", "debit_id"),
        sa.UniqueConstraint("debit_id"),
    )
    op.execute("INSERT INTO invoice_number (id, last_number) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("invoice_lines")
    op.drop_index(
        "debits_uninvoiced", table_name="debits", postgresql_where=sa.text("invoice_id IS NULL")
    )
    op.drop_index("debits_account", table_name="debits")
    op.drop_table("debits")
    op.drop_index("invoices_account", table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("known_accounts")
    op.drop_table("invoice_number")
    drop_kit_tables()
