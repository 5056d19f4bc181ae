"""An encounter note's life: the draft, its signature, addenda, attestation or return.

A note is written as a draft by the provider of a one-on-one slot, then signed. A resident's
signed note waits for the session's precepting attending, who attests it or returns it with a
comment; the resident answers a returned note with an addendum and signs it again. Anyone
else's signature is final. Nothing signed is ever edited or deleted: changes are addenda.

Every change locks the note's row first (:func:`groupvisits.locking.lock_row`), so that two
signatures, or a save and a signature, arriving together never both pass their checks.
Every change of a note writes an audit row; the views record the reads.
"""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from groupvisits import audit
from groupvisits.accounts.models import User
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    NOTE_STATUSES,
    OPEN,
    RETURNED,
    SIGNED,
    EncounterNote,
    NoteAddendum,
    NoteEvent,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.encounters.note_fields import (
    TEXT_MAX,
    check_blood_pressure,
    clean_draft,
    clean_text,
    goal_lines,
    note_version,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.locking import lock_row
from groupvisits.permissions import can_attest_note, can_write_note
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


# Shared steps


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

    ``fields`` takes the keys of :data:`~.note_fields.DRAFT_FIELDS`; the weight is given in
    ``fields["weight_unit"]`` ("kg" or "lb", default kg) and stored in kilograms.
    Only drafts are edited: a signed or returned note is added to by addendum.

    :param seen_version: :func:`~.note_fields.note_version` as the form showed it; a note
        changed since is refused rather than overwritten.
    :raises NotAllowed: not the note's author.
    :raises ValidationFailed: a value no person has or the note cannot keep (``field`` says which).
    :raises Conflict: the note is no longer a draft, or changed since ``seen_version``.
    """
    _require_author(note, actor, "Only the author of a note edits it.")
    values = clean_draft(fields)
    note = _lock(note)
    if note.status != DRAFT:
        raise Conflict(
            "This note is signed, so it can no longer be changed. Add an addendum instead."
        )
    _check_version(note, seen_version)
    check_blood_pressure(
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
    text = clean_text(text, missing="Write the addendum first.", field="text")
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
    comment = clean_text(
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
