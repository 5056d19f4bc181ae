"""The patients' agenda: topics and questions, votes, sessions' agendas, topic history.

- agenda_topics: a topic a member or staff puts forward (for the next session or the group
  in general), or a question dropped during a session; shown by name or anonymously (a
  fully anonymous topic keeps no proposer); open, accepted, kept, declined (with a kind
  reason), merged into another, or talked about; staff may hide one with a reason.
- topic_votes: one vote per member and topic (unique), moved to the kept topic on a merge.
- agenda_items: a topic on a session's agenda, with its time box, order, outcome (planned,
  talked about, carried over) and public summary.
- topic_events: every change to a topic, kept.
- visit_groups.agenda_publish_days (3), visit_groups.allow_anonymous_topics (false),
  group_sessions.agenda_published_at.

Revision ID: 6dce7759b1ab
Revises: b00dc5f0731b
Created: 2026-11-30 17:05:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "6dce7759b1ab"
down_revision = "b00dc5f0731b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "agenda_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=True),
        sa.Column("proposed_by_staff", sa.Boolean(), nullable=False),
        sa.Column("shown_as", sa.String(length=10), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decline_reason", sa.Text(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_by_id", sa.Integer(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)",
            name=op.f("ck_agenda_topics_merged_into_set"),
        ),
        sa.CheckConstraint(
            "kind IN ('topic', 'question')", name=op.f("ck_agenda_topics_kind_known")
        ),
        sa.CheckConstraint(
            "shown_as IN ('name', 'anonymous')", name=op.f("ck_agenda_topics_shown_as_known")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'accepted', 'kept', 'declined', 'merged', 'discussed')",
            name=op.f("ck_agenda_topics_status_known"),
        ),
        sa.CheckConstraint("length(details) <= 1000", name=op.f("ck_agenda_topics_details_length")),
        sa.CheckConstraint(
            "length(title) BETWEEN 1 AND 120", name=op.f("ck_agenda_topics_title_length")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["visit_groups.id"],
            name=op.f("fk_agenda_topics_group_id_visit_groups"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["hidden_by_id"],
            ["users.id"],
            name=op.f("fk_agenda_topics_hidden_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["agenda_topics.id"],
            name=op.f("fk_agenda_topics_merged_into_id_agenda_topics"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"],
            ["users.id"],
            name=op.f("fk_agenda_topics_proposer_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_agenda_topics_session_id_group_sessions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_topics")),
    )
    with op.batch_alter_table("agenda_topics", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agenda_topics_group_id_created_at", ["group_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_agenda_topics_session_id", ["session_id"], unique=False)

    op.create_table(
        "agenda_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=15), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("links", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('planned', 'discussed', 'carried_over')",
            name=op.f("ck_agenda_items_outcome_known"),
        ),
        sa.CheckConstraint("minutes BETWEEN 1 AND 180", name=op.f("ck_agenda_items_minutes_range")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["group_sessions.id"],
            name=op.f("fk_agenda_items_session_id_group_sessions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["agenda_topics.id"],
            name=op.f("fk_agenda_items_topic_id_agenda_topics"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_items")),
        sa.UniqueConstraint(
            "session_id", "topic_id", name=op.f("uq_agenda_items_session_id_topic_id")
        ),
    )
    with op.batch_alter_table("agenda_items", schema=None) as batch_op:
        batch_op.create_index("ix_agenda_items_topic_id", ["topic_id"], unique=False)

    op.create_table(
        "topic_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_topic_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["agenda_topics.id"],
            name=op.f("fk_topic_events_topic_id_agenda_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_events")),
    )
    with op.batch_alter_table("topic_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_events_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "topic_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.Integer(), nullable=False),
        sa.Column("voter_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["agenda_topics.id"],
            name=op.f("fk_topic_votes_topic_id_agenda_topics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["voter_id"],
            ["users.id"],
            name=op.f("fk_topic_votes_voter_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_votes")),
        sa.UniqueConstraint("topic_id", "voter_id", name=op.f("uq_topic_votes_topic_id_voter_id")),
    )
    with op.batch_alter_table("topic_votes", schema=None) as batch_op:
        batch_op.create_index("ix_topic_votes_voter_id", ["voter_id"], unique=False)

    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agenda_published_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agenda_publish_days", sa.Integer(), server_default="3", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "allow_anonymous_topics", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.create_check_constraint(
            "agenda_days_range", "agenda_publish_days BETWEEN 0 AND 14"
        )


def downgrade():
    with op.batch_alter_table("visit_groups", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_visit_groups_agenda_days_range"), type_="check")
        batch_op.drop_column("allow_anonymous_topics")
        batch_op.drop_column("agenda_publish_days")

    with op.batch_alter_table("group_sessions", schema=None) as batch_op:
        batch_op.drop_column("agenda_published_at")

    with op.batch_alter_table("topic_votes", schema=None) as batch_op:
        batch_op.drop_index("ix_topic_votes_voter_id")

    op.drop_table("topic_votes")
    with op.batch_alter_table("topic_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_events_topic_id"))

    op.drop_table("topic_events")
    with op.batch_alter_table("agenda_items", schema=None) as batch_op:
        batch_op.drop_index("ix_agenda_items_topic_id")

    op.drop_table("agenda_items")
    with op.batch_alter_table("agenda_topics", schema=None) as batch_op:
        batch_op.drop_index("ix_agenda_topics_session_id")
        batch_op.drop_index("ix_agenda_topics_group_id_created_at")

    op.drop_table("agenda_topics")
