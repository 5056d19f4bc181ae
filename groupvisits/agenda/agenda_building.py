"""Building a session's agenda before it meets: putting members' topics on it with time boxes
that fit the plan's group conversation, ordering them, curating the group's topics (merge,
decline, keep for later), and publishing the agenda to members.

Each change follows :mod:`groupvisits.agenda.agenda_rules` (who may, the locks, the events);
like every service these flush and never commit.
"""

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, insert, literal, select, update
from sqlalchemy.orm import aliased, contains_eager

from groupvisits.accounts.models import User
from groupvisits.agenda.agenda_rules import (
    check_curator,
    check_fits,
    check_minutes,
    check_topic_curator,
    date_of,
    fresh_item,
    lock_session,
    lock_topics,
    minutes_words,
    record_event,
)
from groupvisits.agenda.models import (
    ACCEPTED,
    DECLINED,
    DISCUSSED,
    KEPT,
    MERGED,
    OPEN,
    PLANNED,
    TOPIC,
    AgendaItem,
    AgendaTopic,
    TopicVote,
)
from groupvisits.agenda.sessions import budget, publish_due_at
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.timeutil import utcnow

#: A kind reason for declining a topic, at most this long.
REASON_MAX = 500

# Kinds of TopicEvent written here.
EV_ACCEPTED, EV_TIME_BOX, EV_REMOVED = "accepted", "time box changed", "taken off agenda"
EV_MERGED, EV_MERGED_IN, EV_DECLINED, EV_KEPT = "merged", "merged in", "declined", "kept"


# Building the agenda


def accept(
    group_session: GroupSession,
    topic: AgendaTopic,
    minutes: int,
    position: int | None = None,
    *,
    actor: User,
) -> AgendaItem:
    """Put ``topic`` on the session's agenda with a time box, at ``position`` (1 = first;
    None = last).

    :raises NotAllowed: ``actor`` does not curate this session's agenda.
    :raises ValidationFailed: a topic of another group, a question, a hidden topic, a time
        box outside 1-180 minutes, or one that would overflow the plan's group conversation
        (the message gives the minutes left).
    :raises Conflict: the session is cancelled; the topic is merged, declined, talked about
        or already on an agenda.
    """
    check_curator(actor, group_session)
    check_minutes(minutes)
    locked = lock_session(group_session)
    (topic,) = lock_topics(topic)
    _check_can_go_on_agenda(topic, locked)
    items = _items_in_order(locked.id)
    if any(i.topic_id == topic.id for i in items):
        raise Conflict("That topic was carried over from this session: put it on a later one.")
    check_fits(budget(locked), minutes)
    where = len(items) if position is None else min(max(position, 1), len(items) + 1) - 1
    item = AgendaItem(session_id=locked.id, topic_id=topic.id, minutes=minutes, topic=topic)
    items.insert(where, item)
    db.session.add(item)
    _renumber(items)
    topic.status = ACCEPTED
    record_event(topic, EV_ACCEPTED, actor, f"{date_of(locked)}: {minutes_words(minutes)}")
    db.session.flush()
    return item


def set_time_box(item: AgendaItem, minutes: int, *, actor: User) -> AgendaItem:
    """Change a planned item's minutes, within the group conversation's minutes.

    :raises ValidationFailed: outside 1-180 minutes, or the agenda would overflow.
    :raises Conflict: the item was talked about, carried over or taken off meanwhile.
    """
    group_session = item.group_session
    check_curator(actor, group_session)
    check_minutes(minutes)
    locked = lock_session(group_session)
    item = fresh_item(item)
    if item.outcome != PLANNED:
        raise Conflict(f"That topic was already {item.outcome_label.lower()}.")
    check_fits(budget(locked, except_id=item.id), minutes)
    if item.minutes != minutes:
        record_event(item.topic, EV_TIME_BOX, actor, f"{item.minutes} → {minutes} minutes")
        item.minutes = minutes
    db.session.flush()
    return item


def reorder(item: AgendaItem, position: int, *, actor: User) -> AgendaItem:
    """Move an item to ``position`` on its agenda (1 = first); the others close up."""
    group_session = item.group_session
    check_curator(actor, group_session)
    locked = lock_session(group_session)
    item = fresh_item(item)
    items = [i for i in _items_in_order(locked.id) if i.id != item.id]
    items.insert(min(max(position, 1), len(items) + 1) - 1, item)
    _renumber(items)
    db.session.flush()
    return item


