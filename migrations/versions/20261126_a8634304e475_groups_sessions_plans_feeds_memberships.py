"""Groups, their sessions and plans, calendar feeds, and memberships.

A group carries its census rules and an RFC 5545 rule; sessions are unique
per occurrence of that rule. One current membership per patient and group
is enforced by a partial unique index.

Revision ID: a8634304e475
Revises: 5a12370d4b2c
Created: 2026-11-26 03:49:10.676149
"""

import sqlalchemy as sa
from alembic import op

revision = "a8634304e475"
down_revision = "5a12370d4b2c"
branch_labels = None
depends_on = None


def upgrade():
    """Create the tables of groups, sessions, plans, feeds and memberships."""
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_feeds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token", name=op.f("uq_calendar_feeds_token")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_feeds_user_id"), ["user_id"], unique=False)

    op.create_table(
        "visit_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("calendar_name", sa.String(length=120), nullable=False),
        sa.Column("focus", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("modality", sa.String(length=20), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=False),
        sa.Column("length_minutes", sa.Integer(), nullable=False),
        sa.Column("min_members", sa.Integer(), nullable=False),
        sa.Column("target_members", sa.Integer(), nullable=False),
        sa.Column("max_members", sa.Integer(), nullable=False),
        sa.Column("census_warning_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recurrence_rule", sa.String(length=200), nullable=False),
        sa.Column("schedule_start_date", sa.Date(), nullable=True),
        sa.Column("schedule_start_time", sa.Time(), nullable=True),
        sa.Column("schedule_until", sa.Date(), nullable=True),
        sa.Column("schedule_count", sa.Integer(), nullable=True),
        sa.Column("generated_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "modality IN ('in_person', 'virtual', 'hybrid')",
            name=op.f("ck_visit_groups_modality_known"),
        ),
        sa.CheckConstraint(
            "status IN ('planning', 'active', 'paused', 'closed')",
            name=op.f("ck_visit_groups_status_known"),
        ),
        sa.CheckConstraint(
            "1 <= min_members AND min_members <= target_members AND target_members <= max_members AND max_members <= 40",
            name=op.f("ck_visit_groups_census_order"),
        ),
        sa.CheckConstraint(
            "length_minutes BETWEEN 60 AND 180", name=op.f("ck_visit_groups_length_range")
        ),
        sa.CheckConstraint(
            "schedule_count IS NULL OR schedule_count BETWEEN 1 AND 500",
            name=op.f("ck_visit_groups_count_range"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_visit_groups_site_id_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_groups")),
    )
    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_groups_site_id"), ["site_id"], unique=False)

    op.create_table(
        "group_plan_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "minutes BETWEEN 1 AND 180", name=op.f("ck_group_plan_segments_minutes_range")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_group_plan_segments_group_id_visit_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_plan_segments")),
    )
    with op.batch_alter_table("group_plan_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_plan_segments_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "group_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_key", sa.String(length=20), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("is_extra", sa.Boolean(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("video_url", sa.String(length=500), nullable=False),
        sa.Column("theme", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled')", name=op.f("ck_group_sessions_status_known")
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_group_sessions_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_group_sessions_group_id_visit_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_sessions")),
        sa.UniqueConstraint(
            "group_id", "occurrence_key", name=op.f("uq_group_sessions_group_id_occurrence_key")
        ),
    )
    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_group_sessions_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_group_sessions_starts_at"), ["starts_at"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("waitlist_position", sa.Integer(), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=False),
        sa.Column("request_message", sa.Text(), nullable=False),
        sa.Column("reply_message", sa.Text(), nullable=False),
        sa.Column("share_name", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested', 'active', 'waitlisted', 'offered', 'withdrawn', 'ended', 'declined')",
            name=op.f("ck_memberships_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_memberships_group_id_visit_groups"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_memberships_patient_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_memberships_current",
            ["group_id", "patient_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('requested', 'active', 'waitlisted', 'offered')"),
            sqlite_where=sa.text("status IN ('requested', 'active', 'waitlisted', 'offered')"),
        )

    op.create_table(
        "session_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "minutes BETWEEN 1 AND 180", name=op.f("ck_session_segments_minutes_range")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_session_segments_session_id_group_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_segments")),
    )
    with op.batch_alter_table("session_segments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_session_segments_session_id"), ["session_id"], unique=False
        )


def downgrade():
    """Drop those tables, children before parents (their indexes go with them)."""
    for table in (
        "session_segments",
        "memberships",
        "group_sessions",
        "group_plan_segments",
        "visit_groups",
        "calendar_feeds",
    ):
        op.drop_table(table)
