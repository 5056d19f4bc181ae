"""Attendance rules: answers and their deadline, seats, drop-ins, check-in, vitals, show rates."""

from collections import Counter
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.extensions import db as _db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster import attendance as rules
from groupvisits.roster import history
from groupvisits.roster import services as roster
from groupvisits.roster.attendance import SessionFull
from groupvisits.roster.models import (
    ARRIVED,
    EXCUSED,
    LATE,
    MAYBE,
    NO,
    NO_SHOW,
    WAITLISTED,
    YES,
    Attendance,
    AttendanceChange,
)
from groupvisits.schedule.census import census_of
from groupvisits.schedule.models import CANCELLED, GroupSession
from groupvisits.timeutil import utcnow

SMALL = {"min_members": 1, "target_members": 2, "max_members": 3}


def sessions_of(db, group) -> list[GroupSession]:
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        )
    )


def upcoming(db, group) -> GroupSession:
    """The group's first session at least a week ahead (its answers are still open)."""
    soon = utcnow() + timedelta(days=7)
    return next(s for s in sessions_of(db, group) if s.starts_at > soon)


def attendance_count(db, group_session) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.session_id == group_session.id)
    )


def move_to_past(db, group_session, days_ago: int) -> GroupSession:
    """Make a session one that already took place."""
    group_session.starts_at = utcnow() - timedelta(days=days_ago)
    group_session.ends_at = group_session.starts_at + timedelta(hours=2)
    db.session.commit()
    return group_session


@pytest.fixture
def make_members(db, coordinator, create_user):
    """``make_members(group, count, **fields)``: patients enrolled in ``group``."""

    def make(group, count: int, **fields):
        people = [create_user(PATIENT, **fields) for _ in range(count)]
        for person in people:
            roster.enrol(group, person, actor=coordinator)
        db.session.commit()
        return people

    return make


@pytest.fixture
def group(create_group):
    return create_group(**SMALL)


@pytest.fixture
def group_session(db, group):
    return upcoming(db, group)


# Answers


def test_a_member_answers_yes_no_and_maybe(db, group, group_session, make_members):
    (member,) = make_members(group, 1)
    when = group_session.starts_at - timedelta(days=3)

    for answer, seats in ((YES, 1), (MAYBE, 0), (NO, 0)):
        attendance = rules.answer_rsvp(group_session, member, answer, actor=member, now=when)
        db.session.commit()
        assert (attendance.rsvp, attendance.answered_at, attendance.seats) == (answer, when, seats)
        assert rules.seats_taken(group_session) == seats

    assert attendance_count(db, group_session) == 1
    with pytest.raises(ValidationFailed, match="yes, no or maybe"):
        rules.answer_rsvp(group_session, member, "perhaps", actor=member)


def test_only_active_members_answer(
    db, create_group, coordinator, make_members, create_user, patient
):
    group = create_group(min_members=1, target_members=1, max_members=1)
    group_session = upcoming(db, group)
    _, waiting = make_members(group, 2)
    assert roster.current_membership(group, waiting).status == WAITLISTED

    for person in (patient, waiting):
        with pytest.raises(ValidationFailed, match="Only members"):
            rules.answer_rsvp(group_session, person, MAYBE, actor=person)
    db.session.rollback()

    assert attendance_count(db, group_session) == 0


def test_nobody_answers_for_a_cancelled_session(db, group, group_session, make_members):
    (member,) = make_members(group, 1)
    group_session.status = CANCELLED
    db.session.commit()

    with pytest.raises(ValidationFailed, match="cancelled"):
        rules.answer_rsvp(group_session, member, NO, actor=member)


def test_answers_close_at_midnight_local_time_before_the_session_day(
    db, group, group_session, make_members
):
    (member,) = make_members(group, 1)
    local = group_session.starts_at.astimezone(ZoneInfo(group.site.timezone))
    deadline = rules.answer_deadline(group_session)

    assert deadline == datetime.combine(local.date(), time.min, ZoneInfo(group.site.timezone))
    rules.answer_rsvp(group_session, member, YES, actor=member, now=deadline - timedelta(seconds=1))
    db.session.commit()
    with pytest.raises(ValidationFailed, match="closed"):
        rules.answer_rsvp(group_session, member, NO, actor=member, now=deadline)
    with pytest.raises(ValidationFailed, match="closed"):
        rules.answer_rsvp(
            group_session,
            member,
            NO,
            actor=member,
            now=group_session.starts_at + timedelta(hours=1),
        )
    db.session.rollback()

    assert rules._attendance(group_session, member).rsvp == YES


def test_a_longer_deadline_closes_answers_earlier(db, create_group, make_members):
    group = create_group(**SMALL)
    group.rsvp_deadline_days = 3
    db.session.commit()
    group_session = upcoming(db, group)
    (member,) = make_members(group, 1)
    tz = ZoneInfo(group.site.timezone)
    local_day = group_session.starts_at.astimezone(tz).date()

    assert rules.answer_deadline(group_session) == datetime.combine(
        local_day - timedelta(days=2), time.min, tz
    )
    with pytest.raises(ValidationFailed, match="closed"):
        rules.answer_rsvp(
            group_session,
            member,
            YES,
            actor=member,
            now=rules.answer_deadline(group_session) + timedelta(minutes=1),
        )


def test_staff_of_the_site_answer_for_a_member_after_the_deadline(
    db, group, group_session, make_members, coordinator, clinician
):
    (member,) = make_members(group, 1)
    late = rules.answer_deadline(group_session) + timedelta(hours=12)

    rules.answer_rsvp(group_session, member, YES, actor=coordinator, now=late)
    rules.answer_rsvp(
        group_session, member, YES, actor=clinician, brings_support_person=True, now=late
    )
    db.session.commit()

    attendance = rules._attendance(group_session, member)
    assert (attendance.rsvp, attendance.brings_support_person) == (YES, True)


def test_nobody_else_answers_for_a_member(
    db, group, group_session, make_members, create_user, other_site
):
    member, fellow = make_members(group, 2)
    elsewhere = create_user(CLINICIAN, sites=[other_site])

    for actor in (fellow, elsewhere):
        with pytest.raises(NotAllowed):
            rules.answer_rsvp(group_session, member, YES, actor=actor)
    db.session.rollback()

    assert attendance_count(db, group_session) == 0


def test_yes_waits_for_the_current_agreement_but_maybe_and_no_do_not(
    db, group, group_session, make_members, coordinator
):
    (member,) = make_members(group, 1)
    first = roster.publish_agreement(group, "Stays in the group.", actor=coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="confidentiality agreement"):
        rules.answer_rsvp(group_session, member, YES, actor=member)
    db.session.rollback()
    assert attendance_count(db, group_session) == 0
    assert rules.answer_rsvp(group_session, member, MAYBE, actor=member).rsvp == MAYBE
    assert rules.answer_rsvp(group_session, member, NO, actor=member).rsvp == NO
    db.session.commit()

    roster.accept_agreement(first, member, actor=member)
    assert rules.answer_rsvp(group_session, member, YES, actor=member).rsvp == YES
    db.session.commit()

    roster.publish_agreement(group, "Version two.", actor=coordinator)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="confidentiality agreement"):
        rules.answer_rsvp(upcoming_after(db, group, group_session), member, YES, actor=member)


