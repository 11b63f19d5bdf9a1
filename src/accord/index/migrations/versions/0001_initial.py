"""Initial sync index.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "syncs",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("initial_done", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("left_id", sa.String(255)),
        sa.Column("right_id", sa.String(255)),
        sa.Column("left_base", sa.JSON),
        sa.Column("right_base", sa.JSON),
        sa.Column("snapshot", sa.JSON),
        sa.Column("status", sa.String(16)),
        sa.Column("reason", sa.String(40)),
        sa.Column("category", sa.String(40)),
        sa.Column("message", sa.Text),
        sa.Column("hint", sa.Text),
        sa.Column("pending", sa.String(8)),
        sa.Column("left_deleted", sa.Boolean, nullable=False),
        sa.Column("right_deleted", sa.Boolean, nullable=False),
        sa.Column("left_seen", sa.Integer),
        sa.Column("right_seen", sa.Integer),
        sa.Column("handled", sa.Integer),
        sa.Column("label", sa.String(320)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("sync", "left_id", name="uq_links_left"),
        sa.UniqueConstraint("sync", "right_id", name="uq_links_right"),
    )
    op.create_index("ix_links_status", "links", ["sync", "status"])
    op.create_table(
        "keys",
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("side", sa.String(5), nullable=False),
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("link_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("sync", "side", "key", name="pk_keys"),
    )
    op.create_index("ix_keys_link", "keys", ["link_id"])
    op.create_table(
        "cursors",
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("side", sa.String(5), nullable=False),
        sa.Column("cursor", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("sync", "side", name="pk_cursors"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counters", sa.JSON),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_runs_sync", "runs", ["sync", "id"])


def downgrade() -> None:
    for t in ("runs", "cursors", "keys", "links", "syncs"):
        op.drop_table(t)
