"""The group note of a session: the facilitator's note of the group part, which joins the
record of each patient who came. Drafted by the facilitator or a coordinator, then signed,
and read-only from then on.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from groupvisits import audit
from groupvisits.accounts.models import User
from groupvisits.encounters.models import GroupNote
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.locking import lock_row
from groupvisits.permissions import can_write_group_note
from groupvisits.roster.models import ATTENDED, Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

#: Minutes a group part may last, as the database allows.
GROUP_MINUTES = (1, 480)


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
