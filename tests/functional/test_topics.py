"""A group's topics over HTTP: the list and its votes, putting a topic forward, hiding, a
topic's history and the question box; who gets what (404 for anyone without a place), what
each page shows of whom, what the audit trail says, and members' text never as markup."""

import html
import json
import re
from datetime import timedelta

import pytest
from flask import render_template_string
from markupsafe import escape
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, SignIn
from groupvisits.agenda import topic_changes, topics
from groupvisits.agenda.models import AgendaTopic, TopicEvent, TopicVote
from groupvisits.audit import AuditEvent
from groupvisits.roster import services as roster
from groupvisits.roster.models import WAITLISTED
from groupvisits.schedule import services as schedule
from groupvisits.team import services as team
from groupvisits.team.models import FACILITATOR
from groupvisits.timeutil import utcnow
from tests.unit import test_topic_services as topic_services_tests

SCRIPT = "<script>alert('topic')</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
#: The proposer's names, to look for in every page's source.
GIVEN, FAMILY = "Zebulon", "Quaxley"


# Merged topics go first at teardown (shared with the topic services' tests).
merged_topics_deleted_first = topic_services_tests.merged_topics_deleted_first


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def source(response) -> str:
    return response.get_data(as_text=True)


def words(response) -> str:
    """The page's words without its tags, on one line."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", source(response))).split())


# The group and the people around it


@pytest.fixture
def group(create_group):
    return create_group(max_members=4, target_members=4, min_members=1)


@pytest.fixture
def enrol(db, coordinator):
    def make(group, patient, share_name=True):
        membership = roster.enrol(group, patient, actor=coordinator)
        if share_name is not None:
            roster.set_share_name(membership, share_name, actor=patient)
        db.session.commit()
        return membership

    return make


@pytest.fixture
def proposer(create_user, group, enrol):
    patient = create_user(
        PATIENT, given_name=GIVEN, family_name=FAMILY, email="zebulon@example.org"
    )
    enrol(group, patient)
    return patient


@pytest.fixture
def member(create_user, group, enrol):
    patient = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    enrol(group, patient)
    return patient


@pytest.fixture
def outsiders(db, create_user, create_group, group, enrol, proposer, member, other_site):
    """Someone waiting, someone offered a place, a former member, another group's member,
    another site's coordinator: none of them may see this group's topics."""
    enrol(group, create_user(PATIENT))  # the third place
    leaving = create_user(PATIENT)
    leaving_membership = enrol(group, leaving)  # the last place
    offered, waiting = create_user(PATIENT), create_user(PATIENT)
    assert enrol(group, offered).status == WAITLISTED
    assert enrol(group, waiting).status == WAITLISTED
    roster.withdraw(leaving_membership, actor=leaving)  # the first in line is offered it
    elsewhere = create_user(PATIENT)
    enrol(create_group(), elsewhere)
    db.session.commit()
    return {
        "waitlisted": waiting,
        "offered a place": offered,
        "former member": leaving,
        "another group's member": elsewhere,
        "another site's coordinator": create_user(COORDINATOR, sites=[other_site]),
    }


@pytest.fixture
def facilitator(db, create_user, group, coordinator):
    clinician = create_user(CLINICIAN, discipline="behavioural_health")
    team.add_core_member(group, clinician, FACILITATOR, actor=coordinator)
    db.session.commit()
    return clinician


def propose(group, actor, title="Eating out", **kwargs) -> AgendaTopic:
    from groupvisits.extensions import db

    topic = topic_changes.propose(group, title=title, actor=actor, **kwargs)
    db.session.commit()
    return topic


def session_now(db, group):
    """The group's next session, moved to be under way now."""
    group_session = schedule.next_sessions([group.id], utcnow())[group.id]
    group_session.starts_at = utcnow() - timedelta(minutes=10)
    group_session.ends_at = group_session.starts_at + timedelta(minutes=120)
    db.session.commit()
    return group_session


def count(db, model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(model.id)))


def topics_url(group, **query) -> str:
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/groups/{group.id}/topics" + (f"?{suffix}" if suffix else "")


# The topic page and its form


