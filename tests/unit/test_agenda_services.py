"""A session's agenda as a service: curation, time boxes that fit the plan's group conversation,
merging, declining, publishing, outcomes and the group's history, without HTTP.

The fixtures here (a group with a session, its facilitator, members, topics and votes made
directly with the models) are shared by the agenda's race and page tests.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.agenda import agenda_building, agenda_outcomes, sessions
from groupvisits.agenda.cli import publish_agendas
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
    TopicEvent,
    TopicVote,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.roster.models import ACTIVE, Membership
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import FACILITATOR, CoreTeamMember, StaffAssignment
from groupvisits.timeutil import utcnow

# Shared fixtures and helpers (imported by the agenda's other test modules)


class AgendaWorld:
    """A group (45 minutes of group conversation per session), its next two sessions, the next
    session's facilitator, a coordinator, a clinician who facilitates nothing, and members."""

    def __init__(self, group, group_session, later_session, facilitator, coordinator, bystander):
        self.group, self.group_session, self.later_session = group, group_session, later_session
        self.facilitator, self.coordinator, self.bystander = facilitator, coordinator, bystander
        self.members = []


@pytest.fixture(autouse=True)
def unmerge_topics_at_teardown(app):
    """Before the tables are emptied: SQLite checks the RESTRICT of ``merged_into_id`` row by
    row, so a merged topic would stop its target from being deleted."""
    yield
    from groupvisits.extensions import db

    db.session.rollback()
    db.session.execute(
        update(AgendaTopic)
        .where(AgendaTopic.merged_into_id.is_not(None))
        .values(status=OPEN, merged_into_id=None)
    )
    db.session.commit()


@pytest.fixture
def agenda_world(db, site, create_group, create_user):
    group = create_group(site)
    first, second = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
        .limit(2)
    ).all()
    facilitator = create_user(CLINICIAN, sites=[site], given_name="Fay", family_name="Cilitator")
    add_facilitator(db, first, facilitator)
    db.session.add(CoreTeamMember(group_id=group.id, user_id=facilitator.id, role=FACILITATOR))
    world = AgendaWorld(
        group,
        first,
        second,
        facilitator,
        create_user(COORDINATOR, sites=[site], given_name="Coral", family_name="Dinator"),
        create_user(CLINICIAN, sites=[site], given_name="Bea", family_name="Stander"),
    )
    world.members = [
        add_member(db, group, create_user(PATIENT, sites=[site], family_name=f"Member{n}"))
        for n in range(4)
    ]
    db.session.commit()
    return world


def add_facilitator(db, group_session, user):
    db.session.add(
        StaffAssignment(
            session_id=group_session.id,
            user_id=user.id,
            role=FACILITATOR,
            starts_at=group_session.starts_at,
            ends_at=group_session.ends_at,
        )
    )
    db.session.commit()


def add_member(db, group, patient, status=ACTIVE, share_name=True):
    db.session.add(
        Membership(
            group_id=group.id,
            patient_id=patient.id,
            status=status,
            joined_at=utcnow(),
            share_name=share_name,
        )
    )
    db.session.flush()
    return patient


def make_topic(db, group, title="Eating out", *, proposer=None, votes=(), **fields):
    """A topic (or, with kind=QUESTION, a question) and its votes, made with the models."""
    topic = AgendaTopic(
        group_id=group.id, title=title, proposer_id=proposer.id if proposer else None, **fields
    )
    db.session.add(topic)
    db.session.flush()
    for voter in votes:
        db.session.add(TopicVote(topic_id=topic.id, voter_id=voter.id))
    db.session.commit()
    return topic


def vote_pairs(db, topic_id):
    return set(db.session.scalars(select(TopicVote.voter_id).where(TopicVote.topic_id == topic_id)))


def items_of(db, session_id):
    return db.session.execute(
        select(AgendaItem.topic_id, AgendaItem.position, AgendaItem.minutes, AgendaItem.outcome)
        .where(AgendaItem.session_id == session_id)
        .order_by(AgendaItem.position)
    ).all()


def events_of(db, topic_id):
    return list(
        db.session.scalars(
            select(TopicEvent.kind).where(TopicEvent.topic_id == topic_id).order_by(TopicEvent.id)
        )
    )


# The budget


