"""Schedule rules: generating, moving, cancelling and planning sessions; group rules; census."""

from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.demo import load_demo_groups
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.groups import services as groups
from groupvisits.groups.models import DEFAULT_PLAN, VisitGroup
from groupvisits.roster import attendance as attendance_rules
from groupvisits.schedule import services as schedule
from groupvisits.schedule.census import Counts, census_for, census_of
from groupvisits.schedule.models import CANCELLED, SCHEDULED, GroupSession
from groupvisits.timeutil import utcnow

SECOND_TUESDAY = "FREQ=MONTHLY;BYDAY=2TU"
THIRD_THURSDAY = "FREQ=MONTHLY;BYDAY=3TH"
WEEKLY_THURSDAY = "FREQ=WEEKLY;BYDAY=TH"
DEFAULT_ROWS = [(kind, name, minutes) for kind, name, minutes in DEFAULT_PLAN]

#: 2026, second Tuesdays: the sessions of the group made by ``monthly_group``.
SECOND_TUESDAYS_2026 = [
    date(2026, 1, 13),
    date(2026, 2, 10),
    date(2026, 3, 10),
    date(2026, 4, 14),
    date(2026, 5, 12),
    date(2026, 6, 9),
    date(2026, 7, 14),
    date(2026, 8, 11),
    date(2026, 9, 8),
    date(2026, 10, 13),
    date(2026, 11, 10),
    date(2026, 12, 8),
]
#: The instant rule changes in these tests happen: April 1st 2026, 08:00 in New York.
APRIL_FIRST = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
#: The instant sessions are moved or cancelled by hand: before the group's first session.
NEW_YEAR = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
#: 2026-02-10 17:00 in New York.
FEBRUARY_SESSION_START = datetime(2026, 2, 10, 22, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sessions_of(db, group: VisitGroup) -> list[GroupSession]:
    return db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id)
        .order_by(GroupSession.starts_at, GroupSession.id)
    ).all()


def local_starts(sessions: list[GroupSession]) -> list[datetime]:
    return [s.local_start.replace(tzinfo=None) for s in sessions]


def session_on(db, group: VisitGroup, day: date) -> GroupSession:
    (found,) = [s for s in sessions_of(db, group) if s.local_start.date() == day]
    return found


def plan_rows(segments) -> list[tuple[int, str, str, int]]:
    return [(s.position, s.kind, s.name, s.minutes) for s in segments]


def group_fields(**overrides) -> dict:
    values = {
        "name": "Tuesday evening diabetes group",
        "calendar_name": "Tuesday evening group",
        "focus": "type 2 diabetes",
        "description": "",
        "modality": "in_person",
        "location": "Community room",
        "video_url": "",
        "length_minutes": 120,
        "min_members": 8,
        "target_members": 12,
        "max_members": 15,
        "census_warning_days": 14,
    }
    values.update(overrides)
    return values


@pytest.fixture
def monthly_group(create_group):
    """Second Tuesday 17:00 in New York, sessions all through 2026."""
    return create_group(
        rule=SECOND_TUESDAY, start=date(2026, 1, 1), at=time(17, 0), until=date(2026, 12, 31)
    )


@pytest.fixture
def scheduled_group(create_group, db):
    """A group with a schedule but no sessions yet: ``scheduled_group(rule, ...)``."""

    def make(rule, *, start, at=time(17, 0), count=None, until=None, status="active", **fields):
        group = create_group(rule=None, status=status, **fields)
        group.recurrence_rule = rule
        group.schedule_start_date, group.schedule_start_time = start, at
        group.schedule_count, group.schedule_until = count, until
        db.session.commit()
        return group

    return make


@pytest.fixture
def other_coordinator(create_user, other_site):
    return create_user(COORDINATOR, sites=[other_site])


def move(group_session, actor, *, local_start=None, length=None, location=None, theme=None):
    """move_session with the session's current values for whatever is not given."""
    return schedule.move_session(
        group_session,
        local_start=local_start or group_session.local_start.replace(tzinfo=None),
        length_minutes=length or group_session.length_minutes,
        location=group_session.location if location is None else location,
        video_url=group_session.video_url,
        theme=group_session.theme if theme is None else theme,
        notes=group_session.notes,
        actor=actor,
        now=NEW_YEAR,
    )


def change_to(group, rule, *, at, actor, count=None, until=None, start=date(2026, 1, 1)):
    return schedule.change_rule(
        group,
        rule=rule,
        start_date=start,
        start_time=at,
        until=until,
        count=count,
        actor=actor,
        now=APRIL_FIRST,
    )


# generate_sessions


def test_generate_sessions_creates_one_session_per_occurrence_at_local_time(monthly_group, db):
    sessions = sessions_of(db, monthly_group)

    assert [s.local_start.date() for s in sessions] == SECOND_TUESDAYS_2026
    assert {s.local_start.time() for s in sessions} == {time(17, 0)}
    assert sessions[0].starts_at == utc(2026, 1, 13, 22, 0)
    assert sessions[6].starts_at == utc(2026, 7, 14, 21, 0)
    assert all(s.length_minutes == 120 and s.status == SCHEDULED for s in sessions)
    assert [s.occurrence_key for s in sessions[:2]] == ["2026-01-13T17:00", "2026-02-10T17:00"]
    assert monthly_group.generated_until == date(2026, 12, 31)


def test_generate_sessions_twice_creates_nothing_the_second_time(scheduled_group, db):
    group = scheduled_group(SECOND_TUESDAY, start=date(2026, 1, 1))

    first = schedule.generate_sessions(group, until=date(2026, 6, 30), since=date(2026, 1, 1))
    again = schedule.generate_sessions(group, until=date(2026, 6, 30), since=date(2026, 1, 1))
    later = schedule.generate_sessions(group, until=date(2026, 12, 31), since=date(2026, 1, 1))
    db.session.commit()

    assert len(first) == 6
    assert again == []
    assert [s.local_start.date() for s in later] == SECOND_TUESDAYS_2026[6:]
    assert len(sessions_of(db, group)) == 12