def upcoming_after(db, group, group_session) -> GroupSession:
    return next(s for s in sessions_of(db, group) if s.starts_at > group_session.starts_at)


# Seats


def test_a_support_person_takes_a_second_seat(db, group, group_session, make_members):
    (member,) = make_members(group, 1)

    attendance = rules.answer_rsvp(
        group_session, member, YES, actor=member, brings_support_person=True
    )
    db.session.commit()

    assert attendance.seats == 2
    assert rules.seats_taken(group_session) == 2
    counts = rules.counts_for_sessions([group_session.id])[group_session.id]
    assert (counts.confirmed, counts.support_persons, counts.seats) == (1, 1, 2)

    rules.answer_rsvp(group_session, member, NO, actor=member, brings_support_person=True)
    db.session.commit()
    assert attendance.brings_support_person is False
    assert rules.seats_taken(group_session) == 0


def test_yes_to_a_full_session_is_refused_and_the_earlier_answer_kept(
    db, group, group_session, make_members, create_user, coordinator
):
    first, second, third = make_members(group, 3)
    for person in (first, second):
        rules.answer_rsvp(group_session, person, YES, actor=person)
    rules.answer_rsvp(group_session, third, MAYBE, actor=third)
    rules.add_drop_in(group_session, create_user(PATIENT), actor=coordinator)
    db.session.commit()
    assert rules.seats_taken(group_session) == 3

    with pytest.raises(SessionFull, match="Sorry, this session is full"):
        rules.answer_rsvp(group_session, third, YES, actor=third)
    db.session.rollback()

    assert rules._attendance(group_session, third).rsvp == MAYBE
    assert rules.seats_taken(group_session) == 3


def test_a_member_who_leaves_gives_up_their_seats(
    db, group, group_session, make_members, coordinator
):
    leaving, staying, third = make_members(group, 3)
    newcomer = make_members(group, 1)[0]
    for person in (leaving, staying, third):
        rules.answer_rsvp(group_session, person, YES, actor=person)
    db.session.commit()
    assert rules.seats_taken(group_session) == 3

    roster.withdraw(roster.current_membership(group, leaving), actor=leaving)
    roster.accept_offer(roster.current_membership(group, newcomer), actor=newcomer)
    db.session.commit()

    assert rules.seats_taken(group_session) == 2
    assert rules.counts_for_sessions([group_session.id])[group_session.id].confirmed == 2
    assert rules.answer_rsvp(group_session, newcomer, YES, actor=newcomer).rsvp == YES


def test_a_full_session_refuses_a_new_answer_without_saving_a_row(db, create_group, make_members):
    group = create_group(min_members=1, target_members=2, max_members=2)
    group_session = upcoming(db, group)
    first, second = make_members(group, 2)
    rules.answer_rsvp(group_session, first, YES, actor=first, brings_support_person=True)
    db.session.commit()

    with pytest.raises(SessionFull, match="full"):
        rules.answer_rsvp(group_session, second, YES, actor=second)
    db.session.rollback()

    assert attendance_count(db, group_session) == 1
    assert rules.answer_rsvp(group_session, second, NO, actor=second).rsvp == NO


def test_the_last_seat_is_too_few_for_a_support_person(db, group, group_session, make_members):
    first, second, third = make_members(group, 3)
    for person in (first, second):
        rules.answer_rsvp(group_session, person, YES, actor=person)
    db.session.commit()

    with pytest.raises(SessionFull, match="Only 1 seat is left") as refused:
        rules.answer_rsvp(group_session, third, YES, actor=third, brings_support_person=True)
    db.session.rollback()

    assert "support person" in str(refused.value)
    assert rules._attendance(group_session, third) is None
    rules.answer_rsvp(group_session, third, YES, actor=third)
    db.session.commit()
    assert rules.seats_taken(group_session) == 3


def test_changing_ones_own_answer_does_not_count_ones_own_seat_twice(
    db, group, group_session, make_members
):
    first, second = make_members(group, 2)
    rules.answer_rsvp(group_session, first, YES, actor=first)
    rules.answer_rsvp(group_session, second, YES, actor=second)
    db.session.commit()

    # Three places: adding a support person to an existing 'yes' needs just one more seat.
    attendance = rules.answer_rsvp(
        group_session, first, YES, actor=first, brings_support_person=True
    )
    db.session.commit()

    assert attendance.seats == 2
    assert rules.seats_taken(group_session) == 3


# Drop-ins


def test_a_drop_in_takes_a_seat_and_is_refused_when_full(
    db, group, group_session, make_members, create_user, clinician
):
    first, second = make_members(group, 2)
    visitor, latecomer = create_user(PATIENT), create_user(PATIENT)
    rules.answer_rsvp(group_session, first, YES, actor=first)
    rules.answer_rsvp(group_session, second, MAYBE, actor=second)
    db.session.commit()

    drop_in = rules.add_drop_in(group_session, visitor, actor=clinician)
    db.session.commit()

    assert (drop_in.is_drop_in, drop_in.rsvp, drop_in.membership_id) == (True, YES, None)
    assert rules.seats_taken(group_session) == 2
    with pytest.raises(ValidationFailed, match="already on this session's list"):
        rules.add_drop_in(group_session, visitor, actor=clinician)
    rules.answer_rsvp(group_session, second, YES, actor=second)
    db.session.commit()
    assert rules.seats_taken(group_session) == 3

    with pytest.raises(SessionFull, match="no seat is left for a drop-in"):
        rules.add_drop_in(group_session, latecomer, actor=clinician)
    db.session.rollback()

    assert attendance_count(db, group_session) == 3


def test_drop_ins_are_added_by_staff_of_the_site_for_its_patients(
    db, group, group_session, create_user, other_site, patient, coordinator
):
    outsider = create_user(PATIENT, sites=[other_site])
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    with pytest.raises(ValidationFailed):
        rules.add_drop_in(group_session, outsider, actor=coordinator)
    for actor in (elsewhere, patient):
        with pytest.raises(NotAllowed):
            rules.add_drop_in(group_session, patient, actor=actor)
    group_session.status = CANCELLED
    with pytest.raises(ValidationFailed, match="cancelled"):
        rules.add_drop_in(group_session, patient, actor=coordinator)
    db.session.rollback()

    assert attendance_count(db, group_session) == 0


# Check-in


@pytest.fixture
def checked_in_group(db, group, group_session, make_members, coordinator):
    """Two members; the first has an attendance row to check in on."""
    member, other = make_members(group, 2)
    attendance = rules.attendance_for_check_in(group_session, member, actor=coordinator)
    db.session.commit()
    return member, other, attendance


def test_arriving_more_than_ten_minutes_after_the_start_counts_as_late(
    db, group, group_session, make_members, clinician
):
    on_time, just_in_time, late = make_members(group, 3)
    start = group_session.starts_at
    results = {}
    for person, minutes in ((on_time, -5), (just_in_time, 10), (late, 11)):
        attendance = rules.attendance_for_check_in(group_session, person, actor=clinician)
        rules.check_in(
            attendance,
            ARRIVED,
            actor=clinician,
            group_session=group_session,
            now=start + timedelta(minutes=minutes),
        )
        results[person.id] = attendance
    db.session.commit()

    assert [results[p.id].check_in for p in (on_time, just_in_time, late)] == [
        ARRIVED,
        ARRIVED,
        LATE,
    ]
    assert results[late.id].checked_in_at == start + timedelta(minutes=11)
    assert results[late.id].mode == "in_person"
    assert results[late.id].attended


