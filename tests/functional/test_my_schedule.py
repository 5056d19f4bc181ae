"""A clinician's My schedule page, their home page and their calendar feed name their roles."""

from datetime import UTC, date, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import DOCUMENTER, FACILITATOR, PROVIDER, TimeOff

URL = "/my/schedule"
ADD = "/my/schedule/time-off"
REMOVE = "/my/schedule/time-off/remove"


def coming_sessions(db, group) -> list[GroupSession]:
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id, GroupSession.starts_at > datetime.now(UTC))
            .order_by(GroupSession.starts_at)
        )
    )


def assign(db, group_session, user, role, coordinator):
    assignment = team.assign_staff(group_session, user, role, actor=coordinator)
    db.session.commit()
    return assignment


def time_off(db, user, starts_at, days=1, reason=""):
    span = team.add_time_off(user, starts_at, starts_at + timedelta(days=days), reason, actor=user)
    db.session.commit()
    return span


@pytest.fixture
def weekly_group(create_group, site):
    return create_group(site, rule="FREQ=WEEKLY;BYDAY=TU", name="Tuesday evening group")


@pytest.fixture
def other_clinician(create_user):
    return create_user(CLINICIAN, given_name="Otto", family_name="Therclin")


def test_a_clinician_sees_only_their_own_sessions_roles_and_time_off(
    db, weekly_group, clinician, other_clinician, coordinator, sign_in_as
):
    first, second, third = coming_sessions(db, weekly_group)[:3]
    assign(db, first, clinician, PROVIDER, coordinator)
    assign(db, first, clinician, DOCUMENTER, coordinator)
    assign(db, second, other_clinician, FACILITATOR, coordinator)
    assign(db, third, clinician, FACILITATOR, coordinator)
    soon = datetime.now(UTC) + timedelta(days=200)
    time_off(db, clinician, soon, reason="Conference in Lisbon")
    time_off(db, other_clinician, soon, reason="Parental leave")

    page = sign_in_as(clinician).get(URL)
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert "Provider (one-on-one visits), Documenter" in html
    assert html.count("Tuesday evening group</td>") == 2  # first and third, not second
    assert f"/sessions/{second.id}" not in html
    assert "Conference in Lisbon" in html
    assert "Parental leave" not in html
    assert html.index(f"/sessions/{first.id}") < html.index(f"/sessions/{third.id}")


def test_adding_time_off_saves_it_in_the_sites_local_time(db, clinician, site, sign_in_as):
    client = sign_in_as(clinician)
    response = client.post_form(
        ADD,
        {
            "site_id": site.id,
            "start_date": "2030-01-10",
            "start_time": "09:00",
            "end_date": "2030-01-12",
            "end_time": "17:00",
            "reason": "Leave",
        },
    )
    assert response.status_code == 302
    saved = db.session.scalars(select(TimeOff)).one()
    # Eastside Clinic is in New York: 09:00 EST is 14:00 UTC.
    assert saved.starts_at == datetime(2030, 1, 10, 14, 0, tzinfo=UTC)
    assert saved.ends_at == datetime(2030, 1, 12, 22, 0, tzinfo=UTC)
    assert saved.user_id == clinician.id and saved.reason == "Leave"


def test_time_off_that_ends_before_it_starts_is_refused_with_422_and_nothing_saved(
    db, clinician, site, sign_in_as
):
    response = sign_in_as(clinician).post_form(
        ADD,
        {
            "site_id": site.id,
            "start_date": "2030-01-10",
            "start_time": "09:00",
            "end_date": "2030-01-09",
            "end_time": "17:00",
        },
    )
    assert response.status_code == 422
    assert "Time off must end after it starts." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(TimeOff)) == 0


def test_time_off_over_a_session_i_am_on_is_saved_with_a_warning(
    db, weekly_group, clinician, coordinator, sign_in_as
):
    group_session = coming_sessions(db, weekly_group)[1]
    assign(db, group_session, clinician, PROVIDER, coordinator)
    time_off(db, clinician, group_session.starts_at - timedelta(hours=2))

    html = sign_in_as(clinician).get(URL).get_data(as_text=True)

    assert "You are on Tuesday evening group on Tue " in html
    assert "during this time off: tell the coordinator." in html


