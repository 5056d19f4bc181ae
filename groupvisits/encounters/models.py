"""One-on-one slots inside a session, encounter notes with addenda and attestation, the
session's group note, and patients' goals with their progress between sessions."""

from datetime import datetime

from sqlalchemy import (
    DDL,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import UTCDateTime, utcnow

# Slots

PLANNED, SEEN, MISSED = "planned", "seen", "missed"
SLOT_STATUSES = {PLANNED: "Planned", SEEN: "Seen", MISSED: "Missed"}
#: Who placed a slot: the planner, or a person by hand (the planner then keeps it).
BY_PLANNER, BY_HAND = "planner", "hand"


class OneOnOneSlot(db.Model):
    """A patient's private visit with one provider during a session.

    A patient has at most one slot per session; neither a provider nor a patient is ever
    in two overlapping slots: exclusion constraints on PostgreSQL, triggers on SQLite.
    """

    __tablename__ = "one_on_one_slots"
    __table_args__ = (
        UniqueConstraint("session_id", "patient_id"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(f"status IN {tuple(SLOT_STATUSES)!r}", name="status_known"),
        CheckConstraint(f"placed_by IN {(BY_PLANNER, BY_HAND)!r}", name="placed_by_known"),
        CheckConstraint("provider_id <> patient_id", name="not_oneself"),
        Index("ix_one_on_one_slots_provider_id_starts_at", "provider_id", "starts_at"),
        Index("ix_one_on_one_slots_patient_id_starts_at", "patient_id", "starts_at"),
        ExcludeConstraint(
            (literal_column("provider_id"), "="),
            (func.tstzrange(literal_column("starts_at"), literal_column("ends_at")), "&&"),
            name="ex_one_on_one_slots_provider",
            using="gist",
        ).ddl_if(dialect="postgresql"),
        ExcludeConstraint(
            (literal_column("patient_id"), "="),
            (func.tstzrange(literal_column("starts_at"), literal_column("ends_at")), "&&"),
            name="ex_one_on_one_slots_patient",
            using="gist",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10), default=PLANNED)
    placed_by: Mapped[str] = mapped_column(String(10), default=BY_PLANNER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group_session: Mapped[GroupSession] = relationship()
    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    provider: Mapped[User] = relationship(foreign_keys=[provider_id])

    @property
    def status_label(self) -> str:
        return SLOT_STATUSES[self.status]

    def __repr__(self) -> str:
        return f"<OneOnOneSlot {self.session_id} patient={self.patient_id} {self.provider_id}>"


def _no_overlap_triggers(who: str) -> list[str]:
    """SQLite triggers holding the exclusion rule for ``who`` (provider_id or patient_id)."""
    name = f"ex_one_on_one_slots_{who.removesuffix('_id')}"
    return [
        f"""CREATE TRIGGER {name}_{when}
BEFORE {what} ON one_on_one_slots
WHEN EXISTS (
    SELECT 1 FROM one_on_one_slots AS other
    WHERE other.{who} = NEW.{who} AND other.id IS NOT NEW.id
      AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at
)
BEGIN SELECT RAISE(ABORT, '{name}'); END"""
        for when, what in (
            ("insert", "INSERT"),
            ("update", f"UPDATE OF {who}, starts_at, ends_at"),
        )
    ]


SQLITE_SLOT_TRIGGERS = _no_overlap_triggers("provider_id") + _no_overlap_triggers("patient_id")
for _trigger in SQLITE_SLOT_TRIGGERS:
    event.listen(OneOnOneSlot.__table__, "after_create", DDL(_trigger).execute_if(dialect="sqlite"))
event.listen(
    OneOnOneSlot.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS btree_gist").execute_if(dialect="postgresql"),
)


# Encounter notes

DRAFT, SIGNED, ATTESTED, RETURNED = "draft", "signed", "attested", "returned"
NOTE_STATUSES = {
    DRAFT: "Draft",
    SIGNED: "Awaiting attestation",
    ATTESTED: "Attested",
    RETURNED: "Returned",
}
#: Signed by someone who needs no attestation (an attending, a nurse practitioner...).
FINAL = "final"
NOTE_STATUSES[FINAL] = "Signed"

#: Visit levels for billing (established patient office visits), and "no charge".
BILLING_LEVELS = {
    "none": "No charge",
    "99211": "99211 (minimal)",
    "99212": "99212 (straightforward)",
    "99213": "99213 (low)",
    "99214": "99214 (moderate)",
    "99215": "99215 (high)",
}


class EncounterNote(db.Model):
    """The provider's note of one patient's one-on-one visit at one session.

    Written as a draft, then signed; a signed note is never edited or deleted, only
    added to (:class:`NoteAddendum`). A resident's signed note waits for the precepting
    attending, who attests it or returns it with a comment.
    """

    __tablename__ = "encounter_notes"
    __table_args__ = (
        UniqueConstraint("session_id", "patient_id"),
        CheckConstraint(f"status IN {tuple(NOTE_STATUSES)!r}", name="status_known"),
        CheckConstraint(f"billing_level IN {tuple(BILLING_LEVELS)!r}", name="billing_known"),
        CheckConstraint("systolic IS NULL OR systolic BETWEEN 50 AND 300", name="systolic_range"),
        CheckConstraint(
            "diastolic IS NULL OR diastolic BETWEEN 20 AND 200", name="diastolic_range"
        ),
        CheckConstraint("weight_kg IS NULL OR weight_kg BETWEEN 20 AND 400", name="weight_range"),
        CheckConstraint("hba1c IS NULL OR hba1c BETWEEN 3 AND 20", name="hba1c_range"),
        CheckConstraint("glucose IS NULL OR glucose BETWEEN 20 AND 1000", name="glucose_range"),
        CheckConstraint("minutes IS NULL OR minutes BETWEEN 1 AND 240", name="minutes_range"),
        # The attestation queue: a preceptor's signed notes, oldest first.
        Index(
            "ix_encounter_notes_preceptor_id_status_signed_at",
            "preceptor_id",
            "status",
            "signed_at",
        ),
        Index("ix_encounter_notes_author_id_status", "author_id", "status"),
        Index("ix_encounter_notes_patient_id_created_at", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    slot_id: Mapped[int | None] = mapped_column(
        ForeignKey("one_on_one_slots.id", ondelete="SET NULL"), unique=True
    )
    #: The attending who attests (a resident's notes only); None when none is needed.
    preceptor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)

    concerns: Mapped[str] = mapped_column(Text, default="")
    #: Vitals and measures; weight in kilograms, HbA1c in %, glucose in mg/dL.
    systolic: Mapped[int | None] = mapped_column(Integer)
    diastolic: Mapped[int | None] = mapped_column(Integer)
    weight_kg: Mapped[float | None] = mapped_column(Numeric(6, 2))
    hba1c: Mapped[float | None] = mapped_column(Numeric(4, 1))
    glucose: Mapped[int | None] = mapped_column(Integer)
    #: The clinician's assessment: never shown to the patient.
    assessment: Mapped[str] = mapped_column(Text, default="")
    #: The plan, in plain words: the patient reads it in their after-visit summary.
    plan: Mapped[str] = mapped_column(Text, default="")
    #: The patient's goals and action plan, in their own words (one goal per line).
    goals: Mapped[str] = mapped_column(Text, default="")
    action_plan: Mapped[str] = mapped_column(Text, default="")
    follow_up: Mapped[str] = mapped_column(Text, default="")
    billing_level: Mapped[str] = mapped_column(String(10), default="none")
    minutes: Mapped[int | None] = mapped_column(Integer)

    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group_session: Mapped[GroupSession] = relationship()
    patient: Mapped[User] = relationship(foreign_keys=[patient_id])
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    preceptor: Mapped[User | None] = relationship(foreign_keys=[preceptor_id])
    attested_by: Mapped[User | None] = relationship(foreign_keys=[attested_by_id])
    slot: Mapped[OneOnOneSlot | None] = relationship()
    addenda: Mapped[list["NoteAddendum"]] = relationship(
        back_populates="note", order_by="NoteAddendum.id"
    )

    @property
    def status_label(self) -> str:
        return NOTE_STATUSES[self.status]

    @property
    def is_draft(self) -> bool:
        return self.status == DRAFT

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    @property
    def billing_label(self) -> str:
        return BILLING_LEVELS.get(self.billing_level, self.billing_level)

    def __repr__(self) -> str:
        return f"<EncounterNote {self.id} {self.status}>"


class NoteAddendum(db.Model):
    """A signed correction or addition to a signed note; never edited or deleted."""

    __tablename__ = "note_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(
        ForeignKey("encounter_notes.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    text: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    note: Mapped[EncounterNote] = relationship(back_populates="addenda")
    author: Mapped[User] = relationship()


class NoteEvent(db.Model):
    """One step in a note's life: signed, attested, returned (with its comment), signed again."""

    __tablename__ = "note_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(
        ForeignKey("encounter_notes.id", ondelete="RESTRICT"), index=True
    )
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    actor: Mapped[User] = relationship()


class GroupNote(db.Model):
    """The facilitator's note of a session's group part, linked into each attendee's record."""

    __tablename__ = "group_notes"
    __table_args__ = (
        CheckConstraint("minutes IS NULL OR minutes BETWEEN 1 AND 480", name="minutes_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT"), unique=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    topics: Mapped[str] = mapped_column(Text, default="")
    education: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[int | None] = mapped_column(Integer)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group_session: Mapped[GroupSession] = relationship()
    author: Mapped[User] = relationship()


# Goals

OPEN, MET, STOPPED = "open", "met", "stopped"
GOAL_STATUSES = {OPEN: "Working on it", MET: "Done", STOPPED: "Stopped"}
#: How a patient says a goal is going, between sessions.
PROGRESS = {
    "not_started": "Not started yet",
    "some": "Some progress",
    "most": "Most days",
    "done": "Done",
}


class PatientGoal(db.Model):
    """A goal in the patient's own words, set at a one-on-one visit."""

    __tablename__ = "patient_goals"
    __table_args__ = (
        CheckConstraint(f"status IN {tuple(GOAL_STATUSES)!r}", name="status_known"),
        Index("ix_patient_goals_patient_id_status", "patient_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    group_id: Mapped[int] = mapped_column(ForeignKey("visit_groups.id", ondelete="RESTRICT"))
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("encounter_notes.id", ondelete="RESTRICT"), index=True
    )
    text: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    patient: Mapped[User] = relationship()
    group: Mapped[VisitGroup] = relationship()
    progress: Mapped[list["GoalProgress"]] = relationship(
        back_populates="goal", order_by="GoalProgress.id"
    )

    @property
    def status_label(self) -> str:
        return GOAL_STATUSES[self.status]


class GoalProgress(db.Model):
    """The patient's word on how a goal is going, kept as history."""

    __tablename__ = "goal_progress"
    __table_args__ = (CheckConstraint(f"state IN {tuple(PROGRESS)!r}", name="state_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(
        ForeignKey("patient_goals.id", ondelete="RESTRICT"), index=True
    )
    state: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    goal: Mapped[PatientGoal] = relationship(back_populates="progress")

    @property
    def state_label(self) -> str:
        return PROGRESS[self.state]