def test_budget_is_the_minutes_of_the_plans_group_conversation_steps(db, agenda_world):
    w = agenda_world
    assert sessions.budget(w.group_session) == sessions.Budget(planned=45, used=0)
    schedule.set_session_plan(
        w.group_session,
        [
            ("group", "Check-in round", 20, False),
            ("meal", "Meal", 30, False),
            ("group", "Topics", 40, False),
        ],
        actor=w.coordinator,
    )
    db.session.commit()
    assert sessions.budget(w.group_session).planned == 60


def test_accepting_fills_the_budget_and_the_topic_is_on_the_agenda(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group, votes=w.members[:2])
    item = agenda_building.accept(w.group_session, topic, 20, actor=w.facilitator)
    db.session.commit()

    assert (item.position, item.minutes, item.outcome) == (1, 20, PLANNED)
    assert topic.status == ACCEPTED
    budget = sessions.budget(w.group_session)
    assert (budget.used, budget.left) == (20, 25)
    [entry] = sessions.agenda_of(w.group_session)
    assert (entry.topic.title, entry.votes) == ("Eating out", 2)
    assert events_of(db, topic.id) == [agenda_building.EV_ACCEPTED]


def test_an_agenda_that_would_overflow_is_refused_with_the_minutes_left(db, agenda_world):
    w = agenda_world
    first, second = make_topic(db, w.group, "Sleep"), make_topic(db, w.group, "Holidays")
    agenda_building.accept(w.group_session, first, 40, actor=w.facilitator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="5 minutes left of the 45-minute") as caught:
        agenda_building.accept(w.group_session, second, 6, actor=w.facilitator)
    db.session.rollback()

    assert caught.value.field == "minutes"
    assert items_of(db, w.group_session.id) == [(first.id, 1, 40, PLANNED)]
    assert db.session.get(AgendaTopic, second.id).status == OPEN
    agenda_building.accept(w.group_session, second, 5, actor=w.facilitator)  # exactly fits
    db.session.commit()
    with pytest.raises(ValidationFailed, match="0 minutes left"):
        agenda_building.accept(
            w.group_session, make_topic(db, w.group, "More"), 1, actor=w.coordinator
        )


def test_a_session_without_group_conversation_has_no_time_for_topics(db, agenda_world):
    w = agenda_world
    schedule.set_session_plan(w.group_session, [("meal", "Meal", 30, False)], actor=w.coordinator)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="no group conversation"):
        agenda_building.accept(w.group_session, make_topic(db, w.group), 10, actor=w.facilitator)


@pytest.mark.parametrize("minutes", [0, 181, -5, None])
def test_a_time_box_outside_1_to_180_minutes_is_refused(db, agenda_world, minutes):
    w = agenda_world
    with pytest.raises(ValidationFailed, match="from 1 to 180 minutes"):
        agenda_building.accept(
            w.group_session, make_topic(db, w.group), minutes, actor=w.facilitator
        )


def test_topics_of_another_group_hidden_merged_declined_or_questions_are_refused(
    db, agenda_world, create_group
):
    w = agenda_world
    other = make_topic(db, create_group(rule=None), "Elsewhere")
    hidden = make_topic(db, w.group, "Hidden", hidden_at=utcnow(), hidden_reason="Private")
    target = make_topic(db, w.group, "Kept one")
    merged = make_topic(db, w.group, "Merged", status=MERGED, merged_into_id=target.id)
    declined = make_topic(db, w.group, "Declined", status=DECLINED, decline_reason="Not here")
    question = make_topic(db, w.group, "A question?", kind=QUESTION, session_id=w.group_session.id)

    for topic, error, words in [
        (other, ValidationFailed, "another group"),
        (hidden, ValidationFailed, "hidden"),
        (merged, Conflict, "merged"),
        (declined, Conflict, "declined"),
        (question, ValidationFailed, "Questions"),
    ]:
        with pytest.raises(error, match=words):
            agenda_building.accept(w.group_session, topic, 10, actor=w.facilitator)
        db.session.rollback()
    assert items_of(db, w.group_session.id) == []


def test_a_topic_already_on_an_agenda_is_not_added_twice(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group)
    agenda_building.accept(w.group_session, topic, 10, actor=w.facilitator)
    db.session.commit()
    for group_session in (w.group_session, w.later_session):
        with pytest.raises(Conflict, match="already on an agenda"):
            agenda_building.accept(group_session, topic, 10, actor=w.coordinator)
        db.session.rollback()


