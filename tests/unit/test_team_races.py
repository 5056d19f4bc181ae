"""One clinician assigned to two overlapping sessions at the same moment: exactly one wins.

Two requests, each in a thread with its own app context and database session, assign
the same clinician to two different sessions that overlap. On PostgreSQL the exclusion
constraint refuses the second row; on SQLite the write lock serialises the checks.
"""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, User
from groupvisits.errors import Conflict
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import FACILITATOR, PROVIDER, StaffAssignment

START = datetime(2030, 6, 4, 21, 0, tzinfo=UTC)


@pytest.fixture
def two_overlapping_sessions(db, create_group):
    ids = []
    for offset in (0, 1):
        starts_at = START + timedelta(hours=offset)
        group_session = GroupSession(
            group_id=create_group(rule=None).id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
        )
        db.session.add(group_session)
        db.session.commit()
        ids.append(group_session.id)
    return ids


def assign_at_once(app, jobs) -> list[Exception | None]:
    """Run each (session id, user id, role, actor id) as its own request, all at once."""
    barrier = threading.Barrier(len(jobs))
    outcomes: list[Exception | None] = [None] * len(jobs)

    def run(index, session_id, user_id, role, actor_id):
        from groupvisits.extensions import db

        with app.app_context():
            try:
                group_session = db.session.get(GroupSession, session_id)
                user, actor = db.session.get(User, user_id), db.session.get(User, actor_id)
                assert group_session.group.site and user.site_ids and actor.site_ids
                barrier.wait(timeout=10)
                team.assign_staff(group_session, user, role, actor=actor)
                db.session.commit()
            except Exception as exc:  # the outcome is what the test checks
                db.session.rollback()
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=run, args=(i, *job), daemon=True) for i, job in enumerate(jobs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a request never finished"
    return outcomes


def stored_assignments(app) -> int:
    from groupvisits.extensions import db

    with app.app_context():
        count = db.session.scalar(select(func.count(StaffAssignment.id)))
        db.session.remove()
    return count


def test_two_overlapping_assignments_at_once_only_one_succeeds(
    app, create_user, coordinator, two_overlapping_sessions
):
    doctor = create_user(CLINICIAN)
    first, second = two_overlapping_sessions

    outcomes = assign_at_once(
        app,
        [
            (first, doctor.id, PROVIDER, coordinator.id),
            (second, doctor.id, PROVIDER, coordinator.id),
        ],
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "NoneType"]
    loser = next(outcome for outcome in outcomes if outcome is not None)
    assert isinstance(loser, Conflict) and "overlaps this session" in str(loser)
    assert stored_assignments(app) == 1


def test_two_roles_in_one_session_at_once_both_succeed(
    app, create_user, coordinator, two_overlapping_sessions
):
    doctor = create_user(CLINICIAN, discipline="attending")
    first, _ = two_overlapping_sessions

    outcomes = assign_at_once(
        app,
        [
            (first, doctor.id, PROVIDER, coordinator.id),
            (first, doctor.id, FACILITATOR, coordinator.id),
        ],
    )

    assert outcomes == [None, None]
    assert stored_assignments(app) == 2


def test_the_database_itself_refuses_overlapping_rows(
    app, db, create_user, two_overlapping_sessions
):
    """An exclusion constraint on PostgreSQL, triggers on SQLite: not only the service."""
    from sqlalchemy.exc import IntegrityError

    doctor = create_user(CLINICIAN)
    for session_id in two_overlapping_sessions:
        group_session = db.session.get(GroupSession, session_id)
        db.session.add(
            StaffAssignment(
                session_id=session_id,
                user_id=doctor.id,
                role=PROVIDER,
                starts_at=group_session.starts_at,
                ends_at=group_session.ends_at,
            )
        )
    with pytest.raises(IntegrityError, match="ex_staff_assignments_no_overlap"):
        db.session.flush()
    db.session.rollback()