def test_a_member_sees_the_topics_and_a_form_saying_who_will_see_what(
    group, proposer, member, sign_in_as
):
    propose(group, proposer, title="Eating out", details="Restaurants and parties")

    page = words(sign_in_as(member).get(topics_url(group)))

    assert "Eating out" in page and "Restaurants and parties" in page
    assert f"From: {GIVEN} Q." in page
    assert "Put a topic forward" in page
    assert "Please do not write anyone else's name or health details." in page
    assert "Show my name: members see “Rosa L.”. Staff see it was you too." in page
    assert "Anonymous: other members do not see it was you; staff will still see it was you." in (
        page
    )


def test_in_a_group_allowing_fully_anonymous_topics_the_form_says_nobody_will_know(
    db, group, member, sign_in_as
):
    group.allow_anonymous_topics = True
    db.session.commit()

    page = words(sign_in_as(member).get(topics_url(group)))

    assert "Anonymous: nobody sees it was you, not other members and not staff." in page
    assert "staff will still see it was you" not in page


def test_a_member_who_hides_their_name_is_told_members_see_a_member(
    create_user, group, enrol, sign_in_as
):
    shy = create_user(PATIENT, given_name="Sam", family_name="Quiet")
    enrol(group, shy, share_name=False)

    page = words(sign_in_as(shy).get(topics_url(group)))

    assert "Show my name: members see “A member”, because you chose not to show your name" in page
    assert "Sam Q." not in page


def test_staff_put_topics_forward_by_name_without_an_anonymous_choice(
    db, group, coordinator_client, coordinator
):
    page = text(coordinator_client.get(topics_url(group)))
    assert 'name="shown_as"' not in page
    assert "Topics put forward by the clinic team show your name to members." in page

    response = coordinator_client.post_form(
        topics_url(group), {"title": "Foot care", "when": "any", "shown_as": "anonymous"}
    )

    assert response.status_code == 302
    topic = db.session.scalar(select(AgendaTopic))
    assert (topic.shown_as, topic.proposer_id, topic.proposed_by_staff) == (
        "name",
        coordinator.id,
        True,
    )