def test_only_the_facilitator_and_coordinators_of_the_site_curate(
    db, agenda_world, create_user, other_site
):
    w = agenda_world
    topic = make_topic(db, w.group)
    for outsider in (
        w.bystander,
        w.members[0],
        create_user(COORDINATOR, sites=[other_site]),
    ):
        with pytest.raises(NotAllowed):
            agenda_building.accept(w.group_session, topic, 10, actor=outsider)
    # The facilitator of this session does not curate the next one.
    with pytest.raises(NotAllowed):
        agenda_building.accept(w.later_session, topic, 10, actor=w.facilitator)
    agenda_building.accept(w.later_session, topic, 10, actor=w.coordinator)


def test_a_cancelled_sessions_agenda_does_not_change(db, agenda_world):
    w = agenda_world
    schedule.cancel_session(w.group_session, "Snow", actor=w.coordinator)
    db.session.commit()
    with pytest.raises(Conflict, match="cancelled"):
        agenda_building.accept(w.group_session, make_topic(db, w.group), 10, actor=w.coordinator)


def test_a_topic_accepted_at_a_position_moves_the_others_down(db, agenda_world):
    w = agenda_world
    a, b, c = (make_topic(db, w.group, t) for t in "ABC")
    agenda_building.accept(w.group_session, a, 10, actor=w.facilitator)
    agenda_building.accept(w.group_session, b, 10, actor=w.facilitator)
    agenda_building.accept(w.group_session, c, 10, 1, actor=w.facilitator)
    db.session.commit()
    assert [e.topic.title for e in sessions.agenda_of(w.group_session)] == ["C", "A", "B"]
    assert [row.position for row in items_of(db, w.group_session.id)] == [1, 2, 3]


def test_reorder_moves_an_item_and_the_others_close_up(db, agenda_world):
    w = agenda_world
    items = [
        agenda_building.accept(w.group_session, make_topic(db, w.group, t), 10, actor=w.facilitator)
        for t in "ABCD"
    ]
    db.session.commit()
    agenda_building.reorder(items[3], 2, actor=w.facilitator)
    db.session.commit()
    assert [e.topic.title for e in sessions.agenda_of(w.group_session)] == ["A", "D", "B", "C"]
    agenda_building.reorder(items[0], 99, actor=w.facilitator)  # past the end: last
    db.session.commit()
    assert [e.topic.title for e in sessions.agenda_of(w.group_session)] == ["D", "B", "C", "A"]
    assert [row.position for row in items_of(db, w.group_session.id)] == [1, 2, 3, 4]


def test_a_time_box_may_grow_into_the_minutes_left_and_no_further(db, agenda_world):
    w = agenda_world
    a = agenda_building.accept(
        w.group_session, make_topic(db, w.group, "A"), 20, actor=w.facilitator
    )
    agenda_building.accept(w.group_session, make_topic(db, w.group, "B"), 15, actor=w.facilitator)
    db.session.commit()

    agenda_building.set_time_box(a, 30, actor=w.facilitator)  # 30 + 15 = 45
    db.session.commit()
    with pytest.raises(ValidationFailed, match="0 minutes left"):
        agenda_building.set_time_box(a, 31, actor=w.facilitator)
    db.session.rollback()
    assert [row.minutes for row in items_of(db, w.group_session.id)] == [30, 15]
    assert agenda_building.EV_TIME_BOX in events_of(db, a.topic_id)


def test_removing_an_item_opens_the_topic_again_with_its_votes(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group, "A", votes=w.members[:3])
    item = agenda_building.accept(w.group_session, topic, 20, actor=w.facilitator)
    other = agenda_building.accept(
        w.group_session, make_topic(db, w.group, "B"), 5, actor=w.facilitator
    )
    db.session.commit()

    agenda_building.remove_item(item, actor=w.facilitator)
    db.session.commit()
    assert db.session.get(AgendaTopic, topic.id).status == OPEN
    assert len(vote_pairs(db, topic.id)) == 3
    assert items_of(db, w.group_session.id) == [(other.topic_id, 1, 5, PLANNED)]
    assert sessions.budget(w.group_session).left == 40
    assert events_of(db, topic.id)[-1] == agenda_building.EV_REMOVED