def remove_item(item: AgendaItem, *, actor: User) -> AgendaTopic:
    """Take a planned topic off the agenda: it is open for votes again, votes kept.

    :raises Conflict: it was talked about or carried over (that stays in the history).
    """
    group_session = item.group_session
    check_curator(actor, group_session)
    locked = lock_session(group_session)
    item = fresh_item(item)
    if item.outcome != PLANNED:
        raise Conflict(
            f"That topic was already {item.outcome_label.lower()}: it stays in the history."
        )
    (topic,) = lock_topics(item.topic)
    db.session.delete(item)
    _renumber([i for i in _items_in_order(locked.id) if i.id != item.id])
    if topic.status == ACCEPTED:
        topic.status = OPEN
    record_event(topic, EV_REMOVED, actor, date_of(locked))
    db.session.flush()
    return topic


def _check_can_go_on_agenda(topic: AgendaTopic, group_session: GroupSession) -> None:
    """:raises ValidationFailed, Conflict: the topic cannot be put on this agenda."""
    if topic.group_id != group_session.group_id:
        raise ValidationFailed("That topic belongs to another group.", field="topic_id")
    if topic.kind != TOPIC:
        raise ValidationFailed(
            "Questions from the question box are answered in their session; put the subject "
            "forward as a topic to plan time for it.",
            field="topic_id",
        )
    if topic.is_hidden:
        raise ValidationFailed("That topic is hidden: it cannot go on an agenda.", field="topic_id")
    problems = {
        MERGED: "That topic was merged into another one: add that one instead.",
        DECLINED: "That topic was declined: it cannot go on an agenda.",
        DISCUSSED: "The group already talked about that topic.",
        ACCEPTED: "That topic is already on an agenda.",
    }
    if topic.status in problems:
        raise Conflict(problems[topic.status])


def _renumber(items: list[AgendaItem]) -> None:
    for position, item in enumerate(items, start=1):
        if item.position != position:
            item.position = position


def _items_in_order(session_id: int) -> list[AgendaItem]:
    return list(
        db.session.scalars(
            select(AgendaItem)
            .where(AgendaItem.session_id == session_id)
            .order_by(AgendaItem.position, AgendaItem.id)
            .execution_options(populate_existing=True)
        )
    )


# Curating the group's topics


def merge(duplicate: AgendaTopic, into: AgendaTopic, *, actor: User) -> int:
    """Merge ``duplicate`` into ``into``: its votes carry over, each voter counted once.

    Returns the number of votes carried over. A member who voted for both keeps one vote.

    :raises NotAllowed: ``actor`` does not curate the group's topics.
    :raises ValidationFailed: the same topic, another group's, or a question.
    :raises Conflict: either topic is hidden, merged, declined or talked about, or the
        duplicate is on an agenda (take it off first).
    """
    check_topic_curator(actor, duplicate)
    if duplicate.id == into.id:
        raise ValidationFailed("Choose another topic to merge this one into.", field="into")
    if duplicate.group_id != into.group_id:
        raise ValidationFailed("Only topics of the same group can be merged.", field="into")
    duplicate, into = lock_topics(duplicate, into)
    if duplicate.kind != TOPIC or into.kind != TOPIC:
        raise ValidationFailed("Only topics can be merged, not questions.", field="into")
    if duplicate.status == MERGED:
        raise Conflict(f"“{duplicate.title}” was already merged into another topic.")
    if duplicate.status == ACCEPTED:
        raise Conflict(f"“{duplicate.title}” is on an agenda: take it off before merging it.")
    if duplicate.status not in (OPEN, KEPT) or duplicate.is_hidden:
        raise Conflict(f"“{duplicate.title}” is {duplicate.status_label.lower()}.")
    if into.status not in (OPEN, KEPT, ACCEPTED) or into.is_hidden:
        state = "hidden" if into.is_hidden else into.status_label.lower()
        raise Conflict(f"“{into.title}” is {state}: choose another topic to merge into.")
    moved = _carry_votes(duplicate.id, into.id)
    duplicate.status, duplicate.merged_into_id = MERGED, into.id
    record_event(duplicate, EV_MERGED, actor, f"Into “{into.title}”")
    record_event(into, EV_MERGED_IN, actor, f"“{duplicate.title}” ({moved} votes carried over)")
    db.session.flush()
    return moved


