"""Encounter notes: the draft, its signature, addenda, attestation, and the lists around them.

A note is written as a draft by the provider of a one-on-one slot, then signed. A resident's
signed note waits for the session's precepting attending, who attests it or returns it with a
comment; the resident answers a returned note with an addendum and signs it again. Anyone
else's signature is final. Nothing signed is ever edited or deleted: changes are addenda.

Every change locks the note's row first (:func:`groupvisits.locking.lock_row`), so that two
signatures, or a save and a signature, arriving together never both pass their checks.
Every read and write of a note writes an audit row; the views record the reads.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import joinedload, selectinload

from groupvisits import audit
from groupvisits.accounts.models import User
from groupvisits.encounters.models import (
    ATTESTED,
    BILLING_LEVELS,
    DRAFT,
    FINAL,
    NOTE_STATUSES,
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
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.locking import lock_row
from groupvisits.permissions import can_attest_note, can_write_note
from groupvisits.roster import history
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import KILOGRAMS, POUNDS, WEIGHT_UNITS
from groupvisits.team.models import PRECEPTOR, StaffAssignment
from groupvisits.timeutil import utcnow

#: The discipline (a ``DISCIPLINES`` key) whose signed notes wait for attestation.
RESIDENT = "resident"
#: Kinds of :class:`NoteEvent`, as the history lists them.
EVENT_SIGNED, EVENT_ATTESTED, EVENT_RETURNED, EVENT_SIGNED_AGAIN = (
    "signed",
    "attested",
    "returned",
    "signed_again",
)
EVENT_LABELS = {
    EVENT_SIGNED: "Signed",
    EVENT_ATTESTED: "Attested",
    EVENT_RETURNED: "Returned",
    EVENT_SIGNED_AGAIN: "Signed again",
}

TEXT_FIELDS = ("concerns", "assessment", "plan", "goals", "action_plan", "follow_up")
NUMBER_FIELDS = ("systolic", "diastolic", "weight", "hba1c", "glucose", "minutes")
#: What :func:`save_draft` accepts; ``weight`` is given in ``weight_unit`` (default kg).
DRAFT_FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS, "billing_level", "weight_unit")
#: The longest text of one field, addendum or comment, in characters.
TEXT_MAX = 10_000
#: A goal is one line of ``goals``; each becomes a PatientGoal (its text holds 300).
GOAL_MAX, GOALS_MAX = 300, 10

#: The measures a note holds: how to say them, their unit, and the range the database
#: allows (its CHECK constraints), so that the person reads the rule instead of a 500.
MEASURES = {
    "systolic": ("A systolic pressure", "mmHg", 50, 300),
    "diastolic": ("A diastolic pressure", "mmHg", 20, 200),
    "hba1c": ("An HbA1c", "%", 3, 20),
    "glucose": ("A glucose level", "mg/dL", 20, 1000),
    "minutes": ("A visit", "minutes", 1, 240),
}
WHOLE_NUMBERS = {"systolic", "diastolic", "glucose", "minutes"}
#: Weights in each unit; inside the database's 20-400 kg once converted (45 lb = 20.4 kg,
#: 880 lb = 399.2 kg).
WEIGHT_RANGES = {KILOGRAMS: (20, 400), POUNDS: (45, 880)}

#: Follow-up items of earlier visits shown before a visit, newest first.
FOLLOW_UPS_SHOWN = 5
#: Attested and final notes listed on a clinician's page, newest first (the log has all).
FINISHED_SHOWN = 50

NO_PRECEPTOR = (
    "This session has no precepting attending, so your note cannot go for attestation. "
    "Your draft is kept: ask the coordinator to assign an attending to the session, then sign."
)
CHANGED_SINCE = (
    "This note changed at {when}, after you opened it (perhaps in another window, or an "
    "addendum). Please look at it again before you go on."
)


class NoteChanged(Conflict):
    """The note changed since the page acting on it was shown."""


# Checking what was entered


def measure_problem(name: str, value, weight_unit: str = KILOGRAMS) -> str | None:
    """Why ``value`` cannot be a note's ``name`` measure, in words; None if it can.

    The weight is given in ``weight_unit``. The ranges are the database's own checks.
    """
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return "Give a number."
    if not number.is_finite():
        return "Give a number."
    if name == "weight":
        if weight_unit not in WEIGHT_UNITS:
            return "Give the weight in kilograms or pounds."
        low, high = WEIGHT_RANGES[weight_unit]
        if not low <= number <= high:
            return f"A weight of {value} {weight_unit} is not possible; enter {low}–{high}."
        return None
    what, unit, low, high = MEASURES[name]
    if name in WHOLE_NUMBERS and number != number.to_integral_value():
        return f"Give a whole number of {unit}."
    if not low <= number <= high:
        space = "" if unit == "%" else " "
        if name == "minutes":
            return f"A visit of {value} minutes cannot be billed as one visit; enter {low}–{high}."
        return f"{what} of {value}{space}{unit} is not possible; enter {low}–{high}."
    return None


def goal_lines(goals: str) -> list[str]:
    """The goals written in a note, one per non-empty line, each once."""
    lines = []
    for line in (goals or "").splitlines():
        line = " ".join(line.split())
        if line and line.casefold() not in {seen.casefold() for seen in lines}:
            lines.append(line)
    return lines


def _clean_draft(fields: Mapping[str, object]) -> dict[str, object]:
    """The columns to set from ``fields``, checked.

    :raises ValidationFailed: a value the note cannot hold, with the field it belongs to.
    """
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise ValueError(f"save_draft() got unknown fields: {sorted(unknown)}")
    unit = fields.get("weight_unit") or KILOGRAMS
    values: dict[str, object] = {}
    for name in TEXT_FIELDS:
        if name in fields:
            text = str(fields[name] or "").replace("\r\n", "\n").strip()
            if len(text) > TEXT_MAX:
                raise ValidationFailed(
                    f"Keep this under {TEXT_MAX:,} characters (it has {len(text):,}).", field=name
                )
            values[name] = text
    if "goals" in values:
        lines = goal_lines(values["goals"])
        if len(lines) > GOALS_MAX:
            raise ValidationFailed(
                f"Keep to {GOALS_MAX} goals or fewer, one per line.", field="goals"
            )
        for number, line in enumerate(lines, start=1):
            if len(line) > GOAL_MAX:
                raise ValidationFailed(
                    f"Goal {number} has {len(line)} characters; keep each goal under "
                    f"{GOAL_MAX}, one per line.",
                    field="goals",
                )
    for name in NUMBER_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        value = None if value in (None, "") else value
        problem = measure_problem(name, value, unit)
        if problem:
            raise ValidationFailed(problem, field=name)
        if value is None:
            values["weight_kg" if name == "weight" else name] = None
        elif name == "weight":
            values["weight_kg"] = history.to_kilograms(value, unit)
        elif name == "hba1c":
            values[name] = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        else:
            values[name] = int(Decimal(str(value)))
    if "billing_level" in fields:
        level = fields["billing_level"] or "none"
        if level not in BILLING_LEVELS:
            raise ValidationFailed("Choose a billing level from the list.", field="billing_level")
        values["billing_level"] = level
    return values


def _check_blood_pressure(systolic: int | None, diastolic: int | None) -> None:
    """:raises ValidationFailed: half a blood pressure, or its numbers the wrong way round."""
    if (systolic is None) != (diastolic is None):
        missing = "diastolic" if diastolic is None else "systolic"
        raise ValidationFailed(
            "A blood pressure needs both numbers, e.g. 128 over 82.", field=missing
        )
    if systolic is not None and diastolic >= systolic:
        raise ValidationFailed(
            f"The systolic pressure is the larger number: {diastolic} mmHg cannot be the "
            f"diastolic under a systolic of {systolic} mmHg.",
            field="diastolic",
        )


def _clean_text(text: str | None, *, missing: str, field: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationFailed(missing, field=field)
    if len(text) > TEXT_MAX:
        raise ValidationFailed(f"Keep this under {TEXT_MAX:,} characters.", field=field)
    return text


# Shared steps


def note_version(note: EncounterNote) -> str:
    """What a page showed of the note: a change of any kind (an addendum too) changes it."""
    return note.updated_at.isoformat()


def draft_values(note: EncounterNote) -> dict[str, object]:
    """A draft's fields as its form shows them: the weight in the site's unit, the version."""
    unit = note.group_session.group.site.weight_unit
    values = {name: getattr(note, name) for name in TEXT_FIELDS}
    values.update(
        systolic=note.systolic,
        diastolic=note.diastolic,
        weight=history.in_unit(note.weight_kg, unit),
        weight_unit=unit,
        hba1c=note.hba1c,
        glucose=note.glucose,
        billing_level=note.billing_level,
        minutes=note.minutes,
        version=note_version(note),
    )
    return values


def weight_words(note: EncounterNote) -> str:
    """The note's weight in the site's unit ("181.9 lb"); "" if none was taken."""
    return history.weight_words(note.weight_kg, note.group_session.group.site.weight_unit)


def _lock(note: EncounterNote) -> EncounterNote:
    """Lock the note's row until commit and read it afresh."""
    return lock_row(EncounterNote, note.id)