def test_generate_sessions_skips_occurrences_moved_or_cancelled_by_hand(
    monthly_group, coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    march = session_on(db, monthly_group, date(2026, 3, 10))
    move(february, coordinator, local_start=datetime(2026, 2, 12, 17, 0))
    schedule.cancel_session(march, "Room closed", actor=coordinator, now=NEW_YEAR)

    created = schedule.generate_sessions(
        monthly_group, until=date(2026, 12, 31), since=date(2026, 1, 1)
    )

    assert created == []
    assert len(sessions_of(db, monthly_group)) == 12


def test_database_refuses_a_second_session_for_the_same_occurrence(monthly_group, db):
    existing = sessions_of(db, monthly_group)[0]
    db.session.add(
        GroupSession(
            group_id=monthly_group.id,
            occurrence_key=existing.occurrence_key,
            starts_at=existing.starts_at + timedelta(hours=1),
            ends_at=existing.ends_at + timedelta(hours=1),
        )
    )

    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_database_allows_many_sessions_without_an_occurrence(monthly_group, coordinator, db):
    for day in (3, 4):
        schedule.add_extra_session(
            monthly_group,
            local_start=datetime(2026, 2, day, 17, 0),
            length_minutes=120,
            actor=coordinator,
            now=NEW_YEAR,
        )
    db.session.commit()

    assert [s.occurrence_key for s in sessions_of(db, monthly_group)[1:3]] == [None, None]


def test_generate_sessions_stops_after_count(scheduled_group, db):
    group = scheduled_group(WEEKLY_THURSDAY, start=date(2026, 1, 1), count=5)

    created = schedule.generate_sessions(group, until=date(2026, 12, 31), since=date(2026, 1, 1))
    again = schedule.generate_sessions(group, until=date(2027, 6, 30), since=date(2026, 2, 1))

    assert [s.local_start.date() for s in created] == [
        date(2026, 1, 1),
        date(2026, 1, 8),
        date(2026, 1, 15),
        date(2026, 1, 22),
        date(2026, 1, 29),
    ]
    assert again == []


def test_generate_sessions_stops_at_until_including_that_day(scheduled_group, db):
    group = scheduled_group(SECOND_TUESDAY, start=date(2026, 1, 1), until=date(2026, 3, 10))

    created = schedule.generate_sessions(group, until=date(2026, 12, 31), since=date(2026, 1, 1))

    assert [s.local_start.date() for s in created] == SECOND_TUESDAYS_2026[:3]


def test_generate_sessions_starts_from_since(scheduled_group):
    group = scheduled_group(SECOND_TUESDAY, start=date(2026, 1, 1))

    created = schedule.generate_sessions(group, until=date(2026, 6, 30), since=date(2026, 4, 1))

    assert [s.local_start.date() for s in created] == SECOND_TUESDAYS_2026[3:6]


def test_each_session_gets_its_own_copy_of_the_group_plan(monthly_group, coordinator, db):
    plan = [("group", "Talk", 60), ("meal", "Soup together", 30), ("one_on_one", "Visits", 30)]
    groups.set_group_plan(monthly_group, plan, actor=coordinator)

    created = schedule.generate_sessions(
        monthly_group, until=date(2027, 2, 28), since=date(2027, 1, 1)
    )
    db.session.commit()
    db.session.expire_all()

    older = sessions_of(db, monthly_group)[0]
    assert plan_rows(older.segments) == [(i, *row) for i, row in enumerate(DEFAULT_ROWS)]
    assert len(created) == 2
    for group_session in created:
        assert plan_rows(group_session.segments) == [(i, *row) for i, row in enumerate(plan)]
    first_ids = {s.id for s in created[0].segments}
    second_ids = {s.id for s in created[1].segments}
    assert first_ids.isdisjoint(second_ids)


@pytest.mark.parametrize("status", ["paused", "closed"])
def test_generate_sessions_does_nothing_for_a_group_that_is_not_open(scheduled_group, db, status):
    group = scheduled_group(SECOND_TUESDAY, start=date(2026, 1, 1), status=status)

    created = schedule.generate_sessions(group, until=date(2026, 12, 31), since=date(2026, 1, 1))

    assert created == []
    assert sessions_of(db, group) == []


def test_generate_sessions_works_for_a_group_in_planning(scheduled_group):
    group = scheduled_group(SECOND_TUESDAY, start=date(2026, 1, 1), status="planning")

    created = schedule.generate_sessions(group, until=date(2026, 3, 31), since=date(2026, 1, 1))

    assert len(created) == 3


# extend_all and the CLI


def test_extend_all_brings_every_open_group_up_to_the_horizon(create_group, db):
    monthly = create_group(rule=SECOND_TUESDAY, start=date(2026, 1, 1), until=date(2026, 1, 31))
    weekly = create_group(rule=WEEKLY_THURSDAY, start=date(2026, 6, 1), until=date(2026, 6, 1))
    paused = create_group(
        rule=SECOND_TUESDAY, start=date(2026, 1, 1), until=date(2026, 1, 31), status="paused"
    )
    create_group(rule=None)

    created = schedule.extend_all(today=date(2026, 1, 1), days=183)  # up to 2026-07-03
    db.session.commit()

    assert created == 10
    assert [s.local_start.date() for s in sessions_of(db, monthly)] == SECOND_TUESDAYS_2026[:6]
    assert [s.local_start.date() for s in sessions_of(db, weekly)] == [
        date(2026, 6, 4),
        date(2026, 6, 11),
        date(2026, 6, 18),
        date(2026, 6, 25),
        date(2026, 7, 2),
    ]
    assert sessions_of(db, paused) == []
    assert monthly.generated_until == weekly.generated_until == date(2026, 7, 3)

    assert schedule.extend_all(today=date(2026, 1, 1), days=183) == 0
    assert schedule.extend_all(today=date(2026, 2, 1), days=183) == 5  # Jul 14; Jul 9-30


def test_extend_all_uses_the_configured_horizon(app, scheduled_group):
    app.config["SCHEDULE_HORIZON_DAYS"] = 40
    group = scheduled_group(WEEKLY_THURSDAY, start=date(2026, 1, 1))

    assert schedule.extend_all(today=date(2026, 1, 1)) == 6  # Jan 1 to Feb 5
    assert group.generated_until == date(2026, 2, 10)


def test_cli_extend_schedules_prints_the_count_and_is_safe_to_run_again(
    runner, scheduled_group, db
):
    today = utcnow().date()
    tomorrow = today + timedelta(days=1)
    group = scheduled_group(
        f"FREQ=WEEKLY;BYDAY={tomorrow.strftime('%a')[:2].upper()}", start=tomorrow
    )

    first = runner.invoke(args=["groupvisits", "extend-schedules", "--days", "28"])
    second = runner.invoke(args=["groupvisits", "extend-schedules", "--days", "28"])

    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Created 4 sessions."
    assert second.exit_code == 0, second.output
    assert second.output.strip() == "Created 0 sessions."
    db.session.expire_all()
    assert [s.local_start.date() for s in sessions_of(db, group)] == [
        tomorrow + timedelta(days=7 * n) for n in range(4)
    ]


def test_cli_extend_schedules_commits_its_sessions(runner, scheduled_group, db):
    group = scheduled_group(WEEKLY_THURSDAY, start=utcnow().date())

    result = runner.invoke(args=["groupvisits", "extend-schedules", "--days", "60"])

    assert result.exit_code == 0, result.output
    db.session.rollback()
    stored = db.session.scalar(
        select(func.count()).select_from(GroupSession).where(GroupSession.group_id == group.id)
    )
    assert result.output.strip() == f"Created {stored} sessions."
    assert stored >= 8


# move_session


def test_move_session_changes_the_time_raises_sequence_and_marks_it_edited(
    monthly_group, coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))

    moved = move(february, coordinator, local_start=datetime(2026, 2, 11, 18, 0), location="Room B")
    db.session.commit()
    db.session.expire_all()

    assert moved is True
    assert february.starts_at == utc(2026, 2, 11, 23, 0)
    assert february.ends_at == utc(2026, 2, 12, 1, 0)
    assert february.location == "Room B"
    assert february.sequence == 1
    assert february.edited is True
    assert february.occurrence_key == "2026-02-10T17:00"


def test_move_session_into_summer_time_keeps_the_local_time(monthly_group, coordinator, db):
    march = session_on(db, monthly_group, date(2026, 3, 10))

    move(march, coordinator, local_start=datetime(2026, 3, 5, 17, 0))

    assert march.starts_at == utc(2026, 3, 5, 22, 0)
    assert march.local_start.time() == time(17, 0)


