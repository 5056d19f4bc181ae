"""Room, video link and calendar file: only for members who hold a place and accepted the agreement.

A patient who waits, holds an offer or asked to join sees when and roughly where
the group meets (its site, its day and time), and so does an active member who
has not accepted the current agreement yet; the room and the video link stay
with members who accepted it, and with the site's staff.
"""

import html
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT
from groupvisits.roster import services
from groupvisits.roster.models import ACTIVE, OFFERED, REQUESTED, WAITLISTED, Membership
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

ROOM = "Room 214, second floor"
VIDEO = "https://video.example.org/j/secret-room-8812"
ICS_TYPE = "text/calendar; charset=utf-8"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def hybrid(db, site, create_group, create_user, coordinator):
    """A full hybrid group of three: the agreement accepted by one member, not by another;
    someone offered the place one member left, someone waiting, someone asking to join."""
    group = create_group(
        site,
        start=date.today() + timedelta(days=3),
        modality="hybrid",
        location=ROOM,
        video_url=VIDEO,
        min_members=1,
        target_members=3,
        max_members=3,
    )
    agreement = services.publish_agreement(group, "Stays in the group.", actor=coordinator)
    people = {
        name: create_user(PATIENT, given_name=name.title())
        for name in ("agreed", "unagreed", "leaving", "offered", "waitlisted", "requested")
    }
    for name in ("agreed", "unagreed", "leaving", "offered", "waitlisted"):
        services.enrol(group, people[name], actor=coordinator)
    services.accept_agreement(agreement, people["agreed"], actor=people["agreed"])
    leaving = services.current_membership(group, people["leaving"])
    services.end_membership(leaving, "Moved away", actor=coordinator)
    services.request_to_join(group, people["requested"], "")
    db.session.commit()
    statuses = {
        name: services.current_membership(group, person).status
        for name, person in people.items()
        if name != "leaving"
    }
    assert statuses == {
        "agreed": ACTIVE,
        "unagreed": ACTIVE,
        "offered": OFFERED,
        "waitlisted": WAITLISTED,
        "requested": REQUESTED,
    }
    group_session = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
    ).first()
    return {"group": group, "session_id": group_session.id, **people}


def assert_no_details(page: str) -> None:
    assert VIDEO not in page
    assert "secret-room" not in page
    assert ROOM not in page
    assert "calendar.ics" not in page


@pytest.mark.parametrize("who", ["waitlisted", "offered", "unagreed"])
def test_group_page_shows_when_and_roughly_where_but_not_the_room_or_link(
    sign_in_as, hybrid, site, who
):
    group = hybrid["group"]

    response = sign_in_as(hybrid[who]).get(f"/groups/{group.id}")

    assert response.status_code == 200
    page = text(response)
    assert_no_details(page)
    assert site.name in page and "5:00 PM" in page and "Hybrid" in page


@pytest.mark.parametrize("who", ["waitlisted", "offered", "unagreed"])
def test_session_page_shows_the_time_but_not_the_room_link_or_calendar_file(
    sign_in_as, hybrid, who
):
    response = sign_in_as(hybrid[who]).get(f"/sessions/{hybrid['session_id']}")

    assert response.status_code == 200
    page = text(response)
    assert_no_details(page)
    assert "5:00 PM" in page and "Hybrid" in page


@pytest.mark.parametrize("who", ["waitlisted", "offered", "unagreed"])
def test_session_calendar_file_is_refused_with_a_reason(sign_in_as, hybrid, who):
    response = sign_in_as(hybrid[who]).get(f"/sessions/{hybrid['session_id']}/calendar.ics")

    assert response.status_code == 403
    page = text(response)
    assert "accepted the group agreement" in page
    assert_no_details(page)


