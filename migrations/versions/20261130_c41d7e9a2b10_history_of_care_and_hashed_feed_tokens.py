"""History of care kept, feed tokens hashed, reset requests noted, names shared when asked.

- attendance_changes: every check-in and set of vitals as recorded; a correction adds
  a row (with its reason) and never changes an earlier one.
- attendances.session_id restricts: a session (or its group) is never deleted with
  the records of care that hang on it.
- calendar_feeds keep the SHA-256 of their token and a nonce (the token is an HMAC of
  the nonce under the app's secret key), never the token itself. Existing feeds keep
  working by their hash; their address cannot be shown again until renewed.
- password_reset_requests: "forgot password" only notes the address; ``send-mail``
  answers it.
- memberships.share_name: None until the member is asked. A stored "yes" was only
  ever the default (members were shown the agreement's "if you allow it" but never
  asked), so it becomes "not asked" and the member is asked on their next visit; a
  "no" can only have come from the member, and stays.

Downgrade: a hashed token cannot be turned back into a working one, so every feed is
given a fresh random token and revoked (people make a new address); unanswered
share_name choices become "do not share", the private answer.

Revision ID: c41d7e9a2b10
Revises: 2ccb22f2e75f
Created: 2026-11-30 14:00:00.000000
"""

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

revision = "c41d7e9a2b10"
down_revision = "2ccb22f2e75f"
branch_labels = None
depends_on = None

feeds = sa.table(
    "calendar_feeds",
    sa.column("id", sa.Integer),
    sa.column("token", sa.String),
    sa.column("token_hash", sa.String),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
)


def upgrade():
    op.create_table(
        "attendance_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attendance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("check_in", sa.String(length=10), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=True),
        sa.Column("weight_kg", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("systolic", sa.Integer(), nullable=True),
        sa.Column("diastolic", sa.Integer(), nullable=True),
        sa.Column("vitals_source", sa.String(length=10), nullable=True),
        sa.Column("is_correction", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('check_in', 'vitals')", name=op.f("ck_attendance_changes_kind_known")
        ),
        sa.CheckConstraint(
            "check_in IS NULL OR check_in IN ('arrived', 'late', 'no_show', 'excused')",
            name=op.f("ck_attendance_changes_check_in_known"),
        ),
        sa.CheckConstraint(
            "mode IS NULL OR mode IN ('in_person', 'virtual')",
            name=op.f("ck_attendance_changes_mode_known"),
        ),
        sa.CheckConstraint(
            "vitals_source IS NULL OR vitals_source IN ('patient', 'staff')",
            name=op.f("ck_attendance_changes_vitals_source_known"),
        ),
        sa.CheckConstraint(
            "NOT is_correction OR reason <> ''",
            name=op.f("ck_attendance_changes_correction_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["attendance_id"],
            ["attendances.id"],
            name=op.f("fk_attendance_changes_attendance_id_attendances"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_attendance_changes_recorded_by_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_changes")),
    )
    with op.batch_alter_table("attendance_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendance_changes_attendance_id"), ["attendance_id"], unique=False
        )

    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.drop_constraint("fk_attendances_session_id_group_sessions", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_attendances_session_id_group_sessions"),
            "group_sessions",
            ["session_id"],
            ["id"],
            ondelete="RESTRICT",
        )

    op.create_table(
        "password_reset_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_requests")),
    )

    # Feeds: a hash of each token, filled in Python (SQLite has no SHA-256).
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("nonce", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    for feed_id, token in connection.execute(sa.select(feeds.c.id, feeds.c.token)).all():
        connection.execute(
            feeds.update()
            .where(feeds.c.id == feed_id)
            .values(token_hash=hashlib.sha256(token.encode()).hexdigest())
        )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_calendar_feeds_token_hash"), ["token_hash"]
        )
        batch_op.drop_constraint("uq_calendar_feeds_token", type_="unique")
        batch_op.drop_column("token")

    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.alter_column("share_name", existing_type=sa.Boolean(), nullable=True)
    op.execute("UPDATE memberships SET share_name = NULL WHERE share_name = TRUE")


def downgrade():
    op.execute("UPDATE memberships SET share_name = FALSE WHERE share_name IS NULL")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.alter_column("share_name", existing_type=sa.Boolean(), nullable=False)

    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    now = sa.func.current_timestamp()
    for (feed_id,) in connection.execute(sa.select(feeds.c.id)).all():
        connection.execute(
            feeds.update()
            .where(feeds.c.id == feed_id)
            .values(
                token=secrets.token_urlsafe(32),
                revoked_at=sa.func.coalesce(feeds.c.revoked_at, now),
            )
        )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.alter_column("token", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_calendar_feeds_token"), ["token"])
        batch_op.drop_constraint("uq_calendar_feeds_token_hash", type_="unique")
        batch_op.drop_column("nonce")
        batch_op.drop_column("token_hash")

    op.drop_table("password_reset_requests")

    with op.batch_alter_table("attendances", schema=None) as batch_op:
        batch_op.drop_constraint("fk_attendances_session_id_group_sessions", type_="foreignkey")
        batch_op.create_foreign_key(
            batch_op.f("fk_attendances_session_id_group_sessions"),
            "group_sessions",
            ["session_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("attendance_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_changes_attendance_id"))
    op.drop_table("attendance_changes")
