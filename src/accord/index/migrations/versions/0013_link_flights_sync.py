"""Index link_flights by (sync, link_id): one sync's writes in flight, paged in link id order.

An activity pass reads again the creates whose answer was lost (accord.runner.activities).
Found through ``links`` (``pending`` is not indexed, and SQLite answers ``pending IS NOT NULL``
or a join to ``link_flights`` by walking ``(sync, id)``), that is every activity row the sync
ever made, each pass. ``link_flights`` holds only the rows with a write in flight: paged by
this index, the query costs what it finds.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_link_flights_sync", "link_flights", ["sync", "link_id"])


def downgrade() -> None:
    op.drop_index("ix_link_flights_sync", "link_flights")
