"""A group's topics and the question box, as services: who may put forward, vote and hide,
what members and staff see of whom, and what bad input leaves behind (nothing)."""

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.agenda import topic_changes, topic_rows, topics
from groupvisits.agenda.models import (
    ACCEPTED,
    ANONYMOUS,
    BY_NAME,
    DECLINED,
    DISCUSSED,
    KEPT,
    MERGED,
    OPEN,
    QUESTION,
    TOPIC,
    AgendaTopic,
    TopicEvent,
    TopicVote,
)
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.permissions import can_curate_topics
from groupvisits.roster import services as roster
from groupvisits.roster.models import WAITLISTED
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import FACILITATOR
from groupvisits.timeutil import utcnow

# Fixtures: a group with a monthly schedule, its members, and people around it


@pytest.fixture(autouse=True)
def merged_topics_deleted_first(db):
    """After each test, delete merged topics before the others: on SQLite a topic another
    was merged into cannot go first (RESTRICT is checked row by row there)."""
    yield
    db.session.rollback()
    while db.session.execute(
        delete(AgendaTopic).where(AgendaTopic.merged_into_id.is_not(None))
    ).rowcount:
        pass
    db.session.commit()


@pytest.fixture
def group(create_group):
    return create_group(max_members=3, target_members=3, min_members=1)


@pytest.fixture
def enrol(db, coordinator):
    """``enrol(group, patient, share_name=None)``: a member with a place (or waiting, if full)."""

    def make(group, patient, share_name=None):
        membership = roster.enrol(group, patient, actor=coordinator)
        if share_name is not None:
            roster.set_share_name(membership, share_name, actor=patient)
        db.session.commit()
        return membership

    return make


@pytest.fixture
def member(create_user, group, enrol):
    patient = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    enrol(group, patient, share_name=True)
    return patient


@pytest.fixture
def shy_member(create_user, group, enrol):
    """A member who chose not to show their name to fellow members."""
    patient = create_user(PATIENT, given_name="Sam", family_name="Quiet")
    enrol(group, patient, share_name=False)
    return patient


@pytest.fixture
def waitlisted(create_user, group, enrol, member, shy_member):
    enrol(group, create_user(PATIENT))  # the third and last place
    patient = create_user(PATIENT, given_name="Wade", family_name="Waiting")
    membership = enrol(group, patient)
    assert membership.status == WAITLISTED
    return patient


@pytest.fixture
def former_member(db, create_user, group, enrol):
    patient = create_user(PATIENT, given_name="Fay", family_name="Former")
    membership = enrol(group, patient)
    roster.withdraw(membership, actor=patient)
    db.session.commit()
    return patient


@pytest.fixture
def other_group_member(create_user, create_group, enrol):
    patient = create_user(PATIENT, given_name="Otto", family_name="Other")
    enrol(create_group(), patient)
    return patient


@pytest.fixture
def other_site_coordinator(create_user, other_site):
    return create_user(COORDINATOR, sites=[other_site])


@pytest.fixture
def facilitator(db, create_user, group, coordinator):
    """A clinician on the group's core team as facilitator: curates its topics."""
    clinician = create_user(CLINICIAN, discipline="behavioural_health")
    team.add_core_member(group, clinician, FACILITATOR, actor=coordinator)
    db.session.commit()
    return clinician


def put_forward(group, actor, title="Eating out", **kwargs) -> AgendaTopic:
    from groupvisits.extensions import db

    topic = topic_changes.propose(group, title=title, actor=actor, **kwargs)
    db.session.commit()
    return topic


def topic_count(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(AgendaTopic.id)))


def vote_count(db, topic_id: int | None = None) -> int:
    db.session.rollback()
    query = select(func.count(TopicVote.id))
    if topic_id is not None:
        query = query.where(TopicVote.topic_id == topic_id)
    return db.session.scalar(query)


def events_of(db, topic_id: int) -> list[tuple[str, int | None, str]]:
    rows = db.session.execute(
        select(TopicEvent.kind, TopicEvent.actor_id, TopicEvent.note)
        .where(TopicEvent.topic_id == topic_id)
        .order_by(TopicEvent.id)
    )
    return [tuple(row) for row in rows]


