"""Initial schema: the messaging tables every service has.

Revision ID: 0001
Revises:
"""

from cutover_kit.migrations import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables()


def downgrade() -> None:
    drop_kit_tables()