def test_a_time_the_clocks_skip_is_refused_for_a_moved_or_added_session(
    monthly_group, coordinator, db
):
    march = session_on(db, monthly_group, date(2026, 3, 10))
    starts_at = march.starts_at
    skipped = datetime(2026, 3, 8, 2, 30)  # New York goes from 02:00 to 03:00 that night

    with pytest.raises(ValidationFailed, match="There is no 02:30 on 08 Mar 2026"):
        move(march, coordinator, local_start=skipped)
    with pytest.raises(ValidationFailed, match="the clocks go forward"):
        schedule.add_extra_session(
            monthly_group, local_start=skipped, length_minutes=120, actor=coordinator
        )

    assert march.starts_at == starts_at
    # The hour the clocks repeat in autumn exists (its first pass is taken).
    move(march, coordinator, local_start=datetime(2026, 11, 1, 1, 30))
    assert march.starts_at == utc(2026, 11, 1, 5, 30)


def test_move_session_with_only_a_new_theme_is_no_move(monthly_group, coordinator, db):
    february = session_on(db, monthly_group, date(2026, 2, 10))

    moved = move(february, coordinator, theme="  Eating out  ")

    assert moved is False
    assert february.theme == "Eating out"
    assert february.sequence == 0
    assert february.edited is False


def test_move_session_refuses_a_length_shorter_than_its_plan(monthly_group, coordinator, db):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    before = (february.starts_at, february.ends_at, february.sequence)

    with pytest.raises(ValidationFailed, match="plan is longer"):
        move(february, coordinator, local_start=datetime(2026, 2, 11, 17, 0), length=90)

    assert (february.starts_at, february.ends_at, february.sequence) == before
    assert february.edited is False


@pytest.mark.parametrize("length", [29, 241])
def test_move_session_refuses_lengths_out_of_range(monthly_group, coordinator, db, length):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    february.segments = []

    with pytest.raises(ValidationFailed, match="between 30 and 240"):
        move(february, coordinator, length=length)


def test_move_session_by_coordinator_of_another_site_is_not_allowed(
    monthly_group, other_coordinator, clinician, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))

    for actor in (other_coordinator, clinician):
        with pytest.raises(NotAllowed):
            move(february, actor, local_start=datetime(2026, 2, 11, 17, 0))
    assert february.starts_at == utc(2026, 2, 10, 22, 0)


# cancel, restore, extra sessions


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_session_needs_a_reason(monthly_group, coordinator, db, reason):
    february = session_on(db, monthly_group, date(2026, 2, 10))

    with pytest.raises(ValidationFailed, match="reason"):
        schedule.cancel_session(february, reason, actor=coordinator, now=NEW_YEAR)

    assert february.status == SCHEDULED
    assert february.sequence == 0


def test_cancel_session_keeps_the_row_as_cancelled_and_raises_sequence(
    monthly_group, coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    session_id = february.id

    schedule.cancel_session(february, "  Snow storm ", actor=coordinator, now=NEW_YEAR)
    db.session.commit()
    db.session.expire_all()

    stored = db.session.get(GroupSession, session_id)
    assert stored.status == CANCELLED
    assert stored.is_cancelled
    assert stored.cancel_reason == "Snow storm"
    assert stored.sequence == 1
    assert stored.edited is True
    assert len(sessions_of(db, monthly_group)) == 12

    with pytest.raises(ValidationFailed, match="already cancelled"):
        schedule.cancel_session(stored, "Again", actor=coordinator, now=NEW_YEAR)
    assert stored.sequence == 1


def test_cancel_session_by_coordinator_of_another_site_is_not_allowed(
    monthly_group, other_coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))

    with pytest.raises(NotAllowed):
        schedule.cancel_session(february, "Snow", actor=other_coordinator, now=NEW_YEAR)
    assert february.status == SCHEDULED


def test_restore_session_undoes_a_cancellation_and_raises_sequence(monthly_group, coordinator, db):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    schedule.cancel_session(february, "Snow", actor=coordinator, now=NEW_YEAR)

    schedule.restore_session(february, actor=coordinator, now=NEW_YEAR)

    assert february.status == SCHEDULED
    assert february.cancel_reason == ""
    assert february.sequence == 2
    with pytest.raises(ValidationFailed, match="not cancelled"):
        schedule.restore_session(february, actor=coordinator, now=NEW_YEAR)
    assert february.sequence == 2


def test_add_extra_session_is_outside_the_rule_and_copies_the_plan(monthly_group, coordinator, db):
    extra = schedule.add_extra_session(
        monthly_group,
        local_start=datetime(2026, 7, 28, 17, 0),
        length_minutes=150,
        actor=coordinator,
        theme=" Summer picnic ",
        now=NEW_YEAR,
    )
    db.session.commit()
    db.session.expire_all()

    assert extra.is_extra and extra.edited
    assert extra.occurrence_key is None
    assert extra.starts_at == utc(2026, 7, 28, 21, 0)
    assert extra.length_minutes == 150
    assert extra.theme == "Summer picnic"
    assert extra.status == SCHEDULED
    assert plan_rows(extra.segments) == [(i, *row) for i, row in enumerate(DEFAULT_ROWS)]
    assert len(sessions_of(db, monthly_group)) == 13


def test_add_extra_session_shorter_than_the_plan_starts_without_a_plan(monthly_group, coordinator):
    extra = schedule.add_extra_session(
        monthly_group,
        local_start=datetime(2026, 7, 28, 17, 0),
        length_minutes=60,
        actor=coordinator,
        now=NEW_YEAR,
    )

    assert extra.segments == []
    assert extra.length_minutes == 60


@pytest.mark.parametrize("length", [29, 241])
def test_add_extra_session_refuses_lengths_out_of_range(monthly_group, coordinator, length):
    with pytest.raises(ValidationFailed, match="between 30 and 240"):
        schedule.add_extra_session(
            monthly_group,
            local_start=datetime(2026, 7, 28, 17, 0),
            length_minutes=length,
            actor=coordinator,
        )


def test_add_extra_session_by_coordinator_of_another_site_is_not_allowed(
    monthly_group, other_coordinator, db
):
    with pytest.raises(NotAllowed):
        schedule.add_extra_session(
            monthly_group,
            local_start=datetime(2026, 7, 28, 17, 0),
            length_minutes=120,
            actor=other_coordinator,
        )
    assert len(sessions_of(db, monthly_group)) == 12


# Sessions that have begun or hold a check-in keep their time, place and status


@pytest.fixture
def checked_in(create_user, coordinator, db):
    """``checked_in(group_session)``: a drop-in checked in half an hour before the start."""

    def make(group_session):
        attendance = attendance_rules.add_drop_in(
            group_session, create_user(PATIENT), actor=coordinator
        )
        attendance_rules.check_in(
            attendance,
            "no_show",
            actor=coordinator,
            group_session=group_session,
            now=group_session.starts_at - timedelta(minutes=30),
        )
        db.session.commit()
        return attendance

    return make


def as_stored(group_session) -> tuple:
    return (
        group_session.starts_at,
        group_session.ends_at,
        group_session.location,
        group_session.status,
        group_session.sequence,
        group_session.edited,
    )


@pytest.mark.parametrize("minutes_after_start", [0, 1, 60 * 24 * 30])
def test_a_session_that_has_begun_is_neither_moved_nor_cancelled(
    monthly_group, coordinator, db, minutes_after_start
):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    now = FEBRUARY_SESSION_START + timedelta(minutes=minutes_after_start)
    before = as_stored(february)

    with pytest.raises(Conflict, match="already started; it cannot be moved or cancelled"):
        schedule.move_session(
            february,
            local_start=datetime(2026, 2, 17, 17, 0),
            length_minutes=120,
            location="",
            video_url="",
            theme="",
            notes="",
            actor=coordinator,
            now=now,
        )
    with pytest.raises(Conflict, match="add an extra session if the group meets again"):
        schedule.move_session(
            february,
            local_start=february.local_start.replace(tzinfo=None),
            length_minutes=120,
            location="Room B",
            video_url="",
            theme="",
            notes="",
            actor=coordinator,
            now=now,
        )
    with pytest.raises(Conflict, match="Record who came on its check-in page"):
        schedule.cancel_session(february, "Snow", actor=coordinator, now=now)
    db.session.commit()
    db.session.expire_all()

    assert as_stored(session_on(db, monthly_group, date(2026, 2, 10))) == before


