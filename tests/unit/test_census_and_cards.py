"""Census that tells the truth, the support-person choice saved alone, where a moved session was."""

from datetime import date, datetime, time, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.roster import attendance as rules
from groupvisits.roster import services as roster
from groupvisits.roster.attendance import SessionFull
from groupvisits.roster.models import ARRIVED, MAYBE, NO, NO_SHOW, YES, Attendance
from groupvisits.schedule import services as schedule
from groupvisits.schedule.census import Counts, census_for, census_of
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow


def sessions_of(db, group) -> list[GroupSession]:
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        )
    )


@pytest.fixture
def weekly(create_group):
    """A weekly group of min 3, target 4, max 4, its first session a week away."""
    return create_group(
        rule="FREQ=WEEKLY;BYDAY=" + "MO TU WE TH FR SA SU".split()[date.today().weekday()],
        start=date.today() + timedelta(days=7),
        min_members=3,
        target_members=4,
        max_members=4,
    )


@pytest.fixture
def members(db, weekly, create_user, coordinator):
    """Four members holding the four places (none has to accept an agreement)."""
    people = [create_user(PATIENT) for _ in range(4)]
    for person in people:
        roster.enrol(weekly, person, actor=coordinator)
    db.session.commit()
    return people


# What the census counts


def test_census_counts_members_who_said_yes_not_support_persons_drop_ins_or_the_waitlist(
    db, weekly, members, create_user, coordinator, clinician
):
    first = sessions_of(db, weekly)[0]
    with_carer, alone, unsure, away = members
    rules.answer_rsvp(first, with_carer, YES, actor=with_carer, brings_support_person=True)
    rules.answer_rsvp(first, alone, YES, actor=alone)
    rules.answer_rsvp(first, unsure, MAYBE, actor=unsure)
    rules.answer_rsvp(first, away, NO, actor=away)
    for _ in range(2):  # the group is full: these two wait for a place
        roster.enrol(weekly, create_user(PATIENT), actor=coordinator)
    drop_in = create_user(PATIENT)
    db.session.commit()
    rules.add_drop_in(first, drop_in, actor=clinician)
    db.session.commit()

    counts = rules.counts_for_sessions([first.id])[first.id]
    census = census_of(first, counts, now=utcnow())

    assert (counts.confirmed, counts.maybe, counts.declined) == (2, 1, 1)
    assert (counts.support_persons, counts.drop_ins, counts.waitlisted) == (1, 1, 2)
    assert counts.seats == rules.seats_taken(first) == 4
    # Two members said yes: nobody else counts towards the minimum of three.
    assert (census.confirmed, census.expected, census.minimum) == (2, 2, 3)
    assert census.waitlisted == 2
    # The seats are all taken, though: the session is full.
    assert census.level == "full"


def test_the_show_rate_is_learnt_from_members_answers_not_drop_ins(
    db, weekly, members, create_user, coordinator
):
    past, upcoming = sessions_of(db, weekly)[:2]
    past.starts_at -= timedelta(days=21)
    past.ends_at -= timedelta(days=21)
    db.session.commit()
    came, missed = members[:2]
    for person in (came, missed):
        rules.answer_rsvp(past, person, YES, actor=coordinator)
    visitor = create_user(PATIENT)
    db.session.commit()
    rules.add_drop_in(past, visitor, actor=coordinator)
    db.session.commit()
    for person, status in ((came, ARRIVED), (missed, NO_SHOW), (visitor, ARRIVED)):
        attendance = rules.attendance_for_check_in(past, person, actor=coordinator)
        rules.check_in(
            attendance, status, actor=coordinator, group_session=past, now=past.starts_at
        )
    db.session.commit()

    counts = rules.counts_for_sessions([upcoming.id])[upcoming.id]

    assert rules.show_rates([weekly.id]) == {weekly.id: Fraction(1, 2)}
    assert (counts.show_rate, counts.show_rate_known) == (Fraction(1, 2), True)


def test_the_census_says_what_expected_means_with_the_groups_show_rate(db, weekly):
    first = sessions_of(db, weekly)[0]
    now = first.starts_at - timedelta(days=3)

    known = census_of(
        first, Counts(confirmed=8, show_rate=Fraction(17, 20), show_rate_known=True), now=now
    )
    unknown = census_of(first, Counts(confirmed=8), now=now)

    assert known.expected == 7
    assert known.explanation == (
        "Expected: members who said yes, times how many of those who say yes usually come "
        "(85% lately)."
    )
    assert unknown.expected == 8
    assert "no recent sessions yet" in unknown.explanation


# When a low census is flagged


@pytest.fixture
def far_session(db, create_group):
    """A session 40 days away of a group of minimum 8 that warns 14 days ahead, answers due
    the day before."""
    group = create_group(
        rule="FREQ=DAILY;COUNT=1",
        start=date.today() + timedelta(days=40),
        census_warning_days=14,
        rsvp_deadline_days=1,
    )
    return sessions_of(db, group)[0]


def test_no_answers_yet_and_the_deadline_far_off_is_not_flagged(far_session):
    ten_days_before = far_session.starts_at - timedelta(days=10)

    census = census_of(far_session, Counts(), now=ten_days_before)

    assert not census.warn
    assert census.level == "early"
    assert census.label == "No answers yet"


