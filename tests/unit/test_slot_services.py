"""A session's one-on-one slots: its window, the planner's problem, plans, and changes by
hand, on the real database (SQLite and PostgreSQL)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, PATIENT, User
from groupvisits.audit import AuditEvent
from groupvisits.encounters import slot_board, slot_changes, slot_overview, slot_plans
from groupvisits.encounters.models import (
    BY_HAND,
    MISSED,
    PLANNED,
    SEEN,
    EncounterNote,
    OneOnOneSlot,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import CANCELLED, GroupSession
from groupvisits.team.models import PRECEPTOR, StaffAssignment
from tests.encounter_factories import add_attendance, add_session, add_slot, assign

#: 17:00 in New York (the test site's zone): a two-hour session.
START = datetime(2030, 6, 4, 21, 0, tzinfo=UTC)
BEFORE = START - timedelta(days=1)
#: Arrival, then a 60-minute one-on-one window (17:15-18:15), then wrap-up.
PLAN = [
    ("arrival", "Arrival and vitals", 15),
    ("one_on_one", "One-on-one visits", 60),
    ("wrap_up", "Wrap-up", 15),
]


def at(hour: int, minute: int = 0) -> datetime:
    """A local time (New York, summer) on the session's day, as a UTC instant."""
    return datetime(2030, 6, 4, hour + 4, minute, tzinfo=UTC)


# Helpers shared by the slot tests (races and pages import them)


def make_session(group, *, start=START, steps=PLAN, minutes=120) -> GroupSession:
    """A session of ``group`` with the given plan: (kind, name, minutes[, no_pull_outs])."""
    return add_session(group, start, minutes=minutes, steps=steps)


def stored_slots(db, group_session) -> list[OneOnOneSlot]:
    db.session.expire_all()
    return db.session.scalars(
        select(OneOnOneSlot)
        .where(OneOnOneSlot.session_id == group_session.id)
        .order_by(OneOnOneSlot.starts_at, OneOnOneSlot.provider_id)
    ).all()


def assert_no_overlaps(slot_rows) -> None:
    """No provider and no patient in two overlapping slots (checked here, not by the app)."""
    for who in ("provider_id", "patient_id"):
        by_person: dict[int, list] = {}
        for slot in slot_rows:
            by_person.setdefault(getattr(slot, who), []).append(slot)
        for held in by_person.values():
            held.sort(key=lambda s: s.starts_at)
            for earlier, later in zip(held, held[1:], strict=False):
                assert earlier.ends_at <= later.starts_at, f"{who} double-booked"


@dataclass
class Clinic:
    """One session: three residents providing, an attending precepting, twelve patients."""

    group: object
    group_session: GroupSession
    residents: list[User]
    attending: User
    patients: list[User]
    coordinator: User


def make_clinic(db, site, create_user, create_group, coordinator, *, patients=12, steps=PLAN):
    group = create_group(site, rule=None)
    group_session = make_session(group, steps=steps)
    residents = [
        create_user(CLINICIAN, discipline="resident", training_year=2, given_name=f"Res{i}")
        for i in range(3)
    ]
    attending = create_user(CLINICIAN, discipline="attending", given_name="Attie")
    for resident in residents:
        assign(group_session, resident)
    assign(group_session, attending, PRECEPTOR)
    people = [create_user(PATIENT) for _ in range(patients)]
    for patient in people:
        add_attendance(group_session, patient)
    return Clinic(group, group_session, residents, attending, people, coordinator)


@pytest.fixture
def clinic(db, site, create_user, create_group, coordinator) -> Clinic:
    return make_clinic(db, site, create_user, create_group, coordinator)


# The window


def test_the_window_runs_from_the_first_to_the_last_step_allowing_pull_outs(db, site, create_group):
    group = create_group(site, rule=None, slot_minutes=15)
    group_session = make_session(
        group,
        steps=[
            ("arrival", "Arrival", 15),
            ("group", "Talking together", 45),
            ("meal", "Meal", 20),
            ("one_on_one", "One-on-ones", 30),
            ("wrap_up", "Wrap-up", 10),
        ],
    )

    window = slot_board.one_on_one_window(group_session)

    assert (window.starts_at, window.ends_at) == (at(17, 15), at(18, 50))
    assert window.minutes == 95
    assert window.slot_minutes == 15
    assert window.blocked == ()


