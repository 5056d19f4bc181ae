"""A check-in and a cancellation (or move) of the same session at once: never both succeed.

The rule "a session that holds a check-in is neither moved nor cancelled" is checked in
Python, so each side locks the session's row before it checks. Each test runs two
requests as two database sessions: the first does its work and holds its transaction
open; the second, in a thread, must wait for it, then see what the first did and refuse.
"""

import threading
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT, User
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.roster import attendance as rules
from groupvisits.roster import services as roster
from groupvisits.roster.models import Attendance
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import CANCELLED, SCHEDULED, GroupSession
from groupvisits.timeutil import utcnow

#: Long enough for the second request to reach its lock (and, without one, to finish).
SETTLE = 1.0


@pytest.fixture
def soon(db, create_group, create_user, coordinator):
    """A session starting in half an hour (check-in open) and a member who said yes."""
    group = create_group(rule=None)
    group_session = schedule.add_extra_session(
        group,
        local_start=(utcnow() + timedelta(minutes=30))
        .astimezone(ZoneInfo(group.site.timezone))
        .replace(tzinfo=None, second=0, microsecond=0),
        length_minutes=120,
        actor=coordinator,
    )
    member = create_user(PATIENT)
    roster.enrol(group, member, actor=coordinator)
    db.session.commit()
    rules.answer_rsvp(group_session, member, "yes", actor=coordinator)
    db.session.commit()
    return group_session.id, member.id


class Second:
    """A second request in a thread of its own: its own app context and database session."""

    def __init__(self, app, work):
        self.app, self.work = app, work
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from groupvisits.extensions import db

        with self.app.app_context():
            try:
                self.work(db.session)
                db.session.commit()
            except Exception as exc:  # the outcome is what the test checks
                db.session.rollback()
                self.error = exc
            finally:
                db.session.remove()

    def start(self) -> "Second":
        self.thread.start()
        time.sleep(SETTLE)
        return self

    @property
    def waiting(self) -> bool:
        return self.thread.is_alive()

    def finish(self) -> Exception | None:
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "the second request never finished"
        return self.error


def stored(app, session_id: int, patient_id: int) -> tuple[str, str | None]:
    """(session status, the member's check-in), read afresh."""
    from groupvisits.extensions import db

    with app.app_context():
        status = db.session.scalar(select(GroupSession.status).where(GroupSession.id == session_id))
        check_in = db.session.scalar(
            select(Attendance.check_in).where(
                Attendance.session_id == session_id, Attendance.patient_id == patient_id
            )
        )
        db.session.remove()
    return status, check_in


def check_in(other, session_id: int, patient_id: int, actor_id: int) -> None:
    group_session = other.get(GroupSession, session_id)
    patient, actor = other.get(User, patient_id), other.get(User, actor_id)
    attendance = rules.attendance_for_check_in(group_session, patient, actor=actor)
    rules.check_in(attendance, "arrived", actor=actor, group_session=group_session)


def test_a_check_in_arriving_during_a_cancellation_waits_and_is_refused(
    app, db, soon, coordinator, clinician
):
    session_id, patient_id = soon
    schedule.cancel_session(
        db.session.get(GroupSession, session_id), "Room flooded", actor=coordinator
    )  # not committed yet

    second = Second(
        app, lambda other: check_in(other, session_id, patient_id, clinician.id)
    ).start()
    try:
        assert second.waiting, "the check-in did not wait for the cancellation"
    finally:
        db.session.commit()
    error = second.finish()

    assert isinstance(error, ValidationFailed) and "cancelled" in str(error)
    assert stored(app, session_id, patient_id) == (CANCELLED, None)


def test_a_cancellation_arriving_during_a_check_in_waits_and_is_refused(
    app, db, soon, coordinator, clinician
):
    session_id, patient_id = soon
    check_in(db.session, session_id, patient_id, clinician.id)  # not committed yet

    def cancel(other):
        schedule.cancel_session(
            other.get(GroupSession, session_id),
            "Room flooded",
            actor=other.get(User, coordinator.id),
        )

    second = Second(app, cancel).start()
    try:
        assert second.waiting, "the cancellation did not wait for the check-in"
    finally:
        db.session.commit()
    error = second.finish()

    assert isinstance(error, Conflict) and "already checked in" in str(error)
    assert stored(app, session_id, patient_id) == (SCHEDULED, "arrived")


def test_a_move_arriving_during_a_check_in_waits_and_is_refused(
    app, db, soon, coordinator, clinician
):
    session_id, patient_id = soon
    check_in(db.session, session_id, patient_id, clinician.id)  # not committed yet
    before = db.session.get(GroupSession, session_id).starts_at

    def move(other):
        group_session = other.get(GroupSession, session_id)
        schedule.move_session(
            group_session,
            local_start=group_session.local_start.replace(tzinfo=None) + timedelta(days=7),
            length_minutes=120,
            location="",
            video_url="",
            theme="",
            notes="",
            actor=other.get(User, coordinator.id),
        )

    second = Second(app, move).start()
    try:
        assert second.waiting, "the move did not wait for the check-in"
    finally:
        db.session.commit()
    error = second.finish()

    assert isinstance(error, Conflict) and "already checked in" in str(error)
    with app.app_context():
        from groupvisits.extensions import db as other_db

        assert other_db.session.get(GroupSession, session_id).starts_at == before
        other_db.session.remove()


def test_a_check_in_on_a_session_shown_before_it_was_cancelled_is_refused(
    app, db, soon, coordinator, clinician
):
    session_id, patient_id = soon
    shown = db.session.get(GroupSession, session_id)  # the tablet loaded it
    attendance = rules.attendance_for_check_in(
        shown, db.session.get(User, patient_id), actor=clinician
    )
    db.session.commit()
    assert not shown.is_cancelled

    second = Second(
        app,
        lambda other: schedule.cancel_session(
            other.get(GroupSession, session_id), "Snow", actor=other.get(User, coordinator.id)
        ),
    ).start()
    assert second.finish() is None

    with pytest.raises(ValidationFailed, match="This session is cancelled"):
        rules.check_in(attendance, "arrived", actor=clinician, group_session=shown)
    db.session.rollback()
    assert stored(app, session_id, patient_id) == (CANCELLED, None)