def test_check_in_records_no_shows_and_excused_without_a_mode(
    db, group, group_session, make_members, clinician
):
    absent, excused = make_members(group, 2)
    later = group_session.starts_at + timedelta(hours=1)

    for person, status in ((absent, NO_SHOW), (excused, EXCUSED)):
        attendance = rules.attendance_for_check_in(group_session, person, actor=clinician)
        rules.check_in(attendance, status, actor=clinician, group_session=group_session, now=later)
        db.session.commit()
        assert (attendance.check_in, attendance.mode, attendance.attended) == (status, None, False)
        assert attendance.rsvp is None
    with pytest.raises(ValidationFailed, match="Unknown"):
        rules.check_in(attendance, "asleep", actor=clinician, group_session=group_session)


def test_hybrid_groups_record_how_each_person_joined(db, create_group, make_members, clinician):
    group = create_group(modality="hybrid", video_url="https://video.example.org/room", **SMALL)
    group_session = upcoming(db, group)
    in_room, online = make_members(group, 2)
    start = group_session.starts_at

    for person, mode in ((in_room, "in_person"), (online, "virtual")):
        attendance = rules.attendance_for_check_in(group_session, person, actor=clinician)
        rules.check_in(
            attendance, ARRIVED, actor=clinician, group_session=group_session, mode=mode, now=start
        )
    db.session.commit()

    assert [rules._attendance(group_session, p).mode for p in (in_room, online)] == [
        "in_person",
        "virtual",
    ]


def test_an_in_person_group_ignores_a_mode(db, group, group_session, checked_in_group, clinician):
    _, _, attendance = checked_in_group

    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        mode="virtual",
        now=group_session.starts_at,
    )
    db.session.commit()

    assert attendance.mode == "in_person"


def test_check_in_asks_about_a_one_on_one_visit(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    assert attendance.wants_one_on_one is None

    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        wants_one_on_one=True,
        now=group_session.starts_at,
    )
    db.session.commit()
    assert attendance.wants_one_on_one is True

    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        wants_one_on_one=False,
        now=group_session.starts_at,
    )
    db.session.commit()
    assert attendance.wants_one_on_one is False


def test_only_staff_of_the_site_check_people_in(
    db, group, group_session, checked_in_group, create_user, other_site
):
    member, other, attendance = checked_in_group
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    for actor in (elsewhere, other, member):
        with pytest.raises(NotAllowed):
            rules.check_in(attendance, ARRIVED, actor=actor, group_session=group_session)
    db.session.rollback()

    assert rules._attendance(group_session, member).check_in is None


def test_check_in_of_a_non_member_asks_for_a_drop_in(db, group, group_session, patient, clinician):
    with pytest.raises(ValidationFailed, match="drop-in"):
        rules.attendance_for_check_in(group_session, patient, actor=clinician)


# Vitals


@pytest.mark.parametrize(
    ("weight", "systolic", "diastolic", "message"),
    [
        (None, 128, None, "both numbers"),
        (None, None, 82, "both numbers"),
        (None, 120, 120, "larger one"),
        (None, 80, 120, "larger one"),
        (None, 1280, 82, "mistyped"),
        (520, None, None, "kilograms"),
        (8, None, None, "kilograms"),
        (None, None, None, "Enter a weight"),
    ],
)
def test_vitals_that_make_no_sense_are_refused(
    db, group, group_session, checked_in_group, clinician, weight, systolic, diastolic, message
):
    _, _, attendance = checked_in_group

    with pytest.raises(ValidationFailed, match=message):
        rules.record_vitals(
            attendance,
            weight=weight,
            systolic=systolic,
            diastolic=diastolic,
            source="staff",
            actor=clinician,
            now=group_session.starts_at,
        )
    db.session.rollback()

    stored = rules._attendance(group_session, attendance.patient)
    assert (stored.weight_kg, stored.systolic, stored.diastolic) == (None, None, None)
    assert not stored.vitals_taken


def test_vitals_record_who_took_them(db, group, group_session, checked_in_group, clinician):
    member, _, attendance = checked_in_group
    when = group_session.starts_at + timedelta(minutes=3)

    rules.record_vitals(
        attendance,
        weight=Decimal("82.5"),
        systolic=128,
        diastolic=82,
        source="patient",
        actor=member,
        now=when,
    )
    db.session.commit()
    stored = rules._attendance(group_session, member)
    assert (Decimal(stored.weight_kg), stored.systolic, stored.diastolic) == (
        Decimal("82.5"),
        128,
        82,
    )
    assert (stored.vitals_source, stored.vitals_at, stored.vitals_taken) == ("patient", when, True)

    rules.record_vitals(
        attendance,
        weight=None,
        systolic=134,
        diastolic=86,
        source="staff",
        actor=clinician,
        reason="Measured again, seated",
        now=when,
    )
    db.session.commit()
    stored = rules._attendance(group_session, member)
    assert (stored.vitals_source, stored.systolic, stored.weight_kg) == ("staff", 134, None)
    with pytest.raises(ValidationFailed, match="who took"):
        rules.record_vitals(
            attendance, weight=80, systolic=None, diastolic=None, source="robot", actor=member
        )


# Numbers: counts, show rates, the session list


def test_counts_for_sessions_add_support_persons_drop_ins_maybes_and_the_waitlist(
    db, create_group, make_members, create_user, clinician
):
    group = create_group(min_members=1, target_members=4, max_members=6)
    other_group = create_group(min_members=1, target_members=4, max_members=6)
    first, second = upcoming(db, group), upcoming_after(db, group, upcoming(db, group))
    elsewhere = upcoming(db, other_group)
    people = make_members(group, 8)
    yes_with_support, yes, yes_too, maybe, maybe_too, no = people[:6]
    for person in (yes, yes_too):
        rules.answer_rsvp(first, person, YES, actor=person)
    rules.answer_rsvp(
        first, yes_with_support, YES, actor=yes_with_support, brings_support_person=True
    )
    for person in (maybe, maybe_too):
        rules.answer_rsvp(first, person, MAYBE, actor=person)
    rules.answer_rsvp(first, no, NO, actor=no)
    rules.add_drop_in(first, create_user(PATIENT), actor=clinician)
    db.session.commit()

    counts = rules.counts_for_sessions([first.id, second.id, elsewhere.id])

    # Confirmed counts members with a place; support persons and drop-ins hold seats.
    assert (counts[first.id].confirmed, counts[first.id].maybe) == (3, 2)
    assert (counts[first.id].support_persons, counts[first.id].drop_ins) == (1, 1)
    assert counts[first.id].seats == 5
    assert counts[first.id].waitlisted == 2
    assert (counts[second.id].confirmed, counts[second.id].maybe) == (0, 0)
    assert counts[second.id].waitlisted == 2
    assert counts[elsewhere.id].waitlisted == 0
    assert counts[first.id].show_rate == 1.0
    assert counts[first.id].seats == rules.seats_taken(first)
    assert rules.counts_for_sessions([]) == {}


