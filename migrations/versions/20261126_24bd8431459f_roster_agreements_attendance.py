"""Roster: membership history, confidentiality agreements, attendance; RSVP and offer rules.

Existing groups get the default answer deadline (the day before) and offer
hold (72 hours) through server defaults.

Revision ID: 24bd8431459f
Revises: a8634304e475
Created: 2026-11-26 03:56:50.961174
"""

import sqlalchemy as sa
from alembic import op

revision = "24bd8431459f"
down_revision = "a8634304e475"
branch_labels = None
depends_on = None


def upgrade():
    """Add the roster tables and the groups' RSVP and offer settings."""
    op.create_table(
        "group_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_group_agreements_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_group_agreements_group_id_visit_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_agreements")),
        sa.UniqueConstraint(
            "group_id", "version", name=op.f("uq_group_agreements_group_id_version")
        ),
    )
    with op.batch_alter_table("group_agreements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_agreements_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "agreement_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "method IN ('app', 'paper')", name=op.f("ck_agreement_acceptances_method_known")
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["group_agreements.id"],
            name=op.f("fk_agreement_acceptances_agreement_id_group_agreements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_agreement_acceptances_patient_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_agreement_acceptances_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_acceptances")),
        sa.UniqueConstraint(
            "agreement_id",
            "patient_id",
            name=op.f("uq_agreement_acceptances_agreement_id_patient_id"),
        ),
    )
    with op.batch_alter_table("agreement_acceptances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agreement_acceptances_agreement_id"), ["agreement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_agreement_acceptances_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "attendances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=True),
        sa.Column("is_drop_in", sa.Boolean(), nullable=False),
        sa.Column("rsvp", sa.String(length=10), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("brings_support_person", sa.Boolean(), nullable=False),
        sa.Column("check_in", sa.String(length=10), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=True),
        sa.Column("wants_one_on_one", sa.Boolean(), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("vitals_source", sa.String(length=10), nullable=True),
        sa.Column("vitals_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "check_in IS NULL OR check_in IN ('arrived', 'late', 'no_show', 'excused')",
            name=op.f("ck_attendances_check_in_known"),
        ),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('in_person', 'virtual')",
            name=op.f("ck_attendances_mode_known"),
        ),
        sa.CheckConstraint(
            "rsvp IS NULL OR rsvp IN ('yes', 'no', 'maybe')", name=op.f("ck_attendances_rsvp_known")
        ),
        sa.CheckConstraint(
            "vitals_source IS NULL OR vitals_source IN ('patient', 'staff')",
            name=op.f("ck_attendances_vitals_source_known"),
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_attendances_membership_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["users.id"],
            name=op.f("fk_attendances_patient_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_attendances_session_id_group_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendances")),
        sa.UniqueConstraint(
            "session_id", "patient_id", name=op.f("uq_attendances_session_id_patient_id")
        ),
    )
    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendances_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendances_session_id"), ["session_id"], unique=False)

    op.create_table(
        "membership_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_membership_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_membership_events_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_events")),
    )
    with op.batch_alter_table("membership_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_events_membership_id"), ["membership_id"], unique=False
        )

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(
            "uq_memberships_waitlist_position",
            ["group_id", "waitlist_position"],
            unique=True,
            postgresql_where=sa.text("waitlist_position IS NOT NULL"),
            sqlite_where=sa.text("waitlist_position IS NOT NULL"),
        )

    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rsvp_deadline_days", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("offer_hold_hours", sa.Integer(), nullable=False, server_default="72")
        )


def downgrade():
    """Remove them again (agreements, attendance and membership history are lost)."""
    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.drop_column("offer_hold_hours")
        batch_op.drop_column("rsvp_deadline_days")

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_memberships_waitlist_position",
            postgresql_where=sa.text("waitlist_position IS NOT NULL"),
            sqlite_where=sa.text("waitlist_position IS NOT NULL"),
        )

    with op.batch_alter_table("membership_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_events_membership_id"))

    op.drop_table("membership_events")
    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendances_session_id"))
        batch_op.drop_index(batch_op.f("ix_attendances_patient_id"))

    op.drop_table("attendances")
    with op.batch_alter_table("agreement_acceptances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agreement_acceptances_patient_id"))
        batch_op.drop_index(batch_op.f("ix_agreement_acceptances_agreement_id"))

    op.drop_table("agreement_acceptances")
    with op.batch_alter_table("group_agreements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_agreements_group_id"))

    op.drop_table("group_agreements")
