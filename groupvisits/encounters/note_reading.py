"""Reading encounter notes: one note with what its page shows, its history, the lists around
notes (the attending's queue, a clinician's own notes), and what a provider reads before a
visit. Also the pieces the records' queries share: which notes count as signed, and a join
of a note's session, group and site.
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from groupvisits.accounts.models import User
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    OPEN,
    RETURNED,
    SIGNED,
    EncounterNote,
    GoalProgress,
    NoteAddendum,
    NoteEvent,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster import history
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import GroupSession

#: Notes that are signed: the patient's summary shows them, the resident's log counts them.
SIGNED_STATUSES = (SIGNED, ATTESTED, FINAL)
#: Follow-up items of earlier visits shown before a visit, newest first.
FOLLOW_UPS_SHOWN = 5
#: Attested and final notes listed on a clinician's page, newest first (the log has all).
FINISHED_SHOWN = 15


# Reading notes


def _with_context(query):
    """Load what pages show of a note with it: its session, group, site and people."""
    return query.options(
        joinedload(EncounterNote.group_session, innerjoin=True)
        .joinedload(GroupSession.group, innerjoin=True)
        .joinedload(VisitGroup.site, innerjoin=True),
        joinedload(EncounterNote.patient, innerjoin=True),
        joinedload(EncounterNote.author, innerjoin=True),
        joinedload(EncounterNote.preceptor),
    )


def with_session(query, model):
    """Join a note's (or group note's) session, group and site, loading them in the same query."""
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


def load_note(note_id: int) -> EncounterNote | None:
    """A note with its session, site, people and addenda (in two queries); None if none."""
    return db.session.scalar(
        _with_context(select(EncounterNote).where(EncounterNote.id == note_id)).options(
            joinedload(EncounterNote.attested_by),
            selectinload(EncounterNote.addenda).joinedload(NoteAddendum.author),
        )
    )


def load_slot(slot_id: int) -> OneOnOneSlot | None:
    """A slot with its session, group and site; None if none."""
    return db.session.scalar(
        select(OneOnOneSlot)
        .where(OneOnOneSlot.id == slot_id)
        .options(
            joinedload(OneOnOneSlot.group_session, innerjoin=True)
            .joinedload(GroupSession.group, innerjoin=True)
            .joinedload(VisitGroup.site, innerjoin=True)
        )
    )


def note_of_slot(slot: OneOnOneSlot) -> EncounterNote | None:
    """The note of the slot's patient at the slot's session, if one was started."""
    return db.session.scalar(
        select(EncounterNote).where(
            EncounterNote.session_id == slot.session_id,
            EncounterNote.patient_id == slot.patient_id,
        )
    )


def note_history(note: EncounterNote) -> list[NoteEvent]:
    """The note's steps (signed, returned with comment, signed again, attested), oldest first."""
    return list(
        db.session.scalars(
            select(NoteEvent)
            .where(NoteEvent.note_id == note.id)
            .options(joinedload(NoteEvent.actor))
            .order_by(NoteEvent.occurred_at, NoteEvent.id)
        )
    )


def attestation_queue(attending: User) -> list[EncounterNote]:
    """The signed notes waiting for ``attending``, oldest signature first (one query)."""
    return list(
        db.session.scalars(
            _with_context(select(EncounterNote))
            .where(EncounterNote.preceptor_id == attending.id, EncounterNote.status == SIGNED)
            .order_by(EncounterNote.signed_at, EncounterNote.id)
        )
    )


