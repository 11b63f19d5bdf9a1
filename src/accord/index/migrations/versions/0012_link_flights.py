"""In-flight intents move out of ``links`` into ``link_flights``: writing one into a row of a
full page of ``links`` split the page (SQLite) or wrote a new version of the row and its
index entries (PostgreSQL) on every first change of a record.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_flights",
        sa.Column("link_id", sa.String(32), primary_key=True),
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("in_flight", sa.JSON, nullable=False),
    )
    # every intent a crash left moves with its link (a JSON null is no intent: the link read
    # it as None)
    op.execute("INSERT INTO link_flights (link_id, sync, in_flight) SELECT id, sync, in_flight FROM links "
               "WHERE in_flight IS NOT NULL AND CAST(in_flight AS TEXT) <> 'null'")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("in_flight")


def downgrade() -> None:
    op.add_column("links", sa.Column("in_flight", sa.JSON))
    op.execute("UPDATE links SET in_flight = (SELECT f.in_flight FROM link_flights f WHERE f.link_id = links.id) "
               "WHERE id IN (SELECT link_id FROM link_flights)")
    op.drop_table("link_flights")