# Curating topics


def test_merge_carries_votes_over_counting_each_voter_once(db, agenda_world):
    w = agenda_world
    m = w.members
    duplicate = make_topic(db, w.group, "Eating at restaurants", votes=[m[0], m[1], m[2]])
    into = make_topic(db, w.group, "Eating out", votes=[m[2], m[3]])

    moved = agenda_building.merge(duplicate, into, actor=w.facilitator)
    db.session.commit()

    assert moved == 2  # m[2] voted for both: one vote kept
    assert vote_pairs(db, into.id) == {m[0].id, m[1].id, m[2].id, m[3].id}
    assert vote_pairs(db, duplicate.id) == set()
    duplicate = db.session.get(AgendaTopic, duplicate.id)
    assert (duplicate.status, duplicate.merged_into_id) == (MERGED, into.id)
    assert events_of(db, duplicate.id) == [agenda_building.EV_MERGED]
    assert events_of(db, into.id) == [agenda_building.EV_MERGED_IN]
    note = db.session.scalar(select(TopicEvent.note).where(TopicEvent.topic_id == into.id))
    assert "2 votes carried over" in note


def test_merge_refuses_itself_another_group_merged_and_topics_on_an_agenda(
    db, agenda_world, create_group
):
    w = agenda_world
    a, b = make_topic(db, w.group, "A"), make_topic(db, w.group, "B")
    elsewhere = make_topic(db, create_group(rule=None), "Elsewhere")
    with pytest.raises(ValidationFailed, match="another topic"):
        agenda_building.merge(a, a, actor=w.coordinator)
    with pytest.raises(ValidationFailed, match="same group"):
        agenda_building.merge(a, elsewhere, actor=w.coordinator)
    agenda_building.accept(w.group_session, a, 10, actor=w.coordinator)
    db.session.commit()
    with pytest.raises(Conflict, match="on an agenda"):
        agenda_building.merge(a, b, actor=w.coordinator)
    db.session.rollback()
    agenda_building.merge(b, a, actor=w.coordinator)  # into a topic on the agenda: fine
    db.session.commit()
    c = make_topic(db, w.group, "C")
    with pytest.raises(Conflict, match="merged"):
        agenda_building.merge(c, b, actor=w.coordinator)


def test_only_curators_of_the_group_merge_decline_or_keep(db, agenda_world, create_user, site):
    w = agenda_world
    a, b = make_topic(db, w.group, "A"), make_topic(db, w.group, "B")
    # Facilitating one session (not the group's core team) curates that agenda only.
    stand_in = create_user(CLINICIAN, sites=[site])
    add_facilitator(db, w.later_session, stand_in)
    agenda_building.accept(w.later_session, a, 10, actor=stand_in)
    db.session.rollback()
    for outsider in (w.bystander, w.members[0], stand_in):
        with pytest.raises(NotAllowed):
            agenda_building.merge(a, b, actor=outsider)
        with pytest.raises(NotAllowed):
            agenda_building.decline(a, "Not for the group", actor=outsider)
        with pytest.raises(NotAllowed):
            agenda_building.keep_for_later(a, actor=outsider)


@pytest.mark.parametrize("reason", ["", "   \n ", "x" * 501])
def test_decline_needs_a_kind_reason(db, agenda_world, reason):
    w = agenda_world
    topic = make_topic(db, w.group)
    with pytest.raises(ValidationFailed, match="reason") as caught:
        agenda_building.decline(topic, reason, actor=w.coordinator)
    db.session.rollback()
    assert caught.value.field == "reason"
    assert db.session.get(AgendaTopic, topic.id).status == OPEN


def test_decline_keeps_the_reason_members_read(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group)
    agenda_building.decline(
        topic, "  Your care team can help with this one-on-one.  ", actor=w.coordinator
    )
    db.session.commit()
    topic = db.session.get(AgendaTopic, topic.id)
    assert (topic.status, topic.decline_reason) == (
        DECLINED,
        "Your care team can help with this one-on-one.",
    )
    assert events_of(db, topic.id) == [agenda_building.EV_DECLINED]
    with pytest.raises(Conflict, match="declined"):
        agenda_building.keep_for_later(topic, actor=w.coordinator)


