"""A coordinator runs a group through its pages: create, schedule, move, cancel, plan, pause, close.

Also the month calendar, the staff and patient dashboards, and pages whose
number of queries must not grow with the number of sessions or groups.
"""

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from groupvisits import localtime
from groupvisits.accounts.models import COORDINATOR, PATIENT
from groupvisits.groups.models import GroupPlanSegment, VisitGroup
from groupvisits.roster.models import Membership
from groupvisits.schedule.models import GroupSession

NEW_YORK = ZoneInfo("America/New_York")
YEAR = date.today().year + 1
CENSUS_ORDER = "The minimum, target and maximum must go up in that order."
UNUSUAL = "This size is unusual."


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def group_form(site, **changes) -> dict:
    data = {
        "site": site.id,
        "name": "Tuesday evening diabetes group",
        "calendar_name": "Tuesday evening group",
        "focus": "type 2 diabetes",
        "description": "Peer support and education.",
        "modality": "in_person",
        "location": "Community room",
        "video_url": "",
        "length_minutes": "120",
        "min_members": "8",
        "target_members": "12",
        "max_members": "15",
        "census_warning_days": "14",
    }
    data.update(changes)
    return data


def schedule_form(start: date, **changes) -> dict:
    data = {
        "pattern": "monthly",
        "nth": "2",
        "weekday": "TU",
        "start_date": start.isoformat(),
        "start_time": "17:00",
        "ends": "never",
        "until": "",
        "count": "",
    }
    data.update(changes)
    return data


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (Monday = 0) of a month."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def months_from(first: date, count: int):
    year, month = first.year, first.month
    for _ in range(count):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def sessions_of(db, group) -> list[GroupSession]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        )
    )


def shows_local_start(page: str, group_session) -> bool:
    """True if the page gives the session's local day and time as the site reads them
    ("Mon 30 Nov 2026, 5:00 PM" or "Monday 30 November, 5:00 PM")."""
    site, start = group_session.group.site, group_session.starts_at
    return (
        localtime.when(start, site) in page
        or f"{localtime.day(start, site)}, {localtime.clock(start, site)}" in page
    )


def add_member(db, group, patient) -> None:
    db.session.add(Membership(group=group, patient=patient, status="active"))
    db.session.commit()


def next_month_start() -> date:
    today = datetime.now(UTC).date()
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1)


@pytest.fixture
def tomorrow():
    return datetime.now(UTC).date() + timedelta(days=1)


# Creating a group


def test_coordinator_creates_a_group_in_planning_with_the_default_plan(
    db, coordinator_client, site
):
    response = coordinator_client.post_form("/groups/new", group_form(site))
    assert response.status_code == 302
    group = db.session.scalar(select(VisitGroup))
    assert response.headers["Location"].endswith(f"/groups/{group.id}/schedule")
    assert (group.name, group.calendar_name, group.status) == (
        "Tuesday evening diabetes group",
        "Tuesday evening group",
        "planning",
    )
    assert sum(segment.minutes for segment in group.plan) == 120
    page = text(coordinator_client.get(response.headers["Location"]))
    assert "Tuesday evening diabetes group is created. Now set its schedule." in page
    assert UNUSUAL not in page


def test_census_out_of_order_is_refused_with_a_message(db, coordinator_client, site):
    response = coordinator_client.post_form(
        "/groups/new", group_form(site, min_members="10", target_members="9", max_members="15")
    )
    assert response.status_code == 422
    assert CENSUS_ORDER in text(response)
    assert db.session.scalar(select(VisitGroup)) is None


def test_a_calendar_name_naming_a_condition_is_refused(db, coordinator_client, site):
    response = coordinator_client.post_form(
        "/groups/new", group_form(site, calendar_name="Diabetes support")
    )
    assert response.status_code == 422
    assert "keep it neutral" in text(response)
    assert db.session.scalar(select(VisitGroup)) is None


def test_a_group_of_twenty_gets_the_unusual_size_note(db, coordinator_client, site):
    response = coordinator_client.post_form(
        "/groups/new", group_form(site, max_members="20"), follow_redirects=True
    )
    assert response.status_code == 200
    page = text(response)
    assert UNUSUAL in page
    assert "8 to 15 members" in page
    assert db.session.scalar(select(VisitGroup)).max_members == 20


