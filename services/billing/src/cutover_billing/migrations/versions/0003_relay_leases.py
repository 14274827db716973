"""The outbox relay's lease (the kit's version 3): leadership that a hung leader loses after a
bounded time, with an epoch that fences it when it wakes.

Revision ID: 0003
Revises: 0002
"""

from cutover_kit.migrations import add_relay_leases, drop_relay_leases

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_relay_leases()


def downgrade() -> None:
    drop_relay_leases()