def test_keep_for_later_leaves_votes_and_the_topic_may_be_added_later(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group, votes=w.members[:2])
    agenda_building.keep_for_later(topic, actor=w.coordinator)
    db.session.commit()
    assert db.session.get(AgendaTopic, topic.id).status == KEPT
    with pytest.raises(Conflict, match="already kept"):
        agenda_building.keep_for_later(topic, actor=w.coordinator)
    db.session.rollback()
    assert [c.topic.id for c in sessions.candidates(w.group_session)] == [topic.id]
    agenda_building.accept(w.group_session, topic, 10, actor=w.facilitator)
    db.session.commit()
    assert len(vote_pairs(db, topic.id)) == 2


def test_candidates_are_open_and_kept_topics_most_votes_first(db, agenda_world):
    w = agenda_world
    m = w.members
    few = make_topic(db, w.group, "Few", votes=m[:1])
    many = make_topic(db, w.group, "Many", votes=m[:3])
    none = make_topic(db, w.group, "None")
    make_topic(db, w.group, "Hidden", votes=m, hidden_at=utcnow())
    make_topic(db, w.group, "Declined", votes=m, status=DECLINED)
    make_topic(db, w.group, "Asked", kind=QUESTION, session_id=w.group_session.id)
    found = sessions.candidates(w.group_session)
    assert [(c.topic.id, c.votes) for c in found] == [(many.id, 3), (few.id, 1), (none.id, 0)]


def test_questions_of_the_session_newest_first_hidden_left_out(db, agenda_world):
    w = agenda_world
    first = make_topic(db, w.group, "First?", kind=QUESTION, session_id=w.group_session.id)
    second = make_topic(db, w.group, "Second?", kind=QUESTION, session_id=w.group_session.id)
    make_topic(
        db, w.group, "Hidden?", kind=QUESTION, session_id=w.group_session.id, hidden_at=utcnow()
    )
    make_topic(db, w.group, "Other session?", kind=QUESTION, session_id=w.later_session.id)
    make_topic(db, w.group, "A topic", session_id=w.group_session.id)
    assert [q.id for q in sessions.questions_of(w.group_session)] == [second.id, first.id]


# Publishing


def test_publishing_needs_a_topic_and_happens_once(db, agenda_world):
    w = agenda_world
    with pytest.raises(ValidationFailed, match="at least one topic"):
        agenda_building.publish(w.group_session, actor=w.facilitator)
    agenda_building.accept(w.group_session, make_topic(db, w.group), 10, actor=w.facilitator)
    assert agenda_building.publish(w.group_session, actor=w.facilitator) is True
    db.session.commit()
    first = w.group_session.agenda_published_at
    assert first is not None
    assert agenda_building.publish(w.group_session, actor=w.coordinator) is False
    db.session.commit()
    assert db.session.get(GroupSession, w.group_session.id).agenda_published_at == first
    with pytest.raises(NotAllowed):
        agenda_building.publish(w.group_session, actor=w.bystander)


def test_publish_due_publishes_agendas_from_local_midnight_n_days_before(db, agenda_world):
    w = agenda_world
    agenda_building.accept(w.group_session, make_topic(db, w.group, "A"), 10, actor=w.coordinator)
    agenda_building.accept(w.later_session, make_topic(db, w.group, "B"), 10, actor=w.coordinator)
    db.session.commit()
    due_at = sessions.publish_due_at(w.group_session)
    local = due_at.astimezone(w.group_session.timezone)
    assert (local.hour, local.minute) == (0, 0)
    assert (w.group_session.local_start.date() - local.date()).days == 3

    assert agenda_building.publish_due(now=due_at - timedelta(seconds=1)) == []
    assert agenda_building.publish_due(now=due_at) == [w.group_session.id]
    db.session.commit()
    assert agenda_building.publish_due(now=due_at + timedelta(hours=1)) == []  # done already
    assert db.session.get(GroupSession, w.later_session.id).agenda_published_at is None


def test_publish_due_skips_empty_cancelled_and_past_sessions(db, agenda_world):
    w = agenda_world
    w.group.agenda_publish_days = 14
    db.session.commit()
    now = w.later_session.starts_at - timedelta(days=10)
    assert agenda_building.publish_due(now=now) == []  # no topics yet
    agenda_building.accept(w.later_session, make_topic(db, w.group, "B"), 10, actor=w.coordinator)
    db.session.commit()
    schedule.cancel_session(w.later_session, "Holiday", actor=w.coordinator)
    db.session.commit()
    assert agenda_building.publish_due(now=now) == []
    assert agenda_building.publish_due(now=w.group_session.starts_at + timedelta(minutes=1)) == []