def test_the_unusual_size_note_shows_beside_other_errors(coordinator_client, site):
    response = coordinator_client.post_form(
        "/groups/new", group_form(site, name="", max_members="20")
    )
    assert response.status_code == 422
    assert UNUSUAL in text(response)
    usual = coordinator_client.post_form("/groups/new", group_form(site, name=""))
    assert usual.status_code == 422
    assert UNUSUAL not in text(usual)


def test_a_clinician_cannot_create_a_group(db, clinician_client, site):
    assert clinician_client.post_form("/groups/new", group_form(site)).status_code == 403
    assert db.session.scalar(select(VisitGroup)) is None


# The schedule


@pytest.fixture
def planned_group(db, coordinator_client, site):
    response = coordinator_client.post_form("/groups/new", group_form(site))
    assert response.status_code == 302
    return db.session.scalar(select(VisitGroup))


def expected_second_tuesdays(start: date) -> list[date]:
    horizon = datetime.now(UTC).date() + timedelta(days=183)
    days = [nth_weekday(y, m, 1, 2) for y, m in months_from(start, 8)]
    return [day for day in days if start <= day <= horizon]


def test_monthly_schedule_shows_six_months_of_sessions_at_17_local(
    db, coordinator_client, planned_group
):
    start = next_month_start()
    response = coordinator_client.post_form(
        f"/groups/{planned_group.id}/schedule", schedule_form(start)
    )
    assert response.status_code == 302
    page = text(coordinator_client.get(f"/groups/{planned_group.id}"))
    assert "Every month on the second Tuesday" in page

    expected = expected_second_tuesdays(start)
    assert 4 <= len(expected) <= 7
    sessions = sessions_of(db, planned_group)
    assert [s.local_start.date() for s in sessions] == expected
    for day in expected:
        assert f"{day:%a} {day.day} {day:%b %Y}, 5:00 PM–7:00 PM" in page
    for group_session in sessions:
        assert group_session.local_start.time() == time(17, 0)
        assert group_session.starts_at.astimezone(UTC).hour in (21, 22)
        # 17:00 in New York is 22:00Z in winter and 21:00Z in summer.
        summer = group_session.local_start.dst() != timedelta(0)
        assert group_session.starts_at.astimezone(UTC).hour == (21 if summer else 22)


def test_a_schedule_ending_before_it_starts_is_refused(coordinator_client, planned_group):
    start = next_month_start()
    response = coordinator_client.post_form(
        f"/groups/{planned_group.id}/schedule",
        schedule_form(start, ends="until", until=(start - timedelta(days=1)).isoformat()),
    )
    assert response.status_code == 422
    assert "The end date is before the first date." in text(response)


def test_a_schedule_with_a_count_makes_that_many_sessions(db, coordinator_client, planned_group):
    response = coordinator_client.post_form(
        f"/groups/{planned_group.id}/schedule",
        schedule_form(next_month_start(), ends="count", count="3"),
    )
    assert response.status_code == 302
    assert len(sessions_of(db, planned_group)) == 3


def test_changing_the_rule_moves_sessions_and_names_each_move(
    db, coordinator_client, planned_group
):
    start = next_month_start()
    coordinator_client.post_form(f"/groups/{planned_group.id}/schedule", schedule_form(start))
    before = {s.id: s.local_start for s in sessions_of(db, planned_group)}

    response = coordinator_client.post_form(
        f"/groups/{planned_group.id}/schedule", schedule_form(start, nth="3"), follow_redirects=True
    )
    page = text(response)
    assert "The schedule is saved: Every month on the third Tuesday." in page
    after = {s.id: s for s in sessions_of(db, planned_group)}
    assert set(after) == set(before)  # the same sessions, moved: their RSVPs stay
    moved = [i for i in before if after[i].status == "scheduled"]
    assert len(moved) >= len(before) - 1
    for session_id in moved:
        old, new = before[session_id], after[session_id].local_start
        assert new == old + timedelta(days=7)
        site = planned_group.site
        assert f"Moved: {localtime.when(old, site)} → {localtime.when(new, site)}." in page
        assert after[session_id].sequence == 1