def test_steps_without_pull_outs_inside_the_window_are_blocked_spans(db, site, create_group):
    group = create_group(site, rule=None)
    group_session = make_session(
        group,
        steps=[
            ("arrival", "Arrival", 10),
            ("group", "Opening circle", 20, True),
            ("group", "Talking together", 30),
            ("other", "Stretching", 10),
            ("meal", "Meal", 20),
            ("group", "Goal setting", 15, True),
            ("wrap_up", "Wrap-up", 15),
        ],
    )

    window = slot_board.one_on_one_window(group_session)

    # Opening circle and goal setting lie outside it (before the first / after the last
    # step allowing pull-outs); stretching, between two such steps, is blocked.
    assert (window.starts_at, window.ends_at) == (at(17, 30), at(18, 30))
    assert window.blocked == ((30, 40),)
    assert [step.name for step in window.blocked_steps] == ["Stretching"]


def test_a_session_without_a_plan_or_a_pull_out_step_has_no_window(db, site, create_group):
    group = create_group(site, rule=None)
    bare = make_session(group, steps=[])
    closed = make_session(
        group,
        start=START + timedelta(days=7),
        steps=[("arrival", "Arrival", 15), ("group", "Circle", 60, True), ("other", "Walk", 30)],
    )

    with pytest.raises(ValidationFailed, match="no plan yet"):
        slot_board.one_on_one_window(bare)
    with pytest.raises(ValidationFailed, match="No step of this session's plan lets patients"):
        slot_board.one_on_one_window(closed)


# The planner's problem


def test_the_problem_takes_providers_patients_needs_arrivals_and_held_slots(
    db, site, create_user, create_group, coordinator
):
    world = make_clinic(db, site, create_user, create_group, coordinator, patients=0)
    group_session = world.group_session
    first, second, third = world.residents
    # The second resident is free from 17:35 only; the third until 17:55.
    db.session.get(StaffAssignment, _assignment_id(db, group_session, second)).available_from = at(
        17, 35
    )
    db.session.get(StaffAssignment, _assignment_id(db, group_session, third)).available_until = at(
        17, 55
    )
    db.session.commit()
    on_time, late, asked, declined, no_show, excused, maybe, said_no, pharmacy = (
        create_user(PATIENT) for _ in range(9)
    )
    add_attendance(group_session, on_time)
    add_attendance(
        group_session,
        late,
        check_in="late",
        checked_in_at=at(
            17,
            41,
        ),
    )
    add_attendance(group_session, asked, rsvp=None, check_in="arrived", wants_one_on_one=True)
    add_attendance(group_session, declined, check_in="arrived", wants_one_on_one=False)
    add_attendance(group_session, no_show, check_in="no_show")
    add_attendance(group_session, excused, check_in="excused")
    add_attendance(group_session, maybe, rsvp="maybe")
    add_attendance(group_session, said_no, rsvp="no")
    add_attendance(group_session, pharmacy, one_on_one_with="pharmacist")
    seen, by_hand, started, planned = (create_user(PATIENT) for _ in range(4))
    for patient in (seen, by_hand, started, planned):
        add_attendance(group_session, patient)
    add_slot(group_session, seen, first, at(17, 15), status=SEEN)
    add_slot(group_session, by_hand, first, at(17, 45), placed_by=BY_HAND)
    add_slot(group_session, started, second, at(17, 35))
    add_slot(group_session, planned, third, at(17, 45))

    problem = slot_plans.build_problem(group_session, now=at(17, 40))

    assert (problem.window, problem.slot_minutes, problem.blocked) == (60, 10, ())
    assert problem.not_before == 25
    providers = {p.id: p for p in problem.providers}
    assert set(providers) == {r.id for r in world.residents}  # the attending only precepts
    assert {p.discipline for p in providers.values()} == {"resident"}
    # Availability clipped to the window, less the slots that stay.
    assert providers[first.id].available == ((10, 30), (40, 60))
    assert providers[second.id].available == ((30, 60),)
    assert providers[third.id].available == ((0, 40),)
    patients = {p.id: p for p in problem.patients}
    assert set(patients) == {on_time.id, late.id, asked.id, pharmacy.id, planned.id}
    assert patients[late.id].arrives_at == 26
    assert patients[on_time.id].arrives_at == 0
    assert patients[asked.id].asked and not patients[on_time.id].asked
    assert patients[pharmacy.id].needs == "pharmacist"
    fixed = {(f.patient_id, f.provider_id, f.start) for f in problem.fixed}
    assert fixed == {
        (seen.id, first.id, 0),
        (by_hand.id, first.id, 30),
        (started.id, second.id, 20),
    }


