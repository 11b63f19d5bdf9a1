"""Service state: apps and syncs created through the API/dashboard, and seen webhook event ids.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "managed_apps",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "managed_syncs",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "webhook_events",
        sa.Column("app", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("app", "event_id", name="pk_webhook_events"),
        sa.Index("ix_webhook_events_seen", "seen_at"),
    )


def downgrade() -> None:
    op.drop_table("webhook_events")
    op.drop_table("managed_syncs")
    op.drop_table("managed_apps")