def _carry_votes(from_id: int, to_id: int) -> int:
    """Copy the votes of one topic to another, skipping voters who voted for both; then
    delete the old votes. One INSERT ... SELECT and one DELETE."""
    old, kept = aliased(TopicVote), aliased(TopicVote)
    voted_both = exists().where(kept.topic_id == to_id, kept.voter_id == old.voter_id)
    votes = TopicVote.__table__
    moved = db.session.execute(
        insert(votes)
        .from_select(
            ["topic_id", "voter_id", "created_at"],
            select(literal(to_id), old.voter_id, old.created_at).where(
                old.topic_id == from_id, ~voted_both
            ),
        )
        .returning(votes.c.voter_id)
    ).all()
    db.session.execute(delete(TopicVote).where(TopicVote.topic_id == from_id))
    return len(moved)


def decline(topic: AgendaTopic, reason: str, *, actor: User) -> AgendaTopic:
    """Decline a topic with a kind reason members will read.

    :raises ValidationFailed: no reason, or one past 500 characters.
    :raises Conflict: the topic is on an agenda, merged, talked about or hidden.
    """
    check_topic_curator(actor, topic)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Write a kind reason: members read it next to their topic.", field="reason"
        )
    if len(reason) > REASON_MAX:
        raise ValidationFailed(f"Keep the reason to {REASON_MAX} characters.", field="reason")
    (topic,) = lock_topics(topic)
    _check_still_open(topic)
    topic.status, topic.decline_reason = DECLINED, reason
    record_event(topic, EV_DECLINED, actor, reason)
    db.session.flush()
    return topic


def keep_for_later(topic: AgendaTopic, *, actor: User) -> AgendaTopic:
    """Keep an open topic for a later session: it leaves the voting list, its votes kept.

    :raises Conflict: the topic is not open (kept already, on an agenda, merged...).
    """
    check_topic_curator(actor, topic)
    (topic,) = lock_topics(topic)
    _check_still_open(topic)
    if topic.status == KEPT:
        raise Conflict(f"“{topic.title}” is already kept for later.")
    topic.status = KEPT
    record_event(topic, EV_KEPT, actor)
    db.session.flush()
    return topic


def _check_still_open(topic: AgendaTopic) -> None:
    if topic.is_hidden:
        raise Conflict(f"“{topic.title}” is hidden.")
    if topic.status == ACCEPTED:
        raise Conflict(f"“{topic.title}” is on an agenda: take it off first.")
    if topic.status not in (OPEN, KEPT):
        raise Conflict(f"“{topic.title}” is {topic.status_label.lower()}.")


# Publishing


def publish(group_session: GroupSession, *, actor: User, now: datetime | None = None) -> bool:
    """Publish the agenda to members (they see it on their session page from then on).

    Returns False if it was already published (nothing changes).

    :raises ValidationFailed: the agenda is empty.
    :raises Conflict: the session is cancelled.
    """
    check_curator(actor, group_session)
    if group_session.is_cancelled:
        raise Conflict("This session was cancelled: its agenda is not published.")
    if not db.session.scalar(select(exists().where(AgendaItem.session_id == group_session.id))):
        raise ValidationFailed("Put at least one topic on the agenda before publishing it.")
    return _mark_published([group_session.id], now or utcnow()) == 1


def publish_due(now: datetime | None = None) -> list[int]:
    """Publish every agenda that is due: not yet published, with at least one topic, of a
    scheduled session that starts within its group's ``agenda_publish_days`` (from local
    midnight that many days before). Returns the sessions published. Safe to run often."""
    now = now or utcnow()
    # The furthest any group publishes ahead (14 days) and a day for local midnights.
    soon = db.session.scalars(
        select(GroupSession)
        .join(GroupSession.group)
        .options(contains_eager(GroupSession.group).joinedload(VisitGroup.site, innerjoin=True))
        .where(
            GroupSession.starts_at > now,
            GroupSession.starts_at <= now + timedelta(days=15),
            GroupSession.status == SCHEDULED,
            GroupSession.agenda_published_at.is_(None),
            exists().where(AgendaItem.session_id == GroupSession.id),
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    ).all()
    due = [s.id for s in soon if publish_due_at(s) <= now]
    if due:
        _mark_published(due, now)
    return due


def _mark_published(session_ids: list[int], now: datetime) -> int:
    """Set the publishing time where none is set yet (a second click or run changes nothing)."""
    return db.session.execute(
        update(GroupSession)
        .where(GroupSession.id.in_(session_ids), GroupSession.agenda_published_at.is_(None))
        .values(agenda_published_at=now)
        .execution_options(synchronize_session="evaluate")
    ).rowcount