def _assignment_id(db, group_session, user) -> int:
    return db.session.scalar(
        select(StaffAssignment.id).where(
            StaffAssignment.session_id == group_session.id, StaffAssignment.user_id == user.id
        )
    )


def test_continuity_is_the_provider_of_the_latest_earlier_slot_in_the_same_group(
    db, clinic, create_group, site
):
    first, second, third = clinic.residents
    patient, other_patient = clinic.patients[:2]
    group = clinic.group
    two_months_ago = make_session(group, start=START - timedelta(days=56))
    last_month = make_session(group, start=START - timedelta(days=28))
    missed_last_week = make_session(group, start=START - timedelta(days=7))
    elsewhere = make_session(create_group(site, rule=None), start=START - timedelta(days=3))
    add_slot(two_months_ago, patient, first, two_months_ago.starts_at + timedelta(minutes=20))
    add_slot(last_month, patient, second, last_month.starts_at + timedelta(minutes=20))
    add_slot(missed_last_week, patient, first, missed_last_week.starts_at, status=MISSED)
    add_slot(elsewhere, patient, third, elsewhere.starts_at + timedelta(minutes=20))
    add_slot(last_month, other_patient, third, last_month.starts_at + timedelta(minutes=30))

    problem = slot_plans.build_problem(clinic.group_session, now=BEFORE)

    last = {p.id: p.last_provider_id for p in problem.patients}
    assert last[patient.id] == second.id
    assert last[other_patient.id] == third.id
    assert last[clinic.patients[2].id] is None


def test_building_the_problem_takes_the_same_queries_for_4_and_12_patients(
    db, site, create_user, create_group, coordinator, count_queries
):
    counts = []
    for size in (4, 12):
        world = make_clinic(db, site, create_user, create_group, coordinator, patients=size)
        group_session = db.session.get(GroupSession, world.group_session.id)
        db.session.expire_all()
        with count_queries() as counter:
            problem = slot_plans.build_problem(group_session, now=BEFORE)
        assert len(problem.patients) == size
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


# Planning


def test_twelve_patients_three_residents_and_a_preceptor_are_all_placed(db, clinic):
    outcome = slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()

    assert outcome.unplaced == []
    stored = stored_slots(db, clinic.group_session)
    assert len(stored) == 12
    assert {s.patient_id for s in stored} == {p.id for p in clinic.patients}
    assert_no_overlaps(stored)
    window = slot_board.one_on_one_window(clinic.group_session)
    assert all(window.starts_at <= s.starts_at and s.ends_at <= window.ends_at for s in stored)
    assert all(s.ends_at - s.starts_at == timedelta(minutes=10) for s in stored)
    loads = [sum(s.provider_id == r.id for s in stored) for r in clinic.residents]
    assert loads == [4, 4, 4]  # residents share the teaching load evenly
    assert clinic.attending.id not in {s.provider_id for s in stored}
    assert {s.status for s in stored} == {PLANNED}
    created = db.session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.object_type == "one_on_one_slot", AuditEvent.action == "create"
        )
    )
    assert created == 12


