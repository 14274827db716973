"""Indexes for the list of available addresses (`available=true`, held by no account): one per
sort, over those addresses only. At 10,000,000 accounts one address in ten is available, and the
sort indexes of 0004 read past the nine others, each on a heap page of its own: about 500 pages
for a page of 50, most read from the disk once the table outgrows memory.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SORTED = ("created_at", "city", "zip")


def upgrade() -> None:
    for column in SORTED:
        op.create_index(
            f"serviceable_addresses_available_{column}",
            "serviceable_addresses",
            [column, "id"],
            postgresql_where="account_id IS NULL",
        )


def downgrade() -> None:
    for column in SORTED:
        op.drop_index(
            f"serviceable_addresses_available_{column}", table_name="serviceable_addresses"
        )