def next_scheduled(db, group) -> GroupSession:
    return schedule.next_sessions([group.id], utcnow())[group.id]


# Putting a topic forward


def test_a_member_puts_a_topic_forward_by_name_tidied(db, group, member):
    topic = put_forward(
        group, member, title="  Eating   out\twith friends ", details="  Restaurants?\r\nBuffets. "
    )

    assert (topic.kind, topic.title, topic.details) == (
        TOPIC,
        "Eating out with friends",
        "Restaurants?\nBuffets.",
    )
    assert (topic.shown_as, topic.proposer_id, topic.proposed_by_staff) == (
        BY_NAME,
        member.id,
        False,
    )
    assert (topic.status, topic.session_id, topic.is_hidden) == (OPEN, None, False)
    assert events_of(db, topic.id) == [("proposed", member.id, "")]


def test_a_topic_for_the_next_session_is_for_the_next_scheduled_one(db, group, member, coordinator):
    first = next_scheduled(db, group)
    schedule.cancel_session(first, "Snow", actor=coordinator)
    db.session.commit()

    topic = put_forward(group, member, for_next_session=True)

    following = next_scheduled(db, group)
    assert following.id != first.id
    assert topic.session_id == following.id


def test_a_topic_for_the_next_session_of_a_group_without_sessions_is_refused(
    db, create_group, coordinator
):
    unscheduled = create_group(rule=None)

    with pytest.raises(ValidationFailed, match="No session of this group is planned") as caught:
        topic_changes.propose(unscheduled, title="Sleep", for_next_session=True, actor=coordinator)

    assert caught.value.field == "when"
    assert topic_count(db) == 0


def test_an_anonymous_topic_hides_the_member_from_members_but_not_from_staff(db, group, member):
    topic = put_forward(group, member, anonymous=True)

    assert (topic.shown_as, topic.proposer_id) == (ANONYMOUS, member.id)
    assert not topic_rows.is_fully_anonymous(topic)
    assert events_of(db, topic.id) == [("proposed", member.id, "")]


def test_a_fully_anonymous_topic_keeps_nobody_not_even_in_its_history(db, group, member):
    group.allow_anonymous_topics = True
    db.session.commit()

    topic = put_forward(group, member, title="Erectile problems", anonymous=True)

    assert (topic.shown_as, topic.proposer_id, topic.proposed_by_staff) == (ANONYMOUS, None, False)
    assert topic_rows.is_fully_anonymous(topic)
    assert events_of(db, topic.id) == [("proposed", None, "")]


def test_a_member_of_a_group_allowing_anonymity_may_still_show_their_name(db, group, member):
    group.allow_anonymous_topics = True
    db.session.commit()

    topic = put_forward(group, member, anonymous=False)

    assert (topic.shown_as, topic.proposer_id) == (BY_NAME, member.id)


@pytest.mark.parametrize("allow_anonymous", [False, True])
def test_staff_topics_always_show_the_staff_members_name(
    db, group, coordinator, facilitator, allow_anonymous
):
    group.allow_anonymous_topics = allow_anonymous
    db.session.commit()

    by_coordinator = put_forward(group, coordinator, anonymous=True)
    by_clinician = put_forward(group, facilitator, title="Foot care")

    for topic, author in ((by_coordinator, coordinator), (by_clinician, facilitator)):
        assert (topic.shown_as, topic.proposer_id, topic.proposed_by_staff) == (
            BY_NAME,
            author.id,
            True,
        )
        assert events_of(db, topic.id) == [("proposed", author.id, "")]


def test_a_title_of_exactly_the_longest_length_is_kept(group, member):
    assert len(put_forward(group, member, title="x" * 120).title) == 120


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "Give your topic a short title"),
        ("   \t\n ", "Give your topic a short title"),
        (None, "Give your topic a short title"),
        ("x" * 121, "Keep the title to 120 characters \\(it has 121\\)"),
        ("a\x00b", "null character"),
    ],
)
def test_a_bad_title_is_refused_with_a_clear_message_and_nothing_saved(
    db, group, member, title, message
):
    with pytest.raises(ValidationFailed, match=message) as caught:
        topic_changes.propose(group, title=title, actor=member)

    assert caught.value.field == "title"
    assert topic_count(db) == 0