def test_planning_again_replaces_the_planners_slots_and_keeps_those_placed_by_hand(db, clinic):
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()
    moved = stored_slots(db, clinic.group_session)[0]
    slot_changes.move_slot(
        clinic.group_session,
        moved.id,
        provider_id=clinic.residents[2].id,
        starts_at=at(18, 5),
        actor=clinic.coordinator,
    )
    db.session.commit()

    outcome = slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()

    stored = stored_slots(db, clinic.group_session)
    assert len(stored) == 12 and outcome.unplaced == []
    assert [s.id for s in outcome.kept] == [moved.id]
    kept = db.session.get(OneOnOneSlot, moved.id)
    assert (kept.provider_id, kept.starts_at, kept.placed_by) == (
        clinic.residents[2].id,
        at(18, 5),
        BY_HAND,
    )
    assert_no_overlaps(stored)


def test_a_patient_placed_again_keeps_their_slot_and_a_visit_with_a_note_begun_stays(db, clinic):
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()
    first = {s.patient_id: s.id for s in stored_slots(db, clinic.group_session)}
    noted = next(
        s
        for s in reversed(stored_slots(db, clinic.group_session))
        if s.patient_id != clinic.patients[0].id
    )
    was = (noted.id, noted.provider_id, noted.starts_at)
    db.session.add(
        EncounterNote(
            session_id=clinic.group_session.id,
            patient_id=noted.patient_id,
            author_id=noted.provider_id,
            slot_id=noted.id,
        )
    )
    gone = db.session.get(Attendance, _attendance_id(db, clinic.group_session, clinic.patients[0]))
    gone.check_in = "excused"
    db.session.commit()

    outcome = slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()

    after = {s.patient_id: s for s in stored_slots(db, clinic.group_session)}
    assert clinic.patients[0].id not in after and outcome.freed == 1
    assert {pid: s.id for pid, s in after.items()} == {
        pid: slot_id for pid, slot_id in first.items() if pid != clinic.patients[0].id
    }
    kept = after[noted.patient_id]
    assert (kept.id, kept.provider_id, kept.starts_at) == was
    assert noted.id in {s.id for s in outcome.kept}
    assert_no_overlaps(after.values())


def test_a_patient_who_needs_a_pharmacist_sees_the_pharmacist(db, clinic, create_user):
    pharmacist = create_user(CLINICIAN, discipline="pharmacist")
    assign(clinic.group_session, pharmacist)
    needing = clinic.patients[5]
    slot_changes.set_needed_discipline(
        clinic.group_session, needing.id, "pharmacist", actor=clinic.coordinator
    )
    db.session.commit()

    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()

    stored = {s.patient_id: s for s in stored_slots(db, clinic.group_session)}
    assert stored[needing.id].provider_id == pharmacist.id
    assert len(stored) == 12
    audit_rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "attendance")
    ).all()
    assert [(e.action, e.patient_id) for e in audit_rows] == [("update", needing.id)]


def test_without_a_pharmacist_on_the_team_the_patient_is_left_out_with_the_reason(db, clinic):
    needing = clinic.patients[0]
    slot_changes.set_needed_discipline(
        clinic.group_session, needing.id, "pharmacist", actor=clinic.coordinator
    )

    outcome = slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()

    assert [(p.id, reason) for p, reason in outcome.unplaced] == [
        (needing.id, "needs a pharmacist, and no pharmacist is on the team")
    ]
    view = slot_overview.overview(clinic.group_session, now=BEFORE)
    assert [(p.id, r) for p, r in view.left_out] == [(needing.id, outcome.unplaced[0][1])]
    assert view.unslotted == []


def test_a_provider_free_part_of_the_time_is_only_given_visits_then(db, clinic):
    partial = clinic.residents[0]
    slot_changes.set_provider_availability(
        clinic.group_session,
        partial.id,
        available_from=at(17, 45),
        available_until=None,
        actor=clinic.coordinator,
    )

    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()

    theirs = [s for s in stored_slots(db, clinic.group_session) if s.provider_id == partial.id]
    assert theirs and all(s.starts_at >= at(17, 45) for s in theirs)


