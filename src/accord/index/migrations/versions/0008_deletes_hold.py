"""Syncs keep their held deletes: a pass that would delete too many records, or that found
a container gone, waits for a confirmation (accord.index.holds).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("syncs", sa.Column("deletes_hold", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.drop_column("deletes_hold")