@pytest.fixture
def past_and_next(db, create_group, make_members, coordinator):
    """A group of ten that met once: all said yes, eight came (one late), two did not."""
    group = create_group()
    past, upcoming_session = [s for s in sessions_of(db, group) if s.starts_at > utcnow()][:2]
    move_to_past(db, past, days_ago=20)
    people = make_members(group, 10)
    for person in people:
        rules.answer_rsvp(past, person, YES, actor=coordinator)
    db.session.commit()
    for index, person in enumerate(people):
        attendance = rules.attendance_for_check_in(past, person, actor=coordinator)
        status = ARRIVED if index < 8 else NO_SHOW
        minutes = 15 if index == 0 else 0
        rules.check_in(
            attendance,
            status,
            actor=coordinator,
            group_session=past,
            now=past.starts_at + timedelta(minutes=minutes),
        )
    db.session.commit()
    return group, past, upcoming_session, people


def test_show_rate_is_the_share_of_yes_answers_that_came(db, past_and_next, coordinator):
    group, past, upcoming_session, people = past_and_next
    assert rules._attendance(past, people[0]).check_in == LATE

    assert rules.show_rates([group.id]) == {group.id: pytest.approx(0.8)}

    for person in people[:5]:
        rules.answer_rsvp(upcoming_session, person, YES, actor=person)
    db.session.commit()
    counts = rules.counts_for_sessions([upcoming_session.id])[upcoming_session.id]
    census = census_of(upcoming_session, counts, now=utcnow())

    assert (counts.confirmed, counts.show_rate) == (5, pytest.approx(0.8))
    assert census.expected == round(5 * 0.8) == 4


def test_show_rate_ignores_no_answers_future_and_cancelled_sessions(
    db, past_and_next, create_user, coordinator
):
    group, past, upcoming_session, people = past_and_next
    # Someone who said no but came changes nothing; a future session cannot be checked in early.
    other = roster.enrol(group, create_user(PATIENT), actor=coordinator)
    db.session.commit()
    rules.answer_rsvp(past, other.patient, NO, actor=coordinator)
    rules.check_in(
        rules._attendance(past, other.patient),
        ARRIVED,
        actor=coordinator,
        group_session=past,
        now=past.starts_at,
    )
    rules.answer_rsvp(upcoming_session, people[9], YES, actor=people[9])
    db.session.commit()
    with pytest.raises(ValidationFailed, match="Check-in opens 60 minutes before"):
        rules.check_in(
            rules._attendance(upcoming_session, people[9]),
            NO_SHOW,
            actor=coordinator,
            group_session=upcoming_session,
        )
    db.session.rollback()

    assert rules.show_rates([group.id]) == {group.id: pytest.approx(0.8)}
    assert rules.show_rates([]) == {}
    past.status = CANCELLED
    db.session.commit()
    assert rules.show_rates([group.id]) == {}
    assert rules.counts_for_sessions([upcoming_session.id])[upcoming_session.id].show_rate == 1.0


def test_show_rate_looks_only_at_the_latest_six_past_sessions(
    db, create_group, make_members, coordinator
):
    group = create_group(rule="FREQ=WEEKLY;BYDAY=TU", start=date.today() - timedelta(days=70))
    past = [s for s in sessions_of(db, group) if s.starts_at < utcnow()]
    assert len(past) >= 7
    (member,) = make_members(group, 1)
    for index, group_session in enumerate(past[-7:]):
        rules.answer_rsvp(group_session, member, YES, actor=coordinator)
        status = NO_SHOW if index == 0 else ARRIVED
        rules.check_in(
            rules._attendance(group_session, member),
            status,
            actor=coordinator,
            group_session=group_session,
            now=group_session.starts_at,
        )
    db.session.commit()

    assert rules.show_rates([group.id]) == {group.id: 1.0}
    assert rules.show_rates([group.id], now=past[-1].starts_at) == {group.id: pytest.approx(5 / 6)}


def test_member_show_rates_count_sessions_attended_and_missed(
    db, create_group, make_members, coordinator, create_user
):
    group = create_group(rule="FREQ=WEEKLY;BYDAY=TU", start=date.today() - timedelta(days=40))
    other_group = create_group(rule="FREQ=WEEKLY;BYDAY=WE", start=date.today() - timedelta(days=40))
    past = [s for s in sessions_of(db, group) if s.starts_at < utcnow()][:3]
    elsewhere = [s for s in sessions_of(db, other_group) if s.starts_at < utcnow()][0]
    regular, excused, silent = make_members(group, 3)
    roster.enrol(other_group, regular, actor=coordinator)
    db.session.commit()

    def check(group_session, person, status):
        attendance = rules.attendance_for_check_in(group_session, person, actor=coordinator)
        rules.check_in(
            attendance,
            status,
            actor=coordinator,
            group_session=group_session,
            now=group_session.starts_at + timedelta(minutes=30),
        )

    for group_session, status in zip(past, (ARRIVED, ARRIVED, NO_SHOW), strict=True):
        check(group_session, regular, status)
    check(past[0], excused, EXCUSED)
    check(elsewhere, regular, NO_SHOW)
    db.session.commit()

    rates = rules.member_show_rates(group.id, [regular.id, excused.id, silent.id])

    # The late arrivals (checked in 30 minutes after the start) count as attended.
    assert rates == {regular.id: (3, 2, 1), excused.id: (1, 0, 0)}
    assert rules.member_show_rates(group.id, []) == {}


def test_session_list_sorts_people_by_answer_and_sums_seats_and_diets(
    db, group, group_session, coordinator, create_user
):
    group.max_members = 10
    db.session.commit()
    names = ["Adams", "Baker", "Chen", "Diaz", "Evans"]
    diets = ["Vegetarian, gluten-free", "vegetarian", "", "halal", "vegan"]
    people = [
        create_user(PATIENT, family_name=name, dietary_needs=diet)
        for name, diet in zip(names, diets, strict=True)
    ]
    adams, baker, chen, diaz, evans = people
    for person in reversed(people):
        roster.enrol(group, person, actor=coordinator)
    visitor = create_user(PATIENT, family_name="Visitor", dietary_needs="Halal; VEGETARIAN")
    db.session.commit()
    rules.answer_rsvp(group_session, evans, YES, actor=evans, brings_support_person=True)
    rules.answer_rsvp(group_session, adams, YES, actor=adams, brings_support_person=True)
    rules.answer_rsvp(group_session, baker, YES, actor=baker)
    rules.answer_rsvp(group_session, chen, MAYBE, actor=chen)
    rules.add_drop_in(group_session, visitor, actor=coordinator)
    db.session.commit()

    listing = rules.session_list(group_session, agreements={adams.id})

    def names_of(rows):
        return [row.patient.family_name for row in rows]

    assert names_of(listing.confirmed) == ["Adams", "Baker", "Evans"]
    assert names_of(listing.maybe) == ["Chen"]
    assert names_of(listing.declined) == []
    assert names_of(listing.no_answer) == ["Diaz"]
    assert names_of(listing.drop_ins) == ["Visitor"]
    assert (listing.seats, listing.support_persons, listing.headcount) == (6, 2, 6)
    assert listing.seats == rules.seats_taken(group_session)
    assert listing.diets == Counter({"vegetarian": 3, "gluten free": 1, "vegan": 1, "halal": 1})
    assert [row.agreement_ok for row in listing.confirmed] == [True, False, False]
    assert all(row.membership is not None for row in listing.confirmed)
    assert listing.drop_ins[0].membership is None

    rules.answer_rsvp(group_session, baker, NO, actor=baker)
    db.session.commit()
    listing = rules.session_list(group_session)
    assert names_of(listing.declined) == ["Baker"]
    assert listing.seats == 5
    assert "halal" in listing.diets and "gluten free" in listing.diets