def test_a_late_arrival_is_placed_after_they_arrive_and_seen_visits_stay(db, clinic, create_user):
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()
    first_round = [s for s in stored_slots(db, clinic.group_session) if s.starts_at == at(17, 15)]
    for slot in first_round:
        slot_changes.mark_seen(clinic.group_session, slot.id, actor=clinic.residents[0])
    late = create_user(PATIENT)
    add_attendance(
        clinic.group_session,
        late,
        check_in="late",
        checked_in_at=at(
            17,
            31,
        ),
    )
    db.session.commit()

    outcome = slot_plans.replan_from_now(
        clinic.group_session, actor=clinic.residents[1], now=at(17, 32)
    )
    db.session.commit()

    stored = stored_slots(db, clinic.group_session)
    by_patient = {s.patient_id: s for s in stored}
    assert outcome.unplaced == [] and len(stored) == 13
    assert by_patient[late.id].starts_at >= at(17, 32)
    for slot in first_round:  # seen: never moved
        again = by_patient[slot.patient_id]
        assert (again.id, again.starts_at, again.status) == (slot.id, at(17, 15), SEEN)
    # Under way at 17:32: the 17:25 visits stay too.
    assert sum(s.starts_at == at(17, 25) for s in stored) == 3
    assert all(s.starts_at >= at(17, 32) for s in stored if s.starts_at > at(17, 25))
    assert_no_overlaps(stored)


def test_a_no_show_frees_the_time_and_the_replan_keeps_seen_visits(db, clinic):
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()
    stored = stored_slots(db, clinic.group_session)
    seen = [s for s in stored if s.starts_at == at(17, 15)]
    for slot in seen:
        slot_changes.mark_seen(clinic.group_session, slot.id, actor=clinic.coordinator)
    absent = next(s for s in stored if s.starts_at == at(17, 25))
    slot_changes.mark_missed(
        clinic.group_session, absent.id, actor=clinic.coordinator, now=at(17, 27)
    )
    db.session.commit()

    missed = db.session.get(OneOnOneSlot, absent.id)
    assert missed.status == MISSED
    assert (missed.starts_at, missed.ends_at) == (at(17, 25), at(17, 27))  # the rest is free
    outcome = slot_plans.replan_from_now(
        clinic.group_session, actor=clinic.coordinator, now=at(17, 27)
    )
    db.session.commit()

    after = stored_slots(db, clinic.group_session)
    assert len(after) == 12  # nobody new for the missed patient, nobody lost
    assert [p for p, _ in outcome.unplaced] == []
    for slot in seen:
        kept = db.session.get(OneOnOneSlot, slot.id)
        assert (kept.status, kept.starts_at, kept.provider_id) == (
            SEEN,
            at(17, 15),
            slot.provider_id,
        )
    planned = [s for s in after if s.status == PLANNED and s.starts_at > at(17, 25)]
    assert planned and all(s.starts_at >= at(17, 27) for s in planned)
    # The provider whose patient did not come sees the next one from 17:27.
    assert any(s.provider_id == absent.provider_id and s.starts_at == at(17, 27) for s in after)
    assert_no_overlaps(after)


def test_the_plan_stops_when_the_one_on_one_time_is_over(db, clinic):
    with pytest.raises(ValidationFailed, match="ended at 6:15 PM"):
        slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=at(18, 15))
    db.session.rollback()
    assert stored_slots(db, clinic.group_session) == []


def test_only_planners_plan_and_never_a_cancelled_session(db, clinic, create_user):
    outsider = create_user(CLINICIAN)
    with pytest.raises(NotAllowed):
        slot_plans.plan_session(clinic.group_session, actor=outsider, now=BEFORE)
    db.session.rollback()
    with pytest.raises(NotAllowed):
        slot_plans.plan_session(clinic.group_session, actor=clinic.patients[0], now=BEFORE)
    db.session.rollback()
    # A precepting attending plans too.
    slot_plans.plan_session(clinic.group_session, actor=clinic.attending, now=BEFORE)
    db.session.rollback()

    clinic.group_session.status = CANCELLED
    db.session.commit()
    with pytest.raises(ValidationFailed, match="cancelled"):
        slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.rollback()
    assert stored_slots(db, clinic.group_session) == []


# Changes by hand


@pytest.fixture
def planned(db, clinic) -> list[OneOnOneSlot]:
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()
    return stored_slots(db, clinic.group_session)


