"""Two curators at once on one agenda, or on the same topics: never an overflowing agenda,
never a topic merged twice or into one merged away.

Each race runs two requests at the same moment (:func:`tests.races.at_once`: a thread, an app
context and a database session each, loading first and then acting together); the locks
serve them one after the other, and whichever comes second sees what the first did and
refuses. A replay with a stale copy (the request's page was loaded before another request
committed) checks that the rules read the database again under the lock.
"""

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import User
from groupvisits.agenda import agenda_building, sessions
from groupvisits.agenda.models import ACCEPTED, MERGED, OPEN, AgendaItem, AgendaTopic, TopicVote
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.schedule.models import GroupSession
from tests.races import at_once
from tests.unit import test_agenda_services as shared
from tests.unit.test_agenda_services import make_topic

# The agenda's fixtures, shared with its service tests.
agenda_world = shared.agenda_world
unmerge_topics_at_teardown = shared.unmerge_topics_at_teardown


def stored_agenda(app, session_id: int) -> list[tuple[int, int]]:
    """(topic id, minutes) of the session's agenda, read afresh."""
    from groupvisits.extensions import db

    with app.app_context():
        rows = db.session.execute(
            select(AgendaItem.topic_id, AgendaItem.minutes)
            .where(AgendaItem.session_id == session_id)
            .order_by(AgendaItem.position)
        ).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def stored_topics(app, *topic_ids: int) -> dict[int, tuple[str, int | None, int]]:
    """Each topic's (status, merged into, votes), read afresh."""
    from groupvisits.extensions import db

    with app.app_context():
        votes = (
            select(func.count(TopicVote.id))
            .where(TopicVote.topic_id == AgendaTopic.id)
            .scalar_subquery()
        )
        rows = db.session.execute(
            select(AgendaTopic.id, AgendaTopic.status, AgendaTopic.merged_into_id, votes).where(
                AgendaTopic.id.in_(topic_ids)
            )
        ).all()
        db.session.remove()
    return {row[0]: tuple(row[1:]) for row in rows}


def accept_job(session_id: int, topic_id: int, minutes: int, actor_id: int):
    """A request putting a topic on the session's agenda."""

    def job(db, barrier):
        group_session = db.session.get(GroupSession, session_id)
        topic, actor = db.session.get(AgendaTopic, topic_id), db.session.get(User, actor_id)
        assert group_session.group.site and topic.group  # loaded before the race starts
        barrier.wait(timeout=10)
        agenda_building.accept(group_session, topic, minutes, actor=actor)

    return job


def grow_job(item_id: int, minutes: int, actor_id: int):
    """A request changing an item's time box."""

    def job(db, barrier):
        item, actor = db.session.get(AgendaItem, item_id), db.session.get(User, actor_id)
        assert item.group_session.group.site and item.topic  # loaded before the race starts
        barrier.wait(timeout=10)
        agenda_building.set_time_box(item, minutes, actor=actor)

    return job


def merge_job(duplicate_id: int, into_id: int, actor_id: int):
    """A request merging one topic into another."""

    def job(db, barrier):
        duplicate, into = (
            db.session.get(AgendaTopic, duplicate_id),
            db.session.get(AgendaTopic, into_id),
        )
        actor = db.session.get(User, actor_id)
        assert duplicate.group.site and into.group  # loaded before the race starts
        barrier.wait(timeout=10)
        return agenda_building.merge(duplicate, into, actor=actor)

    return job


def one_refused(outcomes: list, kind: type) -> Exception:
    """The outcome of the request that was refused, checking that the other one was served."""
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 1, outcomes
    assert isinstance(refused[0], kind), refused[0]
    return refused[0]


# The budget


def test_two_curators_adding_at_once_cannot_overflow_the_group_conversation(app, agenda_world, db):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id

    outcomes = at_once(
        app,
        [
            accept_job(session_id, first.id, 30, w.facilitator.id),
            accept_job(session_id, second.id, 30, w.coordinator.id),
        ],
    )

    error = one_refused(outcomes, ValidationFailed)
    assert "15 minutes left of the 45-minute group conversation" in str(error)
    (served,) = [t for t, o in zip((first, second), outcomes, strict=True) if o is None]
    (refused,) = [t for t in (first, second) if t is not served]
    assert stored_agenda(app, session_id) == [(served.id, 30)]
    assert stored_topics(app, refused.id)[refused.id][0] == OPEN


