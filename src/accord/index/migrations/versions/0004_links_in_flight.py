"""Links remember the writes in flight: the bases a pair has if writes sent before a crash landed.

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
    op.add_column("links", sa.Column("in_flight", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("in_flight")