def test_details_are_counted_as_the_browser_counts_them(db, group, member):
    fits = "line\r\n" * 199 + "last"  # 199 * 5 + 4 = 999 characters once "\r\n" is one
    assert len(put_forward(group, member, details=fits).details) == 999

    with pytest.raises(ValidationFailed, match="up to 1000 characters \\(it has 1001\\)") as caught:
        topic_changes.propose(group, title="Too much", details="y" * 1001, actor=member)
    assert caught.value.field == "details"
    assert topic_count(db) == 1


def test_people_without_a_place_in_the_group_cannot_put_topics_forward(
    db, group, waitlisted, former_member, other_group_member, other_site_coordinator
):
    for outsider in (waitlisted, former_member, other_group_member, other_site_coordinator):
        with pytest.raises(NotAllowed):
            topic_changes.propose(group, title="Let me in", actor=outsider)
    assert topic_count(db) == 0


# Votes


@pytest.fixture
def topic(group, member):
    return put_forward(group, member)


def test_a_member_votes_once_and_a_second_vote_changes_nothing(db, topic, shy_member):
    assert topic_changes.vote(topic, shy_member) is True
    db.session.commit()
    assert topic_changes.vote(topic, shy_member) is False
    db.session.commit()

    assert vote_count(db, topic.id) == 1


def test_a_member_takes_their_vote_back_and_may_vote_again(db, topic, shy_member):
    topic_changes.vote(topic, shy_member)
    db.session.commit()

    assert topic_changes.unvote(topic, shy_member) is True
    db.session.commit()
    assert vote_count(db, topic.id) == 0
    assert topic_changes.unvote(topic, shy_member) is False
    assert topic_changes.vote(topic, shy_member) is True
    db.session.commit()
    assert vote_count(db, topic.id) == 1


def test_a_proposer_may_vote_for_their_own_topic(db, topic, member):
    assert topic_changes.vote(topic, member) is True
    db.session.commit()
    assert vote_count(db, topic.id) == 1


def test_only_members_with_a_place_vote(
    db,
    topic,
    coordinator,
    facilitator,
    waitlisted,
    former_member,
    other_group_member,
    other_site_coordinator,
):
    for outsider in (
        coordinator,
        facilitator,
        waitlisted,
        former_member,
        other_group_member,
        other_site_coordinator,
    ):
        with pytest.raises(NotAllowed, match="Only members of this group vote"):
            topic_changes.vote(topic, outsider)
        db.session.rollback()
    assert vote_count(db) == 0


def test_a_member_of_another_group_cannot_vote_on_this_groups_topic(
    db, create_group, topic, enrol, create_user
):
    elsewhere = create_user(PATIENT)
    enrol(create_group(), elsewhere)

    with pytest.raises(NotAllowed):
        topic_changes.vote(topic, elsewhere)
    assert vote_count(db) == 0


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (DECLINED, "declined"),
        (MERGED, "merged into another one"),
        (DISCUSSED, "talked about"),
    ],
)
def test_votes_on_a_closed_topic_are_refused_and_nothing_is_saved(
    db, group, member, shy_member, topic, status, message
):
    into = put_forward(group, member, title="Restaurants")
    topic_changes.vote(topic, member)
    if status == MERGED:
        topic.merged_into_id = into.id
    topic.status = status
    db.session.commit()

    with pytest.raises(ValidationFailed, match=message):
        topic_changes.vote(topic, shy_member)
    db.session.rollback()
    with pytest.raises(ValidationFailed, match=message):
        topic_changes.unvote(topic, member)
    db.session.rollback()

    assert vote_count(db, topic.id) == 1


@pytest.mark.parametrize("status", [OPEN, ACCEPTED, KEPT])
def test_votes_on_open_accepted_and_kept_topics_count(db, topic, shy_member, status):
    topic.status = status
    db.session.commit()

    assert topic_changes.vote(topic, shy_member) is True
    db.session.commit()
    assert vote_count(db, topic.id) == 1