def test_the_publish_agendas_command_publishes_what_is_due(db, runner, agenda_world):
    w = agenda_world
    agenda_building.accept(w.group_session, make_topic(db, w.group), 10, actor=w.coordinator)
    w.group.agenda_publish_days = 14
    db.session.commit()
    days_ahead = (w.group_session.starts_at - utcnow()).days
    result = runner.invoke(publish_agendas)
    assert result.exit_code == 0, result.output
    if days_ahead < 13:
        assert result.output.strip() == "Published 1 agenda."
        assert db.session.get(GroupSession, w.group_session.id).agenda_published_at
    else:  # the next session is more than two weeks away: not due yet
        assert result.output.strip() == "Published 0 agendas."


def test_agenda_titles_for_gives_published_titles_in_order_in_one_query(
    db, agenda_world, count_queries
):
    w = agenda_world
    a = make_topic(db, w.group, "Eating out")
    b = make_topic(db, w.group, "Managing insulin when travelling")
    c = make_topic(db, w.group, "Walking groups")
    hidden = make_topic(db, w.group, "Hidden later")
    for topic in (a, b, c, hidden):
        agenda_building.accept(w.group_session, topic, 5, actor=w.coordinator)
    agenda_building.reorder(
        db.session.scalar(select(AgendaItem).filter_by(topic_id=c.id)), 1, actor=w.coordinator
    )
    agenda_building.accept(
        w.later_session, make_topic(db, w.group, "Not published"), 5, actor=w.coordinator
    )
    agenda_building.publish(w.group_session, actor=w.coordinator)
    db.session.get(AgendaTopic, hidden.id).hidden_at = utcnow()
    db.session.commit()

    ids = [w.group_session.id, w.later_session.id, 10**6]
    with count_queries() as counter:
        titles = sessions.agenda_titles_for(ids)
    assert counter.count == 1
    assert titles == {w.group_session.id: ["Walking groups", "Eating out", sessions.NEUTRAL_TITLE]}
    with count_queries() as counter:
        assert sessions.agenda_titles_for([]) == {}
    assert counter.count == 0


def test_member_agenda_shows_only_a_published_agenda_without_hidden_topics(db, agenda_world):
    w = agenda_world
    shown, hidden = make_topic(db, w.group, "Shown"), make_topic(db, w.group, "Hidden")
    agenda_building.accept(w.group_session, shown, 15, actor=w.coordinator)
    agenda_building.accept(w.group_session, hidden, 10, actor=w.coordinator)
    db.session.commit()
    assert sessions.member_agenda(w.group_session).entries == []
    agenda_building.publish(w.group_session, actor=w.coordinator)
    db.session.get(AgendaTopic, hidden.id).hidden_at = utcnow()
    db.session.commit()
    agenda = sessions.member_agenda(w.group_session)
    assert [e.topic.title for e in agenda.entries] == ["Shown"]
    assert agenda.total_minutes == 15 and agenda.group is w.group


# During and after the session


def started(group_session):
    return group_session.starts_at + timedelta(minutes=30)


def test_mark_discussed_keeps_a_summary_and_secure_links(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group)
    item = agenda_building.accept(w.group_session, topic, 20, actor=w.facilitator)
    db.session.commit()
    agenda_outcomes.mark_discussed(
        item,
        "  We shared tips for ordering.  ",
        "https://www.example.org/menu-tips\n\n  https://food.example.org/a?b=1  \n",
        actor=w.facilitator,
        now=started(w.group_session),
    )
    db.session.commit()
    item = db.session.get(AgendaItem, item.id)
    assert (item.outcome, item.summary) == (DISCUSSED, "We shared tips for ordering.")
    assert sessions.link_list(item.links) == [
        "https://www.example.org/menu-tips",
        "https://food.example.org/a?b=1",
    ]
    assert db.session.get(AgendaTopic, topic.id).status == DISCUSSED
    agenda_outcomes.mark_discussed(
        item, "Changed.", "", actor=w.coordinator, now=started(w.group_session)
    )
    db.session.commit()
    assert events_of(db, topic.id)[-2:] == [
        agenda_outcomes.EV_DISCUSSED,
        agenda_outcomes.EV_SUMMARY,
    ]