def test_a_clinician_removes_their_own_time_off_but_not_a_colleagues(
    db, clinician, other_clinician, sign_in_as
):
    soon = datetime.now(UTC) + timedelta(days=30)
    mine = time_off(db, clinician, soon).id
    theirs = time_off(db, other_clinician, soon).id
    client = sign_in_as(clinician)

    assert client.post_form(REMOVE, {"time_off_id": theirs}).status_code == 404
    assert client.post_form(REMOVE, {"time_off_id": mine}).status_code == 302
    db.session.expire_all()
    assert [t.id for t in db.session.scalars(select(TimeOff))] == [theirs]


@pytest.mark.parametrize("role", ["patient", COORDINATOR])
def test_patients_and_coordinators_are_refused_the_clinician_pages(
    db, create_user, sign_in_as, role
):
    client = sign_in_as(create_user(role))
    assert client.get(URL).status_code == 403
    assert client.post_form(ADD, {}).status_code == 403
    assert client.post_form(REMOVE, {}).status_code == 403


def test_the_clinician_home_lists_my_sessions_with_roles_and_links_to_my_schedule(
    db, weekly_group, clinician, coordinator, sign_in_as
):
    group_session = coming_sessions(db, weekly_group)[2]
    assign(db, group_session, clinician, FACILITATOR, coordinator)

    html = sign_in_as(clinician).get("/").get_data(as_text=True)

    assert "My roles:</span> Facilitator" in html
    assert f'href="{URL}"' in html


def event_descriptions(app, db, clinician) -> dict[str, str]:
    from groupvisits.schedule import feeds

    token = feeds.feed_token(feeds.renew_feed(clinician))
    db.session.commit()
    body = app.test_client().get(f"/feeds/{token}.ics").data
    return {
        str(event["UID"]): str(event["DESCRIPTION"])
        for event in Calendar.from_ical(body).walk("VEVENT")
    }


def test_the_feed_names_my_role_and_nothing_else_new(
    app, db, weekly_group, clinician, coordinator, patient, sign_in_as
):
    mine, other = coming_sessions(db, weekly_group)[:2]
    assign(db, mine, clinician, PROVIDER, coordinator)
    team.add_core_member(weekly_group, clinician, FACILITATOR, actor=coordinator)
    db.session.commit()

    descriptions = event_descriptions(app, db, clinician)

    assert descriptions[f"group-session-{mine.id}@groupvisits.local"] == (
        "Group visit at your clinic. Details are in GroupVisits.\n"
        "Your role: Provider (one-on-one visits)"
    )
    assert descriptions[f"group-session-{other.id}@groupvisits.local"] == (
        "Group visit at your clinic. Details are in GroupVisits."
    )
    text = "\n".join(descriptions.values())
    assert "diabetes" not in text and patient.family_name not in text


def test_my_schedule_home_and_feed_cost_the_same_as_assignments_grow(
    app, db, weekly_group, clinician, coordinator, sign_in_as, count_queries
):
    from groupvisits.schedule import feeds

    sessions = coming_sessions(db, weekly_group)
    client = sign_in_as(clinician)
    token = feeds.feed_token(feeds.renew_feed(clinician))
    db.session.commit()
    urls = [URL, "/", f"/feeds/{token}.ics"]

    def costs() -> list[int]:
        counts = []
        for url in urls:
            client.get(url)
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.append(counter.count)
        return counts

    assign(db, sessions[0], clinician, PROVIDER, coordinator)
    time_off(db, clinician, sessions[0].starts_at)
    few = costs()
    for group_session in sessions[1:6]:
        assign(db, group_session, clinician, PROVIDER, coordinator)
        assign(db, group_session, clinician, DOCUMENTER, coordinator)
        time_off(db, clinician, group_session.starts_at - timedelta(hours=1))
    assert costs() == few


def test_first_day_of_the_form_is_a_real_date(db, clinician, sign_in_as):
    response = sign_in_as(clinician).post_form(
        ADD, {"start_date": "not a date", "start_time": "09:00", "end_date": str(date.today())}
    )
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(TimeOff)) == 0