def _check_version(note: EncounterNote, seen_version: str | None) -> None:
    """:raises Conflict: the (locked) note changed since a page showed ``seen_version``."""
    if seen_version is not None and seen_version != note_version(note):
        site = note.group_session.group.site
        raise NoteChanged(CHANGED_SINCE.format(when=site.clock(note.updated_at)))


def _event(note: EncounterNote, actor: User, kind: str, now: datetime, comment: str = ""):
    db.session.add(
        NoteEvent(note_id=note.id, actor_id=actor.id, kind=kind, comment=comment, occurred_at=now)
    )


def _audit(actor: User, action: str, note: EncounterNote) -> None:
    audit.record(actor, action, note.patient, "encounter_note", note.id)


def _require_author(note: EncounterNote, actor: User, message: str) -> None:
    if not can_write_note(actor, note):
        raise NotAllowed(message)


def session_preceptor_id(session_id: int, author_id: int) -> int | None:
    """The session's precepting attending (the first by assignment), never the author."""
    return db.session.scalar(
        select(StaffAssignment.user_id)
        .where(
            StaffAssignment.session_id == session_id,
            StaffAssignment.role == PRECEPTOR,
            StaffAssignment.user_id != author_id,
        )
        .order_by(StaffAssignment.id)
        .limit(1)
    )