def test_session_list_runs_the_same_queries_for_five_or_fifteen_members(
    db, create_group, make_members, create_user, coordinator, count_queries
):
    def fill(size: int) -> int:
        group = create_group(max_members=20, target_members=12, min_members=8)
        group_session = upcoming(db, group)
        people = make_members(group, size)
        for index, person in enumerate(people):
            answer = (YES, MAYBE, NO, None)[index % 4]
            if answer:
                rules.answer_rsvp(
                    group_session, person, answer, actor=person, brings_support_person=index == 0
                )
        rules.add_drop_in(group_session, create_user(PATIENT), actor=coordinator)
        db.session.commit()
        session_id = group_session.id
        db.session.expire_all()
        with count_queries() as counter:
            listing = rules.session_list(db.session.get(GroupSession, session_id))
            for row in listing.confirmed + listing.maybe + listing.no_answer + listing.drop_ins:
                assert row.patient.first_name
        assert (
            len(listing.confirmed)
            + len(listing.maybe)
            + len(listing.declined)
            + len(listing.no_answer)
            == size
        )
        return counter.count

    # The session, members, answers, and people with their profiles.
    assert fill(5) == fill(15) == 4


def test_vitals_are_refused_to_staff_of_another_site_and_other_patients(
    db, site, other_site, create_user, create_group
):
    from groupvisits.accounts.models import CLINICIAN, PATIENT
    from groupvisits.errors import NotAllowed
    from groupvisits.roster import services as roster_services
    from groupvisits.schedule import services as schedule_services

    group = create_group(site)
    member = create_user(PATIENT)
    roster_services.enrol(group, member, actor=None)
    group_session = schedule_services.next_sessions([group.id], schedule_services.utcnow())[
        group.id
    ]
    attendance = rules.attendance_for_check_in(group_session, member, actor=None)
    db.session.commit()
    for stranger in (create_user(CLINICIAN, sites=[other_site]), create_user(PATIENT)):
        with pytest.raises(NotAllowed):
            rules.record_vitals(
                attendance,
                weight=80,
                systolic=None,
                diastolic=None,
                source="staff",
                actor=stranger,
            )
    assert attendance.vitals_at is None


def test_the_deadline_is_said_as_the_end_of_the_day_before(db, site, create_group):
    from groupvisits.schedule import services as schedule_services

    group = create_group(site)
    group_session = schedule_services.next_sessions([group.id], schedule_services.utcnow())[
        group.id
    ]
    day_before = group_session.local_start.date() - timedelta(days=1)
    assert rules.describe_deadline(group_session) == (
        f"the end of {day_before:%A} {day_before.day} {day_before:%B}"
    )
    group.rsvp_deadline_days = 0
    local = group_session.local_start
    assert local.time() == time(17, 0)
    assert rules.describe_deadline(group_session) == f"{local:%A} {local.day} {local:%B}, 5:00 PM"


def test_check_in_refuses_an_attendance_of_another_session(
    db, site, create_user, create_group, coordinator
):
    from groupvisits.accounts.models import PATIENT
    from groupvisits.errors import ValidationFailed
    from groupvisits.roster import services as roster_services
    from groupvisits.schedule.models import GroupSession

    group = create_group(site)
    member = create_user(PATIENT)
    roster_services.enrol(group, member, actor=None)
    first, second = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id)
        .order_by(GroupSession.starts_at)
        .limit(2)
    ).all()
    attendance = rules.attendance_for_check_in(first, member, actor=None)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="another session"):
        rules.check_in(attendance, "arrived", actor=coordinator, group_session=second)
    assert attendance.check_in is None


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [(1, 8, 13), (3, 8, 38), (1, 3, 33), (2, 3, 67), (0, 5, 0), (1, 0, 0)],
)
def test_percentages_round_halves_up(part, whole, shown):
    assert rules.percent(part, whole) == shown


# Corrections: the check-in and vitals history


def entries_of(db, attendance, kind=None) -> list[AttendanceChange]:
    query = select(AttendanceChange).where(AttendanceChange.attendance_id == attendance.id)
    if kind:
        query = query.where(AttendanceChange.kind == kind)
    return list(db.session.scalars(query.order_by(AttendanceChange.id)))


def updates_audited(db, attendance, object_type: str) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "update",
            AuditEvent.object_type == object_type,
            AuditEvent.object_id == attendance.id,
        )
    )


def test_correcting_a_check_in_needs_a_reason_and_keeps_the_earlier_one(
    db, group, group_session, checked_in_group, clinician, coordinator
):
    member, _, attendance = checked_in_group
    start = group_session.starts_at
    rules.check_in(attendance, NO_SHOW, actor=clinician, group_session=group_session, now=start)
    db.session.commit()

    for reason in (None, "", "   "):
        with pytest.raises(ValidationFailed, match="checked in as No-show.*give a reason"):
            rules.check_in(
                attendance,
                LATE,
                actor=coordinator,
                group_session=group_session,
                reason=reason,
                now=start + timedelta(minutes=40),
            )
        db.session.rollback()
    assert rules._attendance(group_session, member).check_in == NO_SHOW
    assert len(entries_of(db, attendance)) == 1

    rules.check_in(
        attendance,
        LATE,
        actor=coordinator,
        group_session=group_session,
        reason="  arrived after   the register ",
        now=start + timedelta(minutes=40),
    )
    db.session.commit()

    stored = rules._attendance(group_session, member)
    assert (stored.check_in, stored.mode) == (LATE, "in_person")
    first, correction = entries_of(db, attendance)
    assert (first.kind, first.check_in, first.mode, first.is_correction) == (
        "check_in",
        NO_SHOW,
        None,
        False,
    )
    assert (first.recorded_by_id, first.recorded_at, first.reason) == (clinician.id, start, "")
    assert (correction.check_in, correction.mode, correction.is_correction) == (
        LATE,
        "in_person",
        True,
    )
    assert correction.recorded_by_id == coordinator.id
    assert correction.recorded_at == start + timedelta(minutes=40)
    assert correction.reason == "arrived after the register"
    assert updates_audited(db, attendance, "attendance") == 2