def test_a_visit_moves_by_hand_to_any_free_minute(db, clinic, planned):
    slot = planned[0]
    target = clinic.residents[1]
    free = at(17, 56)  # the residents' visits end at 17:55: any minute will do

    slot_changes.move_slot(
        clinic.group_session,
        slot.id,
        provider_id=target.id,
        starts_at=free,
        actor=clinic.coordinator,
    )
    db.session.commit()

    moved = db.session.get(OneOnOneSlot, slot.id)
    assert (moved.provider_id, moved.starts_at, moved.ends_at) == (target.id, free, at(18, 6))
    assert moved.placed_by == BY_HAND
    assert_no_overlaps(stored_slots(db, clinic.group_session))


def test_moving_onto_a_providers_visit_is_a_conflict_naming_it(db, clinic, planned):
    mine, theirs = planned[0], next(s for s in planned if s.provider_id != planned[0].provider_id)

    with pytest.raises(Conflict) as refused:
        slot_changes.move_slot(
            clinic.group_session,
            mine.id,
            provider_id=theirs.provider_id,
            starts_at=theirs.starts_at + timedelta(minutes=5),
            actor=clinic.coordinator,
        )
    db.session.rollback()

    message = str(refused.value)
    assert theirs.provider.full_name in message and theirs.patient.full_name in message
    assert "already has a one-on-one visit at 5:15 PM–5:25 PM" in message
    assert db.session.get(OneOnOneSlot, mine.id).provider_id == mine.provider_id


def test_two_patients_swap_their_visits(db, clinic, planned):
    first = planned[0]
    second = next(
        s for s in planned if s.provider_id != first.provider_id and s.starts_at != first.starts_at
    )
    was = {s.id: (s.patient_id, s.provider_id, s.starts_at) for s in (first, second)}

    slot_changes.swap_slots(clinic.group_session, first.id, second.id, actor=clinic.coordinator)
    db.session.commit()

    a, b = stored(db, first.id), stored(db, second.id)
    assert (a.patient_id, a.provider_id, a.starts_at) == (was[a.id][0], *was[b.id][1:])
    assert (b.patient_id, b.provider_id, b.starts_at) == (was[b.id][0], *was[a.id][1:])
    assert {a.placed_by, b.placed_by} == {BY_HAND}
    assert_no_overlaps(stored_slots(db, clinic.group_session))


def stored(db, slot_id: int) -> OneOnOneSlot:
    db.session.expire_all()
    return db.session.get(OneOnOneSlot, slot_id)


def test_a_swap_of_two_visits_with_one_provider_works_too(db, clinic, planned):
    first, second = [s for s in planned if s.provider_id == planned[0].provider_id][:2]
    was = {first.id: first.starts_at, second.id: second.starts_at}

    slot_changes.swap_slots(clinic.group_session, first.id, second.id, actor=clinic.coordinator)
    db.session.commit()

    assert stored(db, first.id).starts_at == was[second.id]
    assert stored(db, second.id).starts_at == was[first.id]


def test_a_visit_marked_missed_before_it_starts_is_refused(db, clinic, planned):
    with pytest.raises(ValidationFailed, match="can be marked missed from then on"):
        slot_changes.mark_missed(
            clinic.group_session, planned[-1].id, actor=clinic.coordinator, now=at(17, 20)
        )
    db.session.rollback()
    assert db.session.get(OneOnOneSlot, planned[-1].id).status == PLANNED


def test_a_visit_seen_never_moves(db, clinic, planned):
    slot_changes.mark_seen(clinic.group_session, planned[0].id, actor=clinic.coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="already seen"):
        slot_changes.move_slot(
            clinic.group_session,
            planned[0].id,
            provider_id=planned[0].provider_id,
            starts_at=at(18, 5),
            actor=clinic.coordinator,
        )
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="only planned visits swap"):
        slot_changes.swap_slots(
            clinic.group_session, planned[0].id, planned[1].id, actor=clinic.coordinator
        )
    db.session.rollback()