def test_two_curators_whose_topics_both_fit_are_both_served(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id

    outcomes = at_once(
        app,
        [
            accept_job(session_id, first.id, 20, w.facilitator.id),
            accept_job(session_id, second.id, 25, w.coordinator.id),
        ],
    )

    assert outcomes == [None, None]
    assert sorted(stored_agenda(app, session_id)) == sorted([(first.id, 20), (second.id, 25)])


def test_a_curator_adding_from_a_page_loaded_before_another_added_is_refused(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id
    shown = sessions.budget(w.group_session)  # the page said 45 minutes left
    assert shown.left == 45

    assert at_once(app, [accept_job(session_id, first.id, 40, w.coordinator.id)]) == [None]

    with pytest.raises(ValidationFailed, match="5 minutes left"):
        agenda_building.accept(w.group_session, second, 10, actor=w.facilitator)
    db.session.rollback()
    assert stored_agenda(app, session_id) == [(first.id, 40)]


def test_a_time_box_grown_during_an_acceptance_is_refused_or_refuses_it(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id
    item = agenda_building.accept(w.group_session, first, 20, actor=w.facilitator)
    db.session.commit()

    outcomes = at_once(
        app,
        [
            accept_job(session_id, second.id, 20, w.facilitator.id),
            grow_job(item.id, 30, w.coordinator.id),
        ],
    )

    error = one_refused(outcomes, ValidationFailed)
    stored = stored_agenda(app, session_id)
    if outcomes[0] is None:  # the second topic came first: no room left to grow the first
        assert "25 minutes left" in str(error)
        assert stored == [(first.id, 20), (second.id, 20)]
    else:  # the first grew first: no room left for the second
        assert "15 minutes left" in str(error)
        assert stored == [(first.id, 30)]


# Merges


def test_two_merges_of_two_topics_into_each_other_at_once_merge_one_way_only(app, db, agenda_world):
    w = agenda_world
    m = w.members
    a = make_topic(db, w.group, "Eating out", votes=[m[0], m[1]])
    b = make_topic(db, w.group, "Restaurants", votes=[m[1], m[2]])

    outcomes = at_once(
        app,
        [merge_job(a.id, b.id, w.facilitator.id), merge_job(b.id, a.id, w.coordinator.id)],
    )

    error = one_refused(outcomes, Conflict)
    assert "merged" in str(error)
    merged, kept = (a, b) if outcomes[1] is error else (b, a)
    assert stored_topics(app, a.id, b.id) == {
        merged.id: (MERGED, kept.id, 0),
        kept.id: (OPEN, None, 3),
    }


def test_one_topic_merged_into_two_others_at_once_is_merged_once(app, db, agenda_world):
    w = agenda_world
    m = w.members
    dup = make_topic(db, w.group, "Eating out", votes=[m[0], m[1]])
    b = make_topic(db, w.group, "Restaurants", votes=[m[1]])
    c = make_topic(db, w.group, "Cafes", votes=[m[2]])

    outcomes = at_once(
        app,
        [merge_job(dup.id, b.id, w.facilitator.id), merge_job(dup.id, c.id, w.coordinator.id)],
    )

    error = one_refused(outcomes, Conflict)
    assert "already merged" in str(error)
    if outcomes[1] is error:  # into "Restaurants": a member who voted for both keeps one vote
        expected = {dup.id: (MERGED, b.id, 0), b.id: (OPEN, None, 2), c.id: (OPEN, None, 1)}
    else:
        expected = {dup.id: (MERGED, c.id, 0), b.id: (OPEN, None, 1), c.id: (OPEN, None, 3)}
    assert stored_topics(app, dup.id, b.id, c.id) == expected


def test_a_merge_and_an_acceptance_of_the_same_topic_at_once_never_both_win(app, db, agenda_world):
    w = agenda_world
    dup, into = make_topic(db, w.group, "Eating out"), make_topic(db, w.group, "Restaurants")
    session_id = w.group_session.id

    outcomes = at_once(
        app,
        [
            merge_job(dup.id, into.id, w.coordinator.id),
            accept_job(session_id, dup.id, 10, w.facilitator.id),
        ],
    )

    error = one_refused(outcomes, Conflict)
    if outcomes[0] is error:  # accepted first: a topic on an agenda is not merged away
        assert "on an agenda" in str(error)
        assert stored_agenda(app, session_id) == [(dup.id, 10)]
        assert stored_topics(app, dup.id)[dup.id][:2] == (ACCEPTED, None)
    else:
        assert "merged" in str(error)
        assert stored_agenda(app, session_id) == []
        assert stored_topics(app, dup.id)[dup.id][:2] == (MERGED, into.id)