def test_the_theme_and_notes_of_a_session_that_has_begun_may_still_change(
    monthly_group, coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    before = as_stored(february)

    moved = schedule.move_session(
        february,
        local_start=february.local_start.replace(tzinfo=None),
        length_minutes=february.length_minutes,
        location=february.location,
        video_url=february.video_url,
        theme="Eating out",
        notes="Bring menus",
        actor=coordinator,
        now=FEBRUARY_SESSION_START + timedelta(days=1),
    )

    assert moved is False
    assert (february.theme, february.notes) == ("Eating out", "Bring menus")
    assert as_stored(february) == before
    assert schedule.why_fixed(february, now=NEW_YEAR) is None
    assert "already started" in schedule.why_fixed(february, now=FEBRUARY_SESSION_START)


def test_a_future_session_holding_a_check_in_is_neither_moved_nor_cancelled(
    create_group, coordinator, checked_in, db
):
    group = create_group()
    upcoming = [s for s in sessions_of(db, group) if s.starts_at > utcnow()][1]
    checked_in(upcoming)
    before = as_stored(upcoming)

    with pytest.raises(Conflict, match="already checked in"):
        move(upcoming, coordinator, local_start=upcoming.local_start.replace(tzinfo=None, hour=18))
    with pytest.raises(Conflict, match="already checked in"):
        schedule.cancel_session(upcoming, "Room closed", actor=coordinator)
    db.session.commit()
    db.session.expire_all()

    assert as_stored(db.session.get(GroupSession, upcoming.id)) == before


def test_change_rule_leaves_a_session_holding_a_check_in_where_it_is(
    monthly_group, coordinator, checked_in, db
):
    june = session_on(db, monthly_group, date(2026, 6, 9))
    august = session_on(db, monthly_group, date(2026, 8, 11))
    checked_in(june)
    checked_in(august)
    june_before, august_before = as_stored(june), as_stored(august)

    # Only the time changes: June keeps its day and time, and gets no second session.
    report = change_to(monthly_group, SECOND_TUESDAY, at=time(18, 30), actor=coordinator)
    db.session.commit()

    assert {june.id, august.id} <= {s.id for s in report.kept}
    assert june.id not in {s.id for s, _ in report.moved}
    assert as_stored(june) == june_before and june.occurrence_key == "2026-06-09T17:00"
    assert len([s for s in sessions_of(db, monthly_group) if s.local_start.month == 6]) == 1
    assert len(report.moved) == 7

    # Fewer sessions: August is past the new rule's end, yet it is not cancelled.
    report = change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), count=5, actor=coordinator)
    db.session.commit()

    assert august.id not in {s.id for s in report.cancelled}
    assert as_stored(june) == june_before and as_stored(august) == august_before
    assert {s.id for s in report.cancelled} and all(s.status == CANCELLED for s in report.cancelled)


# change_rule


def test_change_rule_moves_future_rule_sessions_and_leaves_the_rest_alone(
    monthly_group, coordinator, db
):
    before = {s.id: (s.starts_at, s.sequence) for s in sessions_of(db, monthly_group)}
    past_ids = [s.id for s in sessions_of(db, monthly_group)[:3]]
    june = session_on(db, monthly_group, date(2026, 6, 9))
    move(june, coordinator, local_start=datetime(2026, 6, 10, 17, 0))
    extra = schedule.add_extra_session(
        monthly_group,
        local_start=datetime(2026, 7, 1, 17, 0),
        length_minutes=120,
        actor=coordinator,
        now=NEW_YEAR,
    )
    june_start, extra_start = june.starts_at, extra.starts_at
    movable_ids = [
        s.id for s in sessions_of(db, monthly_group) if s.starts_at > APRIL_FIRST and not s.edited
    ]

    before_month = {
        s.id: s.local_start.month for s in sessions_of(db, monthly_group) if s.id in movable_ids
    }

    report = change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), actor=coordinator)
    db.session.commit()
    db.session.expire_all()

    assert [group_session.id for group_session, _ in report.moved] == movable_ids
    assert [old for _, old in report.moved] == [before[i][0] for i in movable_ids]
    assert {s.id for s in report.kept} == {june.id, extra.id}
    assert report.cancelled == []
    # Each moved session stays in its own month; June, whose session was moved
    # by hand, gets a new session on the new rule's day.
    assert [s.local_start.replace(tzinfo=None) for s in report.added] == [
        datetime(2026, 6, 18, 18, 0)
    ]

    rule_sessions = [
        s for s in sessions_of(db, monthly_group) if s.starts_at > APRIL_FIRST and not s.edited
    ]
    assert local_starts(rule_sessions) == [
        datetime(2026, 4, 16, 18, 0),
        datetime(2026, 5, 21, 18, 0),
        datetime(2026, 6, 18, 18, 0),
        datetime(2026, 7, 16, 18, 0),
        datetime(2026, 8, 20, 18, 0),
        datetime(2026, 9, 17, 18, 0),
        datetime(2026, 10, 15, 18, 0),
        datetime(2026, 11, 19, 18, 0),
        datetime(2026, 12, 17, 18, 0),
    ]
    added_ids = {s.id for s in report.added}
    moved_rows = [s for s in rule_sessions if s.id not in added_ids]
    assert [s.id for s in moved_rows] == movable_ids  # the same rows, each in its month
    for group_session in moved_rows:
        assert group_session.local_start.month == before_month[group_session.id]
    assert rule_sessions[0].starts_at == utc(2026, 4, 16, 22, 0)
    assert rule_sessions[7].starts_at == utc(2026, 11, 19, 23, 0)  # back on standard time
    for group_session in moved_rows:
        assert group_session.sequence == before[group_session.id][1] + 1
        assert group_session.length_minutes == 120
        assert group_session.occurrence_key == group_session.local_start.strftime("%Y-%m-%dT%H:%M")
    for session_id in past_ids:
        past = db.session.get(GroupSession, session_id)
        assert (past.starts_at, past.sequence) == before[session_id]
    assert june.starts_at == june_start and june.sequence == 1
    assert extra.starts_at == extra_start and extra.sequence == 0
    assert monthly_group.recurrence_rule == THIRD_THURSDAY
    assert monthly_group.schedule_start_time == time(18, 0)


def test_change_rule_again_with_the_same_rule_moves_nothing(monthly_group, coordinator, db):
    change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), actor=coordinator)
    sequences = {s.id: s.sequence for s in sessions_of(db, monthly_group)}

    report = change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), actor=coordinator)

    assert report.moved == report.added == report.cancelled == []
    assert {s.id: s.sequence for s in sessions_of(db, monthly_group)} == sequences


def test_change_rule_of_only_the_time_keeps_the_dates(monthly_group, coordinator, db):
    report = change_to(monthly_group, SECOND_TUESDAY, at=time(18, 30), actor=coordinator)

    future = [s for s in sessions_of(db, monthly_group) if s.starts_at > APRIL_FIRST]
    past = [s for s in sessions_of(db, monthly_group) if s.starts_at < APRIL_FIRST]
    assert len(report.moved) == 9
    assert report.added == report.cancelled == []
    assert [s.local_start.date() for s in future] == SECOND_TUESDAYS_2026[3:]
    assert {s.local_start.time() for s in future} == {time(18, 30)}
    assert {s.local_start.time() for s in past} == {time(17, 0)}


