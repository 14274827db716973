"""Dead letters, the audit log, outbox set-aside and retention indexes (the kit's version 2);
disconnects get a deadline, retries and abandonment.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from cutover_kit.migrations import (
    add_dead_letters_audit_and_retention,
    drop_dead_letters_audit_and_retention,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Disconnects already pending get the default step timeout from their request time.
DEFAULT_STEP_TIMEOUT = "interval '300 seconds'"


def upgrade() -> None:
    add_dead_letters_audit_and_retention()
    op.add_column("disconnects", sa.Column("deadline_at", sa.DateTime(timezone=True)))
    op.execute(f"UPDATE disconnects SET deadline_at = requested_at + {DEFAULT_STEP_TIMEOUT}")
    op.alter_column("disconnects", "deadline_at", nullable=False)
    op.add_column(
        "disconnects",
        sa.Column("retries", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column("disconnects", sa.Column("abandoned_at", sa.DateTime(timezone=True)))
    op.add_column("disconnects", sa.Column("abandoned_by", sa.String(length=200)))
    op.add_column("disconnects", sa.Column("abandon_reason", sa.Text()))
    op.drop_constraint("disconnects_state", "disconnects", type_="check")
    op.create_check_constraint(
        "disconnects_state", "disconnects", "state IN ('pending', 'completed', 'abandoned')"
    )
    op.create_index(
        "disconnects_pending_deadline",
        "disconnects",
        ["deadline_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("disconnects_pending_deadline", table_name="disconnects")
    op.drop_constraint("disconnects_state", "disconnects", type_="check")
    # An abandoned disconnect has no place in the older schema: it reads as completed there.
    op.execute("UPDATE disconnects SET state = 'completed' WHERE state = 'abandoned'")
    op.create_check_constraint(
        "disconnects_state", "disconnects", "state IN ('pending', 'completed')"
    )
    for column in ("abandon_reason", "abandoned_by", "abandoned_at", "retries", "deadline_at"):
        op.drop_column("disconnects", column)
    drop_dead_letters_audit_and_retention()