def notes_waiting(clinician: User) -> dict[str, int]:
    """What waits for ``clinician``, for their home page (one query): their notes returned
    to them and their drafts, and the signed notes they are to attest."""
    mine = EncounterNote.author_id == clinician.id

    def how_many(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    returned, drafts, to_attest = db.session.execute(
        select(
            how_many(mine & (EncounterNote.status == RETURNED)),
            how_many(mine & (EncounterNote.status == DRAFT)),
            how_many(
                (EncounterNote.preceptor_id == clinician.id) & (EncounterNote.status == SIGNED)
            ),
        ).where(
            (mine & EncounterNote.status.in_((RETURNED, DRAFT)))
            | ((EncounterNote.preceptor_id == clinician.id) & (EncounterNote.status == SIGNED))
        )
    ).one()
    return {"returned": returned, "drafts": drafts, "to_attest": to_attest}


#: The order a clinician's page lists their notes in: what needs them first.
MY_ORDER = (RETURNED, DRAFT, SIGNED, ATTESTED, FINAL)


def my_encounters(clinician: User) -> dict[str, list[EncounterNote]]:
    """A clinician's notes by status, in :data:`MY_ORDER` (every key present; two queries).

    Returned notes, drafts and notes awaiting attestation are all listed (oldest session
    first); attested and final notes only the latest :data:`FINISHED_SHOWN`.
    """
    by_status: dict[str, list[EncounterNote]] = {status: [] for status in MY_ORDER}
    open_notes = db.session.scalars(
        _with_context(select(EncounterNote))
        .join(EncounterNote.group_session)
        .where(
            EncounterNote.author_id == clinician.id,
            EncounterNote.status.in_((RETURNED, DRAFT, SIGNED)),
        )
        .order_by(GroupSession.starts_at, EncounterNote.id)
    )
    finished = db.session.scalars(
        _with_context(select(EncounterNote))
        .where(
            EncounterNote.author_id == clinician.id,
            EncounterNote.status.in_((ATTESTED, FINAL)),
        )
        .order_by(EncounterNote.signed_at.desc(), EncounterNote.id.desc())
        .limit(FINISHED_SHOWN)
    )
    for note in [*open_notes, *finished]:
        by_status[note.status].append(note)
    return by_status


# Before the visit


@dataclass(frozen=True)
class Measure:
    """The latest value of one measure, in words, with when and where it was taken."""

    label: str
    text: str
    taken_at: datetime
    source: str


@dataclass(frozen=True)
class GoalStatus:
    """An open goal with the patient's latest word on it (None: nothing said yet)."""

    goal: PatientGoal
    latest: GoalProgress | None


@dataclass(frozen=True)
class FollowUp:
    """A follow-up item written at an earlier visit."""

    text: str
    visit_at: datetime
    author: User


@dataclass(frozen=True)
class PreVisit:
    """What a provider reads before a visit: last measures, open goals, follow-up items."""

    measures: list[Measure]
    goals: list[GoalStatus]
    follow_ups: list[FollowUp]


@functools.cache
def _pre_visit_queries():
    """Earlier signed notes, check-in vitals and open goals of a patient at a site (built once)."""
    at_site = (GroupSession.group_id == VisitGroup.id) & (VisitGroup.site_id == bindparam("site"))
    notes = (
        select(EncounterNote, GroupSession.starts_at)
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
        .join(VisitGroup, at_site)
        .where(
            EncounterNote.patient_id == bindparam("patient"),
            EncounterNote.signed_at.is_not(None),
            EncounterNote.id != bindparam("note"),
            GroupSession.starts_at < bindparam("before"),
        )
        .options(joinedload(EncounterNote.author, innerjoin=True))
        .order_by(GroupSession.starts_at.desc(), EncounterNote.id.desc())
    )
    vitals = (
        select(
            Attendance.weight_kg, Attendance.systolic, Attendance.diastolic, Attendance.vitals_at
        )
        .join(GroupSession, GroupSession.id == Attendance.session_id)
        .join(VisitGroup, at_site)
        .where(
            Attendance.patient_id == bindparam("patient"),
            Attendance.vitals_at.is_not(None),
            GroupSession.starts_at <= bindparam("before"),
        )
        .order_by(Attendance.vitals_at.desc())
    )
    goals = (
        select(PatientGoal)
        .join(VisitGroup, VisitGroup.id == PatientGoal.group_id)
        .where(
            PatientGoal.patient_id == bindparam("patient"),
            PatientGoal.status == OPEN,
            VisitGroup.site_id == bindparam("site"),
            or_(PatientGoal.note_id.is_(None), PatientGoal.note_id != bindparam("note")),
        )
        .options(selectinload(PatientGoal.progress))
        .order_by(PatientGoal.created_at, PatientGoal.id)
    )
    return notes, vitals, goals


def pre_visit(note: EncounterNote) -> PreVisit:
    """The patient's last measures, open goals and earlier follow-up items (four queries).

    Measures are the latest of earlier signed notes and check-in vitals (this session's
    included), each with its date; only what was recorded at the note's site is shown,
    as only its clinicians read the note. Weights are in the site's unit.
    """
    site = note.group_session.group.site
    params = {
        "patient": note.patient_id,
        "site": site.id,
        "note": note.id,
        "before": note.group_session.starts_at,
    }
    notes_query, vitals_query, goals_query = _pre_visit_queries()
    earlier = db.session.execute(notes_query, params).all()
    checked = db.session.execute(vitals_query, params).all()

    found: dict[str, Measure] = {}

    def offer(key: str, label: str, text: str, taken_at: datetime, source: str) -> None:
        if key not in found or taken_at > found[key].taken_at:
            found[key] = Measure(label, text, taken_at, source)

    for weight_kg, systolic, diastolic, vitals_at in checked:
        if systolic is not None:
            offer("bp", "Blood pressure", f"{systolic}/{diastolic} mmHg", vitals_at, "check-in")
        if weight_kg is not None:
            offer("weight", "Weight", _weight(weight_kg, site), vitals_at, "check-in")
    for earlier_note, visit_at in earlier:
        if earlier_note.systolic is not None:
            bp = f"{earlier_note.systolic}/{earlier_note.diastolic} mmHg"
            offer("bp", "Blood pressure", bp, visit_at, "visit note")
        if earlier_note.weight_kg is not None:
            offer("weight", "Weight", _weight(earlier_note.weight_kg, site), visit_at, "visit note")
        if earlier_note.hba1c is not None:
            offer("hba1c", "HbA1c", f"{earlier_note.hba1c}%", visit_at, "visit note")
        if earlier_note.glucose is not None:
            offer("glucose", "Glucose", f"{earlier_note.glucose} mg/dL", visit_at, "visit note")
    measures = [found[key] for key in ("bp", "weight", "hba1c", "glucose") if key in found]

    goals = [
        GoalStatus(goal, goal.progress[-1] if goal.progress else None)
        for goal in db.session.scalars(goals_query, params)
    ]
    follow_ups = [
        FollowUp(earlier_note.follow_up, visit_at, earlier_note.author)
        for earlier_note, visit_at in earlier
        if earlier_note.follow_up.strip()
    ][:FOLLOW_UPS_SHOWN]
    return PreVisit(measures=measures, goals=goals, follow_ups=follow_ups)


def _weight(weight_kg, site) -> str:
    return history.weight_words(weight_kg, site.weight_unit)
