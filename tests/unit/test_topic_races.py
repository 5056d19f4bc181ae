"""Two clicks at once on one topic: one vote per member, never a 500, never a stale state.

Replays, as in test_roster_races.py: session A loads the topic, session B (a second database
session, as a second request) changes it and commits, then A acts on the copy it loaded.
Then real concurrency: threads, each with its own app context and connection, voting at the
same moment; the database's unique constraint and the topic's row lock decide.
"""

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import PATIENT, User
from groupvisits.agenda import topic_changes
from groupvisits.agenda.models import AgendaTopic, TopicEvent, TopicVote
from groupvisits.errors import ValidationFailed
from groupvisits.roster import services as roster
from tests.unit import test_topic_services as topic_services_tests

# Merged topics go first at teardown (shared with the topic services' tests).
merged_topics_deleted_first = topic_services_tests.merged_topics_deleted_first


@contextmanager
def other_request(app):
    """A second database session (its own app context and connection), as a second request."""
    from groupvisits.extensions import db

    with app.app_context():
        yield db.session


@pytest.fixture
def members(db, create_group, create_user, coordinator):
    group = create_group()
    people = [create_user(PATIENT) for _ in range(3)]
    for person in people:
        roster.enrol(group, person, actor=coordinator)
    db.session.commit()
    return group, people


@pytest.fixture
def topic_id(db, members):
    group, (proposer, *_) = members
    topic = topic_changes.propose(group, title="Eating out", actor=proposer)
    db.session.commit()
    return topic.id


def loaded(db, topic_id: int) -> AgendaTopic:
    """Session A reads the topic (and what the rules touch), as a request would first."""
    topic = db.session.get(AgendaTopic, topic_id)
    assert topic.group.site_id
    return topic


def votes_of(app, topic_id: int) -> list[int]:
    """The voters of a topic, read afresh."""
    with other_request(app) as other:
        return list(
            other.scalars(
                select(TopicVote.voter_id)
                .where(TopicVote.topic_id == topic_id)
                .order_by(TopicVote.voter_id)
            )
        )


def test_a_second_click_on_vote_after_the_first_committed_is_a_no_op(app, db, members, topic_id):
    _, (_, voter, _) = members
    stale = loaded(db, topic_id)

    with other_request(app) as other:
        assert (
            topic_changes.vote(other.get(AgendaTopic, topic_id), other.get(User, voter.id)) is True
        )
        other.commit()

    assert topic_changes.vote(stale, voter) is False
    db.session.commit()

    assert votes_of(app, topic_id) == [voter.id]


def test_taking_back_a_vote_already_taken_back_is_a_no_op(app, db, members, topic_id):
    _, (_, voter, _) = members
    topic_changes.vote(loaded(db, topic_id), voter)
    db.session.commit()
    stale = loaded(db, topic_id)

    with other_request(app) as other:
        assert (
            topic_changes.unvote(other.get(AgendaTopic, topic_id), other.get(User, voter.id))
            is True
        )
        other.commit()

    assert topic_changes.unvote(stale, voter) is False
    db.session.commit()

    assert votes_of(app, topic_id) == []


def test_a_vote_on_a_topic_hidden_meanwhile_is_refused(app, db, members, topic_id, coordinator):
    _, (_, voter, _) = members
    stale = loaded(db, topic_id)
    assert not stale.is_hidden  # what the member's page showed

    with other_request(app) as other:
        topic_changes.hide(
            other.get(AgendaTopic, topic_id), "Off topic", other.get(User, coordinator.id)
        )
        other.commit()

    with pytest.raises(ValidationFailed, match="taken off the list"):
        topic_changes.vote(stale, voter)
    db.session.rollback()

    assert votes_of(app, topic_id) == []