def test_tapping_the_same_check_in_again_changes_nothing(
    db, group, group_session, checked_in_group, clinician
):
    member, _, attendance = checked_in_group
    start = group_session.starts_at
    rules.check_in(attendance, ARRIVED, actor=clinician, group_session=group_session, now=start)
    db.session.commit()

    # Half an hour later someone taps "Arrived" again: the arrival was on time all the same.
    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        now=start + timedelta(minutes=30),
    )
    db.session.commit()

    stored = rules._attendance(group_session, member)
    assert (stored.check_in, stored.checked_in_at) == (ARRIVED, start)
    assert len(entries_of(db, attendance)) == 1
    assert updates_audited(db, attendance, "attendance") == 1


def test_a_late_arrival_is_corrected_to_on_time_only_with_a_reason(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    late = group_session.starts_at + timedelta(minutes=25)
    rules.check_in(attendance, ARRIVED, actor=clinician, group_session=group_session, now=late)
    assert attendance.check_in == LATE

    with pytest.raises(ValidationFailed, match="checked in as Late, in person.*Arrived"):
        rules.check_in(attendance, ARRIVED, actor=clinician, group_session=group_session, now=late)
    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        reason="Was in the room at five, signed in late",
        now=late + timedelta(minutes=5),
    )
    db.session.commit()

    assert attendance.check_in == ARRIVED
    assert [e.check_in for e in entries_of(db, attendance)] == [LATE, ARRIVED]


def test_changing_how_someone_joined_a_hybrid_session_is_a_correction(
    db, create_group, make_members, clinician
):
    group = create_group(modality="hybrid", video_url="https://video.example.org/room", **SMALL)
    group_session = upcoming(db, group)
    (member,) = make_members(group, 1)
    attendance = rules.attendance_for_check_in(group_session, member, actor=clinician)
    start = group_session.starts_at
    rules.check_in(
        attendance, ARRIVED, actor=clinician, group_session=group_session, mode="virtual", now=start
    )

    with pytest.raises(ValidationFailed, match="by video.*in person"):
        rules.check_in(
            attendance,
            ARRIVED,
            actor=clinician,
            group_session=group_session,
            mode="in_person",
            now=start,
        )
    rules.check_in(
        attendance,
        EXCUSED,
        actor=clinician,
        group_session=group_session,
        reason="Could not connect; excused",
        now=start,
    )
    db.session.commit()

    assert (attendance.check_in, attendance.mode) == (EXCUSED, None)
    assert [(e.check_in, e.mode) for e in entries_of(db, attendance)] == [
        (ARRIVED, "virtual"),
        (EXCUSED, None),
    ]


def test_only_the_one_on_one_answer_is_no_correction(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    start = group_session.starts_at
    rules.check_in(attendance, ARRIVED, actor=clinician, group_session=group_session, now=start)

    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        wants_one_on_one=True,
        now=start,
    )
    db.session.commit()

    assert attendance.wants_one_on_one is True
    assert len(entries_of(db, attendance)) == 1
    assert updates_audited(db, attendance, "attendance") == 2