# Writing a note


def start_note(slot: OneOnOneSlot, actor: User, *, now: datetime | None = None) -> EncounterNote:
    """Open the draft note of a one-on-one visit, or give back the one its provider started.

    A resident's note gets the session's precepting attending (the first by assignment);
    it is looked up again at signature, when it must exist.

    :raises NotAllowed: ``actor`` is not the slot's provider.
    :raises ValidationFailed: the session is cancelled.
    :raises Conflict: someone else already started the note of this patient at this session.
    """
    if not (actor.is_clinician and slot.provider_id == actor.id):
        raise NotAllowed("Only the provider of this one-on-one visit writes its note.")
    slot = lock_row(OneOnOneSlot, slot.id)  # the planner may have moved the visit meanwhile
    if slot.provider_id != actor.id:
        raise NotAllowed("This visit has moved to another provider, who writes its note.")
    if slot.group_session.is_cancelled:
        raise ValidationFailed("This session is cancelled: there is no visit to write up.")
    note = db.session.scalar(
        select(EncounterNote).where(
            EncounterNote.session_id == slot.session_id,
            EncounterNote.patient_id == slot.patient_id,
        )
    )
    if note is not None:
        if note.author_id != actor.id:
            raise Conflict(f"{note.author.full_name} already started the note of this visit.")
        if note.is_draft and note.slot_id != slot.id:
            note.slot_id = slot.id  # the slot was planned again; the note follows the visit
            db.session.flush()
        return note
    preceptor_id = None
    if actor.discipline == RESIDENT:
        preceptor_id = session_preceptor_id(slot.session_id, actor.id)
    note = EncounterNote(
        session_id=slot.session_id,
        patient_id=slot.patient_id,
        author_id=actor.id,
        slot_id=slot.id,
        preceptor_id=preceptor_id,
        status=DRAFT,
        billing_level="none",
        created_at=now or utcnow(),
    )
    db.session.add(note)
    db.session.flush()
    _audit(actor, "create", note)
    return note


