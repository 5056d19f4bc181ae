"""The team: who staffs each session in which role, the groups' templates and core teams, time off.

- staff_assignments: one person in one role at one session (several roles allowed). Each
  row copies its session's start and end, so that the database refuses one person in two
  overlapping sessions: an exclusion constraint on PostgreSQL (btree_gist), triggers of
  the same name on SQLite.
- staffing_rules: the roles a group's sessions need, how many, of which disciplines.
- core_team_members: a group's usual people per role, copied onto its sessions.
- time_off: when a clinician is away; it blocks assignment.
- sites.supervision_ratio: residents one precepting attending supervises at once (4).

Revision ID: e7b3c9d1a4f6
Revises: d5e2a8c7f3b1
Created: 2026-11-30 15:15:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "e7b3c9d1a4f6"
down_revision = "d5e2a8c7f3b1"
branch_labels = None
depends_on = None

ROLE_CHECK = (
    "role IN ('facilitator', 'provider', 'precepting_attending', 'documenter', 'educator', "
    "'vitals', 'behavioural_health', 'support', 'peer_mentor')"
)
OVERLAP_TEST = """EXISTS (
    SELECT 1 FROM staff_assignments AS other
    WHERE other.user_id = NEW.user_id AND other.session_id <> NEW.session_id
      AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
)"""
SQLITE_TRIGGERS = {
    "ex_staff_assignments_no_overlap_insert": "INSERT",
    "ex_staff_assignments_no_overlap_update": "UPDATE OF user_id, session_id, starts_at, ends_at",
}


def upgrade():
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("supervision_ratio", sa.Integer(), nullable=False, server_default="4")
        )
        batch_op.create_check_constraint("supervision_ratio_positive", "supervision_ratio >= 1")

    op.create_table(
        "staff_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(ROLE_CHECK, name=op.f("ck_staff_assignments_role_known")),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_staff_assignments_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_staff_assignments_session_id_group_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_assignments_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_assignments")),
        sa.UniqueConstraint(
            "session_id",
            "user_id",
            "role",
            name=op.f("uq_staff_assignments_session_id_user_id_role"),
        ),
    )
    op.create_index(
        "ix_staff_assignments_session_id", "staff_assignments", ["session_id"], unique=False
    )
    op.create_index(
        "ix_staff_assignments_user_id_starts_at",
        "staff_assignments",
        ["user_id", "starts_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE staff_assignments ADD CONSTRAINT ex_staff_assignments_no_overlap "
            "EXCLUDE USING gist (user_id WITH =, tstzrange(starts_at, ends_at) WITH &&, "
            "session_id WITH <>)"
        )
    else:
        for name, event in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON staff_assignments "
                f"WHEN {OVERLAP_TEST} "
                "BEGIN SELECT RAISE(ABORT, 'ex_staff_assignments_no_overlap'); END"
            )

    op.create_table(
        "staffing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("disciplines", sa.String(length=400), nullable=False, server_default=""),
        sa.CheckConstraint(ROLE_CHECK, name=op.f("ck_staffing_rules_role_known")),
        sa.CheckConstraint("count >= 1", name=op.f("ck_staffing_rules_count_positive")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_staffing_rules_group_id_visit_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staffing_rules")),
        sa.UniqueConstraint("group_id", "role", name=op.f("uq_staffing_rules_group_id_role")),
    )

    op.create_table(
        "core_team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.CheckConstraint(ROLE_CHECK, name=op.f("ck_core_team_members_role_known")),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_core_team_members_group_id_visit_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_core_team_members_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_team_members")),
        sa.UniqueConstraint(
            "group_id",
            "user_id",
            "role",
            name=op.f("uq_core_team_members_group_id_user_id_role"),
        ),
    )
    op.create_index("ix_core_team_members_user_id", "core_team_members", ["user_id"], unique=False)

    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_time_off_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_time_off_user_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    op.create_index(
        "ix_time_off_user_id_starts_at", "time_off", ["user_id", "starts_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_time_off_user_id_starts_at", table_name="time_off")
    op.drop_table("time_off")
    op.drop_index("ix_core_team_members_user_id", table_name="core_team_members")
    op.drop_table("core_team_members")
    op.drop_table("staffing_rules")
    if op.get_bind().dialect.name != "postgresql":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_staff_assignments_user_id_starts_at", table_name="staff_assignments")
    op.drop_index("ix_staff_assignments_session_id", table_name="staff_assignments")
    op.drop_table("staff_assignments")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_sites_supervision_ratio_positive"), type_="check")
        batch_op.drop_column("supervision_ratio")
