"""Leases (one process runs a sync's passes at a time) and webhook records waiting for the lease holder.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("sync", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "pending_records",
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("side", sa.String(5), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("sync", "side", "record_id", name="pk_pending_records"),
    )


def downgrade() -> None:
    op.drop_table("pending_records")
    op.drop_table("leases")