def test_votes_on_a_hidden_topic_are_refused_and_nothing_is_saved(
    db, topic, member, shy_member, coordinator
):
    topic_changes.vote(topic, member)
    topic_changes.hide(topic, "Names another patient", coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="taken off the list"):
        topic_changes.vote(topic, shy_member)
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="taken off the list"):
        topic_changes.unvote(topic, member)
    db.session.rollback()

    assert vote_count(db, topic.id) == 1


def test_questions_are_not_voted_on(db, group, member, shy_member):
    question = _question_now(db, group, member)

    with pytest.raises(ValidationFailed, match="not voted on"):
        topic_changes.vote(question, shy_member)
    assert vote_count(db) == 0


# What each viewer sees


def _by_title(rows):
    return {row.topic.title: row for row in rows}


def every_topic(group, viewer, sort="votes"):
    """Every row of the topic page's lists: open for votes, closed, hidden (staff)."""
    return topics.topic_lists(group, viewer, sort).rows


def test_members_see_topics_with_their_votes_most_votes_first(db, group, member, shy_member):
    older = put_forward(group, member, title="Older, one vote")
    newer = put_forward(group, member, title="Newer, one vote")
    top = put_forward(group, shy_member, title="Two votes")
    put_forward(group, shy_member, title="No votes")
    topic_changes.vote(top, member)
    topic_changes.vote(top, shy_member)
    topic_changes.vote(newer, member)
    topic_changes.vote(older, shy_member)
    db.session.commit()

    rows = topics.topic_lists(group, member).open

    assert [(r.topic.title, r.votes, r.voted) for r in rows] == [
        ("Two votes", 2, True),
        ("Older, one vote", 1, False),  # ties: the one waiting longest first
        ("Newer, one vote", 1, True),
        ("No votes", 0, False),
    ]
    newest_first = [r.topic.title for r in topics.topic_lists(group, member, sort="new").open]
    assert newest_first == ["No votes", "Two votes", "Newer, one vote", "Older, one vote"]


def test_an_unknown_order_is_a_programming_error(group, member):
    with pytest.raises(ValueError):
        topics.topic_lists(group, member, sort="alphabet")


def test_members_see_names_only_as_fellow_members_may_see_them(
    db, group, member, shy_member, create_user, enrol, coordinator
):
    group.allow_anonymous_topics = False
    put_forward(group, member, title="By Rosa")
    put_forward(group, shy_member, title="By Sam")
    put_forward(group, member, title="Anonymous Rosa", anonymous=True)
    put_forward(group, coordinator, title="By the coordinator")
    viewer = create_user(PATIENT)
    enrol(group, viewer, share_name=True)

    rows = _by_title(every_topic(group, viewer))

    assert rows["By Rosa"].shown_name == "Rosa L."
    assert rows["By Rosa"].named_patient_id == member.id
    assert rows["By Sam"].shown_name == "A member"
    assert rows["Anonymous Rosa"].shown_name == "Anonymous"
    assert rows["By the coordinator"].shown_name == "Cora Ordinator (clinic team)"
    assert [r.named_patient_id for t, r in rows.items() if t != "By Rosa"] == [None] * 3


def test_a_member_sees_their_own_topics_as_theirs_and_how_the_group_sees_them(
    group, member, shy_member
):
    put_forward(group, shy_member, title="Mine, by name")
    put_forward(group, shy_member, title="Mine, anonymous", anonymous=True)
    put_forward(group, member, title="Not mine")

    rows = _by_title(every_topic(group, shy_member))

    assert (rows["Mine, by name"].mine, rows["Mine, by name"].shown_name) == (True, "You")
    assert rows["Mine, by name"].group_sees == "A member"
    assert rows["Mine, anonymous"].group_sees == "Anonymous"
    assert not rows["Not mine"].mine
    assert all(r.named_patient_id in (None, member.id) for r in rows.values())