@pytest.mark.parametrize(
    "links",
    [
        "http://www.example.org/tips",
        "https://",
        "javascript:alert(1)",
        "www.example.org",
        "https://user@evil.example.org/",
        "\n".join(f"https://example.org/{n}" for n in range(6)),
        "https://example.org/" + "x" * 500,
    ],
)
def test_mark_discussed_refuses_links_that_are_not_https_with_a_host(db, agenda_world, links):
    w = agenda_world
    item = agenda_building.accept(w.group_session, make_topic(db, w.group), 20, actor=w.facilitator)
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        agenda_outcomes.mark_discussed(
            item, "Fine", links, actor=w.facilitator, now=started(w.group_session)
        )
    db.session.rollback()
    assert caught.value.field == "links"
    assert db.session.get(AgendaItem, item.id).outcome == PLANNED


def test_mark_discussed_refuses_a_long_summary_and_a_session_not_begun(db, agenda_world):
    w = agenda_world
    item = agenda_building.accept(w.group_session, make_topic(db, w.group), 20, actor=w.facilitator)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="1000 characters"):
        agenda_outcomes.mark_discussed(
            item, "x" * 1001, "", actor=w.facilitator, now=started(w.group_session)
        )
    with pytest.raises(Conflict, match="once the session has begun"):
        agenda_outcomes.mark_discussed(item, "Soon", "", actor=w.facilitator)
    db.session.rollback()
    assert db.session.get(AgendaItem, item.id).outcome == PLANNED


def test_carry_over_sends_the_topic_to_the_next_session_open_with_its_votes(db, agenda_world):
    w = agenda_world
    topic = make_topic(db, w.group, votes=w.members[:3])
    item = agenda_building.accept(w.group_session, topic, 30, actor=w.facilitator)
    db.session.commit()

    later = agenda_outcomes.carry_over(item, actor=w.facilitator)
    db.session.commit()

    assert later.id == w.later_session.id
    topic = db.session.get(AgendaTopic, topic.id)
    assert (topic.status, topic.session_id) == (OPEN, w.later_session.id)
    assert len(vote_pairs(db, topic.id)) == 3
    assert db.session.get(AgendaItem, item.id).outcome == CARRIED_OVER
    assert sessions.budget(w.group_session).used == 0  # its time is free again
    with pytest.raises(Conflict, match="carried over"):
        agenda_outcomes.carry_over(item, actor=w.facilitator)
    db.session.rollback()
    with pytest.raises(Conflict, match="carried over"):
        agenda_building.accept(w.group_session, topic, 10, actor=w.coordinator)
    db.session.rollback()
    agenda_building.accept(w.later_session, topic, 10, actor=w.coordinator)  # onwards it goes
    db.session.commit()
    assert events_of(db, topic.id) == [
        agenda_building.EV_ACCEPTED,
        agenda_outcomes.EV_CARRIED,
        agenda_building.EV_ACCEPTED,
    ]


def test_carry_over_without_a_later_session_is_refused(db, agenda_world, create_group):
    w = agenda_world
    last = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == w.group.id)
        .order_by(GroupSession.starts_at.desc())
    ).first()
    item = agenda_building.accept(last, make_topic(db, w.group), 10, actor=w.coordinator)
    db.session.commit()
    with pytest.raises(ValidationFailed, match="no later session"):
        agenda_outcomes.carry_over(item, actor=w.coordinator)
    db.session.rollback()
    assert db.session.get(AgendaItem, item.id).outcome == PLANNED