def save_draft(
    note: EncounterNote,
    fields: Mapping[str, object],
    actor: User,
    *,
    seen_version: str | None = None,
) -> EncounterNote:
    """Save the given fields of a draft (those absent stay as they are).

    ``fields`` takes the keys of :data:`DRAFT_FIELDS`; the weight is given in
    ``fields["weight_unit"]`` ("kg" or "lb", default kg) and stored in kilograms.
    Only drafts are edited: a signed or returned note is added to by addendum.

    :param seen_version: :func:`note_version` as the form showed it; a note changed since
        is refused rather than overwritten.
    :raises NotAllowed: not the note's author.
    :raises ValidationFailed: a value no person has or the note cannot keep (``field`` says which).
    :raises Conflict: the note is no longer a draft, or changed since ``seen_version``.
    """
    _require_author(note, actor, "Only the author of a note edits it.")
    values = _clean_draft(fields)
    note = _lock(note)
    if note.status != DRAFT:
        raise Conflict(
            "This note is signed, so it can no longer be changed. Add an addendum instead."
        )
    _check_version(note, seen_version)
    _check_blood_pressure(
        values.get("systolic", note.systolic), values.get("diastolic", note.diastolic)
    )
    for name, value in values.items():
        setattr(note, name, value)
    db.session.flush()
    _audit(actor, "update", note)
    return note


def sign(
    note: EncounterNote,
    actor: User,
    *,
    now: datetime | None = None,
    seen_version: str | None = None,
) -> EncounterNote:
    """Sign a draft: a resident's goes to the precepting attending ("signed"), anyone else's
    is "final". Each line of its goals becomes a goal of the session's group (a goal the
    patient already has open there is not repeated).

    :raises NotAllowed: not the note's author.
    :raises ValidationFailed: nothing written yet.
    :raises Conflict: already signed (or returned: see :func:`resign`), changed since
        ``seen_version``, or a resident's note at a session without a precepting attending.
    """
    now = now or utcnow()
    _require_author(note, actor, "Only the author of a note signs it.")
    note = _lock(note)
    if note.status == RETURNED:
        raise Conflict("This note was returned: add an addendum, then sign it again.")
    if note.status != DRAFT:
        raise Conflict("This note is already signed. To change it, add an addendum.")
    _check_version(note, seen_version)
    if not any(text.strip() for text in (note.concerns, note.assessment, note.plan)):
        raise ValidationFailed("Write the concerns, the assessment or the plan before signing.")
    if actor.discipline == RESIDENT:
        preceptor_id = session_preceptor_id(note.session_id, note.author_id)
        if preceptor_id is None:
            raise Conflict(NO_PRECEPTOR)
        note.preceptor_id, note.status = preceptor_id, SIGNED
    else:
        note.preceptor_id, note.status = None, FINAL
    note.signed_at = now
    _event(note, actor, EVENT_SIGNED, now)
    goals = _goals_from(note, now)
    db.session.flush()
    _audit(actor, "update", note)
    audit.record_each(
        actor, "create", "patient_goal", [(note.patient_id, goal.id) for goal in goals]
    )
    return note


def _goals_from(note: EncounterNote, now: datetime) -> list[PatientGoal]:
    """The note's goals as goals of the session's group, leaving out those already open."""
    group_id = note.group_session.group_id
    open_goals = db.session.scalars(
        select(PatientGoal.text).where(
            PatientGoal.patient_id == note.patient_id,
            PatientGoal.group_id == group_id,
            PatientGoal.status == OPEN,
        )
    ).all()
    known = {" ".join(text.split()).casefold() for text in open_goals}
    goals = [
        PatientGoal(
            patient_id=note.patient_id,
            group_id=group_id,
            note_id=note.id,
            text=line,
            status=OPEN,
            created_at=now,
        )
        for line in goal_lines(note.goals)
        if line.casefold() not in known
    ]
    db.session.add_all(goals)
    return goals


def add_addendum(
    note: EncounterNote,
    text: str,
    actor: User,
    *,
    now: datetime | None = None,
    seen_version: str | None = None,
) -> NoteAddendum:
    """Add a signed addendum to a signed note (also the answer to a returned one).

    :raises NotAllowed: not the note's author.
    :raises ValidationFailed: no text, or too long.
    :raises Conflict: the note is still a draft, or changed since ``seen_version``.
    """
    now = now or utcnow()
    _require_author(note, actor, "Only the author of a note adds addenda to it.")
    text = _clean_text(text, missing="Write the addendum first.", field="text")
    note = _lock(note)
    if note.status == DRAFT:
        raise Conflict("This note is still a draft: change the draft itself and sign it.")
    _check_version(note, seen_version)
    addendum = NoteAddendum(note_id=note.id, author_id=actor.id, text=text, signed_at=now)
    db.session.add(addendum)
    note.updated_at = now  # the note's version moves: an attending sees what they attest
    db.session.flush()
    audit.record(actor, "create", note.patient, "note_addendum", addendum.id)
    return addendum


