"""A session's agenda over HTTP: the facilitator's page, publishing to members, outcomes and
"What we talked about"; bad input, access, anonymity, audit rows and query counts."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.agenda import agenda_building, agenda_outcomes, sessions
from groupvisits.agenda.models import (
    ACCEPTED,
    ANONYMOUS,
    CARRIED_OVER,
    DECLINED,
    DISCUSSED,
    KEPT,
    MERGED,
    OPEN,
    PLANNED,
    QUESTION,
    AgendaItem,
    AgendaTopic,
)
from groupvisits.audit import AuditEvent
from groupvisits.roster.models import ENDED, WAITLISTED, WITHDRAWN
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow
from tests.unit import test_agenda_services as shared
from tests.unit.test_agenda_services import add_member, make_topic, vote_pairs

# The agenda's fixtures, shared with its service tests.
agenda_world = shared.agenda_world
unmerge_topics_at_teardown = shared.unmerge_topics_at_teardown

XSS = "<script>alert('x')</script>"


def page(client, url, status=200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def agenda_url(group_session) -> str:
    return f"/sessions/{group_session.id}/agenda"


def items_of(db, session_id):
    db.session.rollback()
    return db.session.execute(
        select(AgendaItem.topic_id, AgendaItem.minutes, AgendaItem.outcome)
        .where(AgendaItem.session_id == session_id)
        .order_by(AgendaItem.position)
    ).all()


def status_of(db, topic_id):
    db.session.rollback()
    return db.session.scalar(select(AgendaTopic.status).where(AgendaTopic.id == topic_id))


@pytest.fixture
def ids(agenda_world):
    """Plain ids of the world (objects expire with each request's commit)."""
    w = agenda_world
    return {
        "group": w.group.id,
        "session": w.group_session.id,
        "later": w.later_session.id,
    }


@pytest.fixture
def facilitator_client(sign_in_as, agenda_world):
    return sign_in_as(agenda_world.facilitator)


@pytest.fixture
def member_client(sign_in_as, agenda_world):
    return sign_in_as(agenda_world.members[0])


def started(db, group_session_id):
    """Move the session so that it began half an hour ago."""
    group_session = db.session.get(GroupSession, group_session_id)
    length = group_session.ends_at - group_session.starts_at
    group_session.starts_at = utcnow() - timedelta(minutes=30)
    group_session.ends_at = group_session.starts_at + length
    db.session.commit()


# The facilitator's page


def test_the_facilitators_page_shows_topics_by_votes_the_agenda_and_the_minutes_left(
    db, agenda_world, facilitator_client
):
    w = agenda_world
    m = w.members
    make_topic(db, w.group, "Few votes", votes=m[:1], proposer=m[0])
    make_topic(db, w.group, "Many votes", votes=m[:3], proposer=m[1])
    on_agenda = make_topic(db, w.group, "Already planned", votes=m[:2])
    agenda_building.accept(w.group_session, on_agenda, 15, actor=w.coordinator)
    make_topic(db, w.group, "Old question?", kind=QUESTION, session_id=w.group_session.id)
    make_topic(db, w.group, "New question?", kind=QUESTION, session_id=w.group_session.id)
    make_topic(
        db,
        w.group,
        "Hidden question?",
        kind=QUESTION,
        session_id=w.group_session.id,
        hidden_at=utcnow(),
    )
    db.session.commit()

    html = page(facilitator_client, agenda_url(w.group_session))

    assert html.index("Many votes") < html.index("Few votes")
    assert '<span class="budget__number">30</span> minutes left' in html
    assert "of 45 minutes of group conversation" in html
    assert "Already planned" in html and "15</span> min" in html
    assert "Add to agenda" in html and "Publish to members now" in html
    assert "Open questions" in html
    assert html.index("New question?") < html.index("Old question?")
    assert "Hidden question?" not in html
    assert 'href="/static/agenda_session.css"' in html


def test_adding_a_topic_puts_it_on_the_agenda(db, agenda_world, facilitator_client, ids):
    w = agenda_world
    topic = make_topic(db, w.group, "Eating out")
    response = facilitator_client.post_form(
        f"/sessions/{ids['session']}/agenda/items", {"topic_id": topic.id, "minutes": "20"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{ids['session']}/agenda#agenda")
    assert items_of(db, ids["session"]) == [(topic.id, 20, PLANNED)]
    html = page(facilitator_client, agenda_url(w.group_session))
    assert "“Eating out” is on the agenda, 20 minutes." in html
    assert '<span class="budget__number">25</span> minutes left' in html


def test_an_agenda_past_the_group_conversation_is_refused_with_the_minutes_left(
    db, agenda_world, facilitator_client, ids
):
    w = agenda_world
    planned, topic = make_topic(db, w.group, "Planned"), make_topic(db, w.group, "Too long")
    agenda_building.accept(w.group_session, planned, 40, actor=w.coordinator)
    db.session.commit()

    response = facilitator_client.post_form(
        f"/sessions/{ids['session']}/agenda/items", {"topic_id": topic.id, "minutes": "10"}
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "5 minutes left of the 45-minute group conversation" in html
    assert 'role="alert"' in html
    assert items_of(db, ids["session"]) == [(planned.id, 40, PLANNED)]
    assert status_of(db, topic.id) == OPEN


@pytest.mark.parametrize("minutes", ["", "abc", "0", "181", "1.5", "-3"])
def test_a_bad_time_box_is_refused_and_nothing_saved(
    db, agenda_world, facilitator_client, ids, minutes
):
    topic = make_topic(db, agenda_world.group, "Eating out")
    response = facilitator_client.post_form(
        f"/sessions/{ids['session']}/agenda/items", {"topic_id": topic.id, "minutes": minutes}
    )
    assert response.status_code == 422
    assert "from 1 to 180 minutes" in response.get_data(as_text=True)
    assert items_of(db, ids["session"]) == []


def test_a_topic_of_another_group_or_none_is_refused_and_nothing_saved(
    db, agenda_world, facilitator_client, ids, create_group
):
    elsewhere = make_topic(db, create_group(rule=None), "Elsewhere")
    url = f"/sessions/{ids['session']}/agenda/items"
    response = facilitator_client.post_form(url, {"topic_id": elsewhere.id, "minutes": "10"})
    assert response.status_code == 422
    assert "That topic belongs to another group." in response.get_data(as_text=True)
    for topic_id in ("", "0", "999999", "x", str(2**40)):
        response = facilitator_client.post_form(url, {"topic_id": topic_id, "minutes": "10"})
        assert response.status_code == 422, topic_id
    assert items_of(db, ids["session"]) == []
    assert status_of(db, elsewhere.id) == OPEN


def test_time_boxes_order_and_removal(db, agenda_world, facilitator_client, ids):
    w = agenda_world
    a, b, c = (make_topic(db, w.group, t) for t in ("Alpha", "Bravo", "Charlie"))
    items = [agenda_building.accept(w.group_session, t, 10, actor=w.coordinator) for t in (a, b, c)]
    db.session.commit()
    item_ids = [i.id for i in items]

    assert (
        facilitator_client.post_form(
            f"/agenda-items/{item_ids[0]}/minutes", {"minutes": "25"}
        ).status_code
        == 302
    )
    response = facilitator_client.post_form(
        f"/agenda-items/{item_ids[1]}/minutes", {"minutes": "20"}
    )
    assert response.status_code == 422
    assert "0 minutes left" in response.get_data(as_text=True)
    assert (
        facilitator_client.post_form(
            f"/agenda-items/{item_ids[2]}/position", {"position": "1"}
        ).status_code
        == 302
    )
    assert items_of(db, ids["session"]) == [
        (c.id, 10, PLANNED),
        (a.id, 25, PLANNED),
        (b.id, 10, PLANNED),
    ]
    assert (
        facilitator_client.post_form(
            f"/agenda-items/{item_ids[2]}/position", {"position": "x"}
        ).status_code
        == 422
    )
    assert facilitator_client.post_form(f"/agenda-items/{item_ids[0]}/remove").status_code == 302
    assert items_of(db, ids["session"]) == [(c.id, 10, PLANNED), (b.id, 10, PLANNED)]
    assert status_of(db, a.id) == OPEN


# Publishing


def test_members_see_the_agenda_only_once_published_without_names_or_details(
    db, agenda_world, facilitator_client, member_client, ids
):
    w = agenda_world
    proposer = w.members[1]
    topic = make_topic(
        db, w.group, "Eating out", proposer=proposer, details="My private worry about money"
    )
    agenda_building.accept(w.group_session, topic, 20, actor=w.coordinator)
    db.session.commit()

    before = page(member_client, agenda_url(w.group_session))
    assert "Eating out" not in before
    assert "The agenda is not published yet" in before

    assert (
        facilitator_client.post_form(f"/sessions/{ids['session']}/agenda/publish").status_code
        == 302
    )
    db.session.rollback()
    assert db.session.get(GroupSession, ids["session"]).agenda_published_at is not None
    after = page(member_client, agenda_url(w.group_session))
    assert "Eating out" in after and "20 min" in after
    assert "private worry" not in after
    assert proposer.given_name not in after and proposer.family_name not in after
    assert "Add to agenda" not in after and "Publish" not in after

    again = facilitator_client.post_form(f"/sessions/{ids['session']}/agenda/publish")
    assert again.status_code == 302
    assert "already published" in page(facilitator_client, agenda_url(w.group_session))


def test_publishing_an_empty_agenda_is_refused(db, agenda_world, facilitator_client, ids):
    response = facilitator_client.post_form(f"/sessions/{ids['session']}/agenda/publish")
    assert response.status_code == 422
    assert "at least one topic" in response.get_data(as_text=True)
    assert db.session.get(GroupSession, ids["session"]).agenda_published_at is None


# Merging, declining, keeping


def test_merge_from_the_agenda_page_carries_votes_over(db, agenda_world, facilitator_client, ids):
    w = agenda_world
    m = w.members
    dup = make_topic(db, w.group, "Restaurants", votes=[m[0], m[1]])
    into = make_topic(db, w.group, "Eating out", votes=[m[1], m[2]])
    response = facilitator_client.post_form(
        f"/topics/{dup.id}/merge", {"into": into.id, "session_id": ids["session"]}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{ids['session']}/agenda#topics")
    assert status_of(db, dup.id) == MERGED
    assert vote_pairs(db, into.id) == {m[0].id, m[1].id, m[2].id}
    html = page(facilitator_client, agenda_url(w.group_session))
    assert "(1 vote carried over)" in html


def test_bad_merges_are_refused_with_a_message_and_nothing_saved(
    db, agenda_world, facilitator_client, ids, create_group
):
    w = agenda_world
    dup = make_topic(db, w.group, "Restaurants", votes=w.members[:1])
    elsewhere = make_topic(db, create_group(rule=None), "Elsewhere")
    for into, words in [
        ("", "Choose the topic to merge this one into."),
        (str(dup.id), "Choose another topic"),
        (str(elsewhere.id), "Only topics of the same group can be merged."),
        ("999999", "Choose the topic to merge this one into."),
    ]:
        response = facilitator_client.post_form(
            f"/topics/{dup.id}/merge", {"into": into, "session_id": ids["session"]}
        )
        assert response.status_code == 422, into
        assert words in response.get_data(as_text=True), into
    assert status_of(db, dup.id) == OPEN
    assert len(vote_pairs(db, dup.id)) == 1


def test_declining_needs_a_kind_reason(db, agenda_world, facilitator_client, ids):
    w = agenda_world
    topic = make_topic(db, w.group, "Off topic")
    for reason in ("", "   "):
        response = facilitator_client.post_form(
            f"/topics/{topic.id}/decline", {"reason": reason, "session_id": ids["session"]}
        )
        assert response.status_code == 422
        assert "Write a kind reason" in response.get_data(as_text=True)
    assert status_of(db, topic.id) == OPEN

    response = facilitator_client.post_form(
        f"/topics/{topic.id}/decline",
        {"reason": "Your care team can help one-on-one.", "session_id": ids["session"]},
    )
    assert response.status_code == 302
    db.session.rollback()
    declined = db.session.get(AgendaTopic, topic.id)
    assert (declined.status, declined.decline_reason) == (
        DECLINED,
        "Your care team can help one-on-one.",
    )


def test_topic_actions_without_an_agenda_page_return_to_the_group(
    db, agenda_world, facilitator_client, ids
):
    w = agenda_world
    topic = make_topic(db, w.group, "Later")
    response = facilitator_client.post_form(f"/topics/{topic.id}/keep")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/groups/{ids['group']}")
    assert status_of(db, topic.id) == KEPT
    junk = facilitator_client.post_form(f"/topics/{topic.id}/keep", {"session_id": "abc"})
    assert junk.status_code == 422
    again = facilitator_client.post_form(f"/topics/{topic.id}/keep")
    assert again.status_code == 409
    assert "already kept" in again.get_data(as_text=True)
    empty = facilitator_client.post_form(f"/topics/{topic.id}/decline", {"reason": ""})
    assert empty.status_code == 422
    assert "Write a kind reason" in empty.get_data(as_text=True)


# During and after the session


def test_marking_a_topic_talked_about_and_reading_it_in_the_history(
    db, agenda_world, facilitator_client, member_client, ids
):
    w = agenda_world
    topic = make_topic(db, w.group, "Eating out")
    item = agenda_building.accept(w.group_session, topic, 20, actor=w.coordinator)
    db.session.commit()
    item_id = item.id
    url = f"/agenda-items/{item_id}/discussed"

    too_early = facilitator_client.post_form(url, {"summary": "Soon"})
    assert too_early.status_code == 409
    assert "once the session has begun" in too_early.get_data(as_text=True)

    started(db, ids["session"])
    assert "Talked about: write a summary" in page(facilitator_client, agenda_url(w.group_session))
    insecure = facilitator_client.post_form(
        url, {"summary": "Tips", "links": "http://menu.example.org/tips"}
    )
    assert insecure.status_code == 422
    assert "starting with https://" in insecure.get_data(as_text=True)
    long = facilitator_client.post_form(url, {"summary": "x" * 1001})
    assert long.status_code == 422
    assert items_of(db, ids["session"]) == [(topic.id, 20, PLANNED)]

    response = facilitator_client.post_form(
        url,
        {"summary": "We shared tips for ordering.", "links": "https://menu.example.org/tips"},
    )
    assert response.status_code == 302
    assert items_of(db, ids["session"]) == [(topic.id, 20, DISCUSSED)]
    history = page(member_client, f"/groups/{ids['group']}/talked-about")
    assert "Eating out" in history and "We shared tips for ordering." in history
    assert '<a href="https://menu.example.org/tips" rel="noopener noreferrer">' in history


def test_what_we_talked_about_shows_the_latest_sessions_and_pages_to_earlier_ones(
    db, agenda_world, member_client, ids, monkeypatch
):
    w = agenda_world
    monkeypatch.setattr(sessions, "TALKED_PAGE", 2)
    three = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == w.group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
        .limit(3)
    ).all()
    for n, group_session in enumerate(three):
        item = agenda_building.accept(
            group_session, make_topic(db, w.group, f"Talk {n}"), 10, actor=w.coordinator
        )
        agenda_outcomes.mark_discussed(
            item, f"Summary {n}", "", actor=w.coordinator, now=group_session.starts_at
        )
    db.session.commit()
    url = f"/groups/{ids['group']}/talked-about"

    latest, earlier = page(member_client, url), page(member_client, f"{url}?page=2")

    assert ["Talk 2" in latest, "Talk 1" in latest, "Talk 0" in latest] == [True, True, False]
    assert ["Talk 2" in earlier, "Talk 1" in earlier, "Talk 0" in earlier] == [False, False, True]
    assert "page 1 of 2" in latest
    assert f'href="{url}?page=2">Earlier sessions' in latest
    assert f'href="{url}?page=1">Later sessions' in earlier and "Earlier sessions" not in earlier
    for beyond in ("page=3", "page=0", "page=x1"):
        status = member_client.get(f"{url}?{beyond}").status_code
        assert status == (200 if beyond == "page=x1" else 404), beyond


def test_carrying_a_topic_over_sends_it_to_the_next_session_open_for_votes(
    db, agenda_world, facilitator_client, ids
):
    w = agenda_world
    topic = make_topic(db, w.group, "Eating out", votes=w.members[:2])
    item = agenda_building.accept(w.group_session, topic, 20, actor=w.coordinator)
    db.session.commit()
    response = facilitator_client.post_form(f"/agenda-items/{item.id}/carry-over")
    assert response.status_code == 302
    assert items_of(db, ids["session"]) == [(topic.id, 20, CARRIED_OVER)]
    carried = db.session.get(AgendaTopic, topic.id)
    assert (carried.status, carried.session_id) == (OPEN, ids["later"])
    assert len(vote_pairs(db, topic.id)) == 2
    again = facilitator_client.post_form(f"/agenda-items/{item.id}/carry-over")
    assert again.status_code == 409


# Access


def test_members_of_other_groups_former_and_waitlisted_members_get_404(
    db, agenda_world, sign_in_as, create_user, create_group, site, ids
):
    w = agenda_world
    topic = make_topic(db, w.group, "Eating out")
    item = agenda_building.accept(w.group_session, topic, 10, actor=w.coordinator)
    agenda_building.publish(w.group_session, actor=w.coordinator)
    db.session.commit()
    other_group = create_group(rule=None)
    outsiders = {
        "other group": add_member(db, other_group, create_user(PATIENT, sites=[site])),
        "ended": add_member(db, w.group, create_user(PATIENT, sites=[site]), status=ENDED),
        "withdrawn": add_member(db, w.group, create_user(PATIENT, sites=[site]), status=WITHDRAWN),
        "no group": create_user(PATIENT, sites=[site]),
    }
    waiting = create_user(PATIENT, sites=[site])
    db.session.commit()
    from groupvisits.roster.models import Membership

    db.session.add(
        Membership(
            group_id=w.group.id, patient_id=waiting.id, status=WAITLISTED, waitlist_position=1
        )
    )
    db.session.commit()
    outsiders["waitlisted"] = waiting
    for who, patient in outsiders.items():
        client = sign_in_as(patient)
        for url in (f"/sessions/{ids['session']}/agenda", f"/groups/{ids['group']}/talked-about"):
            response = client.get(url)
            assert response.status_code == 404, (who, url)
            assert "Eating out" not in response.get_data(as_text=True)
        assert client.post_form(f"/agenda-items/{item.id}/remove").status_code == 403, who


def test_members_read_but_never_curate(db, agenda_world, member_client, ids):
    w = agenda_world
    topic = make_topic(db, w.group, "Eating out")
    other = make_topic(db, w.group, "Other")
    item = agenda_building.accept(w.group_session, topic, 10, actor=w.coordinator)
    db.session.commit()
    assert member_client.get(agenda_url(w.group_session)).status_code == 200
    assert member_client.get(f"/groups/{ids['group']}/talked-about").status_code == 200
    for url, data in [
        (f"/sessions/{ids['session']}/agenda/items", {"topic_id": other.id, "minutes": "5"}),
        (f"/sessions/{ids['session']}/agenda/publish", {}),
        (f"/agenda-items/{item.id}/minutes", {"minutes": "5"}),
        (f"/agenda-items/{item.id}/remove", {}),
        (f"/topics/{other.id}/decline", {"reason": "No"}),
        (f"/topics/{other.id}/keep", {}),
    ]:
        assert member_client.post_form(url, data).status_code == 403, url
    assert items_of(db, ids["session"]) == [(topic.id, 10, PLANNED)]
    assert status_of(db, other.id) == OPEN


def test_clinicians_not_facilitating_read_but_do_not_curate(db, agenda_world, sign_in_as, ids):
    w = agenda_world
    topic = make_topic(db, w.group, "Eating out")
    other = make_topic(db, w.group, "Other")
    item = agenda_building.accept(w.group_session, topic, 10, actor=w.coordinator)
    db.session.commit()
    client = sign_in_as(w.bystander)
    html = page(client, agenda_url(w.group_session))
    assert "Eating out" in html and "Other" in html
    assert "You can read this agenda" in html
    assert "Add to agenda" not in html and "Publish to members now" not in html
    assert "Merge" not in html and "Take off" not in html
    for url, data in [
        (f"/sessions/{ids['session']}/agenda/items", {"topic_id": other.id, "minutes": "5"}),
        (f"/sessions/{ids['session']}/agenda/publish", {}),
        (f"/agenda-items/{item.id}/minutes", {"minutes": ""}),
        (f"/agenda-items/{item.id}/carry-over", {}),
        (f"/topics/{other.id}/merge", {"into": topic.id}),
        (f"/topics/{other.id}/decline", {"reason": ""}),
    ]:
        response = client.post_form(url, data)
        assert response.status_code == 403, url
    assert items_of(db, ids["session"]) == [(topic.id, 10, PLANNED)]
    assert status_of(db, other.id) == OPEN


def test_coordinators_of_the_site_curate_and_other_sites_get_404(
    db, agenda_world, sign_in_as, create_user, other_site, ids
):
    w = agenda_world
    topic, other = make_topic(db, w.group, "Eating out"), make_topic(db, w.group, "Other")
    item = agenda_building.accept(w.group_session, topic, 10, actor=w.coordinator)
    db.session.commit()
    coordinator = sign_in_as(w.coordinator)
    assert (
        coordinator.post_form(
            f"/sessions/{ids['session']}/agenda/items", {"topic_id": other.id, "minutes": "5"}
        ).status_code
        == 302
    )

    stranger = sign_in_as(create_user(COORDINATOR, sites=[other_site]))
    assert stranger.get(agenda_url(w.group_session)).status_code == 404
    assert stranger.get(f"/groups/{ids['group']}/talked-about").status_code == 404
    for url in (
        f"/sessions/{ids['session']}/agenda/publish",
        f"/agenda-items/{item.id}/remove",
        f"/agenda-items/{item.id}/carry-over",
        f"/topics/{other.id}/keep",
        f"/topics/{other.id}/decline",
        "/agenda-items/999999/remove",
        "/topics/999999/keep",
    ):
        assert stranger.post_form(url, {"reason": "x"}).status_code == 404, url
    assert items_of(db, ids["session"]) == [(topic.id, 10, PLANNED), (other.id, 5, PLANNED)]


def test_a_clinician_of_another_site_gets_404(
    db, agenda_world, sign_in_as, create_user, other_site
):
    w = agenda_world
    client = sign_in_as(create_user(CLINICIAN, sites=[other_site]))
    assert client.get(agenda_url(w.group_session)).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, agenda_world, ids):
    response = client.get(f"/sessions/{ids['session']}/agenda")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# Anonymity, markup and audit


@pytest.fixture
def secret_proposer(db, agenda_world, create_user, site):
    """A member with a name that appears nowhere else."""
    member = add_member(
        db,
        agenda_world.group,
        create_user(PATIENT, sites=[site], given_name="Zephyrine", family_name="Quillfeather"),
    )
    db.session.commit()
    return member


def test_an_anonymous_topics_proposer_appears_in_no_page(
    db, agenda_world, secret_proposer, facilitator_client, member_client, ids
):
    w = agenda_world
    anonymous = make_topic(
        db, w.group, "Worried about costs", proposer=secret_proposer, shown_as=ANONYMOUS
    )
    fully = make_topic(db, w.group, "Something private", shown_as=ANONYMOUS)
    open_anonymous = make_topic(
        db,
        w.group,
        "Still open",
        proposer=secret_proposer,
        shown_as=ANONYMOUS,
        votes=[secret_proposer],
    )
    for topic in (anonymous, fully):
        agenda_building.accept(w.group_session, topic, 10, actor=w.coordinator)
    agenda_building.publish(w.group_session, actor=w.coordinator)
    db.session.commit()
    assert open_anonymous.id

    pages = {
        "facilitator": page(facilitator_client, agenda_url(w.group_session)),
        "member agenda": page(member_client, agenda_url(w.group_session)),
    }
    started(db, ids["session"])
    for item in db.session.scalars(select(AgendaItem)):
        agenda_outcomes.mark_discussed(item, "We talked.", "", actor=w.coordinator)
    db.session.commit()
    pages["member history"] = page(member_client, f"/groups/{ids['group']}/talked-about")
    pages["staff history"] = page(facilitator_client, f"/groups/{ids['group']}/talked-about")
    pages["proposer's own agenda"] = page(
        member_client, agenda_url(db.session.get(GroupSession, ids["session"]))
    )

    for name, html in pages.items():
        assert "Zephyrine" not in html and "Quillfeather" not in html, name
        assert f"/people/{secret_proposer.id}" not in html, name
    assert "Still open" in pages["facilitator"] and "Anonymous" in pages["facilitator"]
    db.session.rollback()
    assert not db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.patient_id == secret_proposer.id, AuditEvent.actor_id.is_not(None)
        )
    ).all()


def test_a_named_topics_proposer_is_shown_to_staff_and_each_showing_is_audited(
    db, agenda_world, secret_proposer, facilitator_client, member_client
):
    w = agenda_world
    topic = make_topic(db, w.group, "Walking group", proposer=secret_proposer)
    make_topic(db, w.group, "By the team", proposer=w.coordinator, proposed_by_staff=True)
    db.session.commit()

    html = page(facilitator_client, agenda_url(w.group_session))
    assert "Put forward by Zephyrine Quillfeather" in html
    assert "Put forward by the team" in html
    db.session.rollback()
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == w.facilitator.id)
    ).all()
    assert [(e.action, e.patient_id, e.object_type, e.object_id) for e in events] == [
        ("view", secret_proposer.id, "agenda topic", topic.id)
    ]
    assert "Zephyrine" not in page(member_client, agenda_url(w.group_session))
    db.session.rollback()
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.actor_id == w.members[0].id)
    ).all()