def test_change_rule_to_fewer_sessions_cancels_the_surplus(monthly_group, coordinator, db):
    future_ids = [s.id for s in sessions_of(db, monthly_group) if s.starts_at > APRIL_FIRST]

    # Third Thursdays from January, five in all: only April 16 and May 21 are still ahead.
    report = change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), count=5, actor=coordinator)
    db.session.commit()
    db.session.expire_all()

    assert [s.id for s, _ in report.moved] == future_ids[:2]
    assert [s.id for s in report.cancelled] == future_ids[2:]
    assert report.added == []
    remaining = [
        s
        for s in sessions_of(db, monthly_group)
        if s.starts_at > APRIL_FIRST and not s.is_cancelled
    ]
    assert local_starts(remaining) == [datetime(2026, 4, 16, 18, 0), datetime(2026, 5, 21, 18, 0)]
    for group_session in report.cancelled:
        assert group_session.status == CANCELLED
        assert group_session.sequence == 1
        assert group_session.cancel_reason
    assert len(sessions_of(db, monthly_group)) == 12  # nothing deleted


def test_change_rule_back_to_more_sessions_after_a_surplus_was_cancelled(
    monthly_group, coordinator, db
):
    change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), count=5, actor=coordinator)

    report = change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), actor=coordinator)
    db.session.commit()

    scheduled = [
        s
        for s in sessions_of(db, monthly_group)
        if s.starts_at > APRIL_FIRST and s.status == SCHEDULED
    ]
    assert report.moved == []
    assert len(report.added) == 7
    assert [s.local_start.date() for s in scheduled] == [
        date(2026, 4, 16),
        date(2026, 5, 21),
        date(2026, 6, 18),
        date(2026, 7, 16),
        date(2026, 8, 20),
        date(2026, 9, 17),
        date(2026, 10, 15),
        date(2026, 11, 19),
        date(2026, 12, 17),
    ]


def test_change_of_time_leaves_a_day_cancelled_by_hand_cancelled_and_keeps_the_other_dates(
    monthly_group, coordinator, db
):
    may = session_on(db, monthly_group, date(2026, 5, 12))
    schedule.cancel_session(may, "Clinic closed", actor=coordinator, now=NEW_YEAR)
    dates_by_id = {
        s.id: s.local_start.date()
        for s in sessions_of(db, monthly_group)
        if s.starts_at > APRIL_FIRST and s is not may
    }

    report = change_to(monthly_group, SECOND_TUESDAY, at=time(18, 0), actor=coordinator)

    assert report.kept == [may]
    assert may.status == CANCELLED
    assert may.local_start.time() == time(17, 0)
    assert report.added == report.cancelled == []  # May is not brought back at 18:00
    assert len(report.moved) == 8
    for group_session, _ in report.moved:
        assert group_session.local_start.date() == dates_by_id[group_session.id]
        assert group_session.local_start.time() == time(18, 0)


def test_change_rule_refuses_an_end_before_the_start(monthly_group, coordinator):
    with pytest.raises(ValidationFailed, match="end before it starts"):
        change_to(
            monthly_group,
            THIRD_THURSDAY,
            at=time(18, 0),
            until=date(2025, 12, 31),
            actor=coordinator,
        )


def test_change_rule_by_coordinator_of_another_site_is_not_allowed(
    monthly_group, other_coordinator, db
):
    with pytest.raises(NotAllowed):
        change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), actor=other_coordinator)
    assert monthly_group.recurrence_rule == SECOND_TUESDAY


def test_change_rule_of_a_closed_group_adds_no_sessions(monthly_group, coordinator, db):
    monthly_group.status = "closed"
    for group_session in sessions_of(db, monthly_group):
        if group_session.starts_at > APRIL_FIRST:
            schedule._cancel(group_session, "The group has closed.", actor=coordinator)

    report = change_to(monthly_group, THIRD_THURSDAY, at=time(18, 0), actor=coordinator)

    assert report.added == []
    assert [s for s in sessions_of(db, monthly_group) if s.status == SCHEDULED] == [
        s for s in sessions_of(db, monthly_group) if s.starts_at < APRIL_FIRST
    ]


# session plans


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([("group", "Talk", 100), ("meal", "Meal", 30)], "takes 130 minutes"),
        ([("dance", "Dancing", 20)], "Unknown kind"),
        ([("one_on_one", "Visits", 20), ("one_on_one", "More visits", 20)], "at most one"),
        ([("group", "   ", 20)], "needs a name"),
        ([("group", "Talk", 0)], "between 1 and 180"),
        ([("group", "Talk", 181)], "between 1 and 180"),
    ],
)
def test_check_plan_refuses_bad_plans(segments, message):
    with pytest.raises(ValidationFailed, match=message):
        schedule.check_plan(segments, 120)


def test_check_plan_accepts_a_plan_that_fills_the_session_exactly():
    schedule.check_plan(DEFAULT_ROWS, 120)
    schedule.check_plan([], 60)


def test_set_session_plan_replaces_only_that_sessions_timeline(monthly_group, coordinator, db):
    february, march = sessions_of(db, monthly_group)[1:3]

    schedule.set_session_plan(
        february, [("group", " Talk ", 60), ("one_on_one", "Visits", 60)], actor=coordinator
    )
    db.session.commit()
    db.session.expire_all()

    assert plan_rows(february.segments) == [
        (0, "group", "Talk", 60),
        (1, "one_on_one", "Visits", 60),
    ]
    assert len(march.segments) == len(DEFAULT_PLAN)
    local = [(start.time(), end.time()) for _, start, end in february.timeline()]
    assert local == [(time(17, 0), time(18, 0)), (time(18, 0), time(19, 0))]


def test_set_session_plan_refuses_a_plan_longer_than_the_session(
    monthly_group, coordinator, other_coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))

    with pytest.raises(ValidationFailed, match="lasts 120"):
        schedule.set_session_plan(february, [("group", "Talk", 121)], actor=coordinator)
    with pytest.raises(NotAllowed):
        schedule.set_session_plan(february, [("group", "Talk", 60)], actor=other_coordinator)

    assert plan_rows(february.segments) == [(i, *row) for i, row in enumerate(DEFAULT_ROWS)]


# group services


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_members": 13}, "go up in that order"),
        ({"target_members": 16}, "go up in that order"),
        ({"min_members": 0}, "go up in that order"),
        ({"length_minutes": 59}, "between 60 and 180"),
        ({"length_minutes": 181}, "between 60 and 180"),
        ({"modality": "virtual", "video_url": ""}, "video link"),
        ({"modality": "hybrid", "video_url": ""}, "video link"),
        ({"modality": "in_person", "location": ""}, "needs a location"),
        ({"modality": "by_post"}, "in person, virtual or hybrid"),
        ({"calendar_name": "Diabetes group"}, "keep it neutral"),
        ({"calendar_name": "Tuesday HIV clinic"}, "keep it neutral"),
    ],
)
def test_create_group_refuses_bad_fields(app, site, coordinator, db, overrides, message):
    with pytest.raises(ValidationFailed, match=message):
        groups.create_group(site, group_fields(**overrides), actor=coordinator)
    assert db.session.scalar(select(func.count()).select_from(VisitGroup)) == 0


