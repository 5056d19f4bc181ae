"""A standing group, its census rules, its recurrence rule and its default session plan."""

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    false,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from groupvisits.extensions import db
from groupvisits.sites.models import Site
from groupvisits.timeutil import UTCDateTime, utcnow

PLANNING, ACTIVE, PAUSED, CLOSED = "planning", "active", "paused", "closed"
STATUSES = {PLANNING: "Planning", ACTIVE: "Active", PAUSED: "Paused", CLOSED: "Closed"}

IN_PERSON, VIRTUAL, HYBRID = "in_person", "virtual", "hybrid"
MODALITIES = {IN_PERSON: "In person", VIRTUAL: "Virtual", HYBRID: "Hybrid"}

#: Kinds of segment in a session plan; "one_on_one" is where individual slots go.
SEGMENT_KINDS = {
    "arrival": "Arrival and vitals",
    "group": "Group conversation",
    "one_on_one": "One-on-one visits",
    "meal": "Shared meal",
    "wrap_up": "Wrap-up",
    "other": "Other",
}

#: The plan a new group starts with (minutes add up to 120).
DEFAULT_PLAN = [
    ("arrival", "Arrival and vitals", 15),
    ("group", "Group conversation", 45),
    ("meal", "Shared meal", 20),
    ("one_on_one", "One-on-one visits", 30),
    ("wrap_up", "Wrap-up and goals", 10),
]


class VisitGroup(db.Model):
    """A standing cohort, e.g. "Tuesday evening diabetes group"."""

    __tablename__ = "visit_groups"
    __table_args__ = (
        CheckConstraint(
            "1 <= min_members AND min_members <= target_members "
            "AND target_members <= max_members AND max_members <= 40",
            name="census_order",
        ),
        CheckConstraint("length_minutes BETWEEN 60 AND 180", name="length_range"),
        CheckConstraint("slot_minutes BETWEEN 5 AND 30", name="slot_minutes_range"),
        CheckConstraint("agenda_publish_days BETWEEN 0 AND 14", name="agenda_days_range"),
        CheckConstraint(f"status IN {tuple(STATUSES)!r}", name="status_known"),
        CheckConstraint(f"modality IN {tuple(MODALITIES)!r}", name="modality_known"),
        CheckConstraint(
            "schedule_count IS NULL OR schedule_count BETWEEN 1 AND 500", name="count_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"), index=True)
    #: Shown inside the app to staff and members.
    name: Mapped[str] = mapped_column(String(120))
    #: The neutral name used in calendars and email: never a condition or diagnosis.
    calendar_name: Mapped[str] = mapped_column(String(120), default="Group visit")
    #: Clinical focus, e.g. "type 2 diabetes"; shown only inside the app.
    focus: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    modality: Mapped[str] = mapped_column(String(20), default=IN_PERSON)
    location: Mapped[str] = mapped_column(String(200), default="")
    video_url: Mapped[str] = mapped_column(String(500), default="")
    length_minutes: Mapped[int] = mapped_column(Integer, default=120)
    #: Census rules: a session is at risk below the minimum; the group is full at the maximum.
    min_members: Mapped[int] = mapped_column(Integer, default=8)
    target_members: Mapped[int] = mapped_column(Integer, default=12)
    max_members: Mapped[int] = mapped_column(Integer, default=15)
    #: Warn when a session this many days ahead is expected below the minimum.
    census_warning_days: Mapped[int] = mapped_column(Integer, default=14)
    #: Members answer until this many days before the session (1 = the day before).
    rsvp_deadline_days: Mapped[int] = mapped_column(Integer, default=1)
    #: A place offered to the first on the waitlist is held this long.
    offer_hold_hours: Mapped[int] = mapped_column(Integer, default=72)
    #: Length of one one-on-one visit inside a session (the planner's slot).
    slot_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    #: The agenda goes out to members this many days before each session.
    agenda_publish_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    #: Members may put topics forward fully anonymously: nobody, staff included, sees who.
    allow_anonymous_topics: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    status: Mapped[str] = mapped_column(String(20), default=PLANNING)

    #: RFC 5545 RRULE (without DTSTART), e.g. "FREQ=MONTHLY;BYDAY=2TU"; empty = no schedule.
    recurrence_rule: Mapped[str] = mapped_column(String(200), default="")
    schedule_start_date: Mapped[date | None] = mapped_column(Date)
    #: Local wall-clock start time in the site's time zone.
    schedule_start_time: Mapped[time | None] = mapped_column(Time)
    schedule_until: Mapped[date | None] = mapped_column(Date)
    schedule_count: Mapped[int | None] = mapped_column(Integer)
    #: Sessions exist up to this date; extended daily by the CLI.
    generated_until: Mapped[date | None] = mapped_column(Date)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    site: Mapped[Site] = relationship()
    plan: Mapped[list["GroupPlanSegment"]] = relationship(
        back_populates="group",
        order_by="GroupPlanSegment.position",
        cascade="all, delete-orphan",
    )

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]

    @property
    def modality_label(self) -> str:
        return MODALITIES[self.modality]

    @property
    def is_open(self) -> bool:
        """Planning or active: sessions are still generated."""
        return self.status in (PLANNING, ACTIVE)

    @property
    def has_schedule(self) -> bool:
        return bool(self.recurrence_rule and self.schedule_start_date and self.schedule_start_time)

    def __repr__(self) -> str:
        return f"<VisitGroup {self.id} {self.name!r}>"


class SegmentFields:
    """The columns of one step of a plan, shared by group plans and session timelines."""

    @declared_attr.directive
    def __table_args__(cls):
        return (CheckConstraint("minutes BETWEEN 1 AND 180", name="minutes_range"),)

    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(80))
    minutes: Mapped[int] = mapped_column(Integer)
    #: Nobody leaves for a one-on-one visit during this step (a group or meal step).
    no_pull_outs: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def kind_label(self) -> str:
        return SEGMENT_KINDS.get(self.kind, self.kind)


class GroupPlanSegment(SegmentFields, db.Model):
    """One step of a group's default session plan, copied to each new session."""

    __tablename__ = "group_plan_segments"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("visit_groups.id", ondelete="CASCADE"), index=True
    )

    group: Mapped[VisitGroup] = relationship(back_populates="plan")