def test_no_answers_with_the_deadline_a_week_away_or_nearer_is_flagged(far_session):
    deadline = far_session.answers_close_at

    assert census_of(far_session, Counts(), now=deadline - timedelta(days=7)).warn
    assert census_of(far_session, Counts(), now=deadline - timedelta(days=2)).warn
    assert not census_of(far_session, Counts(), now=deadline - timedelta(days=7, hours=1)).warn


def test_answers_coming_in_below_the_minimum_are_flagged_only_within_the_warning_window(
    far_session,
):
    few = Counts(confirmed=3, declined=1)

    inside = census_of(far_session, few, now=far_session.starts_at - timedelta(days=12))
    outside = census_of(far_session, few, now=far_session.starts_at - timedelta(days=30))

    assert inside.warn and inside.level == "below-minimum" and inside.label == "Below minimum"
    assert not outside.warn
    assert (outside.level, outside.label) == ("early", "Answers coming in")


def test_a_session_far_ahead_without_answers_is_not_flagged_by_census_for(far_session):
    census = census_for([far_session], {}, now=utcnow())[far_session.id]

    assert not census.warn and census.label == "No answers yet"


# The support-person choice, saved on its own


def support_rows(db, patient) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.patient_id == patient.id, AuditEvent.object_type == "attendance"
            )
        )
    )


def test_the_support_person_is_kept_before_any_answer_and_takes_no_seat(db, weekly, members):
    first = sessions_of(db, weekly)[0]
    patient = members[0]

    attendance = rules.set_support_person(first, patient, True, actor=patient)
    db.session.commit()

    assert (attendance.rsvp, attendance.brings_support_person, attendance.seats) == (
        None,
        True,
        0,
    )
    assert [row.actor_id for row in support_rows(db, patient)] == [patient.id]
    # A later "yes" from the card carries the box along: two seats.
    rules.answer_rsvp(first, patient, YES, actor=patient, brings_support_person=True)
    db.session.commit()
    assert rules.seats_taken(first) == 2


def test_unticking_without_an_answer_keeps_nothing(db, weekly, members):
    first = sessions_of(db, weekly)[0]

    assert rules.set_support_person(first, members[0], False, actor=members[0]) is None
    db.session.commit()

    assert db.session.scalars(select(Attendance)).all() == []


def test_a_support_person_is_refused_when_no_seat_is_left_and_nothing_changes(db, weekly, members):
    first = sessions_of(db, weekly)[0]
    for person in members:
        rules.answer_rsvp(first, person, YES, actor=person)
    db.session.commit()
    audited = len(support_rows(db, members[0]))

    with pytest.raises(SessionFull, match="no seat is left for a support person"):
        rules.set_support_person(first, members[0], True, actor=members[0])
    db.session.rollback()

    assert rules._attendance(first, members[0]).brings_support_person is False
    assert len(support_rows(db, members[0])) == audited
    # Taking the support person off always works.
    rules.answer_rsvp(first, members[1], YES, actor=members[1])
    rules.set_support_person(first, members[1], False, actor=members[1])


def test_only_the_member_or_staff_of_the_site_choose_and_not_after_the_deadline(
    db, weekly, members, create_user
):
    first = sessions_of(db, weekly)[0]

    with pytest.raises(NotAllowed):
        rules.set_support_person(first, members[0], True, actor=members[1])
    with pytest.raises(ValidationFailed, match="Only members"):
        stranger = create_user(PATIENT)
        rules.set_support_person(first, stranger, True, actor=stranger)
    with pytest.raises(ValidationFailed, match="closed"):
        rules.set_support_person(
            first, members[0], True, actor=members[0], now=first.starts_at - timedelta(hours=1)
        )


# Where a moved session was


def move(group_session, local_start: datetime, coordinator, **fields):
    return schedule.move_session(
        group_session,
        local_start=local_start,
        length_minutes=fields.get("length", group_session.length_minutes),
        location=fields.get("location", group_session.location),
        video_url=group_session.video_url,
        theme=fields.get("theme", group_session.theme),
        notes=group_session.notes,
        actor=coordinator,
    )


def test_a_moved_session_remembers_its_first_start_through_later_moves(db, weekly, coordinator):
    group_session = sessions_of(db, weekly)[0]
    original = group_session.starts_at
    day = group_session.local_start.date()

    move(group_session, datetime.combine(day, time(18, 0)), coordinator, theme="Feet")
    assert group_session.moved_from == original
    move(group_session, datetime.combine(day + timedelta(days=1), time(17, 0)), coordinator)
    db.session.commit()
    assert group_session.moved_from == original
    assert group_session.local_moved_from.strftime("%a %d %b, %H:%M") == (
        original.astimezone(group_session.timezone).strftime("%a %d %b, %H:%M")
    )

    move(group_session, datetime.combine(day, time(17, 0)), coordinator)
    db.session.commit()
    assert group_session.starts_at == original
    assert group_session.moved_from is None


def test_a_change_of_place_or_theme_alone_is_not_a_move(db, weekly, coordinator):
    group_session = sessions_of(db, weekly)[0]
    local = group_session.local_start.replace(tzinfo=None)

    move(group_session, local, coordinator, theme="Feet", location="Room 2")
    db.session.commit()

    assert group_session.moved_from is None
