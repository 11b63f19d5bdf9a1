"""Page intents: a page's index changes saved as one row before its writes are sent.

See schema.page_intents: the per-row saves before sending (a write group's intents, keys
and in-flight bases) were up to a third of an initial load's CPU.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_intents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sync", sa.String(200), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_page_intents_sync", "page_intents", ["sync", "id"])


def downgrade() -> None:
    if op.get_bind().execute(sa.text("SELECT count(*) FROM page_intents")).scalar():
        # their rows would be lost: a pass of this version replays them first
        raise RuntimeError("the index holds page intents not replayed yet: run `accord sync` once with this "
                           "version of Accord before going back to an older one")
    op.drop_index("ix_page_intents_sync", "page_intents")
    op.drop_table("page_intents")
