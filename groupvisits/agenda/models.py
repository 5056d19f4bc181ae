"""The patients' agenda: topics and questions members put forward, their votes, each
session's time-boxed agenda, and the history of what became of every topic."""

from datetime import datetime

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
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import UTCDateTime, utcnow

TOPIC, QUESTION = "topic", "question"
KINDS = {TOPIC: "Topic", QUESTION: "Question"}

#: How the group sees who put a topic forward. Staff see the proposer either way, unless
#: the group allows fully anonymous topics: then an anonymous topic keeps no proposer.
BY_NAME, ANONYMOUS = "name", "anonymous"

OPEN, ACCEPTED, KEPT, DECLINED, MERGED, DISCUSSED = (
    "open",
    "accepted",
    "kept",
    "declined",
    "merged",
    "discussed",
)
STATUSES = {
    OPEN: "Open for votes",
    ACCEPTED: "On a session's agenda",
    KEPT: "Kept for later",
    DECLINED: "Declined",
    MERGED: "Merged",
    DISCUSSED: "Talked about",
}

TITLE_MAX, DETAILS_MAX = 120, 1000


class AgendaTopic(db.Model):
    """A topic a member (or staff) puts forward for the group, or a question dropped in the
    question box during a session."""

    __tablename__ = "agenda_topics"
    __table_args__ = (
        CheckConstraint(f"kind IN {tuple(KINDS)!r}", name="kind_known"),
        CheckConstraint(f"status IN {tuple(STATUSES)!r}", name="status_known"),
        CheckConstraint(f"shown_as IN {(BY_NAME, ANONYMOUS)!r}", name="shown_as_known"),
        CheckConstraint(f"length(title) BETWEEN 1 AND {TITLE_MAX}", name="title_length"),
        CheckConstraint(f"length(details) <= {DETAILS_MAX}", name="details_length"),
        CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_into_set"
        ),
        # A group's topic list, newest first, without reading other groups' topics.
        Index("ix_agenda_topics_group_id_created_at", "group_id", "created_at"),
        Index("ix_agenda_topics_session_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("visit_groups.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10), default=TOPIC)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    details: Mapped[str] = mapped_column(Text, default="")
    #: Who put it forward; None for a fully anonymous topic (and the system).
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    proposed_by_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    shown_as: Mapped[str] = mapped_column(String(10), default=BY_NAME)
    #: For the next session (or, for a question, the session it was dropped in); None: the
    #: group in general.
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    #: Shown to members: why a topic was declined, kindly.
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_topics.id", ondelete="RESTRICT")
    )
    #: Hidden by staff (with a reason): members no longer see it; kept in history.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group: Mapped[VisitGroup] = relationship()
    proposer: Mapped[User | None] = relationship(foreign_keys=[proposer_id])
    group_session: Mapped[GroupSession | None] = relationship()
    merged_into: Mapped["AgendaTopic | None"] = relationship(remote_side=[id])

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def is_anonymous(self) -> bool:
        return self.shown_as == ANONYMOUS


class TopicVote(db.Model):
    """One member's vote for one topic: at most one, held by the database."""

    __tablename__ = "topic_votes"
    __table_args__ = (
        UniqueConstraint("topic_id", "voter_id"),
        Index("ix_topic_votes_voter_id", "voter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("agenda_topics.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


PLANNED, CARRIED_OVER = "planned", "carried_over"
OUTCOMES = {PLANNED: "Planned", DISCUSSED: "Talked about", CARRIED_OVER: "Carried over"}


class AgendaItem(db.Model):
    """A topic on one session's agenda, with its time box and order, and what came of it."""

    __tablename__ = "agenda_items"
    __table_args__ = (
        UniqueConstraint("session_id", "topic_id"),
        CheckConstraint("minutes BETWEEN 1 AND 180", name="minutes_range"),
        CheckConstraint(f"outcome IN {tuple(OUTCOMES)!r}", name="outcome_known"),
        Index("ix_agenda_items_topic_id", "topic_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT")
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("agenda_topics.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    minutes: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(15), default=PLANNED)
    #: The facilitator's short public summary of what was said, and optional links.
    summary: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group_session: Mapped[GroupSession] = relationship()
    topic: Mapped[AgendaTopic] = relationship()

    @property
    def outcome_label(self) -> str:
        return OUTCOMES[self.outcome]


class TopicEvent(db.Model):
    """One change to a topic (proposed, accepted, merged, declined, hidden, discussed...)."""

    __tablename__ = "topic_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_topics.id", ondelete="CASCADE"), index=True
    )
    #: None for the system, and for the proposer of a fully anonymous topic.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User | None] = relationship()
