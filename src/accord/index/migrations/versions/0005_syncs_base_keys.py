"""Syncs record how their links' bases are keyed: by mapping (2) or, before this revision, by field (NULL).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("syncs", sa.Column("base_keys", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.drop_column("base_keys")