def test_a_session_moved_by_hand_is_left_alone_by_a_rule_change(
    db, coordinator_client, planned_group
):
    start = next_month_start()
    coordinator_client.post_form(f"/groups/{planned_group.id}/schedule", schedule_form(start))
    first = sessions_of(db, planned_group)[0]
    coordinator_client.post_form(
        f"/sessions/{first.id}/edit",
        {
            "date": first.local_start.date().isoformat(),
            "start_time": "16:00",
            "length_minutes": "120",
        },
    )
    response = coordinator_client.post_form(
        f"/groups/{planned_group.id}/schedule", schedule_form(start, nth="3"), follow_redirects=True
    )
    assert "1 sessions edited by hand were left as they are." in text(response)
    db.session.expire_all()
    assert db.session.get(GroupSession, first.id).local_start.time() == time(16, 0)


# One session: move, cancel, add


@pytest.fixture
def scheduled_group(create_group, site, tomorrow):
    return create_group(
        site, rule="FREQ=WEEKLY;BYDAY=MO", start=tomorrow, until=tomorrow + timedelta(days=60)
    )


def test_moving_a_session_shows_its_new_local_time(db, coordinator_client, scheduled_group):
    group_session = sessions_of(db, scheduled_group)[1]
    new_day = group_session.local_start.date() + timedelta(days=2)
    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/edit",
        {
            "date": new_day.isoformat(),
            "start_time": "18:30",
            "length_minutes": "120",
            "location": "Room 5",
            "video_url": "",
            "theme": "Sleep",
            "notes": "",
        },
        follow_redirects=True,
    )
    page = text(response)
    assert "Saved. Calendars will show the change." in page
    assert "6:30 PM–8:30 PM" in page and "Room 5" in page
    moved = sessions_of(db, scheduled_group)
    group_session = next(s for s in moved if s.id == group_session.id)
    assert group_session.local_start == datetime.combine(new_day, time(18, 30), NEW_YORK)
    assert group_session.sequence == 1 and group_session.edited
    group_page = text(coordinator_client.get(f"/groups/{scheduled_group.id}"))
    assert f"{new_day:%a} {new_day.day} {new_day:%b %Y}, 6:30 PM–8:30 PM" in group_page
    assert "Moved" in group_page


def test_moving_a_session_shorter_than_its_plan_is_refused(db, coordinator_client, scheduled_group):
    group_session = sessions_of(db, scheduled_group)[0]
    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/edit",
        {
            "date": group_session.local_start.date().isoformat(),
            "start_time": "17:00",
            "length_minutes": "60",
        },
    )
    assert response.status_code == 422
    assert "Shorten the plan first." in text(response)
    assert sessions_of(db, scheduled_group)[0].length_minutes == 120


def test_cancelling_needs_a_reason_and_the_group_page_shows_it(
    db, coordinator_client, scheduled_group
):
    group_session = sessions_of(db, scheduled_group)[0]
    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/cancel", {"reason": "  "}, follow_redirects=True
    )
    assert "Give a reason" in text(response)
    assert sessions_of(db, scheduled_group)[0].status == "scheduled"

    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/cancel",
        {"reason": "Clinic closed for the holiday"},
        follow_redirects=True,
    )
    assert "The session is cancelled." in text(response)
    assert sessions_of(db, scheduled_group)[0].status == "cancelled"
    group_page = text(coordinator_client.get(f"/groups/{scheduled_group.id}"))
    assert "Cancelled" in group_page and "Clinic closed for the holiday" in group_page


def stored(db, group_session) -> tuple:
    db.session.expire_all()
    row = db.session.get(GroupSession, group_session.id)
    return (row.starts_at, row.ends_at, row.location, row.status, row.sequence, row.edited)