def test_a_member_puts_a_topic_forward_for_the_next_session(db, group, member, sign_in_as):
    client = sign_in_as(member)

    response = client.post_form(
        topics_url(group),
        {
            "title": " Sleep ",
            "details": "Can't sleep\r\nafter dinner",
            "shown_as": "name",
            "when": "next",
        },
    )

    assert response.status_code == 302
    topic = db.session.scalar(select(AgendaTopic))
    assert response.headers["Location"].endswith(f"sort=new#topic-{topic.id}")
    next_up = schedule.next_sessions([group.id], utcnow())[group.id]
    assert (topic.title, topic.details, topic.session_id, topic.proposer_id) == (
        "Sleep",
        "Can't sleep\nafter dinner",
        next_up.id,
        member.id,
    )
    page = text(client.get(response.headers["Location"]))
    assert "Thank you. Your topic is on the list" in page
    assert "From: You" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": ""}, "Give your topic a short title."),
        ({"title": "   "}, "Give your topic a short title."),
        ({"title": "x" * 121}, "Keep the title to 120 characters (it has 121)."),
        ({"title": "Ok", "details": "d" * 1001}, "can be up to 1000 characters (it has 1001)"),
        ({"title": "Ok", "shown_as": "everyone"}, "Not a valid choice"),
        ({"title": "Ok", "when": "yesterday"}, "Not a valid choice"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_saved(
    db, group, member, sign_in_as, fields, message
):
    data = {"shown_as": "name", "when": "any"} | fields

    response = sign_in_as(member).post_form(topics_url(group), data)

    assert response.status_code == 422
    assert message in text(response)
    assert count(db, AgendaTopic) == 0


def test_a_topic_for_the_next_session_of_a_group_without_one_is_refused(
    db, create_group, coordinator_client
):
    unscheduled = create_group(rule=None)
    page = text(coordinator_client.get(topics_url(unscheduled)))
    assert "The next session" not in page

    response = coordinator_client.post_form(
        topics_url(unscheduled), {"title": "Ok", "when": "next"}
    )

    assert response.status_code == 422
    assert count(db, AgendaTopic) == 0


def test_topics_are_ordered_by_votes_or_newest(db, group, proposer, member, sign_in_as):
    popular = propose(group, proposer, title="Popular")
    propose(group, proposer, title="Latest idea")
    topic_changes.vote(popular, member)
    db.session.commit()
    client = sign_in_as(member)

    by_votes = text(client.get(topics_url(group)))
    newest = text(client.get(topics_url(group, sort="new")))
    unknown = client.get(topics_url(group, sort="<b>"))

    assert by_votes.index("Popular") < by_votes.index("Latest idea")
    assert newest.index("Latest idea") < newest.index("Popular")
    assert unknown.status_code == 200


# Votes


def test_a_member_votes_sees_their_vote_and_takes_it_back(db, group, proposer, member, sign_in_as):
    topic = propose(group, proposer)
    client = sign_in_as(member)

    response = client.post_form(f"/topics/{topic.id}/vote", {"sort": "new"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"sort=new#topic-{topic.id}")
    page = words(client.get(response.headers["Location"]))
    assert "Your vote is counted." in page
    assert "1 vote." in page
    assert "✓ Your vote Take my vote back from “Eating out”" in page

    again = client.post_form(f"/topics/{topic.id}/vote", {})
    assert again.status_code == 302
    assert "You had voted for it already." in text(client.get(again.headers["Location"]))
    assert count(db, TopicVote) == 1

    back = client.post_form(f"/topics/{topic.id}/unvote", {})
    assert back.status_code == 302
    assert count(db, TopicVote) == 0
    assert "Your vote is taken back." in text(client.get(back.headers["Location"]))


def test_a_vote_on_a_hidden_topic_is_refused_with_a_message_and_not_saved(
    db, group, proposer, member, coordinator, sign_in_as
):
    topic = propose(group, proposer)
    topic_changes.hide(topic, "Names someone", coordinator)
    db.session.commit()

    response = sign_in_as(member).post_form(f"/topics/{topic.id}/vote", {})

    assert response.status_code == 422
    page = text(response)
    assert "This topic was taken off the list, so votes on it are closed." in page
    assert "Names someone" not in page  # the reason is for staff
    assert count(db, TopicVote) == 0


def test_a_vote_on_another_groups_topic_is_a_404_and_not_saved(
    db, create_group, create_user, enrol, group, member, sign_in_as
):
    other_group = create_group()
    other_member = create_user(PATIENT)
    enrol(other_group, other_member)
    foreign = propose(other_group, other_member, title="Not yours")

    client = sign_in_as(member)
    assert client.post_form(f"/topics/{foreign.id}/vote", {}).status_code == 404
    assert client.post_form(f"/topics/{foreign.id}/unvote", {}).status_code == 404
    assert "Not yours" not in text(client.get(topics_url(group)))
    assert count(db, TopicVote) == 0


def test_staff_do_not_vote(db, group, proposer, coordinator_client, clinician_client):
    topic = propose(group, proposer)

    assert coordinator_client.post_form(f"/topics/{topic.id}/vote", {}).status_code == 403
    assert clinician_client.post_form(f"/topics/{topic.id}/vote", {}).status_code == 403
    assert count(db, TopicVote) == 0


# Hiding and history


def test_a_coordinator_hides_a_topic_members_no_longer_see_it_and_staff_see_why(
    db, group, proposer, member, coordinator_client, sign_in_as
):
    topic = propose(group, proposer, title="About my neighbour")

    response = coordinator_client.post_form(
        f"/topics/{topic.id}/hide", {"reason": "Names someone outside the group"}
    )

    assert response.status_code == 302
    assert "About my neighbour" not in text(sign_in_as(member).get(topics_url(group)))
    staff_page = text(coordinator_client.get(topics_url(group)))
    assert "About my neighbour" in staff_page
    assert "Hidden from members by Cora Ordinator" in staff_page
    assert "Names someone outside the group" in staff_page

    shown = coordinator_client.post_form(f"/topics/{topic.id}/unhide", {"reason": "Reworded"})
    assert shown.status_code == 302
    assert "About my neighbour" in text(sign_in_as(member).get(topics_url(group)))
    history = words(coordinator_client.get(f"/topics/{topic.id}/history"))
    for line in ("proposed", "hidden: Names someone outside the group", "shown again: Reworded"):
        assert line in history


def test_hiding_without_a_reason_is_refused_and_nothing_changes(
    db, group, proposer, coordinator_client
):
    topic = propose(group, proposer)

    response = coordinator_client.post_form(f"/topics/{topic.id}/hide", {"reason": "  "})

    assert response.status_code == 422
    assert "Say why you hide it" in text(response)
    db.session.expire_all()
    assert not db.session.get(AgendaTopic, topic.id).is_hidden
    assert count(db, TopicEvent) == 1


def test_only_curators_hide_and_the_groups_facilitator_is_one(
    db, group, proposer, clinician_client, facilitator, sign_in_as
):
    topic = propose(group, proposer)

    refused = clinician_client.post_form(f"/topics/{topic.id}/hide", {"reason": "Off topic"})
    assert refused.status_code == 403
    assert "Hide from members" not in text(clinician_client.get(topics_url(group)))

    client = sign_in_as(facilitator)
    assert "Hide from members" in text(client.get(topics_url(group)))
    assert client.post_form(f"/topics/{topic.id}/hide", {"reason": "Off topic"}).status_code == 302


def test_staff_read_a_topics_history_and_members_may_not(
    group, proposer, member, coordinator_client, sign_in_as
):
    topic = propose(group, proposer)

    page = words(coordinator_client.get(f"/topics/{topic.id}/history"))

    assert "History of “Eating out”" in page
    assert f"proposed ({GIVEN} {FAMILY})" in page
    assert sign_in_as(member).get(f"/topics/{topic.id}/history").status_code == 403


# The question box


def test_the_question_box_is_closed_before_the_session_and_refuses_questions(
    db, group, member, sign_in_as
):
    group_session = schedule.next_sessions([group.id], utcnow())[group.id]
    group_session.starts_at = utcnow() + timedelta(minutes=61)
    group_session.ends_at = group_session.starts_at + timedelta(minutes=120)
    db.session.commit()
    client = sign_in_as(member)

    page = text(client.get(f"/sessions/{group_session.id}/questions"))
    assert "The question box opens an hour before the session" in page
    assert "<textarea" not in page

    response = client.post_form(f"/sessions/{group_session.id}/questions", {"text": "Snacks?"})
    assert response.status_code == 422
    assert "The question box opens an hour before the session" in text(response)
    assert count(db, AgendaTopic) == 0


def test_a_question_after_the_session_is_refused(db, group, member, sign_in_as):
    group_session = session_now(db, group)
    group_session.starts_at -= timedelta(hours=3)
    group_session.ends_at -= timedelta(hours=3)
    db.session.commit()

    response = sign_in_as(member).post_form(
        f"/sessions/{group_session.id}/questions", {"text": "Snacks?"}
    )

    assert response.status_code == 422
    assert "This session is over, so its question box is closed." in text(response)
    assert count(db, AgendaTopic) == 0


def test_during_the_session_members_drop_questions_and_staff_type_in_cards(
    db, group, member, proposer, coordinator_client, clinician, sign_in_as
):
    group_session = session_now(db, group)
    url = f"/sessions/{group_session.id}/questions"
    client = sign_in_as(member)
    page = text(client.get(url))
    assert "Ask the group a question" in page
    assert "staff will still see it was you" in page

    response = client.post_form(url, {"text": "How do I read a food label?"})
    assert response.status_code == 302
    card = sign_in_as(clinician).post_form(url, {"text": "Is fruit OK?"})
    assert card.status_code == 302
    empty = client.post_form(url, {"text": "  "})
    assert empty.status_code == 422
    assert "Write your question first." in text(empty)

    member_page = text(client.get(url))
    assert member_page.index("Is fruit OK?") < member_page.index("How do I read a food label?")
    assert "Rosa" not in member_page.replace(member.full_name, "")  # only in the header
    staff_page = text(coordinator_client.get(url))
    assert "Members see every question without a name." in staff_page
    assert "From: Rosa Lopez" in staff_page
    assert "From: Typed in from a paper card by Clara Nician" in staff_page
    assert count(db, AgendaTopic) == 2


def test_the_topic_page_links_to_the_question_box_while_it_is_open(db, group, member, sign_in_as):
    group_session = session_now(db, group)

    page = text(sign_in_as(member).get(topics_url(group)))

    assert f'href="/sessions/{group_session.id}/questions"' in page
    assert "Question box (open now)" in page


def test_a_curator_hides_a_question_and_returns_to_the_box(
    db, group, member, coordinator_client, sign_in_as
):
    group_session = session_now(db, group)
    question = topic_changes.drop_question(group_session, "Something unkind", member)
    db.session.commit()

    response = coordinator_client.post_form(f"/topics/{question.id}/hide", {"reason": "Unkind"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{group_session.id}/questions")
    member_page = text(sign_in_as(member).get(f"/sessions/{group_session.id}/questions"))
    assert "Something unkind" not in member_page


# Who gets in: a 404 on every route for anyone without a place


def test_outsiders_get_404_on_every_topic_route_and_change_nothing(
    db, group, proposer, outsiders, sign_in_as
):
    group_session = session_now(db, group)
    topic = propose(group, proposer, title="Members only")
    question = topic_changes.drop_question(group_session, "Members only?", proposer)
    db.session.commit()
    before = (count(db, AgendaTopic), count(db, TopicVote), count(db, TopicEvent))
    # (method, url, form, what a patient gets, what another site's coordinator gets): 404
    # wherever the route is for them; 403 where it is for no one of their role, whatever the
    # group (staff pages for patients, votes for staff), before anything is looked up.
    routes = [
        ("GET", topics_url(group), None, 404, 404),
        ("GET", topics_url(group, show="closed"), None, 404, 404),
        ("GET", topics_url(group, show="hidden"), None, 404, 404),
        ("POST", topics_url(group), {"title": "In", "shown_as": "name", "when": "any"}, 404, 404),
        ("POST", f"/topics/{topic.id}/vote", {}, 404, 403),
        ("POST", f"/topics/{topic.id}/unvote", {}, 404, 403),
        ("POST", f"/topics/{topic.id}/hide", {"reason": "Mine now"}, 403, 404),
        ("POST", f"/topics/{question.id}/hide", {"reason": "Mine now"}, 403, 404),
        ("POST", f"/topics/{topic.id}/unhide", {}, 403, 404),
        ("GET", f"/topics/{topic.id}/history", None, 403, 404),
        ("GET", f"/sessions/{group_session.id}/questions", None, 404, 404),
        ("POST", f"/sessions/{group_session.id}/questions", {"text": "In?"}, 404, 404),
    ]

    for who, outsider in outsiders.items():
        client = sign_in_as(outsider)
        for method, url, data, as_patient, as_staff in routes:
            response = client.get(url) if method == "GET" else client.post_form(url, data)
            expected = as_patient if outsider.is_patient else as_staff
            assert response.status_code == expected, (who, method, url, response.status_code)
            assert "Members only" not in text(response), (who, url)

    assert (count(db, AgendaTopic), count(db, TopicVote), count(db, TopicEvent)) == before


# What became of other topics: the latest on the topic page, the rest page by page


def close_topics(db, group, proposer, n: int, prefix="Done"):
    """``n`` topics the group talked about, the first the latest changed."""
    for k in range(n):
        topic = propose(group, proposer, title=f"{prefix} {k:02d}")
        topic.status = "discussed"
        db.session.flush()
        topic.updated_at = utcnow() - timedelta(days=k + 1)
    db.session.commit()


def test_the_topic_page_puts_open_topics_first_and_only_the_latest_closed_ones(
    db, group, proposer, member, sign_in_as
):
    close_topics(db, group, proposer, topics.LATEST_SHOWN + 3)
    propose(group, proposer, title="Still open")

    page = text(sign_in_as(member).get(topics_url(group)))

    assert page.index("Still open") < page.index("What became of other topics")
    shown = [k for k in range(topics.LATEST_SHOWN + 3) if f"Done {k:02d}" in page]
    assert shown == list(range(topics.LATEST_SHOWN))
    assert f"What became of other topics ({topics.LATEST_SHOWN + 3})" in words(
        sign_in_as(member).get(topics_url(group))
    )
    assert f'href="/groups/{group.id}/topics?show=closed"' in page
    assert f'href="/groups/{group.id}/talked-about"' in page


def test_every_closed_topic_is_a_page_away_newest_first_with_older_and_newer_links(
    db, group, proposer, member, sign_in_as, monkeypatch
):
    monkeypatch.setattr(topics, "SHELF_PAGE", 4)
    close_topics(db, group, proposer, 6)
    propose(group, proposer, title="Still open")
    client = sign_in_as(member)

    first = client.get(topics_url(group, show="closed"))
    second = client.get(topics_url(group, show="closed", page=2))

    assert first.status_code == second.status_code == 200
    assert [f"Done {k:02d}" in text(first) for k in range(6)] == [True] * 4 + [False] * 2
    assert [f"Done {k:02d}" in text(second) for k in range(6)] == [False] * 4 + [True] * 2
    assert "Still open" not in text(first)
    assert "6 in all; page 1 of 2" in words(first)
    assert f'href="/groups/{group.id}/topics?show=closed&amp;page=2">Older' in source(first)
    assert f'href="/groups/{group.id}/topics?show=closed&amp;page=1">Newer' in source(second)
    assert "Older" not in words(second)
    for beyond in ("page=3", "page=0", "page=-1", "page=99999999999999999999"):
        assert client.get(f"{topics_url(group, show='closed')}&{beyond}").status_code == 404
    assert client.get(topics_url(group, show="everything")).status_code == 404


def test_hidden_topics_are_bounded_on_the_page_and_listed_for_staff_only(
    db, group, proposer, member, coordinator, sign_in_as
):
    for k in range(topics.LATEST_SHOWN + 1):
        topic_changes.hide(
            propose(group, proposer, title=f"Hidden {k:02d}"), "Off topic", coordinator
        )
        db.session.commit()

    staff = sign_in_as(coordinator)
    page = text(staff.get(topics_url(group)))
    every = staff.get(topics_url(group, show="hidden"))

    assert sum(f"Hidden {k:02d}" in page for k in range(topics.LATEST_SHOWN + 1)) == (
        topics.LATEST_SHOWN
    )
    assert f"All {topics.LATEST_SHOWN + 1} hidden topics" in page
    assert every.status_code == 200
    assert all(f"Hidden {k:02d}" in text(every) for k in range(topics.LATEST_SHOWN + 1))
    assert sign_in_as(member).get(topics_url(group, show="hidden")).status_code == 404


def test_the_closed_topics_page_audits_the_members_it_names(
    db, group, proposer, member, sign_in_as
):
    close_topics(db, group, proposer, 2)

    page = text(sign_in_as(member).get(topics_url(group, show="closed")))

    assert "From: Zebulon Q." in page
    assert _named_in_trail(db, proposer) == [("view", "agenda topics")]


# Anonymity, from every side


def _every_page(app_clients, group, topic, group_session=None):
    """The HTML of every page that shows ``topic``, by who looked."""
    pages = {}
    for who, client in app_clients.items():
        pages[f"{who}: topics"] = source(client.get(topics_url(group)))
        pages[f"{who}: topics, newest"] = source(client.get(topics_url(group, sort="new")))
        if group_session is not None:
            pages[f"{who}: question box"] = source(
                client.get(f"/sessions/{group_session.id}/questions")
            )
        history = client.get(f"/topics/{topic.id}/history")
        if history.status_code == 200:
            pages[f"{who}: history"] = source(history)
    return pages


def _named_in_trail(db, patient) -> list[tuple[str, str]]:
    db.session.rollback()
    return [
        (e.action, e.object_type)
        for e in db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id))
        if e.object_type in ("agenda topics", "topic history", "question box")
    ]


def test_a_fully_anonymous_topic_and_question_name_nobody_anywhere(
    db, group, proposer, member, coordinator, facilitator, clinician, sign_in_as
):
    group.allow_anonymous_topics = True
    db.session.commit()
    group_session = session_now(db, group)
    proposer_client = sign_in_as(proposer)
    response = proposer_client.post_form(
        topics_url(group),
        {"title": "Erectile problems", "shown_as": "anonymous", "when": "any"},
    )
    assert response.status_code == 302
    assert "#topic-" not in response.headers["Location"]
    assert (
        proposer_client.post_form(
            f"/sessions/{group_session.id}/questions", {"text": "Is it the pills?"}
        ).status_code
        == 302
    )
    topic = db.session.scalar(select(AgendaTopic).where(AgendaTopic.kind == "topic"))
    question = db.session.scalar(select(AgendaTopic).where(AgendaTopic.kind == "question"))
    topic_changes.hide(question, "Asked twice", coordinator)  # staff see hidden ones: still nobody
    db.session.commit()

    assert (topic.proposer_id, question.proposer_id) == (None, None)
    assert [e.actor_id for e in topics.topic_history(topic)] == [None]
    clients = {
        "member": sign_in_as(member),
        "coordinator": sign_in_as(coordinator),
        "facilitator": sign_in_as(facilitator),
        "clinician": sign_in_as(clinician),
    }
    pages = _every_page(clients, group, topic, group_session)
    pages["coordinator: question history"] = source(
        clients["coordinator"].get(f"/topics/{question.id}/history")
    )
    assert len(pages) == 16  # each of 4 people's 3 pages, and staff's histories
    assert "Erectile problems" in pages["member: topics"]
    assert "Is it the pills?" in pages["coordinator: question box"]
    for name, page in pages.items():
        for trace in (GIVEN, FAMILY, proposer.email, "Zebulon Q."):
            assert trace not in page, (name, trace)
    assert "a member, fully anonymous" in pages["coordinator: history"]
    assert _named_in_trail(db, proposer) == []


def test_the_thank_you_for_a_fully_anonymous_topic_keeps_nothing_of_it_with_the_sign_in(
    db, group, proposer, sign_in_as
):
    group.allow_anonymous_topics = True
    db.session.commit()

    sign_in_as(proposer).post_form(
        topics_url(group), {"title": "Erectile problems", "shown_as": "anonymous", "when": "any"}
    )

    kept = json.dumps(
        db.session.scalars(select(SignIn.messages).where(SignIn.user_id == proposer.id)).all()
    )
    assert "nobody can see it was you" in kept
    assert "Erectile" not in kept


def test_an_anonymous_topic_hides_its_proposer_from_members_only_and_the_trail_never_names_them(
    db, group, proposer, member, coordinator, clinician, sign_in_as
):
    topic = propose(group, proposer, title="Erectile problems", anonymous=True)
    clients = {
        "member": sign_in_as(member),
        "proposer": sign_in_as(proposer),
        "coordinator": sign_in_as(coordinator),
        "clinician": sign_in_as(clinician),
    }

    pages = _every_page(clients, group, topic)

    for name in ("member: topics", "member: topics, newest"):
        assert "Erectile problems" in pages[name]
        assert GIVEN not in pages[name] and FAMILY not in pages[name]
    assert "From: You (members see “Anonymous”)" in html.unescape(pages["proposer: topics"])
    for name in ("coordinator: topics", "clinician: topics", "coordinator: history"):
        assert f"{GIVEN} {FAMILY}" in pages[name], name
    assert _named_in_trail(db, proposer) == []


def test_a_topic_by_name_shows_the_member_as_fellow_members_see_them_and_is_audited(
    db, group, proposer, member, coordinator, sign_in_as
):
    propose(group, proposer, title="Walking groups")

    member_page = text(sign_in_as(member).get(topics_url(group)))
    staff_page = text(sign_in_as(coordinator).get(topics_url(group)))

    assert "From: Zebulon Q." in member_page and FAMILY not in member_page
    assert f"From: {GIVEN} {FAMILY}" in staff_page
    assert _named_in_trail(db, proposer) == [("view", "agenda topics")] * 2
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "agenda topics")
    ).all()
    assert {(r.actor_id, r.object_id) for r in rows} == {
        (member.id, group.id),
        (coordinator.id, group.id),
    }


