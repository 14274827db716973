"""Indexes that keep every list, search and report page fast with millions of accounts: a trigram
index for `?q=` (a part of a name, ILIKE '%…%'), and one (sort column, id) index per sort of
`GET /accounts`, the order a keyset page is read in; the report's search finds an account's
activations by the account.

`pg_trgm` ships with PostgreSQL (contrib) and is a trusted extension: the database's owner may
create it.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SORTED = ("created_at", "updated_at", "activated_at", "disconnected_at")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "accounts_name_trgm",
        "accounts",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    for name, column in (("accounts_name", "name"), ("accounts_status", "account_status_id")):
        op.drop_index(name, table_name="accounts")
        op.create_index(name, "accounts", [column, "id"])
    op.create_index("accounts_type", "accounts", ["account_type_id", "id"])
    for column in SORTED:
        op.create_index(f"accounts_{column}", "accounts", [column, "id"])
    op.create_index("activations_account", "activations", ["account_id", "activated_at"])


def downgrade() -> None:
    op.drop_index("activations_account", table_name="activations")
    for column in SORTED:
        op.drop_index(f"accounts_{column}", table_name="accounts")
    op.drop_index("accounts_type", table_name="accounts")
    for name, column in (("accounts_name", "name"), ("accounts_status", "account_status_id")):
        op.drop_index(name, table_name="accounts")
        op.create_index(name, "accounts", [column])
    op.drop_index("accounts_name_trgm", table_name="accounts")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