def test_staff_see_proposers_but_never_a_fully_anonymous_one(db, group, member, coordinator):
    put_forward(group, member, title="By name")
    put_forward(group, member, title="Anonymous", anonymous=True)
    group.allow_anonymous_topics = True
    db.session.commit()
    put_forward(group, member, title="Fully anonymous", anonymous=True)

    rows = _by_title(every_topic(group, coordinator))

    assert rows["By name"].shown_name == "Rosa Lopez"
    assert rows["By name"].named_patient_id == member.id
    assert rows["Anonymous"].shown_name == "Rosa Lopez"
    assert rows["Anonymous"].group_sees == "Anonymous"
    # The trail must not undo anonymity: an anonymous topic names nobody to audit.
    assert rows["Anonymous"].named_patient_id is None
    assert rows["Fully anonymous"].shown_name.startswith("Fully anonymous: nobody")
    assert rows["Fully anonymous"].named_patient_id is None


def test_hidden_topics_vanish_for_members_and_stay_marked_for_staff(
    db, group, member, coordinator, clinician
):
    put_forward(group, member, title="Stays")
    hidden = put_forward(group, member, title="Names a neighbour")
    topic_changes.hide(hidden, "Names someone outside the group", coordinator)
    db.session.commit()

    member_sees = topics.topic_lists(group, member)
    assert [r.topic.title for r in member_sees.rows] == ["Stays"]
    assert member_sees.hidden.total == 0
    for staff in (coordinator, clinician):
        lists = topics.topic_lists(group, staff)
        assert [r.topic.title for r in lists.open] == ["Stays"]
        (row,) = lists.hidden.rows
        assert row.topic.title == "Names a neighbour"
        assert row.topic.is_hidden
        assert row.hidden_by.id == coordinator.id
        assert not row.can_vote
        assert lists.hidden.total == 1


def test_members_still_see_what_became_of_declined_merged_and_discussed_topics(db, group, member):
    into = put_forward(group, member, title="Restaurants")
    merged = put_forward(group, member, title="Eating out")
    merged.status, merged.merged_into_id = MERGED, into.id
    declined = put_forward(group, member, title="Politics")
    declined.status, declined.decline_reason = DECLINED, "Not for this group, sorry."
    db.session.commit()

    lists = topics.topic_lists(group, member)
    rows = _by_title(lists.rows)

    assert [r.topic.title for r in lists.open] == ["Restaurants"]
    assert {r.topic.title for r in lists.closed.rows} == {"Eating out", "Politics"}
    assert rows["Eating out"].merged_into_title == "Restaurants"
    assert rows["Politics"].topic.decline_reason == "Not for this group, sorry."
    assert [r.can_vote for r in rows.values()] == [True, False, False]


def _close(db, topic, status, days_ago):
    """Close ``topic`` as if it happened ``days_ago`` (its last change)."""
    topic.status = status
    topic.decline_reason = "Not for this group." if status == DECLINED else ""
    db.session.flush()
    topic.updated_at = utcnow() - timedelta(days=days_ago)
    db.session.commit()


def test_the_topic_page_shows_the_latest_closed_topics_and_counts_them_all(
    db, group, member, coordinator
):
    for n in range(8):
        _close(db, put_forward(group, member, title=f"Closed {n}"), DISCUSSED, days_ago=n)
    put_forward(group, member, title="Open")

    lists = topics.topic_lists(group, member)

    assert [r.topic.title for r in lists.open] == ["Open"]
    assert [r.topic.title for r in lists.closed.rows] == [
        f"Closed {n}" for n in range(topics.LATEST_SHOWN)
    ]
    assert lists.closed.total == 8
    assert topics.topic_lists(group, member, latest=2).closed.total == 8


def test_closed_and_hidden_topics_are_read_page_by_page_latest_first(
    db, group, member, coordinator, monkeypatch
):
    monkeypatch.setattr(topics, "SHELF_PAGE", 3)
    for n in range(7):
        _close(db, put_forward(group, member, title=f"Closed {n}"), DECLINED, days_ago=n)
    for n in range(4):
        topic_changes.hide(
            put_forward(group, member, title=f"Hidden {n}"), "Off topic", coordinator
        )
        db.session.commit()

    def titles(viewer, shelf, page):
        found = topics.topic_shelf(group, viewer, shelf, page=page)
        return [r.topic.title for r in found.rows], found.total

    assert titles(member, "closed", 1) == (["Closed 0", "Closed 1", "Closed 2"], 7)
    assert titles(member, "closed", 3) == (["Closed 6"], 7)
    assert titles(member, "closed", 4) == ([], 0)
    # The latest hidden first; members get none of them.
    assert titles(coordinator, "hidden", 1)[0] == ["Hidden 3", "Hidden 2", "Hidden 1"]
    assert titles(coordinator, "hidden", 2) == (["Hidden 0"], 4)
    assert titles(member, "hidden", 1) == ([], 0)
    with pytest.raises(ValueError):
        topics.topic_shelf(group, member, "everything", page=1)