@pytest.mark.parametrize("length", [60, 90, 180])
def test_create_group_accepts_lengths_at_the_limits_with_a_plan_that_fits(
    app, site, coordinator, length
):
    group = groups.create_group(site, group_fields(length_minutes=length), actor=coordinator)

    assert group.status == "planning"
    assert group.length_minutes == length
    assert [s.kind for s in group.plan] == [kind for kind, _, _ in DEFAULT_PLAN]
    assert sum(s.minutes for s in group.plan) <= length


def test_create_group_gives_a_neutral_calendar_name_when_none_is_given(app, site, coordinator):
    group = groups.create_group(
        site,
        group_fields(calendar_name="  ", modality="virtual", video_url="https://v.example.org/a"),
        actor=coordinator,
    )

    assert group.calendar_name == "Group visit"
    assert group.focus == "type 2 diabetes"


def test_create_group_by_a_coordinator_of_another_site_or_a_clinician_is_not_allowed(
    app, site, other_coordinator, clinician
):
    for actor in (other_coordinator, clinician):
        with pytest.raises(NotAllowed):
            groups.create_group(site, group_fields(), actor=actor)


@pytest.fixture
def running_group(create_group, db):
    """A weekly group started four weeks ago with sessions two months ahead (real clock)."""
    today = utcnow().date()
    return create_group(
        rule=WEEKLY_THURSDAY,
        start=today - timedelta(days=28),
        since=today - timedelta(days=28),
        until=today + timedelta(days=60),
    )


def test_update_group_length_changes_future_sessions_not_edited_by_hand(
    running_group, coordinator, db
):
    now = utcnow()
    future = [s for s in sessions_of(db, running_group) if s.starts_at > now + timedelta(hours=1)]
    past = [s for s in sessions_of(db, running_group) if s.starts_at < now]
    hand_moved = future[2]
    move(hand_moved, coordinator, location="Room B")

    changed = groups.update_group(
        running_group, group_fields(length_minutes=150), actor=coordinator
    )
    db.session.commit()
    db.session.expire_all()

    assert len(past) >= 3 and len(future) >= 7
    assert {s.id for s in changed} == {s.id for s in future if s is not hand_moved}
    for group_session in future:
        if group_session is hand_moved:
            assert group_session.length_minutes == 120
            assert group_session.sequence == 1
        else:
            assert group_session.length_minutes == 150
            assert group_session.sequence == 1
    for group_session in past:
        assert group_session.length_minutes == 120
        assert group_session.sequence == 0
    assert running_group.length_minutes == 150


def test_update_group_without_a_new_length_changes_no_session(running_group, coordinator, db):
    changed = groups.update_group(
        running_group, group_fields(name="Thursday group", min_members=6), actor=coordinator
    )

    assert changed == []
    assert running_group.name == "Thursday group"
    assert {s.sequence for s in sessions_of(db, running_group)} == {0}


def test_update_group_refuses_a_length_shorter_than_its_plan(running_group, coordinator):
    with pytest.raises(ValidationFailed, match="plan is longer"):
        groups.update_group(running_group, group_fields(length_minutes=90), actor=coordinator)


def test_update_group_refuses_a_calendar_name_with_a_condition(running_group, coordinator):
    with pytest.raises(ValidationFailed, match="neutral"):
        groups.update_group(
            running_group, group_fields(calendar_name="Heart health evening"), actor=coordinator
        )


def test_update_group_by_a_coordinator_of_another_site_is_not_allowed(
    running_group, other_coordinator
):
    with pytest.raises(NotAllowed):
        groups.update_group(running_group, group_fields(name="Taken"), actor=other_coordinator)
    assert running_group.name != "Taken"


def test_closing_a_group_cancels_its_future_sessions_only(running_group, coordinator, db):
    now = utcnow()
    future = [s for s in sessions_of(db, running_group) if s.starts_at > now + timedelta(hours=1)]
    past = [s for s in sessions_of(db, running_group) if s.starts_at < now]
    schedule.cancel_session(future[0], "Holiday", actor=coordinator)

    cancelled = groups.set_status(running_group, "closed", actor=coordinator)
    db.session.commit()
    db.session.expire_all()

    assert cancelled == len(future) - 1
    assert future[0].cancel_reason == "Holiday"
    assert future[0].sequence == 1
    for group_session in future[1:]:
        assert group_session.status == CANCELLED
        assert group_session.cancel_reason == "The group has closed."
        assert group_session.sequence == 1
    assert {s.status for s in past} == {SCHEDULED}
    assert running_group.status == "closed"
    assert (
        schedule.generate_sessions(running_group, until=utcnow().date() + timedelta(days=200)) == []
    )


def test_closing_a_group_with_a_reason_gives_that_reason(running_group, coordinator, db):
    groups.set_status(running_group, "closed", actor=coordinator, reason=" Funding ended ")

    future = [s for s in sessions_of(db, running_group) if s.starts_at > utcnow()]
    assert {s.cancel_reason for s in future} == {"Funding ended"}


@pytest.mark.parametrize("status", ["active", "paused", "planning"])
def test_a_closed_group_cannot_reopen(running_group, coordinator, status):
    groups.set_status(running_group, "closed", actor=coordinator)

    with pytest.raises(ValidationFailed, match="stays closed"):
        groups.set_status(running_group, status, actor=coordinator)
    assert running_group.status == "closed"


def test_pausing_a_group_keeps_its_sessions_and_it_can_resume(running_group, coordinator, db):
    assert groups.set_status(running_group, "paused", actor=coordinator) == 0
    assert {s.status for s in sessions_of(db, running_group)} == {SCHEDULED}
    assert not running_group.is_open

    groups.set_status(running_group, "active", actor=coordinator)
    assert running_group.is_open


def test_set_status_refuses_an_unknown_status_and_other_sites(
    running_group, coordinator, other_coordinator
):
    with pytest.raises(ValidationFailed, match="Unknown status"):
        groups.set_status(running_group, "archived", actor=coordinator)
    with pytest.raises(NotAllowed):
        groups.set_status(running_group, "closed", actor=other_coordinator)
    assert running_group.status == "active"


def test_set_group_plan_checks_the_plan_and_the_coordinator(
    running_group, coordinator, other_coordinator
):
    with pytest.raises(ValidationFailed, match="at most one"):
        groups.set_group_plan(
            running_group,
            [("one_on_one", "Visits", 30), ("one_on_one", "Visits again", 30)],
            actor=coordinator,
        )
    with pytest.raises(NotAllowed):
        groups.set_group_plan(running_group, [("group", "Talk", 60)], actor=other_coordinator)
    assert len(running_group.plan) == len(DEFAULT_PLAN)


def test_a_clinician_of_the_site_cannot_change_sessions(running_group, create_user, db):
    clinician = create_user(CLINICIAN)
    group_session = sessions_of(db, running_group)[-1]

    with pytest.raises(NotAllowed):
        schedule.cancel_session(group_session, "Sick", actor=clinician)
    with pytest.raises(NotAllowed):
        schedule.restore_session(group_session, actor=clinician)
    assert group_session.status == SCHEDULED


# census


@pytest.fixture
def february(monthly_group, db):
    group_session = session_on(db, monthly_group, date(2026, 2, 10))
    assert group_session.starts_at == FEBRUARY_SESSION_START
    return group_session


