"""Dead letters, the audit log, outbox set-aside and retention indexes (the kit's version 2).

Revision ID: 0003
Revises: 0002
"""

from cutover_kit.migrations import (
    add_dead_letters_audit_and_retention,
    drop_dead_letters_audit_and_retention,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_dead_letters_audit_and_retention()


def downgrade() -> None:
    drop_dead_letters_audit_and_retention()