def test_nothing_anyone_wrote_becomes_markup(
    db, agenda_world, facilitator_client, member_client, ids
):
    w = agenda_world
    titled = make_topic(db, w.group, XSS, details=XSS, proposer=w.members[1])
    make_topic(db, w.group, f"Open {XSS}", details=XSS)
    make_topic(db, w.group, XSS, kind=QUESTION, session_id=w.group_session.id, details=XSS)
    item = agenda_building.accept(w.group_session, titled, 10, actor=w.coordinator)
    agenda_building.publish(w.group_session, actor=w.coordinator)
    db.session.commit()
    item_id = item.id
    started(db, ids["session"])
    response = facilitator_client.post_form(
        f"/agenda-items/{item_id}/discussed", {"summary": XSS, "links": "javascript:alert(1)"}
    )
    assert response.status_code == 422
    assert "<script>alert" not in response.get_data(as_text=True)
    assert (
        facilitator_client.post_form(
            f"/agenda-items/{item_id}/discussed",
            {"summary": XSS, "links": "https://example.org/?q=<script>alert(1)</script>"},
        ).status_code
        == 302
    )
    refused = facilitator_client.post_form(f"/agenda-items/{item_id}/minutes", {"minutes": XSS})
    assert refused.status_code == 422
    for html in (
        refused.get_data(as_text=True),
        page(facilitator_client, agenda_url(w.group_session)),
        page(member_client, agenda_url(w.group_session)),
        page(member_client, f"/groups/{ids['group']}/talked-about"),
    ):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(" in html


# Query counts


def queries_for(count_queries, client, url) -> int:
    client.get(url)  # first visit: one-off work
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.count


def test_query_counts_do_not_grow_with_topics_votes_and_items(
    db, agenda_world, facilitator_client, member_client, create_user, site, count_queries, ids
):
    w = agenda_world
    topic = make_topic(db, w.group, "First", votes=w.members[:1], proposer=w.members[0])
    item = agenda_building.accept(w.group_session, topic, 5, actor=w.coordinator)
    make_topic(db, w.group, "Open", votes=w.members[:1], proposer=w.members[1])
    make_topic(db, w.group, "Q?", kind=QUESTION, session_id=w.group_session.id)
    agenda_building.publish(w.group_session, actor=w.coordinator)
    db.session.commit()
    started(db, ids["session"])
    agenda_outcomes.mark_discussed(
        db.session.get(AgendaItem, item.id), "Fine", "", actor=w.coordinator
    )
    db.session.commit()
    urls = {
        "facilitator": (facilitator_client, f"/sessions/{ids['session']}/agenda"),
        "member agenda": (member_client, f"/sessions/{ids['session']}/agenda"),
        "member history": (member_client, f"/groups/{ids['group']}/talked-about"),
        "staff history": (facilitator_client, f"/groups/{ids['group']}/talked-about"),
    }
    small = {name: queries_for(count_queries, c, url) for name, (c, url) in urls.items()}

    voters = [add_member(db, w.group, create_user(PATIENT, sites=[site])) for _ in range(5)]
    db.session.commit()
    group_session = db.session.get(GroupSession, ids["session"])
    for n in range(6):
        planned = make_topic(db, w.group, f"Planned {n}", votes=voters, proposer=voters[n % 5])
        new = agenda_building.accept(group_session, planned, 5, actor=w.coordinator)
        if n % 2:
            agenda_outcomes.mark_discussed(
                new, f"Summary {n}", "https://example.org/a", actor=w.coordinator
            )
        make_topic(db, w.group, f"Open {n}", votes=voters, proposer=voters[n % 5])
        make_topic(db, w.group, f"Q {n}?", kind=QUESTION, session_id=ids["session"])
    db.session.commit()
    large = {name: queries_for(count_queries, c, url) for name, (c, url) in urls.items()}

    assert large == small
    assert max(small.values()) <= 20, small


def test_accepted_and_open_statuses_are_shown_as_they_are(db, agenda_world, facilitator_client):
    """A topic on the agenda leaves the list of topics to add; a kept one stays, marked."""
    w = agenda_world
    planned = make_topic(db, w.group, "Planned topic")
    kept = make_topic(db, w.group, "Kept topic", status=KEPT)
    agenda_building.accept(w.group_session, planned, 10, actor=w.coordinator)
    db.session.commit()
    assert status_of(db, planned.id) == ACCEPTED
    html = page(facilitator_client, agenda_url(w.group_session))
    topics_part = html[html.index('id="topics"') : html.index('id="agenda"')]
    assert '<h3 class="topic-card__title">Planned topic</h3>' not in topics_part
    assert "Kept topic" in topics_part and "Kept for later" in topics_part
    assert kept.id