@pytest.mark.parametrize(
    ("confirmed", "show_rate", "expected"),
    [
        (10, 1.0, 10),
        (10, 0.74, 7),
        (10, 0.76, 8),
        (9, 0.8, 7),
        (13, 0.95, 12),
        (0, 0.9, 0),
        # Half a person rounds up: 2.5 expected people are planned as 3, 0.5 as 1.
        (5, 0.5, 3),
        (1, 0.5, 1),
        (3, 0.5, 2),
        # Show rates are exact fractions: 11 x 15/22 is 7.5, which a float makes 7.4999.
        (11, Fraction(15, 22), 8),
    ],
)
def test_expected_is_confirmed_times_show_rate_rounded(february, confirmed, show_rate, expected):
    census = census_of(
        february,
        Counts(confirmed=confirmed, maybe=2, waitlisted=1, show_rate=show_rate),
        now=FEBRUARY_SESSION_START - timedelta(days=3),
    )

    assert census.expected == expected
    assert (census.confirmed, census.maybe, census.waitlisted) == (confirmed, 2, 1)
    assert (census.minimum, census.target, census.maximum) == (8, 12, 15)
    assert census.days_ahead == 3


@pytest.mark.parametrize(
    ("counts", "level", "label"),
    [
        (Counts(confirmed=9, show_rate=0.8), "below-minimum", "Below minimum"),
        (Counts(confirmed=10, show_rate=0.8), "below-target", "Below target"),
        (Counts(confirmed=11, show_rate=1.0), "below-target", "Below target"),
        (Counts(confirmed=12, show_rate=1.0), "on-target", "On target"),
        (Counts(confirmed=14, show_rate=0.9), "on-target", "On target"),
        (Counts(confirmed=15, show_rate=0.5), "full", "Full"),
    ],
)
def test_census_levels(february, counts, level, label):
    census = census_of(february, counts, now=FEBRUARY_SESSION_START - timedelta(days=3))

    assert census.level == level
    assert census.label == label


def test_census_warns_below_minimum_only_within_the_warning_window(february):
    low = Counts(confirmed=5)

    def warns(before: timedelta, counts: Counts = low) -> bool:
        return census_of(february, counts, now=FEBRUARY_SESSION_START - before).warn

    assert warns(timedelta(days=3))
    assert warns(timedelta(hours=1))
    assert warns(timedelta(days=14))
    assert warns(timedelta(days=14, hours=23))
    assert not warns(timedelta(days=15))
    assert not warns(timedelta(days=40))
    assert not warns(timedelta(days=3), Counts(confirmed=8))
    assert not warns(timedelta(days=3), Counts(confirmed=10, show_rate=0.8))
    assert warns(timedelta(days=3), Counts(confirmed=10, show_rate=0.7))


def test_census_warning_window_follows_the_group_setting(february):
    february.group.census_warning_days = 30

    census = census_of(
        february, Counts(confirmed=5), now=FEBRUARY_SESSION_START - timedelta(days=20)
    )

    assert census.warn
    assert census.days_ahead == 20


def test_census_does_not_warn_for_past_sessions(february):
    census = census_of(
        february, Counts(confirmed=0), now=FEBRUARY_SESSION_START + timedelta(hours=1)
    )

    assert not census.warn
    assert census.level == "below-minimum"


def test_census_does_not_warn_for_cancelled_sessions(february, coordinator):
    schedule.cancel_session(february, "Snow", actor=coordinator, now=NEW_YEAR)

    census = census_of(
        february, Counts(confirmed=0), now=FEBRUARY_SESSION_START - timedelta(days=2)
    )

    assert not census.warn


def test_census_for_gives_each_session_by_id_and_counts_missing_numbers_as_zero(monthly_group, db):
    sessions = sessions_of(db, monthly_group)[:3]  # Jan 13, Feb 10, Mar 10
    now = utc(2026, 2, 1, 12, 0)

    result = census_for(sessions, {sessions[1].id: Counts(confirmed=12)}, now=now)

    assert set(result) == {s.id for s in sessions}
    assert result[sessions[1].id].expected == 12
    assert not result[sessions[1].id].warn
    assert result[sessions[2].id].confirmed == result[sessions[2].id].expected == 0
    assert not result[sessions[2].id].warn  # 37 days ahead
    assert not result[sessions[0].id].warn  # already past
    assert result[sessions[0].id].days_ahead < 0


# demo groups


def test_load_demo_groups_makes_three_monthly_evening_groups_with_a_meal(app, site, db):
    today = utcnow().date()

    created = load_demo_groups(site)
    db.session.commit()
    db.session.expire_all()

    assert len(created) == 3
    for group in created:
        assert group.status == "active"
        assert group.length_minutes == 120
        assert group.recurrence_rule.startswith("FREQ=MONTHLY;BYDAY=")
        assert group.schedule_start_time >= time(17, 0)
        assert "meal" in [segment.kind for segment in group.plan]
        groups.check_calendar_name(group.calendar_name)

        sessions = sessions_of(db, group)
        assert {s.local_start.time() for s in sessions} == {group.schedule_start_time}
        assert {str(s.local_start.tzinfo) for s in sessions} == {"America/New_York"}
        assert len({s.local_start.weekday() for s in sessions}) == 1
        assert all("meal" in [segment.kind for segment in s.segments] for s in sessions)
        assert all(s.length_minutes == 120 for s in sessions)
        ahead = [s for s in sessions if s.local_start.date() > today]
        past = [s for s in sessions if s.local_start.date() < today]
        assert len(ahead) in (5, 6, 7)
        assert len(past) >= 3
        last = ahead[-1].local_start.date()
        assert today + timedelta(days=150) <= last <= schedule.horizon(today)


# No session in the past, none clashing with another


def extra(group, local_start, *, actor, length=120, now=NEW_YEAR, **kwargs):
    return schedule.add_extra_session(
        group, local_start=local_start, length_minutes=length, actor=actor, now=now, **kwargs
    )


def test_moving_a_session_to_a_time_that_has_passed_is_refused(monthly_group, coordinator, db):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    before = as_stored(february)

    for past in (datetime(2025, 12, 20, 17, 0), datetime(2026, 1, 1, 6, 0)):  # NEW_YEAR is 07:00
        with pytest.raises(ValidationFailed, match="has passed. Choose a date and time still to"):
            move(february, coordinator, local_start=past)
    db.session.rollback()

    assert as_stored(session_on(db, monthly_group, date(2026, 2, 10))) == before


def test_an_extra_session_on_a_past_day_is_refused_unless_recorded_as_past(
    monthly_group, coordinator, db
):
    count = len(sessions_of(db, monthly_group))
    march = datetime(2026, 3, 20, 10, 0)

    with pytest.raises(ValidationFailed, match="Friday 20 March 2026 has passed") as refused:
        extra(monthly_group, march, actor=coordinator, now=APRIL_FIRST)
    assert "tick “Record a past session”" in str(refused.value)
    db.session.rollback()
    assert len(sessions_of(db, monthly_group)) == count

    recorded = extra(monthly_group, march, actor=coordinator, now=APRIL_FIRST, record_past=True)
    # Earlier today is no past day: a meeting under way is added to check people in.
    today = extra(monthly_group, datetime(2026, 4, 1, 6, 0), actor=coordinator, now=APRIL_FIRST)
    db.session.commit()

    assert recorded.starts_at == utc(2026, 3, 20, 14, 0) and recorded.is_extra
    assert today.starts_at < APRIL_FIRST
    assert len(sessions_of(db, monthly_group)) == count + 2


