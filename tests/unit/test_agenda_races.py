"""Two curators at once on one agenda, or on the same topics: never an overflowing agenda,
never a topic merged twice or into one merged away.

Each test runs two requests as two database sessions, as tests/unit/test_roster_races.py
and test_session_races.py do: the first does its work and holds its transaction open; the
second, in a thread, must wait for the first's lock, then see what it did and refuse. A
replay with a stale copy (the second request's page was loaded before the first committed)
checks that the rules read the database again under the lock.
"""

import threading
import time

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import User
from groupvisits.agenda import sessions
from groupvisits.agenda.models import MERGED, OPEN, AgendaItem, AgendaTopic, TopicVote
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.schedule.models import GroupSession
from tests.unit import test_agenda_services as shared
from tests.unit.test_agenda_services import make_topic

# The agenda's fixtures, shared with its service tests.
agenda_world = shared.agenda_world
unmerge_topics_at_teardown = shared.unmerge_topics_at_teardown

#: Long enough for the second request to reach its lock (and, without one, to finish).
SETTLE = 1.0


class Second:
    """A second request in a thread of its own: its own app context and database session."""

    def __init__(self, app, work):
        self.app, self.work = app, work
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from groupvisits.extensions import db

        with self.app.app_context():
            try:
                self.work(db.session)
                db.session.commit()
            except Exception as exc:  # the outcome is what the test checks
                db.session.rollback()
                self.error = exc
            finally:
                db.session.remove()

    def start(self) -> "Second":
        self.thread.start()
        time.sleep(SETTLE)
        return self

    @property
    def waiting(self) -> bool:
        return self.thread.is_alive()

    def finish(self) -> Exception | None:
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the second request never finished"
        return self.error


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


def accept_in(other, session_id: int, topic_id: int, minutes: int, actor_id: int) -> None:
    sessions.accept(
        other.get(GroupSession, session_id),
        other.get(AgendaTopic, topic_id),
        minutes,
        actor=other.get(User, actor_id),
    )


def merge_in(other, duplicate_id: int, into_id: int, actor_id: int) -> None:
    sessions.merge(
        other.get(AgendaTopic, duplicate_id),
        other.get(AgendaTopic, into_id),
        actor=other.get(User, actor_id),
    )


# The budget


def test_two_curators_adding_at_once_cannot_overflow_the_group_conversation(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id
    sessions.accept(w.group_session, first, 30, actor=w.facilitator)  # not committed yet

    second_id, coordinator_id = second.id, w.coordinator.id
    other = Second(app, lambda s: accept_in(s, session_id, second_id, 30, coordinator_id)).start()
    try:
        assert other.waiting, "the second curator did not wait for the first"
    finally:
        db.session.commit()
    error = other.finish()

    assert isinstance(error, ValidationFailed), error
    assert "15 minutes left of the 45-minute group conversation" in str(error)
    assert stored_agenda(app, session_id) == [(first.id, 30)]
    assert stored_topics(app, second.id)[second.id][0] == OPEN


def test_two_curators_whose_topics_both_fit_are_both_served(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id
    sessions.accept(w.group_session, first, 20, actor=w.facilitator)

    second_id, coordinator_id = second.id, w.coordinator.id
    other = Second(app, lambda s: accept_in(s, session_id, second_id, 25, coordinator_id)).start()
    try:
        assert other.waiting
    finally:
        db.session.commit()
    assert other.finish() is None
    assert stored_agenda(app, session_id) == [(first.id, 20), (second.id, 25)]


def test_a_curator_adding_from_a_page_loaded_before_another_added_is_refused(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id
    shown = sessions.budget(w.group_session)  # the page said 45 minutes left
    assert shown.left == 45

    first_id, coordinator_id = first.id, w.coordinator.id
    other = Second(app, lambda s: accept_in(s, session_id, first_id, 40, coordinator_id))
    other.start()
    assert other.finish() is None

    with pytest.raises(ValidationFailed, match="5 minutes left"):
        sessions.accept(w.group_session, second, 10, actor=w.facilitator)
    db.session.rollback()
    assert stored_agenda(app, session_id) == [(first.id, 40)]


def test_a_time_box_grown_during_an_acceptance_waits_and_is_refused(app, db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    session_id = w.group_session.id
    item = sessions.accept(w.group_session, first, 20, actor=w.facilitator)
    db.session.commit()
    item_id, coordinator_id = item.id, w.coordinator.id
    sessions.accept(w.group_session, second, 20, actor=w.facilitator)  # not committed yet

    def grow(other):
        sessions.set_time_box(
            other.get(AgendaItem, item_id), 30, actor=other.get(User, coordinator_id)
        )

    other = Second(app, grow).start()
    try:
        assert other.waiting
    finally:
        db.session.commit()
    error = other.finish()
    assert isinstance(error, ValidationFailed) and "5 minutes left" in str(error)
    assert stored_agenda(app, session_id) == [(first.id, 20), (second.id, 20)]


# Merges


def test_two_merges_of_two_topics_into_each_other_at_once_merge_one_way_only(app, db, agenda_world):
    w = agenda_world
    m = w.members
    a = make_topic(db, w.group, "Eating out", votes=[m[0], m[1]])
    b = make_topic(db, w.group, "Restaurants", votes=[m[1], m[2]])
    a_id, b_id, coordinator_id = a.id, b.id, w.coordinator.id
    sessions.merge(a, b, actor=w.facilitator)  # not committed yet

    other = Second(app, lambda s: merge_in(s, b_id, a_id, coordinator_id)).start()
    try:
        assert other.waiting, "the second merge did not wait for the first"
    finally:
        db.session.commit()
    error = other.finish()

    assert isinstance(error, Conflict) and "merged" in str(error)
    assert stored_topics(app, a.id, b.id) == {a.id: (MERGED, b.id, 0), b.id: (OPEN, None, 3)}


def test_one_topic_merged_into_two_others_at_once_is_merged_once(app, db, agenda_world):
    w = agenda_world
    m = w.members
    dup = make_topic(db, w.group, "Eating out", votes=[m[0], m[1]])
    b = make_topic(db, w.group, "Restaurants", votes=[m[1]])
    c = make_topic(db, w.group, "Cafes", votes=[m[2]])
    dup_id, c_id, coordinator_id = dup.id, c.id, w.coordinator.id
    sessions.merge(dup, b, actor=w.facilitator)  # not committed yet

    other = Second(app, lambda s: merge_in(s, dup_id, c_id, coordinator_id)).start()
    try:
        assert other.waiting
    finally:
        db.session.commit()
    error = other.finish()

    assert isinstance(error, Conflict) and "already merged" in str(error)
    assert stored_topics(app, dup.id, b.id, c.id) == {
        dup.id: (MERGED, b.id, 0),
        b.id: (OPEN, None, 2),
        c.id: (OPEN, None, 1),
    }


def test_a_merge_and_an_acceptance_of_the_same_topic_at_once_never_both_win(app, db, agenda_world):
    w = agenda_world
    dup, into = make_topic(db, w.group, "Eating out"), make_topic(db, w.group, "Restaurants")
    session_id = w.group_session.id
    dup_id, facilitator_id = dup.id, w.facilitator.id
    sessions.merge(dup, into, actor=w.coordinator)  # not committed yet

    other = Second(app, lambda s: accept_in(s, session_id, dup_id, 10, facilitator_id)).start()
    try:
        assert other.waiting
    finally:
        db.session.commit()
    error = other.finish()

    assert isinstance(error, Conflict) and "merged" in str(error)
    assert stored_agenda(app, session_id) == []