def test_a_missed_visit_moved_by_hand_is_planned_again(db, clinic, planned):
    slot = planned[0]
    slot_changes.mark_missed(
        clinic.group_session, slot.id, actor=clinic.coordinator, now=at(17, 16)
    )
    db.session.commit()

    slot_changes.move_slot(
        clinic.group_session,
        slot.id,
        provider_id=slot.provider_id,
        starts_at=at(18, 5),
        actor=clinic.coordinator,
    )
    db.session.commit()

    again = db.session.get(OneOnOneSlot, slot.id)
    assert (again.status, again.starts_at, again.ends_at) == (PLANNED, at(18, 5), at(18, 15))


# Bad input: a clear message, nothing saved


@pytest.fixture
def guarded(db, site, create_user, create_group, coordinator):
    """A session whose window (17:15-18:15) has a 10-minute "Check-in circle" (17:45-17:55)
    when nobody leaves, with one planned visit."""
    world = make_clinic(
        db,
        site,
        create_user,
        create_group,
        coordinator,
        patients=2,
        steps=[
            ("arrival", "Arrival", 15),
            ("one_on_one", "One-on-ones", 30),
            ("group", "Check-in circle", 10, True),
            ("one_on_one", "More one-on-ones", 20),
        ],
    )
    slot_plans.plan_session(world.group_session, actor=coordinator, now=BEFORE)
    db.session.commit()
    return world


def _unchanged(db, group_session, before):
    after = [
        (s.id, s.provider_id, s.starts_at, s.ends_at, s.status)
        for s in stored_slots(db, group_session)
    ]
    assert after == before


@pytest.mark.parametrize(
    ("provider", "start", "message"),
    [
        ("resident", (17, 10), "does not fit in the one-on-one time, 5:15 PM–6:15 PM"),
        ("resident", (18, 10), "does not fit in the one-on-one time"),
        ("resident", (17, 40), "5:45 PM–5:55 PM is “Check-in circle”, when nobody leaves"),
        ("unknown", (17, 20), "Choose a provider on this session's team."),
        ("attending", (17, 20), "Choose a provider on this session's team."),
        ("outsider", (17, 20), "Choose a provider on this session's team."),
    ],
)
def test_a_move_that_breaks_a_rule_is_refused_and_saves_nothing(
    db, guarded, create_user, provider, start, message
):
    group_session = guarded.group_session
    before = [
        (s.id, s.provider_id, s.starts_at, s.ends_at, s.status)
        for s in stored_slots(db, group_session)
    ]
    provider_id = {
        "resident": guarded.residents[1].id,
        "unknown": 2**31 - 1,
        "attending": guarded.attending.id,  # precepts, but is no provider
        "outsider": create_user(CLINICIAN).id,  # a clinician of the site, not on the team
    }[provider]

    with pytest.raises(ValidationFailed) as refused:
        slot_changes.move_slot(
            group_session,
            before[0][0],
            provider_id=provider_id,
            starts_at=at(*start),
            actor=guarded.coordinator,
        )
    db.session.rollback()

    assert message in str(refused.value)
    _unchanged(db, group_session, before)


def test_a_move_outside_a_providers_hours_is_refused(db, guarded):
    group_session = guarded.group_session
    slot = stored_slots(db, group_session)[0]
    slot_changes.set_provider_availability(
        group_session,
        guarded.residents[2].id,
        available_from=None,
        available_until=at(17, 30),
        actor=guarded.coordinator,
    )
    db.session.commit()

    with pytest.raises(ValidationFailed, match="only from 5:15 PM until 5:30 PM"):
        slot_changes.move_slot(
            group_session,
            slot.id,
            provider_id=guarded.residents[2].id,
            starts_at=at(17, 25),
            actor=guarded.coordinator,
        )


def test_a_move_to_a_provider_not_meeting_the_patients_need_is_refused(db, guarded):
    group_session = guarded.group_session
    slot = stored_slots(db, group_session)[0]
    slot_changes.set_needed_discipline(
        group_session, slot.patient_id, "pharmacist", actor=guarded.coordinator
    )
    db.session.commit()

    with pytest.raises(ValidationFailed, match="must be with a pharmacist"):
        slot_changes.move_slot(
            group_session,
            slot.id,
            provider_id=guarded.residents[2].id,
            starts_at=at(18, 0),
            actor=guarded.coordinator,
        )


