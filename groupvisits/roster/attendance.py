"""Attendance rules: RSVPs with their deadline, seats, drop-ins, check-in, vitals, show rates.

Seats of a session never exceed the group's maximum: each booking locks the
session (:func:`groupvisits.locking.lock_row`) before counting the seats taken.
Check-ins and vitals lock it too, so that a check-in and a cancellation (or a
move) of the session arriving together never both succeed.
"""

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import bindparam, case, exists, func, select
from sqlalchemy.orm import aliased, contains_eager

from groupvisits import audit, localtime
from groupvisits.accounts.models import User
from groupvisits.errors import GroupVisitsError, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import HYBRID, VisitGroup
from groupvisits.locking import lock_row
from groupvisits.permissions import serves_site
from groupvisits.roster import history
from groupvisits.roster.models import (
    ACTIVE,
    ARRIVED,
    ATTENDED,
    CHECK_IN_ENTRY,
    CHECK_INS,
    LATE,
    MAYBE,
    NO,
    NO_SHOW,
    VITALS_ENTRY,
    WAITLISTED,
    YES,
    Attendance,
    Membership,
)
from groupvisits.roster.services import needs_agreement
from groupvisits.schedule.census import Counts, round_half_up
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import KILOGRAMS, WEIGHT_UNITS
from groupvisits.timeutil import utcnow

#: Arrivals more than this long after the start are flagged late.
LATE_AFTER = timedelta(minutes=10)
#: Check-in opens this long before the start: people come early for their vitals.
CHECK_IN_OPENS = timedelta(minutes=60)
#: The show rate is taken over this many of the group's latest past sessions.
SHOW_RATE_SESSIONS = 6
#: ...and only within this window, so that years of history cost nothing.
SHOW_RATE_WINDOW = timedelta(days=366)


class SessionFull(GroupVisitsError):
    """Every seat of the session is taken."""

    status_code = 409


def answer_deadline(group_session: GroupSession) -> datetime:
    """The last instant members may answer: midnight, local time, N days before the session."""
    return group_session.answers_close_at


def describe_deadline(group_session: GroupSession) -> str:
    """The answer deadline in words, in local time: "the end of Monday 07 December"."""
    local = answer_deadline(group_session).astimezone(group_session.timezone)
    if local.time() == time.min:
        return f"the end of {localtime.day(local - timedelta(days=1), group_session.group.site)}"
    site = group_session.group.site
    return f"{localtime.day(local, site)}, {localtime.clock(local, site)}"


def check_in_opens_at(group_session: GroupSession) -> datetime:
    """The first instant anyone can be checked in (or their vitals taken) for the session."""
    return group_session.starts_at - CHECK_IN_OPENS