def test_talked_about_lists_discussed_items_per_session_newest_first(
    db, agenda_world, count_queries
):
    w = agenda_world
    m = w.members

    def discuss(group_session, title, summary):
        item = agenda_building.accept(
            group_session, make_topic(db, w.group, title, votes=m[:2]), 10, actor=w.coordinator
        )
        agenda_outcomes.mark_discussed(
            item, summary, "", actor=w.coordinator, now=started(group_session)
        )
        return item

    discuss(w.group_session, "Sleep", "Keep a routine.")
    discuss(w.group_session, "Stress", "Breathing exercise.")
    discuss(w.later_session, "Walking", "Walk after meals.")
    planned = agenda_building.accept(
        w.later_session, make_topic(db, w.group, "Planned"), 5, actor=w.coordinator
    )
    hidden = discuss(w.later_session, "Hidden", "Hidden")
    db.session.get(AgendaTopic, hidden.topic_id).hidden_at = utcnow()
    db.session.commit()
    assert planned.outcome == PLANNED
    assert w.group.id  # loaded before counting

    with count_queries() as counter:
        history = sessions.talked_about(w.group)
        shown = [
            (t.group_session.id, [(e.topic.title, e.item.summary, e.votes) for e in t.entries])
            for t in history.talks
        ]
    assert counter.count == 1
    assert history.total == 2
    assert shown == [
        (w.later_session.id, [("Walking", "Walk after meals.", 2)]),
        (
            w.group_session.id,
            [("Sleep", "Keep a routine.", 2), ("Stress", "Breathing exercise.", 2)],
        ),
    ]


def test_talked_about_pages_through_the_sessions_newest_first_in_one_query_each(
    db, agenda_world, count_queries, monkeypatch
):
    w = agenda_world
    monkeypatch.setattr(sessions, "TALKED_PAGE", 2)
    five = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == w.group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
        .limit(5)
    ).all()
    for n, group_session in enumerate(five):
        topic = make_topic(db, w.group, f"Topic {n}")
        item = agenda_building.accept(group_session, topic, 10, actor=w.coordinator)
        agenda_outcomes.mark_discussed(
            item, f"Summary {n}", "", actor=w.coordinator, now=started(group_session)
        )
    db.session.commit()
    assert w.group.id  # loaded before counting

    pages = []
    for page in (1, 2, 3, 4):
        with count_queries() as counter:
            history = sessions.talked_about(w.group, page=page)
            pages.append([[e.topic.title for e in t.entries] for t in history.talks])
        assert counter.count == 1
        assert history.total == (5 if history.talks else 0)

    assert pages == [
        [["Topic 4"], ["Topic 3"]],
        [["Topic 2"], ["Topic 1"]],
        [["Topic 0"]],
        [],
    ]


def test_agenda_of_reads_in_one_query_however_many_items_and_votes(
    db, agenda_world, create_user, site, count_queries
):
    w = agenda_world
    agenda_building.accept(
        w.group_session, make_topic(db, w.group, "A", votes=w.members), 5, actor=w.coordinator
    )
    db.session.commit()
    assert w.group_session.group_id  # loaded before counting
    with count_queries() as small:
        sessions.agenda_of(w.group_session)
        sessions.budget(w.group_session)
        sessions.candidates(w.group_session)
    voters = [add_member(db, w.group, create_user(PATIENT, sites=[site])) for _ in range(6)]
    for title in "BCDE":
        agenda_building.accept(
            w.group_session, make_topic(db, w.group, title, votes=voters), 5, actor=w.coordinator
        )
        make_topic(db, w.group, f"Open {title}", votes=voters, proposer=voters[0])
    db.session.commit()
    assert w.group_session.group_id
    with count_queries() as large:
        assert len(sessions.agenda_of(w.group_session)) == 5
        sessions.budget(w.group_session)
        assert len(sessions.candidates(w.group_session)) == 4
    assert large.count == small.count == 3


def test_votes_and_anonymity_of_topics_are_left_as_they_were(db, agenda_world):
    """Curation changes statuses and votes, never who proposed a topic or how it is shown."""
    w = agenda_world
    anonymous = make_topic(db, w.group, "Anon", proposer=w.members[0], shown_as=ANONYMOUS)
    fully = make_topic(db, w.group, "Fully", shown_as=ANONYMOUS)
    agenda_building.merge(fully, anonymous, actor=w.coordinator)
    agenda_building.accept(w.group_session, anonymous, 10, actor=w.coordinator)
    db.session.commit()
    rows = db.session.execute(
        select(AgendaTopic.id, AgendaTopic.proposer_id, AgendaTopic.shown_as).order_by(
            AgendaTopic.id
        )
    ).all()
    assert rows == [
        (anonymous.id, w.members[0].id, ANONYMOUS),
        (fully.id, None, ANONYMOUS),
    ]
    assert db.session.scalar(select(func.count()).select_from(TopicEvent)) == 3
