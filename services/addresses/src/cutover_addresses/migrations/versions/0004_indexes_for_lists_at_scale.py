"""Indexes that keep the address list fast with millions of addresses: one (sort column, id) index
per sort, the order a keyset page is read in, and a trigram index for `?q=` (a part of the
normalised address, LIKE '%…%'). `pg_trgm` ships with PostgreSQL (contrib) and is a trusted
extension: the database's owner may create it.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SORTED = ("created_at", "city", "zip")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SORTED:
        op.create_index(f"serviceable_addresses_{column}", "serviceable_addresses", [column, "id"])
    op.create_index(
        "serviceable_addresses_normalised_trgm",
        "serviceable_addresses",
        ["normalised"],
        postgresql_using="gin",
        postgresql_ops={"normalised": "gin_trgm_ops"},
    )


def downgrade() -> None:
    op.drop_index("serviceable_addresses_normalised_trgm", table_name="serviceable_addresses")
    for column in SORTED:
        op.drop_index(f"serviceable_addresses_{column}", table_name="serviceable_addresses")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
