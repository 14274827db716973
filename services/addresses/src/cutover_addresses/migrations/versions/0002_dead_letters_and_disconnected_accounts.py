"""Dead letters, the audit log, outbox set-aside and retention indexes (the kit's version 2); the
local copy of accounts remembers which are disconnected (a disconnected account holds no address).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from cutover_kit.migrations import (
    add_dead_letters_audit_and_retention,
    drop_dead_letters_audit_and_retention,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_dead_letters_audit_and_retention()
    op.add_column("known_accounts", sa.Column("disconnected_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("known_accounts", "disconnected_at")
    drop_dead_letters_audit_and_retention()
