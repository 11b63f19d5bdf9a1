"""Associations keep a base per pair and associated sync, so removals and moves sync both ways
(accord.associations).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "association_bases",
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("link_id", sa.String(32), nullable=False),
        sa.Column("base", sa.JSON),
        sa.Column("owed", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("sync", "target", "link_id", name="pk_association_bases"),
    )
    op.create_index("ix_association_bases_owed", "association_bases", ["sync", "owed"])


def downgrade() -> None:
    op.drop_index("ix_association_bases_owed", "association_bases")
    op.drop_table("association_bases")