def test_a_session_that_has_begun_is_neither_moved_nor_cancelled_through_the_pages(
    db, coordinator_client, create_group, site
):
    today = datetime.now(UTC).date()
    group = create_group(
        site,
        rule="FREQ=WEEKLY;BYDAY=MO",
        start=today - timedelta(days=21),
        until=today + timedelta(days=21),
    )
    past = [s for s in sessions_of(db, group) if s.starts_at < datetime.now(UTC)][-1]
    before = stored(db, past)
    message = "This session has already started; it cannot be moved or cancelled."

    page = coordinator_client.get(f"/sessions/{past.id}/edit")
    assert page.status_code == 200 and message in text(page)
    moved = coordinator_client.post_form(
        f"/sessions/{past.id}/edit",
        {
            "date": (today + timedelta(days=2)).isoformat(),
            "start_time": "17:00",
            "length_minutes": "120",
        },
    )
    cancelled = coordinator_client.post_form(f"/sessions/{past.id}/cancel", {"reason": "Snow"})
    blank = coordinator_client.post_form(f"/sessions/{past.id}/cancel", {"reason": " "})

    assert moved.status_code == 422
    assert message in text(moved) and "add an extra session" in text(moved)
    assert cancelled.status_code == 409
    assert message in text(cancelled) and "Record who came on its check-in page" in text(cancelled)
    assert blank.status_code == 422 and "Give a reason" in text(blank)
    assert stored(db, past) == before
    # Its theme and notes may still change.
    local = past.local_start
    saved = coordinator_client.post_form(
        f"/sessions/{past.id}/edit",
        {
            "date": local.date().isoformat(),
            "start_time": local.strftime("%H:%M"),
            "length_minutes": "120",
            "theme": "Eating out",
        },
    )
    assert saved.status_code == 302
    assert stored(db, past) == before
    assert db.session.get(GroupSession, past.id).theme == "Eating out"


def test_adding_an_extra_session(db, coordinator_client, scheduled_group, tomorrow):
    day = tomorrow + timedelta(days=3)
    response = coordinator_client.post_form(
        f"/groups/{scheduled_group.id}/sessions/new",
        {
            "date": day.isoformat(),
            "start_time": "10:00",
            "length_minutes": "90",
            "theme": "Cooking",
        },
    )
    assert response.status_code == 302
    extra = next(s for s in sessions_of(db, scheduled_group) if s.is_extra)
    assert response.headers["Location"].endswith(f"/sessions/{extra.id}")
    assert extra.local_start == datetime.combine(day, time(10, 0), NEW_YORK)
    group_page = text(coordinator_client.get(f"/groups/{scheduled_group.id}"))
    assert f"{day:%a} {day.day} {day:%b %Y}, 10:00 AM–11:30 AM" in group_page
    assert "Extra" in group_page and "Cooking" in group_page


def test_an_extra_session_without_a_date_is_refused(db, coordinator_client, scheduled_group):
    count = len(sessions_of(db, scheduled_group))
    response = coordinator_client.post_form(
        f"/groups/{scheduled_group.id}/sessions/new",
        {"date": "", "start_time": "10:00", "length_minutes": "90"},
    )
    assert response.status_code == 422
    assert len(sessions_of(db, scheduled_group)) == count


# The default plan


def plan_rows(*rows) -> dict:
    data = {}
    for i, (kind, name, minutes) in enumerate(rows):
        data[f"segments-{i}-kind"] = kind
        data[f"segments-{i}-name"] = name
        data[f"segments-{i}-minutes"] = str(minutes)
    return data


def test_editing_the_default_plan(db, coordinator_client, scheduled_group):
    page = text(coordinator_client.get(f"/groups/{scheduled_group.id}/plan"))
    assert 'name="segments-0-name"' in page and "Arrival and vitals" in page
    response = coordinator_client.post_form(
        f"/groups/{scheduled_group.id}/plan",
        plan_rows(
            ("arrival", "Arrival", 10),
            ("group", "Talking together", 50),
            ("one_on_one", "One-on-ones", 40),
            ("other", "", ""),
        ),
    )
    assert response.status_code == 302
    db.session.expire_all()
    plan = db.session.scalars(
        select(GroupPlanSegment)
        .where(GroupPlanSegment.group_id == scheduled_group.id)
        .order_by(GroupPlanSegment.position)
    ).all()
    assert [(s.kind, s.name, s.minutes) for s in plan] == [
        ("arrival", "Arrival", 10),
        ("group", "Talking together", 50),
        ("one_on_one", "One-on-ones", 40),
    ]