@pytest.fixture
def neighbours(create_group, create_site):
    """Other groups: one in the same room (spelt differently), one next door, one elsewhere."""
    return {
        "same room": create_group(
            rule=None, name="Tuesday evening group", location=" community  ROOM"
        ),
        "next door": create_group(rule=None, name="Walking group", location="Room 5"),
        "other site": create_group(
            create_site(name="Northside"), rule=None, name="North group", location="Community room"
        ),
    }


def test_an_extra_session_overlapping_one_of_its_own_group_is_refused(
    monthly_group, coordinator, db
):
    count = len(sessions_of(db, monthly_group))

    with pytest.raises(ValidationFailed) as refused:
        extra(monthly_group, datetime(2026, 2, 10, 18, 30), actor=coordinator)
    db.session.rollback()

    assert str(refused.value) == (
        f"Clashes with {monthly_group.name}, Tue 10 Feb 2026, 5:00 PM–7:00 PM in Community "
        "room. Choose another time or room."
    )
    assert refused.value.field == "date"
    assert len(sessions_of(db, monthly_group)) == count
    # Back to back is no clash.
    extra(monthly_group, datetime(2026, 2, 10, 19, 0), actor=coordinator)
    extra(monthly_group, datetime(2026, 2, 10, 15, 0), actor=coordinator)


def test_a_session_in_the_same_room_of_the_site_clashes_whatever_its_spelling(
    monthly_group, coordinator, neighbours, db
):
    theirs = extra(neighbours["same room"], datetime(2026, 7, 7, 18, 0), actor=coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed) as refused:
        extra(monthly_group, datetime(2026, 7, 7, 17, 0), actor=coordinator)
    db.session.rollback()
    assert str(refused.value) == (
        "Clashes with Tuesday evening group, Tue 7 Jul 2026, 6:00 PM–8:00 PM in community ROOM. "
        "Choose another time or room."
    )

    # Another room, another site, or a cancelled session: no clash.
    extra(neighbours["next door"], datetime(2026, 7, 7, 17, 0), actor=coordinator)
    extra(neighbours["other site"], datetime(2026, 7, 7, 17, 0), actor=None)
    schedule.cancel_session(theirs, "Room booked", actor=coordinator, now=NEW_YEAR)
    extra(monthly_group, datetime(2026, 7, 7, 17, 0), actor=coordinator)
    db.session.commit()


def test_moving_a_session_onto_another_is_refused_and_it_stays(
    monthly_group, coordinator, neighbours, db
):
    extra(neighbours["same room"], datetime(2026, 3, 3, 17, 30), actor=coordinator)
    february = session_on(db, monthly_group, date(2026, 2, 10))
    march = session_on(db, monthly_group, date(2026, 3, 10))
    db.session.commit()
    before = as_stored(february)

    with pytest.raises(ValidationFailed, match="Clashes with Tuesday evening group, Tue 3 Mar"):
        move(february, coordinator, local_start=datetime(2026, 3, 3, 16, 0))
    db.session.rollback()
    with pytest.raises(ValidationFailed, match=r"Clashes with .*, Tue 10 Mar 2026, 5:00 PM"):
        move(
            session_on(db, monthly_group, date(2026, 2, 10)),
            coordinator,
            local_start=datetime(2026, 3, 10, 18, 0),
        )
    db.session.rollback()
    assert as_stored(session_on(db, monthly_group, date(2026, 2, 10))) == before

    # Moving a session within its own time, or to another room, clashes with nothing.
    assert move(march, coordinator, local_start=datetime(2026, 3, 10, 17, 30)) is True
    assert move(march, coordinator, location="Room 7") is True


def test_a_clash_is_found_in_one_query_however_many_sessions_the_site_has(
    monthly_group, coordinator, neighbours, db, count_queries
):
    for day in range(1, 28):
        extra(neighbours["next door"], datetime(2026, 7, day, 17, 0), actor=coordinator)
    db.session.commit()
    starts_at = utc(2026, 7, 15, 21, 0)  # a Wednesday: the group's own sessions are Tuesdays
    assert monthly_group.location  # loaded, as on the page that asks

    with count_queries() as counter:
        clash = schedule.find_clash(
            monthly_group, starts_at=starts_at, ends_at=starts_at + timedelta(hours=2)
        )
        clash_next_door = schedule.find_clash(
            monthly_group,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            location="room 5",
        )

    assert clash is None
    assert clash_next_door.group_id == neighbours["next door"].id
    assert counter.count == 2


def test_a_cancelled_session_in_the_past_stays_cancelled(monthly_group, coordinator, db):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    schedule.cancel_session(february, "Snow", actor=coordinator, now=NEW_YEAR)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="time has passed, so it stays cancelled"):
        schedule.restore_session(february, actor=coordinator, now=FEBRUARY_SESSION_START)
    db.session.rollback()

    assert session_on(db, monthly_group, date(2026, 2, 10)).status == CANCELLED


def test_a_cancelled_session_whose_time_was_taken_meanwhile_stays_cancelled(
    monthly_group, coordinator, db
):
    february = session_on(db, monthly_group, date(2026, 2, 10))
    schedule.cancel_session(february, "Snow", actor=coordinator, now=NEW_YEAR)
    extra(monthly_group, datetime(2026, 2, 10, 17, 30), actor=coordinator, theme="Make-up")
    db.session.commit()

    with pytest.raises(ValidationFailed, match="Clashes with"):
        schedule.restore_session(february, actor=coordinator, now=NEW_YEAR)
    db.session.rollback()

    assert db.session.get(GroupSession, february.id).status == CANCELLED


# Closing or editing a group leaves sessions that began or hold a check-in as they were


def soon_after(running_group, db) -> GroupSession:
    """The group's next session, made to start in half an hour (its check-in is open)."""
    group_session = next(s for s in sessions_of(db, running_group) if s.starts_at > utcnow())
    group_session.starts_at = utcnow() + timedelta(minutes=30)
    group_session.ends_at = group_session.starts_at + timedelta(hours=2)
    db.session.commit()
    return group_session


def test_closing_a_group_leaves_a_session_holding_a_check_in(
    running_group, coordinator, checked_in, db
):
    held = soon_after(running_group, db)
    checked_in(held)
    future = [s for s in sessions_of(db, running_group) if s.starts_at > utcnow()]

    cancelled = groups.set_status(running_group, "closed", actor=coordinator)
    db.session.commit()
    db.session.expire_all()

    assert cancelled == len(future) - 1
    assert db.session.get(GroupSession, held.id).status == SCHEDULED
    assert {s.status for s in future if s.id != held.id} == {CANCELLED}


def test_editing_a_group_leaves_length_and_place_of_sessions_held_or_holding_a_check_in(
    running_group, coordinator, checked_in, db
):
    held = soon_after(running_group, db)
    checked_in(held)
    past = [s for s in sessions_of(db, running_group) if s.starts_at < utcnow()]
    later = [s for s in sessions_of(db, running_group) if s.starts_at > held.starts_at]
    before = {s.id: as_stored(s) for s in [held, *past]}

    changed = groups.update_group(
        running_group,
        group_fields(length_minutes=150, location="Main hall"),
        actor=coordinator,
    )
    db.session.commit()
    db.session.expire_all()

    assert {s.id for s in changed} == {s.id for s in later}
    for group_session in [held, *past]:
        row = db.session.get(GroupSession, group_session.id)
        assert (row.place, row.length_minutes) == ("Community room", 120)
        assert row.sequence == before[row.id][4]
    for group_session in later:
        row = db.session.get(GroupSession, group_session.id)
        assert (row.place, row.length_minutes, row.sequence) == ("Main hall", 150, 1)