# Members' text is never markup


@pytest.mark.parametrize("payload", [SCRIPT, IMAGE])
def test_members_text_is_shown_as_text_on_every_page(
    db, group, proposer, member, coordinator, sign_in_as, payload
):
    group_session = session_now(db, group)
    client = sign_in_as(proposer)
    assert (
        client.post_form(
            topics_url(group),
            {"title": payload, "details": payload, "shown_as": "name", "when": "any"},
        ).status_code
        == 302
    )
    assert (
        client.post_form(f"/sessions/{group_session.id}/questions", {"text": payload}).status_code
        == 302
    )
    topic = db.session.scalar(select(AgendaTopic).where(AgendaTopic.kind == "topic"))
    question = db.session.scalar(select(AgendaTopic).where(AgendaTopic.kind == "question"))
    coordinator_client = sign_in_as(coordinator)
    assert (
        coordinator_client.post_form(f"/topics/{question.id}/hide", {"reason": payload}).status_code
        == 302
    )

    pages = _every_page(
        {"member": sign_in_as(member), "coordinator": coordinator_client},
        group,
        topic,
        group_session,
    )
    pages["question history"] = source(coordinator_client.get(f"/topics/{question.id}/history"))
    pages["refused vote"] = source(sign_in_as(member).post_form(f"/topics/{question.id}/vote", {}))

    for name, page in pages.items():
        assert payload not in page, name
        assert "<img src=x" not in page and "<script>alert" not in page, name
    assert str(escape(payload)) in pages["member: topics"]
    assert str(escape(payload)) in pages["coordinator: question box"]