def answered_since_return(note: EncounterNote) -> bool:
    """True if a returned note has an addendum written after it was returned."""
    return note.returned_at is not None and any(
        addendum.signed_at >= note.returned_at for addendum in note.addenda
    )


def resign(
    note: EncounterNote,
    actor: User,
    *,
    now: datetime | None = None,
    seen_version: str | None = None,
) -> EncounterNote:
    """Sign a returned note again, once answered by an addendum: back to the attending's queue.

    :raises NotAllowed: not the note's author.
    :raises ValidationFailed: no addendum since the note was returned.
    :raises Conflict: the note is not returned, or changed since ``seen_version``.
    """
    now = now or utcnow()
    _require_author(note, actor, "Only the author of a note signs it.")
    note = _lock(note)
    if note.status != RETURNED:
        raise Conflict(f"Only a returned note is signed again; this one is {_status_words(note)}.")
    _check_version(note, seen_version)
    answered = db.session.scalar(
        select(NoteAddendum.id)
        .where(NoteAddendum.note_id == note.id, NoteAddendum.signed_at >= note.returned_at)
        .limit(1)
    )
    if answered is None:
        raise ValidationFailed(
            "Add an addendum that answers the attending's comment, then sign again."
        )
    note.status = SIGNED
    _event(note, actor, EVENT_SIGNED_AGAIN, now)
    db.session.flush()
    _audit(actor, "update", note)
    return note


# Attestation


def _attestable(note: EncounterNote, actor: User, seen_version: str | None) -> EncounterNote:
    if not can_attest_note(actor, note):
        raise NotAllowed("Only the note's precepting attending attests or returns it.")
    locked = _lock(note)
    if locked.status != SIGNED:
        raise Conflict(f"This note is not waiting for attestation: it is {_status_words(locked)}.")
    _check_version(locked, seen_version)
    return locked


def _status_words(note: EncounterNote) -> str:
    return NOTE_STATUSES[note.status].lower()


def attest(
    note: EncounterNote,
    actor: User,
    *,
    comment: str = "",
    now: datetime | None = None,
    seen_version: str | None = None,
) -> EncounterNote:
    """The precepting attending attests a resident's signed note (with an optional comment).

    :raises NotAllowed: not the note's precepting attending.
    :raises Conflict: the note is not waiting for attestation, or changed since ``seen_version``.
    """
    now = now or utcnow()
    comment = (comment or "").strip()
    if len(comment) > TEXT_MAX:
        raise ValidationFailed(f"Keep the comment under {TEXT_MAX:,} characters.", field="comment")
    note = _attestable(note, actor, seen_version)
    note.status, note.attested_at, note.attested_by_id = ATTESTED, now, actor.id
    _event(note, actor, EVENT_ATTESTED, now, comment)
    db.session.flush()
    _audit(actor, "update", note)
    return note


def return_note(
    note: EncounterNote,
    comment: str,
    actor: User,
    *,
    now: datetime | None = None,
    seen_version: str | None = None,
) -> EncounterNote:
    """The precepting attending sends a signed note back to the resident, saying why.

    :raises NotAllowed: not the note's precepting attending.
    :raises ValidationFailed: no comment.
    :raises Conflict: the note is not waiting for attestation, or changed since ``seen_version``.
    """
    now = now or utcnow()
    if not can_attest_note(actor, note):
        raise NotAllowed("Only the note's precepting attending attests or returns it.")
    comment = _clean_text(
        comment,
        missing="Say what the resident should change: they read your comment.",
        field="comment",
    )
    note = _attestable(note, actor, seen_version)
    note.status, note.returned_at, note.return_comment = RETURNED, now, comment
    _event(note, actor, EVENT_RETURNED, now, comment)
    db.session.flush()
    _audit(actor, "update", note)
    return note


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