def test_a_vote_on_a_topic_merged_meanwhile_is_refused(app, db, members, topic_id):
    group, (proposer, voter, _) = members
    into = topic_changes.propose(group, title="Restaurants", actor=proposer)
    db.session.commit()
    into_id = into.id
    stale = loaded(db, topic_id)

    with other_request(app) as other:  # as the session agenda's merge would leave it
        merged = other.get(AgendaTopic, topic_id)
        merged.merged_into_id, merged.status = into_id, "merged"
        other.commit()

    with pytest.raises(ValidationFailed, match="merged"):
        topic_changes.vote(stale, voter)
    db.session.rollback()

    assert votes_of(app, topic_id) == []


def test_hiding_a_topic_just_hidden_by_someone_else_is_refused(
    app, db, members, topic_id, coordinator
):
    stale = loaded(db, topic_id)

    with other_request(app) as other:
        topic_changes.hide(
            other.get(AgendaTopic, topic_id), "Off topic", other.get(User, coordinator.id)
        )
        other.commit()

    with pytest.raises(ValidationFailed, match="hidden already"):
        topic_changes.hide(stale, "Duplicate", coordinator)
    db.session.rollback()

    with other_request(app) as other:
        kinds = other.scalars(
            select(TopicEvent.kind).where(TopicEvent.topic_id == topic_id).order_by(TopicEvent.id)
        ).all()
        assert other.get(AgendaTopic, topic_id).hidden_reason == "Off topic"
    assert kinds == ["proposed", "hidden"]


def run_at_once(app, work, count: int) -> list:
    """Run ``work(index)`` in ``count`` threads, each as its own request, released together;
    return what each returned (or raised)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        from groupvisits.extensions import db

        with app.app_context():
            try:
                barrier.wait(timeout=10)
                results[index] = work(index)
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 (the test reports what each thread met)
                db.session.rollback()
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _vote_as(topic_id: int, voter_id: int):
    from groupvisits.extensions import db

    def work(_index: int) -> bool:
        return topic_changes.vote(
            db.session.get(AgendaTopic, topic_id), db.session.get(User, voter_id)
        )

    return work


def test_two_clicks_at_the_same_moment_make_one_vote_and_no_error(app, db, members, topic_id):
    _, (_, voter, _) = members
    voter_id = voter.id
    db.session.remove()  # the test's own session holds nothing while the clicks run

    results = run_at_once(app, _vote_as(topic_id, voter_id), 4)

    assert sorted(results, key=str) == [False, False, False, True], results
    assert votes_of(app, topic_id) == [voter_id]


def test_members_voting_at_the_same_moment_all_count(app, db, members, topic_id):
    _, people = members
    voter_ids = [person.id for person in people]
    db.session.remove()

    def work(index: int) -> bool:
        return _vote_as(topic_id, voter_ids[index])(index)

    results = run_at_once(app, work, len(voter_ids))

    assert results == [True] * len(voter_ids)
    assert votes_of(app, topic_id) == sorted(voter_ids)


def test_a_vote_and_a_hide_at_the_same_moment_are_served_one_after_the_other(
    app, db, members, topic_id, coordinator
):
    """Whichever goes first, the other sees it: the vote is in before the hide, or refused."""
    _, (_, voter, _) = members
    coordinator_id, voter_id = coordinator.id, voter.id
    db.session.remove()

    def work(index: int):
        from groupvisits.extensions import db

        topic = db.session.get(AgendaTopic, topic_id)
        if index == 0:
            return topic_changes.hide(topic, "Off topic", db.session.get(User, coordinator_id))
        return topic_changes.vote(topic, db.session.get(User, voter_id))

    hidden, voted = run_at_once(app, work, 2)

    assert isinstance(hidden, AgendaTopic)
    if isinstance(voted, ValidationFailed):
        assert votes_of(app, topic_id) == []
    else:
        assert voted is True
        assert votes_of(app, topic_id) == [voter_id]
    with other_request(app) as other:
        assert other.get(AgendaTopic, topic_id).is_hidden
        assert other.scalar(select(func.count(TopicVote.id))) == len(votes_of(app, topic_id))
