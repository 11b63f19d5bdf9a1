"""Syncs record the object pairs they cover, so that a sync renamed in accord.yaml (a new
name over an index whose pairs are under the old one) is refused rather than creating every
unmatched record again (accord.runner.orphans).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("syncs", sa.Column("objects", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.drop_column("objects")
