"""Who scheduled each event: the actor of the request, carried on the due event to accounts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: events scheduled before identities existed have no known actor.
    op.add_column("scheduled_events", sa.Column("scheduled_by", sa.String(length=200)))


def downgrade() -> None:
    op.drop_column("scheduled_events", "scheduled_by")
