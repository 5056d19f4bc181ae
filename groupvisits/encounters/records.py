"""Records of group visits: the group note, the session's note tracker, a patient's record,
after-visit summaries, goals with their progress, and residents' encounter logs.

Each reader gets only what is theirs to read: coordinators see where notes stand, never what
they say; patients read the plan, goals and follow-up of their signed notes, never the
assessment, concerns, vitals or billing. Every page's data comes in a fixed number of queries.
"""

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from babel.dates import format_date
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased, contains_eager, joinedload, load_only

from groupvisits import audit
from groupvisits.accounts.models import PatientProfile, User
from groupvisits.encounters.models import (
    ATTESTED,
    BILLING_LEVELS,
    DRAFT,
    FINAL,
    MET,
    MISSED,
    OPEN,
    PROGRESS,
    RETURNED,
    SIGNED,
    STOPPED,
    EncounterNote,
    GoalProgress,
    GroupNote,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.localtime import site_locale
from groupvisits.locking import lock_row
from groupvisits.permissions import can_write_group_note
from groupvisits.roster.models import ATTENDED, CHECK_INS, NO, YES, Attendance
from groupvisits.schedule import participation
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.timeutil import to_local, utcnow

#: Minutes a group part may last, as the database allows.
GROUP_MINUTES = (1, 480)
#: Longest comment a patient leaves on a goal's progress.
PROGRESS_COMMENT_MAX = 500
#: Notes that are signed: the patient's summary shows them, the resident's log counts them.
SIGNED_STATUSES = (SIGNED, ATTESTED, FINAL)

# The group note


def group_note_of(group_session: GroupSession) -> GroupNote | None:
    """The session's group note with its author, or None if nobody started it."""
    return db.session.scalar(
        select(GroupNote)
        .where(GroupNote.session_id == group_session.id)
        .options(joinedload(GroupNote.author))
    )


def attendees(group_session: GroupSession) -> list[User]:
    """Patients who came to the session (arrived or late): the group note joins their record."""
    return list(
        db.session.scalars(
            select(User)
            .join(Attendance, Attendance.patient_id == User.id)
            .where(Attendance.session_id == group_session.id, Attendance.check_in.in_(ATTENDED))
            .order_by(User.family_name, User.given_name, User.id)
        )
    )


def _attendee_ids(group_session: GroupSession) -> list[int]:
    return list(
        db.session.scalars(
            select(Attendance.patient_id).where(
                Attendance.session_id == group_session.id, Attendance.check_in.in_(ATTENDED)
            )
        )
    )


def check_group_note_open(group_session: GroupSession, actor: User) -> GroupNote | None:
    """The session's group note if ``actor`` may still change it (None: not started yet).

    :raises NotAllowed: ``actor`` neither facilitates the session nor coordinates its site.
    :raises Conflict: the session is cancelled, or the note is signed.
    """
    if not can_write_group_note(actor, group_session):
        raise NotAllowed("Only the session's facilitator or a coordinator writes its group note.")
    if group_session.is_cancelled:
        raise Conflict("This session was cancelled: it has no group note.")
    note = group_note_of(group_session)
    if note is not None and note.signed_at is not None:
        raise Conflict("The group note is signed: it can no longer be changed.")
    return note


def _check_minutes(minutes: int | None, *, required: bool) -> None:
    low, high = GROUP_MINUTES
    if minutes is None:
        if required:
            raise ValidationFailed(
                "Give how many minutes the group part lasted before signing.", field="minutes"
            )
        return
    if not low <= minutes <= high:
        raise ValidationFailed(f"Give a number of minutes from {low} to {high}.", field="minutes")


def save_group_note(
    group_session: GroupSession,
    *,
    topics: str,
    education: str = "",
    minutes: int | None = None,
    actor: User,
) -> GroupNote:
    """Start or change the session's draft group note.

    Two first saves at once clash on the note's unique session (one wins, the other
    gets a conflict); a change and a signature are serialised by locking the note.

    :raises NotAllowed, Conflict: see :func:`check_group_note_open`.
    :raises ValidationFailed: no topics, or minutes outside 1-480.
    """
    note = check_group_note_open(group_session, actor)
    topics, education = (topics or "").strip(), (education or "").strip()
    if not topics:
        raise ValidationFailed("Write the topics discussed.", field="topics")
    _check_minutes(minutes, required=False)
    if note is None:
        note = GroupNote(session_id=group_session.id, author_id=actor.id)
        db.session.add(note)
        action = "create"
    else:
        note = lock_row(GroupNote, note.id)
        if note.signed_at is not None:
            raise Conflict("The group note was signed meanwhile: it can no longer be changed.")
        action = "update"
    note.topics, note.education, note.minutes = topics, education, minutes
    db.session.flush()
    _audit_group_note(actor, action, group_session, note)
    return note


def sign_group_note(
    group_session: GroupSession, *, actor: User, now: datetime | None = None
) -> GroupNote:
    """Sign the session's group note: from now on it is read-only.

    The signer becomes the note's author of record (a coordinator may have drafted it).

    :raises NotAllowed: see :func:`check_group_note_open`.
    :raises Conflict: no note yet, already signed, cancelled, or the session has not begun.
    :raises ValidationFailed: the note lacks its topics or its minutes.
    """
    now = now or utcnow()
    note = check_group_note_open(group_session, actor)
    if note is None:
        raise Conflict("Write the group note before signing it.")
    note = lock_row(GroupNote, note.id)
    if note.signed_at is not None:
        raise Conflict("The group note was signed meanwhile.")
    if now < group_session.starts_at:
        raise Conflict("You can sign the group note once the session has begun.")
    if not note.topics.strip():
        raise ValidationFailed("Write the topics discussed.", field="topics")
    _check_minutes(note.minutes, required=True)
    note.signed_at, note.author_id = now, actor.id
    db.session.flush()
    _audit_group_note(actor, "update", group_session, note)
    return note


def _audit_group_note(actor: User, action: str, group_session: GroupSession, note) -> None:
    """The group note is part of each attendee's record: one row per attendee."""
    audit.record_each(
        actor, action, "group note", [(pid, note.id) for pid in _attendee_ids(group_session)]
    )


# The session's note tracker

#: Where a patient's note stands, in the order the tracker lists them (work to do first).
NOTE_STATES = {
    "missing": "Not written",
    "returned": "Returned for changes",
    "draft": "Draft, not signed",
    "awaiting": "Signed, awaiting attestation",
    "complete": "Complete",
    "no_visit": "No one-on-one visit",
}
_STATE_OF_STATUS = {
    DRAFT: "draft",
    RETURNED: "returned",
    SIGNED: "awaiting",
    ATTESTED: "complete",
    FINAL: "complete",
}
NO_CHARGE = BILLING_LEVELS["none"]


@dataclass(frozen=True)
class Billing:
    """Whether a visit is billed: ``label`` is "No charge" or a visit level."""

    label: str
    #: Why, or what it waits for ("" when the level is final).
    reason: str = ""
    charge: bool = False


@dataclass
class TrackerRow:
    """One patient expected or present at the session, with their slot and note."""

    patient: User
    attendance: Attendance | None = None
    slot: OneOnOneSlot | None = None
    note: EncounterNote | None = None

    @property
    def attended(self) -> bool:
        return self.attendance is not None and self.attendance.check_in in ATTENDED

    @property
    def attendance_label(self) -> str:
        check_in = self.attendance.check_in if self.attendance else None
        return CHECK_INS.get(check_in, "Not checked in")

    @property
    def had_one_on_one(self) -> bool:
        """Came, and was seen: a note, or a slot marked seen (a missed slot is no visit)."""
        if not self.attended:
            return False
        if self.note is not None:
            return True
        return self.slot is not None and self.slot.status != MISSED

    @property
    def state(self) -> str:
        if self.note is not None:
            return _STATE_OF_STATUS[self.note.status]
        return "missing" if self.had_one_on_one else "no_visit"

    @property
    def state_label(self) -> str:
        return NOTE_STATES[self.state]

    @property
    def written(self) -> bool:
        return self.note is not None

    @property
    def signed(self) -> bool:
        return self.note is not None and self.note.status in SIGNED_STATUSES

    @property
    def attestation_label(self) -> str:
        status = self.note.status if self.note else None
        return {
            ATTESTED: "Attested",
            FINAL: "No attestation needed",
            SIGNED: "Waiting",
        }.get(status, "Not yet" if self.note is not None else "")

    @property
    def billing(self) -> Billing:
        if not self.attended:
            return Billing(NO_CHARGE, f"Absent ({self.attendance_label.lower()})")
        if not self.had_one_on_one:
            return Billing(NO_CHARGE, "No one-on-one visit")
        if self.note is None:
            return Billing("Not known yet", "Waiting for the note")
        if self.note.billing_level == "none":
            return Billing(NO_CHARGE, "Set in the note")
        waiting = {
            DRAFT: "When the note is signed",
            RETURNED: "When the note is signed",
            SIGNED: "When the note is attested",
        }.get(self.note.status, "")
        return Billing(self.note.billing_label, waiting, charge=True)

    @property
    def sort_key(self):
        return (
            list(NOTE_STATES).index(self.state),
            self.patient.family_name.lower(),
            self.patient.given_name.lower(),
            self.patient.id,
        )


@dataclass
class Tracker:
    """A session's patients, work to do first, and the counts the page opens with."""

    group_session: GroupSession
    rows: list[TrackerRow]
    group_note: GroupNote | None
    counts: Counter = field(default_factory=Counter)


#: The note's columns the tracker reads: where it stands, never what it says.
_NOTE_STATUS_COLUMNS = (
    EncounterNote.id,
    EncounterNote.session_id,
    EncounterNote.patient_id,
    EncounterNote.author_id,
    EncounterNote.preceptor_id,
    EncounterNote.slot_id,
    EncounterNote.status,
    EncounterNote.billing_level,
    EncounterNote.signed_at,
    EncounterNote.attested_at,
)


@functools.cache
def _tracker_queries():
    with_slot = select(OneOnOneSlot.patient_id).where(
        OneOnOneSlot.session_id == bindparam("session_id")
    )
    with_note = select(EncounterNote.patient_id).where(
        EncounterNote.session_id == bindparam("session_id")
    )
    attendances = (
        select(Attendance)
        .where(
            Attendance.session_id == bindparam("session_id"),
            (Attendance.rsvp == YES)
            | Attendance.check_in.is_not(None)
            | (Attendance.is_drop_in & (func.coalesce(Attendance.rsvp, "") != NO))
            # Someone seen without saying yes still has their check-in shown.
            | Attendance.patient_id.in_(with_slot)
            | Attendance.patient_id.in_(with_note),
        )
        .options(joinedload(Attendance.patient, innerjoin=True))
    )
    slots = (
        select(OneOnOneSlot)
        .where(OneOnOneSlot.session_id == bindparam("session_id"))
        .options(
            joinedload(OneOnOneSlot.patient, innerjoin=True),
            joinedload(OneOnOneSlot.provider, innerjoin=True),
        )
    )
    notes = (
        select(EncounterNote)
        .where(EncounterNote.session_id == bindparam("session_id"))
        .options(
            load_only(*_NOTE_STATUS_COLUMNS),
            joinedload(EncounterNote.patient, innerjoin=True),
            joinedload(EncounterNote.author, innerjoin=True),
            joinedload(EncounterNote.preceptor),
        )
    )
    return attendances, slots, notes


def session_tracker(group_session: GroupSession) -> Tracker:
    """Everyone expected or present (RSVP yes, checked in, a drop-in, a slot or a note), with
    whether their note is written, signed and attested, and whether the visit is billed.

    Four queries, however many patients; note contents are not even loaded.
    """
    attendances, slots, notes = _tracker_queries()
    params = {"session_id": group_session.id}
    rows: dict[int, TrackerRow] = {}

    def row(patient: User) -> TrackerRow:
        return rows.setdefault(patient.id, TrackerRow(patient))

    for attendance in db.session.scalars(attendances, params):
        row(attendance.patient).attendance = attendance
    for slot in db.session.scalars(slots, params):
        row(slot.patient).slot = slot
    for note in db.session.scalars(notes, params).unique():
        row(note.patient).note = note
    ordered = sorted(rows.values(), key=lambda r: r.sort_key)
    return Tracker(
        group_session=group_session,
        rows=ordered,
        group_note=group_note_of(group_session),
        counts=Counter(r.state for r in ordered),
    )


# A patient's record


@dataclass
class RecordEntry:
    """One session in a patient's record: their one-on-one note and the group note."""

    group_session: GroupSession
    note: EncounterNote | None = None
    group_note: GroupNote | None = None


def _with_session(query, model):
    """Join a note's session, group and site, loading them in the same query."""
    return (
        query.join(model.group_session)
        .join(GroupSession.group)
        .join(VisitGroup.site)
        .options(
            contains_eager(model.group_session)
            .contains_eager(GroupSession.group)
            .contains_eager(VisitGroup.site)
        )
    )


def patient_record(patient: User, *, site_ids: set[int] | None = None) -> list[RecordEntry]:
    """A patient's encounters (status, date, provider) and the group notes of the sessions
    they attended, newest first, in two queries.

    :param site_ids: only sessions at these sites (those the reader serves); None: all.
    """
    notes = _with_session(select(EncounterNote), EncounterNote).where(
        EncounterNote.patient_id == patient.id
    )
    notes = notes.options(
        load_only(*_NOTE_STATUS_COLUMNS),
        joinedload(EncounterNote.author, innerjoin=True),
        joinedload(EncounterNote.preceptor),
    )
    group_notes = (
        _with_session(select(GroupNote), GroupNote)
        .join(
            Attendance,
            (Attendance.session_id == GroupNote.session_id) & (Attendance.patient_id == patient.id),
        )
        .where(Attendance.check_in.in_(ATTENDED))
        .options(joinedload(GroupNote.author, innerjoin=True))
    )
    if site_ids is not None:
        notes = notes.where(VisitGroup.site_id.in_(sorted(site_ids)))
        group_notes = group_notes.where(VisitGroup.site_id.in_(sorted(site_ids)))
    entries: dict[int, RecordEntry] = {}
    for note in db.session.scalars(notes).unique():
        entries.setdefault(note.session_id, RecordEntry(note.group_session)).note = note
    for group_note in db.session.scalars(group_notes).unique():
        entry = entries.setdefault(group_note.session_id, RecordEntry(group_note.group_session))
        entry.group_note = group_note
    return sorted(
        entries.values(),
        key=lambda e: (e.group_session.starts_at, e.group_session.id),
        reverse=True,
    )


# After-visit summaries


@dataclass(frozen=True)
class AfterVisitSummary:
    """What a patient reads of a signed note: never the assessment, concerns, vitals or billing.

    A plain record rather than the note itself, so that no page can show more by mistake.
    """

    note_id: int
    visit_at: datetime
    site: Site
    group_name: str
    provider_name: str
    plan: str
    goals: list[str]
    action_plan: str
    follow_up: str
    next_session: GroupSession | None

    @property
    def local_year(self) -> int:
        return to_local(self.visit_at, self.site.timezone).year


def my_summaries(patient: User, *, now: datetime | None = None) -> list[AfterVisitSummary]:
    """The patient's signed notes as after-visit summaries, newest first (three queries)."""
    notes = db.session.scalars(
        _with_session(select(EncounterNote), EncounterNote)
        .where(EncounterNote.patient_id == patient.id, EncounterNote.status.in_(SIGNED_STATUSES))
        .options(
            load_only(
                EncounterNote.id,
                EncounterNote.session_id,
                EncounterNote.author_id,
                EncounterNote.plan,
                EncounterNote.goals,
                EncounterNote.action_plan,
                EncounterNote.follow_up,
            ),
            joinedload(EncounterNote.author, innerjoin=True),
        )
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
    ).unique()
    notes = list(notes)
    # The next session only of groups the patient still holds a place in.
    group_ids = {n.group_session.group_id for n in notes}
    if group_ids:
        group_ids &= participation.active_group_ids_of_patient(patient)
    upcoming = schedule.next_sessions(sorted(group_ids), now or utcnow())
    return [
        AfterVisitSummary(
            note_id=note.id,
            visit_at=note.group_session.starts_at,
            site=note.group_session.group.site,
            group_name=note.group_session.group.name,
            provider_name=note.author.full_name,
            plan=note.plan.strip(),
            goals=[line.strip() for line in note.goals.splitlines() if line.strip()],
            action_plan=note.action_plan.strip(),
            follow_up=note.follow_up.strip(),
            next_session=upcoming.get(note.group_session.group_id),
        )
        for note in notes
    ]


# Goals


@dataclass
class GoalWithProgress:
    """An open goal and the patient's latest word on it (None: nothing said yet)."""

    goal: PatientGoal
    latest: GoalProgress | None


def my_goals(patient: User) -> list[GoalWithProgress]:
    """The patient's open goals, oldest first, each with its latest progress (two queries)."""
    goals = list(
        db.session.scalars(
            select(PatientGoal)
            .where(PatientGoal.patient_id == patient.id, PatientGoal.status == OPEN)
            .options(
                joinedload(PatientGoal.group, innerjoin=True).joinedload(
                    VisitGroup.site, innerjoin=True
                )
            )
            .order_by(PatientGoal.created_at, PatientGoal.id)
        )
    )
    latest: dict[int, GoalProgress] = {}
    if goals:
        newest = (
            select(func.max(GoalProgress.id))
            .where(GoalProgress.goal_id.in_([g.id for g in goals]))
            .group_by(GoalProgress.goal_id)
        )
        for progress in db.session.scalars(select(GoalProgress).where(GoalProgress.id.in_(newest))):
            latest[progress.goal_id] = progress
    return [GoalWithProgress(goal, latest.get(goal.id)) for goal in goals]


def record_progress(
    goal: PatientGoal,
    state: str,
    comment: str = "",
    *,
    actor: User,
    stop: bool = False,
    now: datetime | None = None,
) -> GoalProgress:
    """The patient says how a goal is going; "done" marks it met, ``stop`` stops it.

    :raises NotAllowed: ``actor`` is not the goal's patient.
    :raises ValidationFailed: ``state`` is not one of PROGRESS, or the comment is too long.
    :raises Conflict: the goal is already met or stopped.
    """
    if not actor.is_authenticated or actor.id != goal.patient_id:
        raise NotAllowed("Only the patient whose goal it is says how it is going.")
    if state not in PROGRESS:
        raise ValidationFailed("Choose how it is going.", field="state")
    comment = (comment or "").strip()
    if len(comment) > PROGRESS_COMMENT_MAX:
        raise ValidationFailed(
            f"Keep it to {PROGRESS_COMMENT_MAX} characters or fewer.", field="comment"
        )
    goal = lock_row(PatientGoal, goal.id)
    if goal.status != OPEN:
        raise Conflict("This goal is already finished.")
    progress = GoalProgress(
        goal_id=goal.id, state=state, comment=comment, created_at=now or utcnow()
    )
    db.session.add(progress)
    if stop:
        goal.status = STOPPED
    elif state == "done":
        goal.status = MET
    db.session.flush()
    audit.record(actor, "create", actor, "goal progress", progress.id)
    if goal.status != OPEN:
        audit.record(actor, "update", actor, "goal", goal.id)
    return progress


# Residents' encounter log


@dataclass(frozen=True)
class LogEntry:
    """One signed note in a clinician's log: no patient name, their record number only."""

    note_id: int
    patient_id: int
    visit_at: datetime
    site: Site
    group_name: str
    record_number: str
    status: str
    preceptor_name: str
    attested_at: datetime | None

    @property
    def local_date(self) -> date:
        return to_local(self.visit_at, self.site.timezone).date()

    @property
    def attested_on(self) -> date | None:
        return to_local(self.attested_at, self.site.timezone).date() if self.attested_at else None

    @property
    def status_label(self) -> str:
        return {SIGNED: "Awaiting attestation", ATTESTED: "Attested", FINAL: "Signed"}[self.status]


@dataclass
class EncounterLog:
    """A clinician's signed notes, newest first, counted by month, group and preceptor."""

    entries: list[LogEntry]
    #: (label, count) pairs: months newest first; groups and preceptors by count.
    by_month: list[tuple[str, int]]
    by_group: list[tuple[str, int]]
    by_preceptor: list[tuple[str, int]]

    @property
    def total(self) -> int:
        return len(self.entries)


#: Log entries whose note needs no attestation are counted under this preceptor.
NO_PRECEPTOR = "None (no attestation needed)"


@functools.cache
def _log_query():
    preceptor = aliased(User)
    return (
        select(
            EncounterNote.id,
            EncounterNote.patient_id,
            GroupSession.starts_at,
            Site,
            VisitGroup.name,
            PatientProfile.medical_record_number,
            EncounterNote.status,
            preceptor.given_name,
            preceptor.preferred_name,
            preceptor.family_name,
            EncounterNote.attested_at,
        )
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .join(Site, Site.id == VisitGroup.site_id)
        .outerjoin(PatientProfile, PatientProfile.user_id == EncounterNote.patient_id)
        .outerjoin(preceptor, preceptor.id == EncounterNote.preceptor_id)
        .where(
            EncounterNote.author_id == bindparam("author_id"),
            EncounterNote.status.in_(SIGNED_STATUSES),
        )
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
    )


def encounter_log(clinician: User) -> EncounterLog:
    """The clinician's signed notes (signed, attested, final), in one query.

    Patients appear by medical record number: the log is checked against the chart.
    """
    entries = []
    for row in db.session.execute(_log_query(), {"author_id": clinician.id}):
        note_id, patient_id, starts_at, site, group_name, mrn, status = row[:7]
        given, preferred, family, attested_at = row[7:]
        preceptor = f"{preferred or given} {family}".strip() if family or given else ""
        entries.append(
            LogEntry(
                note_id=note_id,
                patient_id=patient_id,
                visit_at=starts_at,
                site=site,
                group_name=group_name,
                record_number=mrn or "",
                status=status,
                preceptor_name=preceptor,
                attested_at=attested_at,
            )
        )
    months: dict[tuple[int, int], list] = {}
    for entry in entries:
        on = entry.local_date
        months.setdefault((on.year, on.month), [_month_words(on, entry.site), 0])[1] += 1
    return EncounterLog(
        entries=entries,
        by_month=[tuple(months[key]) for key in sorted(months, reverse=True)],
        by_group=_counted(entry.group_name for entry in entries),
        by_preceptor=_counted(entry.preceptor_name or NO_PRECEPTOR for entry in entries),
    )


def _month_words(on: date, site: Site) -> str:
    """The month in the site's language: "January 2027"."""
    return format_date(on, "LLLL y", locale=site_locale(site))


def _counted(names) -> list[tuple[str, int]]:
    """Names with their counts, most first, then by name."""
    return sorted(Counter(names).items(), key=lambda item: (-item[1], item[0]))
