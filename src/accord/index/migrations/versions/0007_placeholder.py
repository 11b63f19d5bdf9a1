"""Placeholder for revision 0007 (dashboard sessions, on another branch): this branch's
0008 follows it. Replaced by the real 0007 when the branches merge.

Revision ID: 0007
Revises: 0006
"""

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
