"""Index links by (sync, status, id): keyset paging over the rows of one status.

The passes page through the rows of one status in id order (the failing records retried by
every incremental pass, the deferred deletes, the records excluded for leaving the inclusion
list). With only (sync, status) and (sync, id), SQLite walked (sync, id), every row of the
sync, to find a handful: an incremental pass cost grew with the index (0.24 s of a 0.43 s pass
at 200,000 pairs). (sync, status, id) finds them and returns them in order; it also serves
every query (sync, status) served, so it replaces that index.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_links_status_id", "links", ["sync", "status", "id"])
    op.drop_index("ix_links_status", "links")


def downgrade() -> None:
    op.create_index("ix_links_status", "links", ["sync", "status"])
    op.drop_index("ix_links_status_id", "links")