def test_a_reason_longer_than_the_limit_is_refused(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    start = group_session.starts_at
    rules.check_in(attendance, NO_SHOW, actor=clinician, group_session=group_session, now=start)

    with pytest.raises(ValidationFailed, match="under 300 characters"):
        rules.check_in(
            attendance,
            EXCUSED,
            actor=clinician,
            group_session=group_session,
            reason="x" * 301,
            now=start,
        )


def record(attendance, actor, *, weight=None, bp=(None, None), source="staff", **kwargs):
    """record_vitals, at the session's start unless ``now`` is given."""
    kwargs.setdefault("now", _db.session.get(GroupSession, attendance.session_id).starts_at)
    return rules.record_vitals(
        attendance,
        weight=weight,
        systolic=bp[0],
        diastolic=bp[1],
        source=source,
        actor=actor,
        **kwargs,
    )


def test_correcting_vitals_needs_a_reason_but_adding_one_not_yet_taken_does_not(
    db, group, group_session, checked_in_group, clinician
):
    member, _, attendance = checked_in_group
    start = group_session.starts_at
    record(attendance, member, weight=Decimal("82.5"), source="patient", now=start)
    # The blood pressure, taken later by staff, adds to the weight: no correction.
    record(
        attendance, clinician, weight=Decimal("82.5"), bp=(148, 92), now=start + timedelta(1 / 24)
    )
    db.session.commit()

    with pytest.raises(ValidationFailed, match=r"already has vitals recorded \(82.5 kg, BP 148/92"):
        record(attendance, clinician, weight=Decimal("82.5"), bp=(132, 84))
    db.session.rollback()
    stored = rules._attendance(group_session, member)
    assert (stored.systolic, stored.diastolic) == (148, 92)

    record(
        attendance,
        clinician,
        weight=Decimal("82.5"),
        bp=(132, 84),
        reason="Retaken after five minutes seated",
        now=start + timedelta(hours=2),
    )
    # Saving the same numbers again (the form is filled with them) adds nothing.
    record(attendance, clinician, weight=Decimal("82.5"), bp=(132, 84))
    db.session.commit()

    stored = rules._attendance(group_session, member)
    assert (Decimal(stored.weight_kg), stored.systolic, stored.diastolic) == (
        Decimal("82.5"),
        132,
        84,
    )
    entries = entries_of(db, attendance, "vitals")
    assert [(e.systolic, e.vitals_source, e.is_correction) for e in entries] == [
        (None, "patient", False),
        (148, "staff", False),
        (132, "staff", True),
    ]
    assert [e.recorded_by_id for e in entries] == [member.id, clinician.id, clinician.id]
    assert entries[2].reason == "Retaken after five minutes seated"
    assert updates_audited(db, attendance, "vitals") == 3


def test_clearing_a_recorded_weight_is_a_correction(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    record(attendance, clinician, weight=80, bp=(120, 80))

    with pytest.raises(ValidationFailed, match="give a reason"):
        record(attendance, clinician, bp=(120, 80))
    record(attendance, clinician, bp=(120, 80), reason="The scale was not zeroed")
    db.session.commit()

    assert attendance.weight_kg is None
    assert [e.is_correction for e in entries_of(db, attendance, "vitals")] == [False, True]


def test_values_recorded_before_the_history_are_kept_when_corrected(
    db, group, group_session, checked_in_group, coordinator
):
    _, _, attendance = checked_in_group
    earlier = group_session.starts_at + timedelta(minutes=2)
    # As the check-in and vitals of a session held before the history was kept.
    attendance.check_in, attendance.mode, attendance.checked_in_at = NO_SHOW, None, earlier
    attendance.weight_kg, attendance.vitals_source, attendance.vitals_at = 90, "staff", earlier
    db.session.commit()

    rules.check_in(
        attendance,
        ARRIVED,
        actor=coordinator,
        group_session=group_session,
        reason="Came in after the register",
        now=earlier + timedelta(minutes=30),
    )
    record(attendance, coordinator, weight=88, reason="Misread the scale")
    db.session.commit()

    check_ins = entries_of(db, attendance, "check_in")
    vitals = entries_of(db, attendance, "vitals")
    assert [(e.check_in, e.recorded_by_id, e.is_correction) for e in check_ins] == [
        (NO_SHOW, None, False),
        (LATE, coordinator.id, True),
    ]
    assert check_ins[0].recorded_at == earlier
    assert [(e.weight_kg, e.recorded_by_id) for e in vitals] == [(90, None), (88, coordinator.id)]


def test_the_database_refuses_a_correction_without_a_reason(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    db.session.add(
        AttendanceChange(
            attendance_id=attendance.id,
            kind="check_in",
            check_in=LATE,
            is_correction=True,
            reason="",
            recorded_by_id=clinician.id,
        )
    )

    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_session_history_tells_each_correction_in_words_in_one_query(
    db, group, group_session, make_members, clinician, coordinator, count_queries
):
    # Staff of every discipline record; the history names them as the group sees names.
    first, second = make_members(group, 2)
    start = group_session.starts_at
    local = start.astimezone(group_session.timezone)
    for person in (first, second):
        attendance = rules.attendance_for_check_in(group_session, person, actor=clinician)
        rules.check_in(attendance, NO_SHOW, actor=clinician, group_session=group_session, now=start)
    corrected = rules._attendance(group_session, first)
    rules.check_in(
        corrected,
        LATE,
        actor=coordinator,
        group_session=group_session,
        reason="arrived after the register",
        now=start + timedelta(minutes=42),
    )
    record(corrected, first, weight=Decimal("82.5"), bp=(128, 82), source="patient", now=start)
    record(
        corrected,
        clinician,
        weight=Decimal("82.5"),
        bp=(134, 86),
        reason="Retaken seated",
        now=start + timedelta(days=1),
    )
    db.session.commit()
    db.session.expire_all()

    loaded = db.session.get(GroupSession, group_session.id)
    assert loaded.local_start  # the page has its session, group and site already
    with count_queries() as counter:
        shown = history.session_history(loaded)
        names = [entry.by for entries in shown.values() for entry in entries]

    assert counter.count == 1  # the history with its authors
    assert names
    lines = [
        (entry.what, entry.by, entry.when, entry.reason, entry.is_correction)
        for entry in shown[corrected.id]
    ]
    next_day = local + timedelta(days=1)

    def us_clock(moment) -> str:  # a US site reads "5:42 PM"
        return f"{moment:%I:%M %p}".lstrip("0")

    assert lines == [
        ("Checked in: No-show", clinician.group_name, us_clock(local), "", False),
        (
            "Corrected from No-show to Late, in person",
            coordinator.group_name,
            us_clock(local + timedelta(minutes=42)),
            "arrived after the register",
            True,
        ),
        (
            "Vitals: 82.5 kg, BP 128/82 (self-care station)",
            first.group_name,
            us_clock(local),
            "",
            False,
        ),
        (
            "Vitals corrected from 82.5 kg, BP 128/82 to 82.5 kg, BP 134/86 (staff)",
            clinician.group_name,
            f"{next_day:%a} {next_day.day} {next_day:%b %Y}, {us_clock(next_day)}",
            "Retaken seated",
            True,
        ),
    ]
    other = rules._attendance(group_session, second)
    assert [entry.what for entry in shown[other.id]] == ["Checked in: No-show"]


# Records of care are never deleted with their session or group


def test_foreign_keys_of_care_records_to_sessions_and_groups_restrict_deletes():
    for table in ("attendances", "attendance_changes"):
        for key in _db.metadata.tables[table].foreign_keys:
            if key.column.table.name in ("group_sessions", "visit_groups", "attendances"):
                assert key.ondelete == "RESTRICT", f"{table}.{key.parent.name}"


@pytest.fixture
def drop_in_attendance(db, group, group_session, create_user, clinician):
    """A drop-in checked in and weighed: a record of care in a group without members."""
    attendance = rules.add_drop_in(group_session, create_user(PATIENT), actor=clinician)
    rules.check_in(
        attendance,
        ARRIVED,
        actor=clinician,
        group_session=group_session,
        now=group_session.starts_at,
    )
    record(attendance, clinician, weight=70)
    db.session.commit()
    return attendance


def test_a_session_holding_attendance_cannot_be_deleted(db, group_session, drop_in_attendance):
    attendance_id, session_id = drop_in_attendance.id, group_session.id

    db.session.delete(group_session)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(delete(GroupSession).where(GroupSession.id == session_id))
    db.session.rollback()

    assert db.session.get(Attendance, attendance_id).session_id == session_id
    assert db.session.get(GroupSession, session_id) is not None


def test_a_group_holding_attendance_cannot_be_deleted(db, group, drop_in_attendance):
    attendance_id, group_id = drop_in_attendance.id, group.id

    db.session.delete(group)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(delete(VisitGroup).where(VisitGroup.id == group_id))
    db.session.rollback()

    assert db.session.get(Attendance, attendance_id) is not None
    assert db.session.get(VisitGroup, group_id) is not None


def test_an_attendance_with_history_cannot_be_deleted(db, drop_in_attendance):
    attendance_id = drop_in_attendance.id

    with pytest.raises(IntegrityError):
        db.session.execute(delete(Attendance).where(Attendance.id == attendance_id))
    db.session.rollback()

    assert len(entries_of(db, db.session.get(Attendance, attendance_id))) == 2


# Check-in belongs to the day


def checked_in_statuses(db, group_session) -> list[str | None]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Attendance.check_in).where(Attendance.session_id == group_session.id)
        )
    )


@pytest.mark.parametrize("status", [ARRIVED, LATE, NO_SHOW, EXCUSED])
def test_nobody_is_checked_in_before_check_in_opens_an_hour_before_the_start(
    db, group, group_session, checked_in_group, clinician, status
):
    _, _, attendance = checked_in_group
    start = group_session.starts_at
    local = start.astimezone(group_session.timezone)

    for early in (start - timedelta(days=3), start - timedelta(minutes=61)):
        with pytest.raises(ValidationFailed) as refused:
            rules.check_in(
                attendance, status, actor=clinician, group_session=group_session, now=early
            )
        db.session.rollback()
        # Said in the site's words: "This session starts Tue 8 Dec 2026, 5:00 PM. Check-in
        # opens 60 minutes before, at 4:00 PM: ..."
        assert str(refused.value).startswith(
            f"This session starts {local:%a} {local.day} {local:%b %Y}, "
        )
        assert "Check-in opens 60 minutes before, at " in str(refused.value)
        assert "nobody can be marked arrived, late or absent" in str(refused.value)
    assert checked_in_statuses(db, group_session) == [None]
    assert updates_audited(db, attendance, "attendance") == 0
    assert entries_of(db, attendance) == []

    rules.check_in(
        attendance,
        status,
        actor=clinician,
        group_session=group_session,
        now=start - timedelta(minutes=60),
    )
    db.session.commit()
    assert checked_in_statuses(db, group_session) == [status]


def test_vitals_are_not_recorded_before_check_in_opens(
    db, group, group_session, checked_in_group, clinician
):
    member, _, attendance = checked_in_group

    with pytest.raises(ValidationFailed, match="Check-in opens 60 minutes before"):
        record(attendance, member, weight=80, now=group_session.starts_at - timedelta(days=1))
    db.session.rollback()

    stored = rules._attendance(group_session, member)
    assert (stored.weight_kg, stored.vitals_at) == (None, None)


