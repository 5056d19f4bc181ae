"""Overlapping one-on-one slots written at the same moment: the database keeps them apart.

Each request runs in a thread with its own app context and database session. One session's
slots change one request at a time (its row is locked); across sessions, a patient in two
at once is refused by the exclusion constraint on PostgreSQL and by the write lock and the
triggers on SQLite, and the loser is told what clashes, with nothing of theirs saved.
"""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from groupvisits.accounts.models import CLINICIAN, PATIENT, User
from groupvisits.encounters import slot_changes, slot_plans
from groupvisits.encounters.models import OneOnOneSlot
from groupvisits.errors import Conflict
from groupvisits.schedule.models import GroupSession
from tests.encounter_factories import add_attendance, add_slot, assign
from tests.races import at_once
from tests.unit.test_slot_services import (
    BEFORE,
    START,
    assert_no_overlaps,
    at,
    make_clinic,
    make_session,
)


def all_slots(app) -> list[OneOnOneSlot]:
    from groupvisits.extensions import db

    with app.app_context():
        rows = db.session.scalars(select(OneOnOneSlot).order_by(OneOnOneSlot.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def planner_job(session_id: int, actor_id: int):
    def job(db, barrier):
        group_session, actor = (
            db.session.get(GroupSession, session_id),
            db.session.get(User, actor_id),
        )
        assert group_session.group.site and actor.site_ids  # loaded before the race starts
        barrier.wait(timeout=10)
        slot_plans.plan_session(group_session, actor=actor, now=BEFORE)

    return job


def test_two_planners_at_once_on_one_session_leave_one_plan(
    app, db, site, create_user, create_group, coordinator
):
    clinic = make_clinic(db, site, create_user, create_group, coordinator)
    job = planner_job(clinic.group_session.id, coordinator.id)

    outcomes = at_once(app, [job, job])

    assert outcomes == [None, None]  # one after the other: the second replaces the first
    stored = all_slots(app)
    assert sorted(s.patient_id for s in stored) == sorted(p.id for p in clinic.patients)
    assert_no_overlaps(stored)


@pytest.fixture
def one_patient_in_two_sessions(db, site, create_user, create_group, coordinator):
    """Two groups meeting at the same hour, each with its own resident, and one patient who
    said yes to both."""
    shared = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    ids = []
    for _ in range(2):
        group_session = make_session(create_group(site, rule=None))
        assign(group_session, create_user(CLINICIAN, discipline="resident", training_year=1))
        add_attendance(group_session, shared)
        ids.append(group_session.id)
    return shared, ids


def test_two_planners_placing_one_patient_in_two_sessions_at_once_only_one_wins(
    app, coordinator, one_patient_in_two_sessions
):
    shared, (first, second) = one_patient_in_two_sessions

    outcomes = at_once(
        app, [planner_job(first, coordinator.id), planner_job(second, coordinator.id)]
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "NoneType"]
    loser = next(outcome for outcome in outcomes if outcome is not None)
    assert "Rosa Lopez already has a one-on-one visit at 5:15 PM–5:25 PM in another session" in str(
        loser
    )
    stored = all_slots(app)
    assert len(stored) == 1  # the loser saved nothing
    assert stored[0].session_id == (first if outcomes[0] is None else second)


def test_a_plan_racing_a_visit_saved_elsewhere_is_refused_by_the_database(
    app, coordinator, one_patient_in_two_sessions
):
    """The other session's visit is written but not committed when the plan checks: only the
    database can see the clash (it makes the plan's insert wait, then refuses it)."""
    shared, (first, second) = one_patient_in_two_sessions
    written = threading.Event()

    def elsewhere(db, barrier):
        group_session = db.session.get(GroupSession, first)
        patient, provider = (
            db.session.get(User, shared.id),
            db.session.get(User, _provider_of(db, first)),
        )
        add_slot(group_session, patient, provider, at(17, 15), commit=False)
        written.set()
        barrier.wait(timeout=10)
        time.sleep(1.0)  # the plan meanwhile checks, finds nothing, and tries to insert

    def plan(db, barrier):
        group_session, actor = (
            db.session.get(GroupSession, second),
            db.session.get(User, coordinator.id),
        )
        assert group_session.group.site and actor.site_ids
        assert written.wait(timeout=10)
        barrier.wait(timeout=10)
        slot_plans.plan_session(group_session, actor=actor, now=BEFORE)

    outcomes = at_once(app, [elsewhere, plan])

    assert outcomes[0] is None
    assert isinstance(outcomes[1], Conflict)
    assert "Rosa Lopez already has a one-on-one visit at 5:15 PM–5:25 PM" in str(outcomes[1])
    assert [s.session_id for s in all_slots(app)] == [first]


def _provider_of(db, session_id: int) -> int:
    from groupvisits.team.models import StaffAssignment

    return db.session.scalar(
        select(StaffAssignment.user_id).where(StaffAssignment.session_id == session_id)
    )


def test_two_hand_moves_into_one_providers_time_at_once_only_one_wins(
    app, db, site, create_user, create_group, coordinator
):
    clinic = make_clinic(db, site, create_user, create_group, coordinator)
    slot_plans.plan_session(clinic.group_session, actor=coordinator, now=BEFORE)
    db.session.commit()
    target = clinic.residents[2]
    movers = [
        db.session.scalar(
            select(OneOnOneSlot.id).where(OneOnOneSlot.provider_id == resident.id).limit(1)
        )
        for resident in clinic.residents[:2]
    ]
    free = at(18, 0)  # the residents' last visits end at 17:55

    def mover(slot_id, actor_id):
        def job(db, barrier):
            group_session = db.session.get(GroupSession, clinic.group_session.id)
            actor = db.session.get(User, actor_id)
            assert group_session.group.site and actor.site_ids
            barrier.wait(timeout=10)
            slot_changes.move_slot(
                group_session, slot_id, provider_id=target.id, starts_at=free, actor=actor
            )

        return job

    outcomes = at_once(
        app, [mover(movers[0], coordinator.id), mover(movers[1], clinic.residents[1].id)]
    )

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "NoneType"]
    loser = next(outcome for outcome in outcomes if outcome is not None)
    assert f"{target.full_name} already has a one-on-one visit at 6:00 PM–6:10 PM" in str(loser)
    stored = all_slots(app)
    assert_no_overlaps(stored)
    assert sum(s.provider_id == target.id and s.starts_at == free for s in stored) == 1
    lost = movers[outcomes.index(loser)]
    assert next(s for s in stored if s.id == lost).starts_at == at(17, 15)  # where it was


@pytest.mark.parametrize("who", ["provider", "patient"])
def test_the_database_itself_refuses_overlapping_slots(db, site, create_user, create_group, who):
    """An exclusion constraint on PostgreSQL, triggers on SQLite: not only the service."""
    group_session = make_session(create_group(site, rule=None))
    later = make_session(create_group(site, rule=None), start=START + timedelta(minutes=5))
    doctor, other_doctor = create_user(CLINICIAN), create_user(CLINICIAN)
    patient, other_patient = create_user(PATIENT), create_user(PATIENT)
    add_slot(group_session, patient, doctor, at(17, 15))
    if who == "provider":
        clash = dict(patient=other_patient, provider=doctor)
    else:
        clash = dict(patient=patient, provider=other_doctor)

    with pytest.raises(IntegrityError, match=f"ex_one_on_one_slots_{who}"):
        add_slot(later, clash["patient"], clash["provider"], at(17, 20))
    db.session.rollback()
    assert db.session.scalar(select(func.count(OneOnOneSlot.id))) == 1
