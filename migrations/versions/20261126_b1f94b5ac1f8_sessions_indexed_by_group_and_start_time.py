"""Sessions indexed by group and start time.

The next, upcoming and past sessions of a group and its recent show rate all
ask for one group's sessions in a time range. With an index on (group_id,
starts_at) that is a range scan, however long the group's history grows. The
new index also serves lookups by group alone, so the single-column one goes.
The new index is built before the old one is dropped.

Revision ID: b1f94b5ac1f8
Revises: 24bd8431459f
Created: 2026-11-26 06:01:35.543556
"""

from alembic import op

revision = "b1f94b5ac1f8"
down_revision = "24bd8431459f"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_group_sessions_group_id_starts_at", "group_sessions", ["group_id", "starts_at"]
    )
    op.drop_index("ix_group_sessions_group_id", table_name="group_sessions")


def downgrade():
    op.create_index("ix_group_sessions_group_id", "group_sessions", ["group_id"])
    op.drop_index("ix_group_sessions_group_id_starts_at", table_name="group_sessions")
