"""A pass's committed pages: the counters each page's transaction added and, for scan passes,
the page cursor a resumed step starts after (accord.index.runs.PageLedger).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_pages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("phase", sa.String(8)),
        sa.Column("cursor", sa.Text),
        sa.Column("counters", sa.JSON),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("ix_run_pages_run", "run_pages", ["run_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_run_pages_run", "run_pages")
    op.drop_table("run_pages")