def test_a_member_sees_the_title_of_a_merged_topics_target_only_if_it_is_not_hidden(
    db, group, member, coordinator
):
    into = put_forward(group, member, title="Restaurants")
    merged = put_forward(group, member, title="Eating out")
    merged.status, merged.merged_into_id = MERGED, into.id
    db.session.commit()
    topic_changes.hide(into, "Names a restaurant owner", coordinator)
    db.session.commit()

    (for_member,) = topics.topic_lists(group, member).closed.rows
    (for_staff,) = topics.topic_lists(group, coordinator).closed.rows

    assert for_member.merged_into_title is None
    assert for_staff.merged_into_title == "Restaurants"


def test_questions_are_not_among_the_groups_topics(db, group, member):
    put_forward(group, member, title="A topic")
    _question_now(db, group, member, "A question?")

    assert [r.topic.title for r in every_topic(group, member)] == ["A topic"]


def test_the_topic_lists_take_one_query_however_many_topics_and_votes(
    db, group, member, shy_member, create_user, enrol, coordinator, count_queries
):
    put_forward(group, member, title="First")
    assert group.id and member.role  # loaded before counting
    with count_queries() as few:
        assert len(every_topic(group, member)) == 1

    group.max_members = 15
    voters = [member, shy_member]
    for _ in range(8):
        voters.append(create_user(PATIENT))
        enrol(group, voters[-1], share_name=True)
    for n in range(30):
        topic = put_forward(
            group, voters[n % len(voters)], title=f"Topic {n}", anonymous=n % 3 == 0
        )
        for voter in voters[: n % len(voters)]:
            topic_changes.vote(topic, voter)
        if n % 7 == 0:
            topic_changes.hide(topic, "Off topic", coordinator)
    db.session.commit()

    for viewer in (member, coordinator):
        assert group.id and viewer.role  # loaded before counting
        with count_queries() as many:
            rows = every_topic(group, viewer)
            [(r.shown_name, r.for_session_at, r.merged_into_title, r.hidden_by) for r in rows]
        assert many.count == few.count == 1
    assert sum(r.votes for r in every_topic(group, coordinator)) > 100


# The question box


def _question_now(db, group, actor, text="What about snacks?"):
    group_session = next_scheduled(db, group)
    question = topic_changes.drop_question(group_session, text, actor, now=group_session.starts_at)
    db.session.commit()
    return question


@pytest.fixture
def group_session(db, group):
    return next_scheduled(db, group)


@pytest.mark.parametrize(
    "moment",
    [
        lambda s: s.starts_at - timedelta(minutes=60),
        lambda s: s.starts_at,
        lambda s: s.ends_at,
    ],
    ids=["an hour before", "at the start", "at the end"],
)
def test_a_member_drops_a_question_during_the_session(db, group_session, member, moment):
    question = topic_changes.drop_question(
        group_session, "  How do I read a food label?  ", member, now=moment(group_session)
    )
    db.session.commit()

    assert (question.kind, question.title, question.details) == (
        QUESTION,
        "How do I read a food label?",
        "",
    )
    assert (question.session_id, question.shown_as, question.proposer_id) == (
        group_session.id,
        ANONYMOUS,
        member.id,
    )
    assert events_of(db, question.id) == [("proposed", member.id, "")]


@pytest.mark.parametrize(
    ("moment", "message"),
    [
        (lambda s: s.starts_at - timedelta(minutes=61), "opens an hour before the session"),
        (lambda s: s.ends_at + timedelta(seconds=1), "session is over"),
    ],
    ids=["too early", "too late"],
)
def test_a_question_outside_the_session_is_refused_and_nothing_saved(
    db, group_session, member, moment, message
):
    with pytest.raises(ValidationFailed, match=message):
        topic_changes.drop_question(group_session, "Snacks?", member, now=moment(group_session))
    assert topic_count(db) == 0