def test_a_pending_request_opens_neither_page_nor_file(sign_in_as, hybrid):
    client = sign_in_as(hybrid["requested"])
    session_id = hybrid["session_id"]

    for url in (
        f"/groups/{hybrid['group'].id}",
        f"/sessions/{session_id}",
        f"/sessions/{session_id}/calendar.ics",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert_no_details(text(response))
    my_groups = text(client.get("/my/groups"))
    assert hybrid["group"].name in my_groups and "Asked to join" in my_groups
    assert_no_details(my_groups)


@pytest.mark.parametrize("who", ["waitlisted", "offered", "requested"])
def test_my_groups_tells_when_the_group_meets_without_the_room_or_link(
    sign_in_as, hybrid, site, who
):
    page = text(sign_in_as(hybrid[who]).get("/my/groups"))

    assert_no_details(page)
    assert f"at {site.name}" in page and "5:00 PM" in page


def test_a_member_who_accepted_the_agreement_sees_room_link_and_file(sign_in_as, hybrid):
    client = sign_in_as(hybrid["agreed"])
    session_id = hybrid["session_id"]

    group_page = text(client.get(f"/groups/{hybrid['group'].id}"))
    assert ROOM in group_page and VIDEO in group_page
    session_page = text(client.get(f"/sessions/{session_id}"))
    assert ROOM in session_page and VIDEO in session_page
    assert f"/sessions/{session_id}/calendar.ics" in session_page
    download = client.get(f"/sessions/{session_id}/calendar.ics")
    assert download.status_code == 200 and download.headers["Content-Type"] == ICS_TYPE
    body = download.get_data(as_text=True)
    assert "secret-room" in body and "Room 214" in body
    assert ROOM in text(client.get("/my/sessions"))


def test_a_member_without_the_agreement_sees_no_room_on_their_session_cards(sign_in_as, hybrid):
    client = sign_in_as(hybrid["unagreed"])

    for url in ("/my/sessions", "/"):
        page = text(client.get(url))
        assert "read and accept the group agreement" in page, url
        assert ROOM not in page and VIDEO not in page, url


def test_staff_of_the_site_see_room_link_and_file(coordinator_client, clinician_client, hybrid):
    session_id = hybrid["session_id"]
    for client in (coordinator_client, clinician_client):
        assert VIDEO in text(client.get(f"/groups/{hybrid['group'].id}"))
        session_page = text(client.get(f"/sessions/{session_id}"))
        assert ROOM in session_page and VIDEO in session_page
        download = client.get(f"/sessions/{session_id}/calendar.ics")
        assert download.status_code == 200 and download.headers["Content-Type"] == ICS_TYPE


def test_accepting_the_agreement_opens_the_details(db, sign_in_as, hybrid):
    client = sign_in_as(hybrid["unagreed"])
    session_id = hybrid["session_id"]
    assert client.get(f"/sessions/{session_id}/calendar.ics").status_code == 403

    client.post_form(f"/groups/{hybrid['group'].id}/agreement/accept", {"share_name": "no"})

    assert client.get(f"/sessions/{session_id}/calendar.ics").status_code == 200
    assert VIDEO in text(client.get(f"/sessions/{session_id}"))
    membership = db.session.scalar(
        select(Membership).where(Membership.patient_id == hybrid["unagreed"].id)
    )
    assert membership.status == ACTIVE


def test_my_groups_and_my_sessions_cost_the_same_queries_for_three_groups_as_for_one(
    db, sign_in_as, site, create_group, create_user, coordinator, count_queries
):
    one, three = create_user(PATIENT), create_user(PATIENT)
    groups = [create_group(site, start=date.today() + timedelta(days=3)) for _ in range(3)]
    for group in groups:
        services.publish_agreement(group, "Stays in the group.", actor=coordinator)
    services.enrol(groups[0], one, actor=coordinator)
    for group in groups:
        services.enrol(group, three, actor=coordinator)
    db.session.commit()
    clients = {patient.id: sign_in_as(patient) for patient in (one, three)}

    def queries(patient, url) -> int:
        clients[patient.id].get(url)  # first visit: one-off work
        with count_queries() as counter:
            assert clients[patient.id].get(url).status_code == 200
        return counter.count

    for url in ("/my/groups", "/my/sessions", "/", f"/groups/{groups[0].id}"):
        assert queries(one, url) == queries(three, url), url
