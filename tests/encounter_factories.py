"""Rows of one-on-one visits made straight in the database, for the tests of slots, notes
and records (services, races and pages alike).

Each factory commits what it makes, so that a test's requests see it.
"""

from datetime import datetime, timedelta

from groupvisits.encounters.models import OneOnOneSlot
from groupvisits.extensions import db
from groupvisits.roster.models import YES, Attendance
from groupvisits.schedule.models import GroupSession, SessionSegment
from groupvisits.team.models import PROVIDER, StaffAssignment


def add_session(group, starts_at: datetime, *, minutes=120, steps=(), **fields) -> GroupSession:
    """A session of ``group``, with the plan ``steps``: (kind, name, minutes[, no_pull_outs])."""
    group_session = GroupSession(
        group_id=group.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        segments=[
            SessionSegment(
                position=i,
                kind=step[0],
                name=step[1],
                minutes=step[2],
                no_pull_outs=bool(step[3]) if len(step) > 3 else False,
            )
            for i, step in enumerate(steps)
        ],
        **fields,
    )
    db.session.add(group_session)
    db.session.commit()
    return group_session


def assign(group_session, user, role: str = PROVIDER, **fields) -> StaffAssignment:
    """``user`` on the session's team in ``role``, for the whole session."""
    assignment = StaffAssignment(
        session_id=group_session.id,
        user_id=user.id,
        role=role,
        starts_at=group_session.starts_at,
        ends_at=group_session.ends_at,
        **fields,
    )
    db.session.add(assignment)
    db.session.commit()
    return assignment


def add_attendance(group_session, patient, *, rsvp: str | None = YES, **fields) -> Attendance:
    """The patient on the session's list: by default they said yes, nothing more."""
    attendance = Attendance(session_id=group_session.id, patient_id=patient.id, rsvp=rsvp, **fields)
    db.session.add(attendance)
    db.session.commit()
    return attendance


def add_slot(
    group_session,
    patient,
    provider,
    starts_at: datetime | None = None,
    *,
    minutes: int = 10,
    commit: bool = True,
    **fields,
) -> OneOnOneSlot:
    """A slot (by default an hour into the session), committed, or only flushed without
    ``commit``."""
    if starts_at is None:
        starts_at = group_session.starts_at + timedelta(minutes=60)
    slot = OneOnOneSlot(
        session_id=group_session.id,
        patient_id=patient.id,
        provider_id=provider.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        **fields,
    )
    db.session.add(slot)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return slot
