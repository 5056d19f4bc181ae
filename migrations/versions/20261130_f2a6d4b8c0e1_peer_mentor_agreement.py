"""Peer mentors: a member says they are willing to co-facilitate (memberships.peer_mentor_since).

Only members who said yes can be put on a session's team as peer mentor; None means they
have not agreed (or have withdrawn their agreement). Existing rows start at None: nobody
was asked before.

Cancelled sessions no longer hold their team's time: their staff assignments are deleted
(the app now does so when it cancels). The downgrade cannot bring them back, and need not:
a cancelled session's team was never going to meet.

Revision ID: f2a6d4b8c0e1
Revises: e7b3c9d1a4f6
Created: 2026-11-30 16:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "f2a6d4b8c0e1"
down_revision = "e7b3c9d1a4f6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("peer_mentor_since", sa.DateTime(timezone=True), nullable=True)
        )
    op.execute(
        "DELETE FROM staff_assignments WHERE session_id IN "
        "(SELECT id FROM group_sessions WHERE status = 'cancelled')"
    )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("peer_mentor_since")