def test_a_question_in_a_cancelled_session_is_refused(db, group_session, member, coordinator):
    schedule.cancel_session(group_session, "Snow", actor=coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="cancelled"):
        topic_changes.drop_question(group_session, "Snacks?", member, now=group_session.starts_at)
    assert topic_count(db) == 0


def test_a_question_in_a_group_allowing_anonymity_keeps_nobody(db, group, group_session, member):
    group.allow_anonymous_topics = True
    db.session.commit()

    question = topic_changes.drop_question(
        group_session, "Snacks?", member, now=group_session.starts_at
    )
    db.session.commit()

    assert (question.proposer_id, question.shown_as) == (None, ANONYMOUS)
    assert events_of(db, question.id) == [("proposed", None, "")]


def test_staff_type_in_a_question_from_a_paper_card(
    db, group, group_session, clinician, coordinator
):
    group.allow_anonymous_topics = True
    db.session.commit()

    question = topic_changes.drop_question(
        group_session, "Is fruit OK?", clinician, now=group_session.starts_at
    )
    db.session.commit()

    assert (question.shown_as, question.proposed_by_staff, question.proposer_id) == (
        ANONYMOUS,
        True,
        clinician.id,
    )
    assert events_of(db, question.id) == [("proposed", clinician.id, topic_changes.FROM_A_CARD)]
    (row,) = topic_rows.open_questions(group_session, clinician)
    assert row.shown_name == "You"
    (row,) = topic_rows.open_questions(group_session, coordinator)
    assert row.shown_name == "Typed in from a paper card by Clara Nician"
    assert row.group_sees == "Anonymous"
    (row,) = topic_rows.open_questions(group_session)
    assert row.shown_name == "Anonymous"


def test_a_long_question_gets_a_short_title_and_keeps_its_whole_text(db, group_session, member):
    text = "Why " + "does my sugar go up at night " * 10 + "?"
    question = topic_changes.drop_question(group_session, text, member, now=group_session.starts_at)
    db.session.commit()

    assert len(question.title) <= 120
    assert question.title.endswith("…")
    assert question.details == text.strip()
    (row,) = topic_rows.open_questions(group_session)
    assert row.text == question.details


@pytest.mark.parametrize(
    ("text", "message"),
    [("   ", "Write your question first"), ("q" * 1001, "up to 1000 characters")],
)
def test_an_empty_or_overlong_question_is_refused(db, group_session, member, text, message):
    with pytest.raises(ValidationFailed, match=message):
        topic_changes.drop_question(group_session, text, member, now=group_session.starts_at)
    assert topic_count(db) == 0


def test_only_members_with_a_place_and_staff_drop_questions(
    db, group_session, waitlisted, former_member, other_group_member, other_site_coordinator
):
    for outsider in (waitlisted, former_member, other_group_member, other_site_coordinator):
        with pytest.raises(NotAllowed):
            topic_changes.drop_question(group_session, "Me?", outsider, now=group_session.starts_at)
    assert topic_count(db) == 0


def test_open_questions_are_this_sessions_newest_first_without_hidden_ones_for_members(
    db, group, group_session, member, shy_member, coordinator
):
    first = topic_changes.drop_question(
        group_session, "First?", member, now=group_session.starts_at
    )
    db.session.commit()
    second = topic_changes.drop_question(
        group_session, "Second?", shy_member, now=group_session.ends_at
    )
    hidden = topic_changes.drop_question(
        group_session, "Rude?", shy_member, now=group_session.ends_at
    )
    answered = topic_changes.drop_question(
        group_session, "Done?", member, now=group_session.ends_at
    )
    answered.status = DISCUSSED
    topic_changes.hide(hidden, "Unkind", coordinator)
    db.session.commit()
    put_forward(group, member, title="A topic, not a question")

    assert [r.topic.id for r in topic_rows.open_questions(group_session)] == [second.id, first.id]
    assert [r.topic.id for r in topic_rows.open_questions(group_session, member)] == [
        second.id,
        first.id,
    ]
    staff_rows = topic_rows.open_questions(group_session, coordinator)
    assert [r.topic.id for r in staff_rows] == [hidden.id, second.id, first.id]
    later = schedule.next_sessions([group.id], group_session.ends_at)[group.id]
    assert topic_rows.open_questions(later, coordinator) == []