def test_a_no_show_recorded_days_early_never_counts_in_the_members_no_show_rate(
    db, group, group_session, checked_in_group, clinician
):
    member, _, attendance = checked_in_group

    with pytest.raises(ValidationFailed, match="Check-in opens"):
        rules.check_in(attendance, NO_SHOW, actor=clinician, group_session=group_session)
    db.session.rollback()

    assert rules.member_show_rates(group.id, [member.id]) == {}


def test_a_cancelled_session_takes_no_check_in_and_no_vitals(
    db, group, group_session, checked_in_group, coordinator, clinician
):
    member, _, attendance = checked_in_group
    from groupvisits.schedule import services as schedule

    schedule.cancel_session(group_session, "Snow", actor=coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="This session is cancelled"):
        rules.check_in(
            attendance, ARRIVED, actor=clinician, group_session=group_session, now=utcnow()
        )
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="This session is cancelled"):
        record(attendance, clinician, weight=80, now=group_session.starts_at)
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="This session is cancelled"):
        rules.set_wants_one_on_one(
            attendance, True, actor=clinician, group_session=group_session, now=utcnow()
        )
    db.session.rollback()

    stored = rules._attendance(group_session, member)
    assert (stored.check_in, stored.vitals_at, stored.wants_one_on_one) == (None, None, None)


def test_check_ins_and_corrections_stay_possible_after_the_session(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    next_week = group_session.ends_at + timedelta(days=7)

    rules.check_in(attendance, NO_SHOW, actor=clinician, group_session=group_session, now=next_week)
    rules.check_in(
        attendance,
        EXCUSED,
        actor=clinician,
        group_session=group_session,
        reason="Called in sick the day before",
        now=next_week,
    )
    db.session.commit()

    assert attendance.check_in == EXCUSED
    assert [e.is_correction for e in entries_of(db, attendance)] == [False, True]


def test_why_no_check_in_is_none_once_open(db, group_session):
    start = group_session.starts_at

    assert rules.why_no_check_in(group_session, now=start - timedelta(minutes=60)) is None
    assert rules.why_no_check_in(group_session, now=start + timedelta(days=30)) is None
    assert rules.why_no_check_in(group_session, now=start - timedelta(minutes=61))
    assert rules.check_in_opens_at(group_session) == start - timedelta(hours=1)


# The one-on-one wish, saved on its own


def test_the_one_on_one_wish_is_saved_on_its_own_and_audited(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    now = group_session.starts_at - timedelta(minutes=20)

    assert rules.set_wants_one_on_one(
        attendance, True, actor=clinician, group_session=group_session, now=now
    )
    assert not rules.set_wants_one_on_one(
        attendance, True, actor=clinician, group_session=group_session, now=now
    )
    db.session.commit()
    assert (attendance.wants_one_on_one, attendance.check_in) == (True, None)
    assert updates_audited(db, attendance, "attendance") == 1
    assert entries_of(db, attendance) == []  # no check-in, no correction

    rules.set_wants_one_on_one(
        attendance, None, actor=clinician, group_session=group_session, now=now
    )
    db.session.commit()
    assert attendance.wants_one_on_one is None
    assert updates_audited(db, attendance, "attendance") == 2


def test_the_one_on_one_wish_is_refused_before_check_in_opens_and_to_other_sites(
    db, group, group_session, checked_in_group, create_user, other_site
):
    member, _, attendance = checked_in_group
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    with pytest.raises(ValidationFailed, match="Check-in opens"):
        rules.set_wants_one_on_one(
            attendance, True, actor=create_user(CLINICIAN), group_session=group_session
        )
    db.session.rollback()
    for actor in (elsewhere, member):
        with pytest.raises(NotAllowed):
            rules.set_wants_one_on_one(
                attendance, True, actor=actor, group_session=group_session, now=utcnow()
            )
    db.session.rollback()

    assert rules._attendance(group_session, member).wants_one_on_one is None


# Weights in the site's unit, stored in kilograms


def test_a_weight_in_pounds_is_stored_in_kilograms_and_reads_back_as_entered(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group

    record(attendance, clinician, weight=Decimal("180"), weight_unit="lb")
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(Attendance, attendance.id)
    assert Decimal(stored.weight_kg) == Decimal("81.65")  # 180 × 0.45359237 = 81.6466...
    assert history.in_unit(stored.weight_kg, "lb") == Decimal("180.0")
    assert history.in_unit(stored.weight_kg, "kg") == Decimal("81.7")
    assert history.weight_words(stored.weight_kg, "lb") == "180.0 lb"
    # The form is filled with 180.0 lb: saving it again with a blood pressure corrects nothing.
    record(stored, clinician, weight=Decimal("180.0"), weight_unit="lb", bp=(128, 82))
    db.session.commit()
    assert [e.is_correction for e in entries_of(db, stored, "vitals")] == [False, False]
    assert Decimal(stored.weight_kg) == Decimal("81.65")


@pytest.mark.parametrize(
    ("weight", "unit", "message"),
    [
        (30, "lb", "The weight should be in pounds, between 45 and 770."),
        (800, "lb", "The weight should be in pounds, between 45 and 770."),
        (400, "kg", "The weight should be in kilograms, between 20 and 350."),
        (80, "st", "Give the weight in kilograms or pounds."),
    ],
)
def test_an_implausible_weight_is_refused_in_its_units_words(
    db, group, group_session, checked_in_group, clinician, weight, unit, message
):
    _, _, attendance = checked_in_group

    with pytest.raises(ValidationFailed) as refused:
        record(attendance, clinician, weight=weight, weight_unit=unit)
    db.session.rollback()

    assert str(refused.value) == message
    assert rules._attendance(group_session, attendance.patient).weight_kg is None


def test_a_heavy_weight_in_pounds_is_not_mistaken_for_kilograms(
    db, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group

    record(attendance, clinician, weight=Decimal("420"), weight_unit="lb")

    assert Decimal(attendance.weight_kg) == Decimal("190.51")


def test_the_history_tells_weights_in_the_sites_unit(
    db, site, group, group_session, checked_in_group, clinician
):
    _, _, attendance = checked_in_group
    record(attendance, clinician, weight=Decimal("82.5"))
    record(attendance, clinician, weight=Decimal("180"), weight_unit="lb", reason="Re-weighed")
    db.session.commit()

    site.weight_unit = "lb"
    db.session.commit()
    lines = [e.what for e in history.session_history(group_session)[attendance.id]]

    assert lines == [
        "Vitals: 181.9 lb (staff)",
        "Vitals corrected from 181.9 lb to 180.0 lb (staff)",
    ]


# The sign-in sheet


def test_the_sign_in_sheet_names_only_members_who_share_their_name(
    db, group, group_session, make_members, create_user, clinician
):
    sharing, private, unasked = make_members(group, 3)
    for person, share in ((sharing, True), (private, False)):
        roster.set_share_name(roster.current_membership(group, person), share, actor=person)
    rules.add_drop_in(group_session, create_user(PATIENT), actor=clinician)
    db.session.commit()

    lines = rules.sheet_lines(rules.session_list(group_session))

    assert [line.number for line in lines] == [1, 2, 3, 4]
    names = {line.patient_id: line.name for line in lines}
    assert names[sharing.id] == sharing.group_name
    assert names[private.id] == names[unasked.id] == ""
    assert [line.name for line in lines].count("") == 3  # the drop-in too