def test_a_plan_longer_than_the_session_is_refused_with_the_totals(
    db, coordinator_client, scheduled_group
):
    response = coordinator_client.post_form(
        f"/groups/{scheduled_group.id}/plan",
        plan_rows(("arrival", "Arrival", 60), ("group", "Talk", 60), ("wrap_up", "Goals", 30)),
    )
    assert response.status_code == 422
    assert "The plan takes 150 minutes but the session lasts 120." in text(response)
    db.session.expire_all()
    assert sum(s.minutes for s in db.session.get(VisitGroup, scheduled_group.id).plan) == 120


# Pause and close


def test_pausing_keeps_sessions_and_closing_cancels_them(db, coordinator_client, scheduled_group):
    group_id = scheduled_group.id
    count = len(sessions_of(db, scheduled_group))
    response = coordinator_client.post_form(
        f"/groups/{group_id}/status", {"status": "paused"}, follow_redirects=True
    )
    page = text(response)
    assert f"{scheduled_group.name} is now paused." in page
    assert '<span class="badge">Paused</span>' in page
    assert {s.status for s in sessions_of(db, scheduled_group)} == {"scheduled"}

    response = coordinator_client.post_form(
        f"/groups/{group_id}/status",
        {"status": "closed", "reason": "The programme ended"},
        follow_redirects=True,
    )
    page = text(response)
    assert "is now closed." in page
    assert f"{count} upcoming sessions are cancelled." in page
    sessions = sessions_of(db, scheduled_group)
    assert {(s.status, s.cancel_reason) for s in sessions} == {("cancelled", "The programme ended")}
    assert "Pause, restart or close this group" not in page

    response = coordinator_client.post_form(
        f"/groups/{group_id}/status", {"status": "active"}, follow_redirects=True
    )
    assert "A closed group stays closed" in text(response)
    db.session.expire_all()
    assert db.session.get(VisitGroup, group_id).status == "closed"


# The month calendar


def test_month_calendar_lists_that_months_sessions_at_local_times(
    db, coordinator_client, create_group, site
):
    group = create_group(
        site,
        rule="FREQ=WEEKLY;BYDAY=MO",
        start=date(YEAR, 2, 20),
        since=date(YEAR, 2, 20),
        until=date(YEAR, 4, 10),
        name="Monday group",
    )
    response = coordinator_client.get(f"/sites/{site.id}/calendar?month={YEAR}-03")
    assert response.status_code == 200
    page = text(response)
    mondays = [nth_weekday(YEAR, 3, 0, n) for n in range(1, 6)]
    mondays = [day for day in mondays if day.month == 3]
    for day in mondays:
        assert f"{day:%a} {day.day} {day:%b %Y}, 5:00 PM · Monday group" in page
    listed = re.findall(r"\w{3} \d{1,2} \w{3} \d{4}, \d{1,2}:\d\d [AP]M · Monday group", page)
    assert len(listed) == len(mondays)
    outside = [s for s in sessions_of(db, group) if s.local_start.month != 3]
    assert outside
    for group_session in outside:
        assert f"{group_session.local_start:%a %d %b}, 17:00" not in page


@pytest.mark.parametrize("month", ["2027-13", "March", "2027", "2027-03-01", "9999-12", "0001-01"])
def test_month_calendar_refuses_a_bad_month(coordinator_client, site, month):
    assert coordinator_client.get(f"/sites/{site.id}/calendar?month={month}").status_code == 400


def test_month_calendar_is_404_for_staff_of_another_site(create_user, sign_in_as, site, other_site):
    stranger = create_user(COORDINATOR, sites=[other_site])
    assert sign_in_as(stranger).get(f"/sites/{site.id}/calendar").status_code == 404


def test_month_calendar_is_refused_to_patients(patient_client, site):
    assert patient_client.get(f"/sites/{site.id}/calendar").status_code == 403


# Dashboards