# Cost: the same queries however many topics and votes


def _queries(count_queries, client, url: str) -> int:
    client.get(url)  # first visit: one-off work
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def test_the_topic_page_costs_the_same_with_more_topics_and_votes(
    db, group, proposer, member, create_user, enrol, coordinator, sign_in_as, count_queries
):
    group.max_members = 15
    db.session.commit()
    propose(group, proposer)
    close_topics(db, group, proposer, 1)  # one on each list, from a member named on it
    clients = {"member": sign_in_as(member), "coordinator": sign_in_as(coordinator)}
    urls = [topics_url(group), topics_url(group, show="closed")]
    few = {
        (who, url): _queries(count_queries, c, url) for who, c in clients.items() for url in urls
    }

    voters = [member, proposer]
    for _ in range(8):
        voters.append(create_user(PATIENT))
        enrol(group, voters[-1])
    for n in range(25):
        topic = propose(group, voters[n % 10], title=f"Topic {n}", anonymous=n % 2 == 0)
        for voter in voters[: n % 10]:
            topic_changes.vote(topic, voter)
        if n % 6 == 0:
            topic_changes.hide(topic, "Off topic", coordinator)
        elif n % 3 == 0:
            topic.status = "declined"
    db.session.commit()
    many = {
        (who, url): _queries(count_queries, c, url) for who, c in clients.items() for url in urls
    }

    assert many == few
    assert max(few.values()) <= 20
    assert text(clients["member"].get(topics_url(group))).count("Topic ") >= 20


def test_the_question_box_costs_the_same_with_more_questions(
    db, group, proposer, member, coordinator, sign_in_as, count_queries
):
    group_session = session_now(db, group)
    url = f"/sessions/{group_session.id}/questions"
    clients = {"member": sign_in_as(member), "coordinator": sign_in_as(coordinator)}
    few = {who: _queries(count_queries, c, url) for who, c in clients.items()}

    for n in range(15):
        topic_changes.drop_question(group_session, f"Question {n}?", (member, proposer)[n % 2])
    db.session.commit()
    many = {who: _queries(count_queries, c, url) for who, c in clients.items()}

    assert many == few


# The link from "My groups"


def test_the_my_groups_link_leads_to_the_groups_topics(app, group, member):
    with app.test_request_context():
        membership = type("M", (), {"group_id": group.id})()
        link = render_template_string('{% include "agenda/_my_group_link.html" %}', m=membership)
        for_group = render_template_string(
            '{% include "agenda/_my_group_link.html" %}', group=group
        )

    assert f'href="/groups/{group.id}/topics"' in link
    assert f'href="/groups/{group.id}/topics"' in for_group
