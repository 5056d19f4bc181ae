"""One-on-one visits inside sessions, encounter notes, group notes and patients' goals.

- one_on_one_slots: a patient's private visit with one provider during a session. At most
  one per patient and session; neither a provider nor a patient in two overlapping slots:
  exclusion constraints on PostgreSQL (btree_gist), triggers of the same names on SQLite.
- encounter_notes, note_addenda, note_events: the provider's note (draft, signed, attested
  or returned), its signed addenda, and its history of signatures and attestations.
- group_notes: the facilitator's note of a session's group part (one per session).
- patient_goals, goal_progress: goals in the patient's words and their progress.
- visit_groups.slot_minutes (10), session and plan segments' no_pull_outs (false),
  staff_assignments.available_from/until (a provider free for part of the window),
  attendances.one_on_one_with (a discipline the visit must be with today).

Revision ID: b00dc5f0731b
Revises: f2a6d4b8c0e1
Created: 2026-11-30 17:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "b00dc5f0731b"
down_revision = "f2a6d4b8c0e1"
branch_labels = None
depends_on = None


#: Neither a provider nor a patient in two overlapping slots (the model's names).
NO_OVERLAP = ("provider_id", "patient_id")


def _slots_never_overlap():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        for who in NO_OVERLAP:
            name = f"ex_one_on_one_slots_{who.removesuffix('_id')}"
            op.execute(
                f"ALTER TABLE one_on_one_slots ADD CONSTRAINT {name} "
                f"EXCLUDE USING gist ({who} WITH =, tstzrange(starts_at, ends_at) WITH &&)"
            )
        return
    for who in NO_OVERLAP:
        name = f"ex_one_on_one_slots_{who.removesuffix('_id')}"
        for when, event in (
            ("insert", "INSERT"),
            ("update", f"UPDATE OF {who}, starts_at, ends_at"),
        ):
            op.execute(
                f"CREATE TRIGGER {name}_{when} BEFORE {event} ON one_on_one_slots "
                "WHEN EXISTS (SELECT 1 FROM one_on_one_slots AS other "
                f"WHERE other.{who} = NEW.{who} AND other.id IS NOT NEW.id "
                "AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at) "
                f"BEGIN SELECT RAISE(ABORT, '{name}'); END"
            )


def upgrade():
    op.create_table(
        "group_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("education", sa.Text(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "minutes IS NULL OR minutes BETWEEN 1 AND 480",
            name=op.f("ck_group_notes_minutes_range"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_group_notes_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_group_notes_session_id_group_sessions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_notes")),
        sa.UniqueConstraint("session_id", name=op.f("uq_group_notes_session_id")),
    )
    op.create_table(
        "one_on_one_slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("placed_by", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "placed_by IN ('planner', 'hand')", name=op.f("ck_one_on_one_slots_placed_by_known")
        ),
        sa.CheckConstraint(
            "status IN ('planned', 'seen', 'missed')", name=op.f("ck_one_on_one_slots_status_known")
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_one_on_one_slots_ends_after_start")
        ),
        sa.CheckConstraint(
            "provider_id <> patient_id", name=op.f("ck_one_on_one_slots_not_oneself")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_one_on_one_slots_patient_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["users.id"],
            name=op.f("fk_one_on_one_slots_provider_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_one_on_one_slots_session_id_group_sessions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_on_one_slots")),
        sa.UniqueConstraint(
            "session_id", "patient_id", name=op.f("uq_one_on_one_slots_session_id_patient_id")
        ),
    )
    with op.batch_alter_table("one_on_one_slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_one_on_one_slots_patient_id_starts_at", ["patient_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            "ix_one_on_one_slots_provider_id_starts_at", ["provider_id", "starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_one_on_one_slots_session_id"), ["session_id"], unique=False
        )
    _slots_never_overlap()

    op.create_table(
        "encounter_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("preceptor_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("concerns", sa.Text(), nullable=False),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("hba1c", sa.Numeric(precision=4, scale=1), nullable=True),
        sa.Column("glucose", sa.Integer(), nullable=True),
        sa.Column("assessment", sa.Text(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("goals", sa.Text(), nullable=False),
        sa.Column("action_plan", sa.Text(), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=False),
        sa.Column("billing_level", sa.String(length=10), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attested_by_id", sa.Integer(), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("return_comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "billing_level IN ('none', '99211', '99212', '99213', '99214', '99215')",
            name=op.f("ck_encounter_notes_billing_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'signed', 'attested', 'returned', 'final')",
            name=op.f("ck_encounter_notes_status_known"),
        ),
        sa.CheckConstraint(
            "diastolic IS NULL OR diastolic BETWEEN 20 AND 200",
            name=op.f("ck_encounter_notes_diastolic_range"),
        ),
        sa.CheckConstraint(
            "glucose IS NULL OR glucose BETWEEN 20 AND 1000",
            name=op.f("ck_encounter_notes_glucose_range"),
        ),
        sa.CheckConstraint(
            "hba1c IS NULL OR hba1c BETWEEN 3 AND 20", name=op.f("ck_encounter_notes_hba1c_range")
        ),
        sa.CheckConstraint(
            "minutes IS NULL OR minutes BETWEEN 1 AND 240",
            name=op.f("ck_encounter_notes_minutes_range"),
        ),
        sa.CheckConstraint(
            "systolic IS NULL OR systolic BETWEEN 50 AND 300",
            name=op.f("ck_encounter_notes_systolic_range"),
        ),
        sa.CheckConstraint(
            "weight_kg IS NULL OR weight_kg BETWEEN 20 AND 400",
            name=op.f("ck_encounter_notes_weight_range"),
        ),
        sa.ForeignKeyConstraint(
            ["attested_by_id"],
            ["users.id"],
            name=op.f("fk_encounter_notes_attested_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_encounter_notes_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_encounter_notes_patient_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["preceptor_id"],
            ["users.id"],
            name=op.f("fk_encounter_notes_preceptor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_encounter_notes_session_id_group_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["one_on_one_slots.id"],
            name=op.f("fk_encounter_notes_slot_id_one_on_one_slots"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encounter_notes")),
        sa.UniqueConstraint(
            "session_id", "patient_id", name=op.f("uq_encounter_notes_session_id_patient_id")
        ),
        sa.UniqueConstraint("slot_id", name=op.f("uq_encounter_notes_slot_id")),
    )
    with op.batch_alter_table("encounter_notes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_encounter_notes_author_id_status", ["author_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_encounter_notes_patient_id_created_at", ["patient_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_encounter_notes_preceptor_id_status_signed_at",
            ["preceptor_id", "status", "signed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_encounter_notes_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "note_addenda",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_note_addenda_author_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["encounter_notes.id"],
            name=op.f("fk_note_addenda_note_id_encounter_notes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_addenda")),
    )
    with op.batch_alter_table("note_addenda", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_addenda_note_id"), ["note_id"], unique=False)

    op.create_table(
        "note_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_note_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["encounter_notes.id"],
            name=op.f("fk_note_events_note_id_encounter_notes"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_events")),
    )
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_events_note_id"), ["note_id"], unique=False)

    op.create_table(
        "patient_goals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'met', 'stopped')", name=op.f("ck_patient_goals_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_patient_goals_group_id_visit_groups"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["encounter_notes.id"],
            name=op.f("fk_patient_goals_note_id_encounter_notes"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_patient_goals_patient_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_goals")),
    )
    with op.batch_alter_table("patient_goals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patient_goals_note_id"), ["note_id"], unique=False)
        batch_op.create_index(
            "ix_patient_goals_patient_id_status", ["patient_id", "status"], unique=False
        )

    op.create_table(
        "goal_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('not_started', 'some', 'most', 'done')",
            name=op.f("ck_goal_progress_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["goal_id"],
            ["patient_goals.id"],
            name=op.f("fk_goal_progress_goal_id_patient_goals"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goal_progress")),
    )
    with op.batch_alter_table("goal_progress", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goal_progress_goal_id"), ["goal_id"], unique=False)

    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("one_on_one_with", sa.String(length=30), nullable=True))

    with op.batch_alter_table("group_plan_segments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_pull_outs", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("session_segments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_pull_outs", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("staff_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("available_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("available_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("slot_minutes", sa.Integer(), server_default="10", nullable=False)
        )
        batch_op.create_check_constraint("slot_minutes_range", "slot_minutes BETWEEN 5 AND 30")


def downgrade():
    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_visit_groups_slot_minutes_range"), type_="check")
        batch_op.drop_column("slot_minutes")

    with op.batch_alter_table("staff_assignments", schema=None) as batch_op:
        batch_op.drop_column("available_until")
        batch_op.drop_column("available_from")

    with op.batch_alter_table("session_segments", schema=None) as batch_op:
        batch_op.drop_column("no_pull_outs")

    with op.batch_alter_table("group_plan_segments", schema=None) as batch_op:
        batch_op.drop_column("no_pull_outs")

    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.drop_column("one_on_one_with")

    with op.batch_alter_table("goal_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goal_progress_goal_id"))

    op.drop_table("goal_progress")
    with op.batch_alter_table("patient_goals", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_goals_patient_id_status")
        batch_op.drop_index(batch_op.f("ix_patient_goals_note_id"))

    op.drop_table("patient_goals")
    with op.batch_alter_table("note_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_events_note_id"))

    op.drop_table("note_events")
    with op.batch_alter_table("note_addenda", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_addenda_note_id"))

    op.drop_table("note_addenda")
    with op.batch_alter_table("encounter_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_encounter_notes_session_id"))
        batch_op.drop_index("ix_encounter_notes_preceptor_id_status_signed_at")
        batch_op.drop_index("ix_encounter_notes_patient_id_created_at")
        batch_op.drop_index("ix_encounter_notes_author_id_status")

    op.drop_table("encounter_notes")
    with op.batch_alter_table("one_on_one_slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_one_on_one_slots_session_id"))
        batch_op.drop_index("ix_one_on_one_slots_provider_id_starts_at")
        batch_op.drop_index("ix_one_on_one_slots_patient_id_starts_at")

    op.drop_table("one_on_one_slots")
    op.drop_table("group_notes")
