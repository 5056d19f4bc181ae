"""Membership of patients in groups, with its history and the waitlist."""

import functools
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.timeutil import UTCDateTime, utcnow

REQUESTED = "requested"  # the patient asked to join; a coordinator decides
ACTIVE = "active"  # holds a place in the group
WAITLISTED = "waitlisted"  # waits for a place, in waitlist_position order
OFFERED = "offered"  # a place is held for them until offer_expires_at
WITHDRAWN = "withdrawn"  # the patient left
ENDED = "ended"  # a coordinator ended it, with a reason
DECLINED = "declined"  # a request to join was declined

STATUSES = {
    REQUESTED: "Asked to join",
    ACTIVE: "Member",
    WAITLISTED: "On the waitlist",
    OFFERED: "Offered a place",
    WITHDRAWN: "Withdrew",
    ENDED: "Ended",
    DECLINED: "Request declined",
}
#: A patient has at most one membership in one of these states per group.
CURRENT = (REQUESTED, ACTIVE, WAITLISTED, OFFERED)
#: States that take a place in the group.
HOLDS_PLACE = (ACTIVE, OFFERED)


class Membership(db.Model):
    """A patient's membership of one group; never deleted, its history is kept."""

    __tablename__ = "memberships"
    __table_args__ = (
        CheckConstraint(f"status IN {tuple(STATUSES)!r}", name="status_known"),
        # One current membership per patient and group, enforced by the database.
        Index(
            "uq_memberships_current",
            "group_id",
            "patient_id",
            unique=True,
            postgresql_where=text(f"status IN {CURRENT!r}"),
            sqlite_where=text(f"status IN {CURRENT!r}"),
        ),
        # Waitlist positions are unique within a group.
        Index(
            "uq_memberships_waitlist_position",
            "group_id",
            "waitlist_position",
            unique=True,
            postgresql_where=text("waitlist_position IS NOT NULL"),
            sqlite_where=text("waitlist_position IS NOT NULL"),
        ),
        # Offers past their hold time are found without reading every membership.
        Index("ix_memberships_status_offer_expires_at", "status", "offer_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("visit_groups.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    #: Order on the waitlist (1 = next); None when not waiting.
    waitlist_position: Mapped[int | None] = mapped_column(Integer)
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str] = mapped_column(Text, default="")
    #: The patient's note when asking to join, and the coordinator's answer.
    request_message: Mapped[str] = mapped_column(Text, default="")
    reply_message: Mapped[str] = mapped_column(Text, default="")
    #: The member lets fellow members see their first name and last initial: asked when they
    #: accept the group's agreement. None = not asked yet, and then nothing of them is shown.
    share_name: Mapped[bool | None] = mapped_column(Boolean)
    #: When the member said they are willing to be a peer mentor (to co-facilitate a part of
    #: a session); None if they have not, or took it back. Only they can give it.
    peer_mentor_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    group: Mapped[VisitGroup] = relationship()
    patient: Mapped[User] = relationship()

    @property
    def status_label(self) -> str:
        return STATUSES[self.status]


class MembershipEvent(db.Model):
    """One step in a membership's history: enrolled, offered, moved on the waitlist..."""

    __tablename__ = "membership_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: e.g. "enrolled", "waitlisted", "offered", "offer declined", "moved", "ended".
    kind: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")

    actor: Mapped[User | None] = relationship()


class GroupAgreement(db.Model):
    """One version of a group's confidentiality agreement."""

    __tablename__ = "group_agreements"
    __table_args__ = (UniqueConstraint("group_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("visit_groups.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class AgreementAcceptance(db.Model):
    """A patient accepted one version of an agreement, in the app or on paper."""

    __tablename__ = "agreement_acceptances"
    __table_args__ = (
        UniqueConstraint("agreement_id", "patient_id"),
        CheckConstraint("method IN ('app', 'paper')", name="method_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("group_agreements.id", ondelete="CASCADE"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    #: When the patient accepted (for paper: the date written on the form).
    accepted_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    agreement: Mapped[GroupAgreement] = relationship()


YES, NO, MAYBE = "yes", "no", "maybe"
ANSWERS = {YES: "Yes, I'll come", MAYBE: "Maybe", NO: "No, I can't come"}
ARRIVED, LATE, NO_SHOW, EXCUSED = "arrived", "late", "no_show", "excused"
CHECK_INS = {ARRIVED: "Arrived", LATE: "Late", NO_SHOW: "No-show", EXCUSED: "Excused"}
#: Check-ins that count as attending.
ATTENDED = (ARRIVED, LATE)


#: What the database accepts in an attendance and in each entry of its history.
CHECK_IN_KNOWN = "check_in IS NULL OR check_in IN ('arrived', 'late', 'no_show', 'excused')"
MODE_KNOWN = "mode IS NULL OR mode IN ('in_person', 'virtual')"
VITALS_SOURCE_KNOWN = "vitals_source IS NULL OR vitals_source IN ('patient', 'staff')"


class Attendance(db.Model):
    """One person's answer and check-in for one session (members and drop-ins)."""

    __tablename__ = "attendances"
    __table_args__ = (
        UniqueConstraint("session_id", "patient_id"),
        CheckConstraint("rsvp IS NULL OR rsvp IN ('yes', 'no', 'maybe')", name="rsvp_known"),
        CheckConstraint(CHECK_IN_KNOWN, name="check_in_known"),
        CheckConstraint(MODE_KNOWN, name="mode_known"),
        CheckConstraint(VITALS_SOURCE_KNOWN, name="vitals_source_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: RESTRICT: a session (or group) is never deleted with its records of care.
    session_id: Mapped[int] = mapped_column(
        ForeignKey("group_sessions.id", ondelete="RESTRICT"), index=True
    )
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    #: None for a drop-in (a patient added to this one session only).
    membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL")
    )
    is_drop_in: Mapped[bool] = mapped_column(Boolean, default=False)
    #: yes / no / maybe; None = no answer yet.
    rsvp: Mapped[str | None] = mapped_column(String(10))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A family member or carer comes too: one more seat and one more meal.
    brings_support_person: Mapped[bool] = mapped_column(Boolean, default=False)
    check_in: Mapped[str | None] = mapped_column(String(10))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mode: Mapped[str | None] = mapped_column(String(10))
    #: Asked at check-in: does the patient want a one-on-one visit today?
    wants_one_on_one: Mapped[bool | None] = mapped_column(Boolean)
    #: The one-on-one must be with this discipline today (a pharmacist's medication
    #: review, say): a DISCIPLINES key set by staff; None = any provider.
    one_on_one_with: Mapped[str | None] = mapped_column(String(30))
    #: Kilograms to two decimals, so that a weight entered in pounds reads back the same.
    weight_kg: Mapped[float | None] = mapped_column(Numeric(6, 2))
    systolic: Mapped[int | None] = mapped_column(Integer)
    diastolic: Mapped[int | None] = mapped_column(Integer)
    #: Who took the vitals: the patient at the self-care station, or staff.
    vitals_source: Mapped[str | None] = mapped_column(String(10))
    vitals_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    patient: Mapped[User] = relationship()
    membership: Mapped[Membership | None] = relationship()

    @property
    def seats(self) -> int:
        """Seats this person takes: themself and a support person, if coming."""
        if self.rsvp == YES or (self.is_drop_in and self.rsvp != NO):
            return 1 + int(self.brings_support_person)
        return 0

    @property
    def vitals_taken(self) -> bool:
        return self.vitals_at is not None

    @property
    def attended(self) -> bool:
        return self.check_in in ATTENDED


#: Kinds of entry in the check-in and vitals history.
CHECK_IN_ENTRY, VITALS_ENTRY = "check_in", "vitals"


class AttendanceChange(db.Model):
    """One check-in or set of vitals as recorded; corrections add rows, none is changed."""

    __tablename__ = "attendance_changes"
    __table_args__ = (
        CheckConstraint("kind IN ('check_in', 'vitals')", name="kind_known"),
        CheckConstraint(CHECK_IN_KNOWN, name="check_in_known"),
        CheckConstraint(MODE_KNOWN, name="mode_known"),
        CheckConstraint(VITALS_SOURCE_KNOWN, name="vitals_source_known"),
        # Whoever changes what was recorded says why.
        CheckConstraint("NOT is_correction OR reason <> ''", name="correction_has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: RESTRICT: the history stays with its attendance, which is never deleted under it.
    attendance_id: Mapped[int] = mapped_column(
        ForeignKey("attendances.id", ondelete="RESTRICT"), index=True
    )
    #: "check_in" or "vitals": which of the attendance's values this entry records.
    kind: Mapped[str] = mapped_column(String(10))
    #: The check-in as recorded by this entry (kind "check_in").
    check_in: Mapped[str | None] = mapped_column(String(10))
    mode: Mapped[str | None] = mapped_column(String(10))
    #: The vitals as recorded by this entry (kind "vitals"); None = not measured.
    weight_kg: Mapped[float | None] = mapped_column(Numeric(6, 2))
    systolic: Mapped[int | None] = mapped_column(Integer)
    diastolic: Mapped[int | None] = mapped_column(Integer)
    #: Who took the vitals: the patient at the self-care station, or staff.
    vitals_source: Mapped[str | None] = mapped_column(String(10))
    #: This entry changes a value recorded before (the earlier entry stays as it was).
    is_correction: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why a correction was made, in the words of the person who made it.
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: None only for values recorded before this history was kept.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))

    attendance: Mapped[Attendance] = relationship()
    recorded_by: Mapped[User | None] = relationship()


# Who belongs where: read by access rules (permissions) and by pages alike.


def group_ids_of_patient(
    patient: User, statuses: tuple[str, ...] = (ACTIVE, OFFERED, WAITLISTED)
) -> set[int]:
    """The groups a patient belongs to: as a member, offered a place, or waiting.

    A request to join that nobody has answered yet does not open the group.
    """
    by_status = groups_of_patient_by_status(patient, statuses)
    return set().union(*by_status.values())


def groups_of_patient_by_status(
    patient: User, statuses: tuple[str, ...] = (ACTIVE, OFFERED, WAITLISTED)
) -> dict[str, set[int]]:
    """The groups of :func:`group_ids_of_patient`, by the patient's status, in one query."""
    by_status: dict[str, set[int]] = {status: set() for status in statuses}
    rows = db.session.execute(
        _statuses_of_patient_query(), {"patient_id": patient.id, "statuses": list(statuses)}
    )
    for group_id, status in rows:
        by_status[status].add(group_id)
    return by_status


@functools.cache
def _statuses_of_patient_query():
    return select(Membership.group_id, Membership.status).where(
        Membership.patient_id == bindparam("patient_id"),
        Membership.status.in_(bindparam("statuses", expanding=True)),
    )