def test_another_sessions_patient_or_visit_is_refused(db, guarded, site, create_group, create_user):
    other_session = make_session(create_group(site, rule=None), start=START + timedelta(days=1))
    stranger = create_user(PATIENT)
    add_attendance(other_session, stranger)
    resident = guarded.residents[0]
    assign(other_session, resident)
    theirs = add_slot(
        other_session, stranger, resident, other_session.starts_at + timedelta(minutes=20)
    )
    mine = stored_slots(db, guarded.group_session)[0]

    with pytest.raises(ValidationFailed, match="not on this session's list"):
        slot_changes.set_needed_discipline(
            guarded.group_session, stranger.id, "pharmacist", actor=guarded.coordinator
        )
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="belongs to another session"):
        slot_changes.swap_slots(
            guarded.group_session, mine.id, theirs.id, actor=guarded.coordinator
        )
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="belongs to another session"):
        slot_changes.move_slot(
            guarded.group_session,
            theirs.id,
            provider_id=resident.id,
            starts_at=at(17, 15),
            actor=guarded.coordinator,
        )
    db.session.rollback()

    assert (
        db.session.get(Attendance, _attendance_id(db, other_session, stranger)).one_on_one_with
        is None
    )
    assert db.session.get(OneOnOneSlot, theirs.id).session_id == other_session.id


def _attendance_id(db, group_session, patient) -> int:
    return db.session.scalar(
        select(Attendance.id).where(
            Attendance.session_id == group_session.id, Attendance.patient_id == patient.id
        )
    )


@pytest.mark.parametrize(
    ("start", "until", "message"),
    [
        ((16, 30), None, "Give times during the session, between 5:00 PM and 7:00 PM."),
        (None, (19, 30), "Give times during the session"),
        ((18, 0), (17, 30), "must come after"),
    ],
)
def test_hours_outside_the_session_or_backwards_are_refused(db, clinic, start, until, message):
    resident = clinic.residents[0]

    with pytest.raises(ValidationFailed, match=message):
        slot_changes.set_provider_availability(
            clinic.group_session,
            resident.id,
            available_from=at(*start) if start else None,
            available_until=at(*until) if until else None,
            actor=clinic.coordinator,
        )
    db.session.rollback()

    assignment = db.session.get(StaffAssignment, _assignment_id(db, clinic.group_session, resident))
    assert (assignment.available_from, assignment.available_until) == (None, None)


def test_an_unknown_discipline_is_refused(db, clinic):
    with pytest.raises(ValidationFailed, match="Choose a discipline"):
        slot_changes.set_needed_discipline(
            clinic.group_session, clinic.patients[0].id, "wizard", actor=clinic.coordinator
        )


# The planner page's read-model


def test_the_overview_points_out_what_needs_the_reader(db, clinic, create_user):
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=BEFORE)
    db.session.commit()
    stored = stored_slots(db, clinic.group_session)
    # One patient becomes an excused absentee; one more arrives; a fourth resident joins.
    gone = db.session.get(Attendance, _attendance_id(db, clinic.group_session, clinic.patients[0]))
    gone.check_in = "excused"
    newcomer = create_user(PATIENT)
    add_attendance(clinic.group_session, newcomer, check_in="arrived")
    extra = create_user(CLINICIAN, discipline="nurse_practitioner")
    assign(clinic.group_session, extra)

    view = slot_overview.overview(clinic.group_session, now=BEFORE)

    gone_slot = next(s for s in stored if s.patient_id == clinic.patients[0].id)
    assert [(s.id, reason) for s, reason in view.slot_problems] == [
        (gone_slot.id, "is excused: re-plan to free this time")
    ]
    assert [p.id for p in view.unslotted] == [newcomer.id]
    assert view.left_out == []
    assert [line.user.id for line in view.idle] == [extra.id]
    assert set(view.patient_ids) >= {p.id for p in clinic.patients} | {newcomer.id}
    assert [line.user.id for line in view.providers][-1] in {r.id for r in clinic.residents} | {
        extra.id
    }
    assert not view.under_way and not view.over
