"""Syncs record each side's app and object(s), and the account each side signed in to, as
their pairs were made: a sync renamed in accord.yaml (a new name over an index whose pairs are
under the old one), one whose sides were swapped or changed under its pairs, and one whose
credentials now sign in to another account are refused rather than creating records again
(accord.runner.index_guard).

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
    op.add_column("syncs", sa.Column("accounts", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("syncs") as batch:
        batch.drop_column("accounts")
        batch.drop_column("objects")
