"""Index links by (sync, id) so keyset paging needs no sort.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_links_sync_id", "links", ["sync", "id"])


def downgrade() -> None:
    op.drop_index("ix_links_sync_id", "links")