def why_no_check_in(group_session: GroupSession, *, now: datetime | None = None) -> str | None:
    """Why nobody can be checked in for the session yet, in words; None once check-in is open.

    Check-in belongs to the day: before it opens nobody has arrived, is late or is
    absent, and a no-show recorded days early would count in show rates.
    After the session, check-ins stay open for late entries and corrections.
    """
    if group_session.is_cancelled:
        return "This session is cancelled, so nobody is checked in for it."
    opens = check_in_opens_at(group_session)
    if (now or utcnow()) >= opens:
        return None
    site = group_session.group.site
    minutes = int(CHECK_IN_OPENS.total_seconds() // 60)
    return (
        f"This session starts {site.when(group_session.starts_at)}. Check-in opens "
        f"{minutes} minutes before, at {site.clock(opens)}: until then nobody can be "
        "marked arrived, late or absent, and no vitals are recorded."
    )


def _check_open(group_session: GroupSession, now: datetime) -> None:
    """:raises ValidationFailed: the session is cancelled or its check-in is not open yet."""
    reason = why_no_check_in(group_session, now=now)
    if reason:
        raise ValidationFailed(reason)


def _lock_for_check_in(
    group_session: GroupSession, attendance: Attendance, now: datetime
) -> GroupSession:
    """Lock the session, check its check-in is open, and read the attendance afresh.

    A cancellation or move of the session waits for this transaction (and this for
    theirs); a check-in another person saved a moment ago is seen, not overwritten.
    """
    locked = lock_row(GroupSession, group_session.id)
    _check_open(locked, now)
    if attendance.id is not None:
        db.session.refresh(attendance)
    return locked


def seats_taken(group_session: GroupSession, *, excluding: int | None = None) -> int:
    """Seats held by 'yes' answers and drop-ins, support persons included."""
    coming = (Attendance.rsvp == YES) | (Attendance.is_drop_in & (Attendance.rsvp != NO))
    query = select(
        func.coalesce(func.sum(1 + case((Attendance.brings_support_person, 1), else_=0)), 0)
    ).where(Attendance.session_id == group_session.id, coming)
    if excluding is not None:
        query = query.where(Attendance.patient_id != excluding)
    return int(db.session.scalar(query))


def _attendance(group_session: GroupSession, patient: User) -> Attendance | None:
    return db.session.scalar(
        select(Attendance)
        .where(Attendance.session_id == group_session.id, Attendance.patient_id == patient.id)
        .execution_options(populate_existing=True)
    )


def _answering_membership(
    group_session: GroupSession, patient: User, *, actor: User, now: datetime
) -> Membership:
    """The patient's place in the session's group, if they (or staff for them) may answer now.

    :raises NotAllowed: not the member themself (or staff of the site answering for them).
    :raises ValidationFailed: not a member, cancelled session, or past the deadline.
    """
    group = group_session.group
    if actor.id != patient.id and not serves_site(actor, group.site_id):
        raise NotAllowed("You can only answer for yourself.")
    membership = db.session.scalar(
        select(Membership).where(
            Membership.group_id == group.id,
            Membership.patient_id == patient.id,
            Membership.status == ACTIVE,
        )
    )
    if membership is None:
        raise ValidationFailed("Only members of the group answer for its sessions.")
    if group_session.is_cancelled:
        raise ValidationFailed("This session is cancelled.")
    if actor.id == patient.id and now >= answer_deadline(group_session):
        raise ValidationFailed(
            "Answers for this session are closed. Please call the clinic"
            + (f" on {group.site.phone}" if group.site.phone else "")
            + " if your plans changed."
        )
    return membership


def answer_rsvp(
    group_session: GroupSession,
    patient: User,
    answer: str,
    *,
    actor: User,
    brings_support_person: bool = False,
    now: datetime | None = None,
) -> Attendance:
    """Record a member's yes, no or maybe; a 'yes' takes a seat or raises SessionFull.

    :raises NotAllowed: not the member themself (or staff of the site answering for them).
    :raises ValidationFailed: not a member, cancelled session, past the deadline,
        or the confidentiality agreement not accepted yet.
    """
    now = now or utcnow()
    group = group_session.group
    if answer not in (YES, NO, MAYBE):
        raise ValidationFailed("Answer yes, no or maybe.")
    membership = _answering_membership(group_session, patient, actor=actor, now=now)
    if answer == YES and needs_agreement(group, patient) is not None:
        raise ValidationFailed(
            "Please read and accept the group's confidentiality agreement first."
            if actor.id == patient.id
            else f"{patient.full_name} has not accepted the group's confidentiality agreement "
            "yet: record their paper agreement on the roster first."
        )
    locked = lock_row(GroupSession, group_session.id)
    attendance = _attendance(locked, patient)
    if attendance is None:
        attendance = Attendance(
            session_id=locked.id, patient_id=patient.id, membership_id=membership.id
        )
        db.session.add(attendance)
    needed = (1 + int(brings_support_person)) if answer == YES else 0
    if needed:
        with db.session.no_autoflush:
            taken = seats_taken(locked, excluding=patient.id)
        if taken + needed > group.max_members:
            if attendance.id is None:
                db.session.expunge(attendance)
            free = max(group.max_members - taken, 0)
            raise SessionFull(
                "Sorry, this session is full."
                if free == 0
                else f"Only {free} seat is left, so your support person cannot come this time."
            )
    attendance.rsvp, attendance.answered_at = answer, now
    attendance.brings_support_person = brings_support_person and answer != NO
    db.session.flush()
    audit.record(actor, "update", patient, "attendance", attendance.id)
    return attendance


def set_support_person(
    group_session: GroupSession,
    patient: User,
    brings: bool,
    *,
    actor: User,
    now: datetime | None = None,
) -> Attendance | None:
    """Record whether a member brings a family member or carer, whatever their answer.

    The choice is kept with or without an answer; with a 'yes' the support person takes
    a seat of their own. Returns the attendance (None: nothing to keep, no answer yet).

    :raises SessionFull: a 'yes' and no seat left for the support person (nothing changes).
    :raises NotAllowed, ValidationFailed: as :func:`answer_rsvp`.
    """
    now = now or utcnow()
    membership = _answering_membership(group_session, patient, actor=actor, now=now)
    locked = lock_row(GroupSession, group_session.id)
    attendance = _attendance(locked, patient)
    if attendance is None and not brings:
        return None
    if attendance is not None and attendance.brings_support_person == brings:
        return attendance
    if attendance is None:
        attendance = Attendance(
            session_id=locked.id, patient_id=patient.id, membership_id=membership.id
        )
        db.session.add(attendance)
    elif brings and attendance.rsvp == YES:
        if seats_taken(locked, excluding=patient.id) + 2 > group_session.group.max_members:
            raise SessionFull(
                "Sorry, no seat is left for a support person at this session. "
                "Your own place is kept."
            )
    attendance.brings_support_person = brings
    db.session.flush()
    audit.record(actor, "update", patient, "attendance", attendance.id)
    return attendance


def add_drop_in(
    group_session: GroupSession, patient: User, *, actor: User, now: datetime | None = None
) -> Attendance:
    """Add a non-member to one session (a trial visit, say); drop-ins take seats too.

    :raises SessionFull: no seat is free.
    """
    group = group_session.group
    if not serves_site(actor, group.site_id):
        raise NotAllowed("Only staff of this site add drop-ins.")
    if not patient.is_patient or group.site_id not in patient.site_ids:
        raise ValidationFailed("Only patients of this site can drop in.")
    if group_session.is_cancelled:
        raise ValidationFailed("This session is cancelled.")
    locked = lock_row(GroupSession, group_session.id)
    attendance = _attendance(locked, patient)
    if attendance is not None:
        raise ValidationFailed(f"{patient.full_name} is already on this session's list.")
    if seats_taken(locked) + 1 > group.max_members:
        raise SessionFull("Sorry, this session is full: no seat is left for a drop-in.")
    attendance = Attendance(
        session_id=locked.id,
        patient_id=patient.id,
        is_drop_in=True,
        rsvp=YES,
        answered_at=now or utcnow(),
    )
    db.session.add(attendance)
    db.session.flush()
    audit.record(actor, "create", patient, "attendance", attendance.id)
    return attendance


def attendance_for_check_in(
    group_session: GroupSession, patient: User, *, actor: User
) -> Attendance:
    """The row to check a member in on, made if the member never answered."""
    attendance = _attendance(group_session, patient)
    if attendance is not None:
        return attendance
    membership = db.session.scalar(
        select(Membership).where(
            Membership.group_id == group_session.group_id,
            Membership.patient_id == patient.id,
            Membership.status == ACTIVE,
        )
    )
    if membership is None:
        raise ValidationFailed("Add this patient as a drop-in first.")
    attendance = Attendance(
        session_id=group_session.id, patient_id=patient.id, membership_id=membership.id
    )
    db.session.add(attendance)
    db.session.flush()
    return attendance


def _mode(group: VisitGroup, status: str, mode: str | None, attendance: Attendance) -> str | None:
    """How a person joined: only for attendees; hybrid groups say, the others have one way."""
    if status not in ATTENDED:
        return None
    if group.modality == HYBRID and mode in ("in_person", "virtual"):
        return mode
    if attendance.check_in in ATTENDED and attendance.mode is not None:
        return attendance.mode
    return "virtual" if group.modality == "virtual" else "in_person"


def check_in(
    attendance: Attendance,
    status: str,
    *,
    actor: User,
    group_session: GroupSession,
    mode: str | None = None,
    wants_one_on_one: bool | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Attendance:
    """Mark arrived, late, no-show or excused; an arrival after the start counts as late.

    Changing a check-in already recorded is a correction: it needs a reason, and the
    earlier check-in stays in the history. Tapping the same check-in again changes nothing.

    :raises ValidationFailed: an unknown check-in, another session's row, a cancelled
        session or one whose check-in has not opened (:func:`why_no_check_in`), or a
        correction without a reason.
    """
    now = now or utcnow()
    group = group_session.group
    if not serves_site(actor, group.site_id):
        raise NotAllowed("Only staff of this site check people in.")
    if status not in CHECK_INS:
        raise ValidationFailed("Unknown check-in.")
    if attendance.session_id != group_session.id:
        raise ValidationFailed("That person is on another session's list.")
    group_session = _lock_for_check_in(group_session, attendance, now)
    before = attendance.check_in
    # An arrival happening now is late after the start; a recorded one is corrected as said.
    if status == ARRIVED and before not in ATTENDED and now > group_session.starts_at + LATE_AFTER:
        status = LATE
    new_mode = _mode(group, status, mode, attendance)
    changed = (status, new_mode) != (before, attendance.mode)
    correcting = changed and before is not None
    if correcting:
        reason = history.correction_reason(
            reason,
            f"{attendance.patient.group_name} is checked in as "
            f"{history.check_in_words(before, attendance.mode)}. To change it to "
            f"{history.check_in_words(status, new_mode)}, give a reason for the correction.",
        )
        history.keep_earlier(attendance, CHECK_IN_ENTRY)
    if changed:
        attendance.check_in, attendance.mode, attendance.checked_in_at = status, new_mode, now
        history.append(
            attendance,
            CHECK_IN_ENTRY,
            actor=actor,
            now=now,
            reason=reason or "",
            is_correction=correcting,
        )
    asked = wants_one_on_one is not None and wants_one_on_one != attendance.wants_one_on_one
    if asked:
        attendance.wants_one_on_one = wants_one_on_one
    if changed or asked:
        db.session.flush()
        audit.record(actor, "update", attendance.patient, "attendance", attendance.id)
    return attendance


def set_wants_one_on_one(
    attendance: Attendance,
    wish: bool | None,
    *,
    actor: User,
    group_session: GroupSession,
    now: datetime | None = None,
) -> bool:
    """Record whether the person wants a one-on-one visit today (None: not asked).

    Saved on its own, whatever else is tapped: it is no check-in and no correction.
    Returns True if it changed.

    :raises ValidationFailed: another session's row, or check-in not open
        (:func:`why_no_check_in`).
    """
    now = now or utcnow()
    if not serves_site(actor, group_session.group.site_id):
        raise NotAllowed("Only staff of this site record who wants a one-on-one visit.")
    if attendance.session_id != group_session.id:
        raise ValidationFailed("That person is on another session's list.")
    _lock_for_check_in(group_session, attendance, now)
    if attendance.wants_one_on_one is wish:
        return False
    attendance.wants_one_on_one = wish
    db.session.flush()
    audit.record(actor, "update", attendance.patient, "attendance", attendance.id)
    return True


def _check_weight(weight: Decimal | float | None, unit: str) -> None:
    """:raises ValidationFailed: a weight no person has, said in ``unit``'s words."""
    if unit not in WEIGHT_UNITS:
        raise ValidationFailed("Give the weight in kilograms or pounds.")
    low, high = history.WEIGHT_LIMITS[unit]
    if weight is not None and not low <= float(weight) <= high:
        raise ValidationFailed(
            f"The weight should be in {history.UNIT_WORDS[unit]}, between {low} and {high}.",
            field="weight",
        )


def record_vitals(
    attendance: Attendance,
    *,
    weight: Decimal | float | None,
    systolic: int | None,
    diastolic: int | None,
    source: str,
    actor: User,
    weight_unit: str = KILOGRAMS,
    reason: str | None = None,
    now: datetime | None = None,
) -> Attendance:
    """Weight and blood pressure, from the self-care station (patient) or staff.

    The weight is given in ``weight_unit`` ("kg" or "lb", as the site's form showed it)
    and stored in kilograms. Changing a measurement already recorded is a correction:
    it needs a reason, and the earlier values stay in the history. Adding one not yet
    taken (the blood pressure after the weight) is not; saving the same numbers again
    changes nothing.

    :raises ValidationFailed: numbers that make no sense, a cancelled session or one
        whose check-in has not opened, or a correction without a reason.
    """
    now = now or utcnow()
    group_session = db.session.get(GroupSession, attendance.session_id)
    site_id = group_session.group.site_id
    own = actor.id == attendance.patient_id
    if not (own or serves_site(actor, site_id)):
        raise NotAllowed("Only the patient or staff of this site record these vitals.")
    if source not in ("patient", "staff"):
        raise ValidationFailed("Say who took the measurements.")
    if weight is None and systolic is None and diastolic is None:
        raise ValidationFailed("Enter a weight or a blood pressure.")
    if (systolic is None) != (diastolic is None):
        raise ValidationFailed("A blood pressure needs both numbers, e.g. 128 over 82.")
    _check_weight(weight, weight_unit)
    if systolic is not None and not (60 <= systolic <= 260 and 30 <= diastolic <= 160):
        raise ValidationFailed("That blood pressure looks mistyped; please check it.")
    if systolic is not None and diastolic >= systolic:
        raise ValidationFailed("The first blood pressure number is the larger one.")
    _lock_for_check_in(group_session, attendance, now)
    before = (history.kilograms(attendance.weight_kg), attendance.systolic, attendance.diastolic)
    weight_kg = history.to_kilograms(weight, weight_unit)
    if weight is not None and history.in_unit(before[0], weight_unit) == history.in_unit(
        weight_kg, weight_unit
    ):
        weight_kg = before[0]  # the weight as shown, saved again: not a new measurement
    after = (weight_kg, systolic, diastolic)
    if attendance.vitals_taken and after == before:
        return attendance
    correcting = any(old is not None and old != new for old, new in zip(before, after, strict=True))
    if correcting:
        reason = history.correction_reason(
            reason,
            f"{attendance.patient.group_name} already has vitals recorded "
            f"({history.vitals_words(*before, weight_unit)}). To change them, give a reason "
            "for the correction.",
        )
    if attendance.vitals_taken:
        history.keep_earlier(attendance, VITALS_ENTRY)
    attendance.weight_kg, attendance.systolic, attendance.diastolic = after
    attendance.vitals_source, attendance.vitals_at = source, now
    history.append(
        attendance,
        VITALS_ENTRY,
        actor=actor,
        now=now,
        reason=reason or "",
        is_correction=correcting,
    )
    db.session.flush()
    audit.record(actor, "update", attendance.patient, "vitals", attendance.id)
    return attendance


# Numbers for the census, the session page and the meal


@functools.cache
def _show_rate_query():
    """Said yes and came, per group, over each group's latest past sessions (built once)."""
    ranked = (
        select(
            GroupSession.id,
            GroupSession.group_id,
            func.row_number()
            .over(partition_by=GroupSession.group_id, order_by=GroupSession.starts_at.desc())
            .label("rank"),
        )
        .where(
            GroupSession.group_id.in_(bindparam("group_ids", expanding=True)),
            GroupSession.starts_at < bindparam("now"),
            # "Recent": a monthly group's last sessions lie within the past year.
            GroupSession.starts_at >= bindparam("since"),
            GroupSession.status == "scheduled",
        )
        .subquery()
    )
    return (
        select(
            ranked.c.group_id,
            func.count(Attendance.id),
            func.sum(case((Attendance.check_in.in_(ATTENDED), 1), else_=0)),
        )
        .join(Attendance, Attendance.session_id == ranked.c.id)
        # Members' answers: a drop-in added on the day says nothing about who keeps a 'yes'.
        .where(ranked.c.rank <= SHOW_RATE_SESSIONS, Attendance.rsvp == YES)
        .where(~Attendance.is_drop_in)
        .where(Attendance.check_in.is_not(None))
        .group_by(ranked.c.group_id)
    )


def show_rates(group_ids: list[int], now: datetime | None = None) -> dict[int, Fraction]:
    """Each group's share of 'yes' answers that turned up, over its latest past sessions.

    Exact fractions: 11 confirmed at a rate of 15/22 expect exactly 7.5 people, not 7.4999.
    """
    return {
        group_id: Fraction(came, said)
        for group_id, (said, came) in _show_rate_counts(group_ids, now).items()
    }


def _show_rate_counts(group_ids, now: datetime | None = None) -> dict[int, tuple[int, int]]:
    """Per group: (members' 'yes' answers checked in on, of those who came), recent sessions."""
    now = now or utcnow()
    if not group_ids:
        return {}
    rows = db.session.execute(
        _show_rate_query(),
        {"group_ids": list(group_ids), "now": now, "since": now - SHOW_RATE_WINDOW},
    ).all()
    return {group_id: (int(said), int(came or 0)) for group_id, said, came in rows if said}


@functools.cache
def _session_counts_query():
    """Members' answers (and who has not answered), drop-ins, seats and the group's waitlist
    per session (built once).

    Only members holding a place count as confirmed, maybe or declined; drop-ins and support
    persons hold seats of their own. The seats are counted as :func:`seats_taken` counts them.
    Each session's row carries its group and that group's waitlist, so that one query
    answers for any number of sessions, with answers or none.
    """
    coming = (Attendance.rsvp == YES) | (Attendance.is_drop_in & (Attendance.rsvp != NO))
    member = ~Attendance.is_drop_in & (Membership.status == ACTIVE)
    waiting = aliased(Membership)

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    waitlisted = (
        select(func.count(waiting.id))
        .where(waiting.group_id == GroupSession.group_id, waiting.status == WAITLISTED)
        .correlate(GroupSession)
        .scalar_subquery()
    )
    placed, answer = aliased(Membership), aliased(Attendance)
    unanswered = (
        select(func.count(placed.id))
        .where(
            placed.group_id == GroupSession.group_id,
            placed.status == ACTIVE,
            ~exists()
            .where(
                answer.session_id == GroupSession.id,
                answer.patient_id == placed.patient_id,
                answer.rsvp.is_not(None),
            )
            .correlate(GroupSession, placed),
        )
        .correlate(GroupSession)
        .scalar_subquery()
    )
    return (
        select(
            GroupSession.id,
            GroupSession.group_id,
            count(member & (Attendance.rsvp == YES)),
            count(member & (Attendance.rsvp == MAYBE)),
            count(member & (Attendance.rsvp == NO)),
            count(Attendance.is_drop_in & (Attendance.rsvp != NO)),
            count(coming & Attendance.brings_support_person),
            func.sum(case((coming, 1 + case((Attendance.brings_support_person, 1), else_=0)))),
            waitlisted,
            unanswered,
        )
        .outerjoin(Attendance, Attendance.session_id == GroupSession.id)
        .outerjoin(Membership, Membership.id == Attendance.membership_id)
        .where(GroupSession.id.in_(bindparam("session_ids", expanding=True)))
        .group_by(GroupSession.id, GroupSession.group_id)
    )


def counts_for_sessions(session_ids: list[int]) -> dict[int, Counts]:
    """Members' answers, drop-ins, seats, the waitlist and show rate of each session (2 queries).

    ``unanswered`` counts members holding a place with no answer yet, cancelled sessions too.
    """
    if not session_ids:
        return {}
    rows = db.session.execute(_session_counts_query(), {"session_ids": list(session_ids)}).all()
    history = _show_rate_counts(sorted({row[1] for row in rows}))
    result = {}
    for session_id, group_id, *numbers, waiting, unanswered in rows:
        yes, maybe, no, drop_ins, support, seats = (int(value or 0) for value in numbers)
        said, came = history.get(group_id, (0, 0))
        result[session_id] = Counts(
            confirmed=yes,
            maybe=maybe,
            declined=no,
            drop_ins=drop_ins,
            support_persons=support,
            seats=seats,
            waitlisted=int(waiting or 0),
            unanswered=int(unanswered or 0),
            show_rate=Fraction(came, said) if said else Fraction(1),
            show_rate_known=bool(said),
        )
    return result


@dataclass
class SessionList:
    """Everyone expected at a session, sorted into what they answered."""

    confirmed: list = field(default_factory=list)
    maybe: list = field(default_factory=list)
    declined: list = field(default_factory=list)
    no_answer: list = field(default_factory=list)
    drop_ins: list = field(default_factory=list)
    seats: int = 0
    support_persons: int = 0
    diets: Counter = field(default_factory=Counter)

    @property
    def headcount(self) -> int:
        """People at the meal: everyone coming, support persons included."""
        return self.seats


@dataclass
class Row:
    """One line of the session list: a patient and their attendance (if any)."""

    patient: User
    attendance: Attendance | None
    membership: Membership | None
    agreement_ok: bool = True


@functools.cache
def _session_list_queries():
    """Active members, a session's attendance rows, people with their profiles (built once)."""
    ids = bindparam("ids", expanding=True)
    return (
        select(Membership)
        .where(Membership.group_id == bindparam("group_id"), Membership.status == ACTIVE)
        .join(User, User.id == Membership.patient_id)
        .order_by(User.family_name, User.given_name),
        select(Attendance).where(Attendance.session_id == bindparam("session_id")),
        # People with their profiles, in one query.
        select(User)
        .outerjoin(User.patient_profile)
        .where(User.id.in_(ids))
        .options(contains_eager(User.patient_profile)),
    )


def session_list(group_session: GroupSession, *, agreements: set[int] | None = None) -> SessionList:
    """Members (by answer) and drop-ins of a session, with the meal summary; fixed query count."""
    members_query, attendances_query, people_query = _session_list_queries()
    members = db.session.scalars(members_query, {"group_id": group_session.group_id}).all()
    attendances = db.session.scalars(attendances_query, {"session_id": group_session.id}).all()
    patient_ids = sorted({m.patient_id for m in members} | {a.patient_id for a in attendances})
    people = {user.id: user for user in db.session.scalars(people_query, {"ids": patient_ids})}
    by_patient = {a.patient_id: a for a in attendances}
    result = SessionList()
    seen = set()
    for membership in members:
        attendance = by_patient.get(membership.patient_id)
        row = Row(people[membership.patient_id], attendance, membership)
        if agreements is not None:
            row.agreement_ok = membership.patient_id in agreements
        seen.add(membership.patient_id)
        answer = attendance.rsvp if attendance else None
        {YES: result.confirmed, MAYBE: result.maybe, NO: result.declined}.get(
            answer, result.no_answer
        ).append(row)
    for attendance in attendances:
        if attendance.patient_id in seen:
            continue
        target = result.drop_ins if attendance.is_drop_in else result.declined
        target.append(Row(people[attendance.patient_id], attendance, None))
    for row in result.confirmed + result.drop_ins:
        if row.attendance and row.attendance.seats:
            result.seats += row.attendance.seats
            result.support_persons += int(row.attendance.brings_support_person)
            profile = row.patient.patient_profile
            # Counted by the list's labels: "low salt" and "low sodium" are one need.
            result.diets.update(profile.meal_needs if profile else [])
    return result


@dataclass
class SheetLine:
    """One numbered line of the printed sign-in sheet."""

    number: int
    patient_id: int
    #: As fellow members see the person ("Pat I."); "" for those who keep their name to staff.
    name: str
    support_person: bool


def sheet_lines(listing: SessionList) -> list[SheetLine]:
    """The sign-in sheet's lines: everyone expected, numbered, in the session list's order.

    The sheet lies on a table where patients sign: a member shows as fellow members see
    them, and only if they agreed to share their name; everyone else (those who said no or
    were never asked, drop-ins) has a numbered blank line, which the check-in page matches
    to the person.
    """
    rows = listing.confirmed + listing.maybe + listing.no_answer + listing.drop_ins
    return [
        SheetLine(
            number=number,
            patient_id=row.patient.id,
            name=row.patient.group_name
            if row.membership is not None and row.membership.share_name is True
            else "",
            support_person=bool(row.attendance and row.attendance.brings_support_person),
        )
        for number, row in enumerate(rows, start=1)
    ]


def percent(part: int, whole: int) -> int:
    """``part`` of ``whole`` in whole percent, halves up (1 of 8 is 13%, not 12%)."""
    return round_half_up(Fraction(100 * part, whole)) if whole else 0


@functools.cache
def _member_show_rate_query():
    return (
        select(
            Attendance.patient_id,
            func.count(Attendance.id),
            func.sum(case((Attendance.check_in.in_(ATTENDED), 1), else_=0)),
            func.sum(case((Attendance.check_in == NO_SHOW, 1), else_=0)),
        )
        .join(GroupSession, GroupSession.id == Attendance.session_id)
        .where(
            GroupSession.group_id == bindparam("group_id"),
            Attendance.patient_id.in_(bindparam("patient_ids", expanding=True)),
            Attendance.check_in.is_not(None),
        )
        .group_by(Attendance.patient_id)
    )


def member_show_rates(group_id: int, patient_ids: list[int]) -> dict[int, tuple[int, int, int]]:
    """Per member: (sessions checked in on, attended, no-shows), in one query."""
    if not patient_ids:
        return {}
    rows = db.session.execute(
        _member_show_rate_query(), {"group_id": group_id, "patient_ids": list(patient_ids)}
    ).all()
    return {pid: (int(n), int(came or 0), int(missed or 0)) for pid, n, came, missed in rows}