def test_clinician_dashboard_lists_upcoming_sessions_in_local_time(
    db, clinician_client, scheduled_group
):
    page = text(clinician_client.get("/"))
    first = sessions_of(db, scheduled_group)[0]
    assert "Sessions at my clinics" in page
    assert shows_local_start(page, first) and scheduled_group.name in page


def test_patient_dashboard_lists_sessions_only_with_a_membership(
    db, patient, patient_client, scheduled_group
):
    first = sessions_of(db, scheduled_group)[0]
    page = text(patient_client.get("/"))
    assert "You are not in a group yet." in page
    assert "No sessions planned yet." in page
    assert not shows_local_start(page, first)

    add_member(db, scheduled_group, patient)
    page = text(patient_client.get("/"))
    assert shows_local_start(page, first)
    assert scheduled_group.name in page


def test_a_patient_sees_only_their_groups_page(
    db, patient, patient_client, scheduled_group, create_group, site, tomorrow
):
    add_member(db, scheduled_group, patient)
    other = create_group(site, rule="FREQ=WEEKLY;BYDAY=TU", start=tomorrow)
    assert patient_client.get(f"/groups/{scheduled_group.id}").status_code == 200
    assert patient_client.get(f"/groups/{other.id}").status_code == 404
    other_session = sessions_of(db, other)[0]
    assert patient_client.get(f"/sessions/{other_session.id}").status_code == 404


# Query counts do not grow with the data


def count_for(count_queries, client, url: str) -> int:
    assert client.get(url).status_code == 200  # warm up
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.count


def test_group_page_runs_as_many_queries_for_36_sessions_as_for_3(
    db, coordinator_client, create_group, site, tomorrow, count_queries, create_user
):
    few = create_group(
        site, rule="FREQ=WEEKLY;BYDAY=MO", start=tomorrow, until=tomorrow + timedelta(days=20)
    )
    many = create_group(
        site, rule="FREQ=WEEKLY;BYDAY=MO", start=tomorrow, until=tomorrow + timedelta(days=251)
    )
    assert len(sessions_of(db, few)) == 3 and len(sessions_of(db, many)) == 36
    for group in (few, many):
        add_member(db, group, create_user(PATIENT))
    small = count_for(count_queries, coordinator_client, f"/groups/{few.id}")
    large = count_for(count_queries, coordinator_client, f"/groups/{many.id}")
    assert small == large


def test_month_calendar_runs_as_many_queries_for_36_sessions_as_for_3(
    db, coordinator_client, create_group, site, count_queries
):
    may_start = date(YEAR, 5, 1)
    create_group(
        site,
        rule="FREQ=WEEKLY;BYDAY=MO",
        start=may_start,
        since=may_start,
        until=nth_weekday(YEAR, 5, 0, 3),
    )
    september = date(YEAR, 9, 1)
    for _ in range(9):
        create_group(
            site,
            rule="FREQ=WEEKLY;BYDAY=TH",
            start=september,
            since=september,
            until=nth_weekday(YEAR, 9, 3, 4),
        )
    small = count_for(
        count_queries, coordinator_client, f"/sites/{site.id}/calendar?month={YEAR}-05"
    )
    large = count_for(
        count_queries, coordinator_client, f"/sites/{site.id}/calendar?month={YEAR}-09"
    )
    page = text(coordinator_client.get(f"/sites/{site.id}/calendar?month={YEAR}-09"))
    assert len(re.findall(r'class="month__session', page)) == 36
    page = text(coordinator_client.get(f"/sites/{site.id}/calendar?month={YEAR}-05"))
    assert len(re.findall(r'class="month__session', page)) == 3
    assert small == large


def test_group_list_runs_as_many_queries_for_10_groups_as_for_2(
    db, coordinator_client, create_group, site, tomorrow, count_queries
):
    for _ in range(2):
        create_group(site, rule="FREQ=WEEKLY;BYDAY=WE", start=tomorrow)
    small = count_for(count_queries, coordinator_client, "/groups/")
    for _ in range(8):
        create_group(site, rule="FREQ=WEEKLY;BYDAY=WE", start=tomorrow)
    large = count_for(count_queries, coordinator_client, "/groups/")
    page = text(coordinator_client.get("/groups/"))
    assert page.count("/groups/") >= 10
    assert small == large