def test_the_question_box_opens_an_hour_before_and_closes_at_the_end(group_session):
    start, end = group_session.starts_at, group_session.ends_at
    assert not topics.question_box_is_open(group_session, start - timedelta(minutes=61))
    assert topics.question_box_is_open(group_session, start - timedelta(minutes=60))
    assert topics.question_box_is_open(group_session, end)
    assert not topics.question_box_is_open(group_session, end + timedelta(seconds=1))


# Hiding


def test_a_coordinator_hides_a_topic_with_a_reason_and_shows_it_again(
    db, group, topic, member, coordinator
):
    topic_changes.hide(topic, "  Names   another patient ", coordinator)
    db.session.commit()

    assert topic.is_hidden
    assert (topic.hidden_by_id, topic.hidden_reason) == (coordinator.id, "Names another patient")
    assert every_topic(group, member) == []

    topic_changes.unhide(topic, coordinator, "Reworded with the member")
    db.session.commit()

    assert not topic.is_hidden
    assert [r.topic.id for r in every_topic(group, member)] == [topic.id]
    assert [(e.kind, e.actor_id, e.note) for e in topics.topic_history(topic)] == [
        ("proposed", member.id, ""),
        ("hidden", coordinator.id, "Names another patient"),
        ("shown again", coordinator.id, "Reworded with the member"),
    ]


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_hiding_without_a_reason_is_refused_and_nothing_changes(db, topic, coordinator, reason):
    with pytest.raises(ValidationFailed, match="Say why you hide it") as caught:
        topic_changes.hide(topic, reason, coordinator)
    db.session.rollback()

    assert caught.value.field == "reason"
    assert not db.session.get(AgendaTopic, topic.id).is_hidden
    assert [e[0] for e in events_of(db, topic.id)] == ["proposed"]


def test_hiding_twice_or_showing_a_visible_topic_is_refused(db, topic, coordinator):
    with pytest.raises(ValidationFailed, match="is not hidden"):
        topic_changes.unhide(topic, coordinator)
    db.session.rollback()
    topic_changes.hide(topic, "Off topic", coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="hidden already"):
        topic_changes.hide(topic, "Again", coordinator)
    db.session.rollback()

    assert [e[0] for e in events_of(db, topic.id)] == ["proposed", "hidden"]


def test_only_curators_hide_topics(
    db, topic, member, clinician, facilitator, other_site_coordinator
):
    for not_a_curator in (member, clinician, other_site_coordinator):
        with pytest.raises(NotAllowed):
            topic_changes.hide(topic, "Off topic", not_a_curator)
        db.session.rollback()
    assert not db.session.get(AgendaTopic, topic.id).is_hidden

    topic_changes.hide(topic, "Off topic", facilitator)
    db.session.commit()
    assert topic.is_hidden


def test_a_sessions_facilitator_hides_its_questions(
    db, group, group_session, member, create_user, coordinator
):
    session_facilitator = create_user(CLINICIAN, discipline="behavioural_health")
    team.assign_staff(group_session, session_facilitator, FACILITATOR, actor=coordinator)
    question = topic_changes.drop_question(
        group_session, "Rude?", member, now=group_session.starts_at
    )
    db.session.commit()

    topic_changes.hide(question, "Unkind", session_facilitator)
    db.session.commit()

    assert question.is_hidden
    assert not can_curate_topics(session_facilitator, group)


def test_the_history_of_a_fully_anonymous_topic_names_nobody(db, group, member, coordinator):
    group.allow_anonymous_topics = True
    db.session.commit()
    topic = put_forward(group, member, anonymous=True)
    topic_changes.hide(topic, "Duplicate", coordinator)
    db.session.commit()

    history = topics.topic_history(topic)

    assert [(e.kind, e.actor_id, e.actor and e.actor.id) for e in history] == [
        ("proposed", None, None),
        ("hidden", coordinator.id, coordinator.id),
    ]
