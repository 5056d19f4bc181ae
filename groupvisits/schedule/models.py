"""Sessions (one meeting of a group), their plan, and calendar subscriptions."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import SegmentFields, VisitGroup
from groupvisits.timeutil import UTCDateTime, utcnow

SCHEDULED, CANCELLED = "scheduled", "cancelled"


class GroupSession(db.Model):
    """One meeting of a group at a date and time (never call an instance ``session``)."""

    __tablename__ = "group_sessions"
    __table_args__ = (
        # One session per occurrence of the rule: generation is idempotent.
        UniqueConstraint("group_id", "occurrence_key"),
        # A group's sessions by time (next, upcoming, past, recent show rate): a range
        # scan however long the group's history grows. Also serves lookups by group alone.
        Index("ix_group_sessions_group_id_starts_at", "group_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(f"status IN {(SCHEDULED, CANCELLED)!r}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("visit_groups.id", ondelete="CASCADE"))
    #: The rule's local occurrence this session stands for ("2026-12-08T17:00");
    #: None for an extra session added by hand.
    occurrence_key: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=SCHEDULED)
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    #: Moved, cancelled or added by a coordinator: a rule change leaves it alone.
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    is_extra: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Overrides of the group's place; empty means "as the group".
    location: Mapped[str] = mapped_column(String(200), default="")
    video_url: Mapped[str] = mapped_column(String(500), default="")
    theme: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    #: iCalendar SEQUENCE: raised on every change of time, place or status.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: Where a coordinator moved the session from: its start before the first move of its
    #: date or time (kept through later moves); None if it never moved.
    moved_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the facilitator published the session's agenda to members; None: not yet.
    agenda_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group: Mapped[VisitGroup] = relationship()
    segments: Mapped[list["SessionSegment"]] = relationship(
        back_populates="group_session",
        order_by="SessionSegment.position",
        cascade="all, delete-orphan",
    )

    @property
    def is_cancelled(self) -> bool:
        return self.status == CANCELLED

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.group.site.timezone)

    @property
    def local_start(self) -> datetime:
        return self.starts_at.astimezone(self.timezone)

    @property
    def local_end(self) -> datetime:
        return self.ends_at.astimezone(self.timezone)

    @property
    def local_moved_from(self) -> datetime | None:
        return self.moved_from.astimezone(self.timezone) if self.moved_from else None

    @property
    def answers_close_at(self) -> datetime:
        """The last instant members may answer: midnight, local time, N days before the session."""
        days = self.group.rsvp_deadline_days
        if days <= 0:
            return self.starts_at
        local_day = self.local_start.date() - timedelta(days=days - 1)
        return datetime.combine(local_day, time.min, self.timezone)

    @property
    def length_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def place(self) -> str:
        return self.location or self.group.location

    @property
    def link(self) -> str:
        return self.video_url or self.group.video_url

    @property
    def planned_minutes(self) -> int:
        return sum(segment.minutes for segment in self.segments)

    def timeline(self) -> list[tuple["SessionSegment", datetime, datetime]]:
        """Each segment with its local start and end times."""
        rows, start = [], self.local_start
        for segment in self.segments:
            end = start + timedelta(minutes=segment.minutes)
            rows.append((segment, start, end))
            start = end
        return rows

    def __repr__(self) -> str:
        return f"<GroupSession {self.id} group={self.group_id} {self.starts_at:%Y-%m-%d %H:%M}Z>"


class SessionSegment(SegmentFields, db.Model):
    """One step of a session's timeline (arrival, conversation, meal, one-on-ones...)."""

    __tablename__ = "session_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="CASCADE"), index=True
    )

    group_session: Mapped[GroupSession] = relationship(back_populates="segments")


class CalendarFeed(db.Model):
    """A person's secret calendar subscription address; revoked feeds stop answering."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the address's token; the token itself is never stored, so a copy
    #: of the database alone gives no working address.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: 256 random bits, URL-safe: the token is an HMAC of it under the app's secret key, so
    #: the app can show the address again. None for feeds made before tokens were hashed.
    nonce: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship()