# Past days and clashes are refused on the forms, and nothing is saved


def session_form_data(group_session, **changes) -> dict:
    local = group_session.local_start
    data = {
        "date": local.date().isoformat(),
        "start_time": local.strftime("%H:%M"),
        "length_minutes": str(group_session.length_minutes),
        "location": group_session.location,
        "video_url": "",
        "theme": "",
        "notes": "",
    }
    data.update(changes)
    return data


def local_today() -> date:
    return datetime.now(NEW_YORK).date()


def test_moving_a_session_to_a_past_day_is_refused_on_the_form(
    db, coordinator_client, scheduled_group
):
    group_session = sessions_of(db, scheduled_group)[1]
    before = stored(db, group_session)
    past_day = local_today() - timedelta(days=3)

    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/edit",
        session_form_data(group_session, date=past_day.isoformat()),
    )

    assert response.status_code == 422
    page = text(response)
    assert "has passed. Choose a date and time still to come." in page
    assert 'id="date-error"' in page
    assert stored(db, group_session) == before


def test_an_extra_session_on_a_past_day_needs_the_record_a_past_session_choice(
    db, coordinator_client, scheduled_group
):
    url = f"/groups/{scheduled_group.id}/sessions/new"
    count = len(sessions_of(db, scheduled_group))
    past_day = local_today() - timedelta(days=10)
    data = {"date": past_day.isoformat(), "start_time": "10:00", "length_minutes": "90"}

    form = text(coordinator_client.get(url))
    assert '<label for="record_past">Record a past session</label>' in form
    refused = coordinator_client.post_form(url, data)

    assert refused.status_code == 422
    assert "has passed. Choose today or a later day, or tick “Record a past session”" in text(
        refused
    )
    assert len(sessions_of(db, scheduled_group)) == count

    recorded = coordinator_client.post_form(url, {**data, "record_past": "y"})

    assert recorded.status_code == 302
    added = [s for s in sessions_of(db, scheduled_group) if s.is_extra]
    assert [s.local_start.date() for s in added] == [past_day]


def test_a_session_clashing_in_the_same_room_is_refused_with_the_clash_named(
    db, coordinator_client, scheduled_group, create_group, site
):
    theirs = sessions_of(
        db,
        create_group(
            site,
            name="Tuesday evening group",
            rule="FREQ=WEEKLY;BYDAY=TU",
            start=local_today() + timedelta(days=1),
        ),
    )[0]
    ours = sessions_of(db, scheduled_group)[0]
    before = stored(db, ours)
    count = len(sessions_of(db, scheduled_group))
    local = theirs.local_start
    named = (
        f"Clashes with Tuesday evening group, {local:%a} {local.day} {local:%b %Y}, "
        "5:00 PM–7:00 PM in Community room."
    )

    added = coordinator_client.post_form(
        f"/groups/{scheduled_group.id}/sessions/new",
        {"date": local.date().isoformat(), "start_time": "18:00", "length_minutes": "90"},
    )
    moved = coordinator_client.post_form(
        f"/sessions/{ours.id}/edit",
        session_form_data(ours, date=local.date().isoformat(), start_time="16:00"),
    )

    assert added.status_code == moved.status_code == 422
    assert named in text(added) and named in text(moved)
    assert len(sessions_of(db, scheduled_group)) == count
    assert stored(db, ours) == before


def test_a_cancelled_session_whose_time_has_passed_is_not_put_back_on(
    db, coordinator_client, create_group, site
):
    today = local_today()
    group = create_group(
        site,
        rule="FREQ=WEEKLY;BYDAY=MO",
        start=today - timedelta(days=14),
        until=today + timedelta(days=14),
    )
    last = [s for s in sessions_of(db, group) if s.starts_at < datetime.now(UTC)][-1]
    last.status, last.cancel_reason = "cancelled", "Snow"
    db.session.commit()

    response = coordinator_client.post_form(f"/sessions/{last.id}/restore")

    assert response.status_code == 422
    assert "This session's time has passed, so it stays cancelled." in text(response)
    assert stored(db, last)[3] == "cancelled"
