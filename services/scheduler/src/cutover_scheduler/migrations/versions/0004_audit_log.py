"""The audit log (the kit's version 3).

Revision ID: 0004
Revises: 0003
"""

from cutover_kit.migrations import add_audit_log, drop_audit_log

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_log()


def downgrade() -> None:
    drop_audit_log()
