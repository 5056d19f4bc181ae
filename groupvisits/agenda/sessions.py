"""A session's agenda: the facilitator's curation of members' topics, time boxes that fit the
session plan's group conversation, publishing to members, and what came of each topic.

Every change to an agenda locks the session's row first (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), then reads the minutes used: two curators adding
topics at once are served one after the other, and the second sees what the first added.
A change to a topic's status locks the topic's row too (sessions before topics, topics in id
order), so that a merge and an acceptance of the same topic never both win.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import bindparam, delete, exists, func, insert, literal, select, update
from sqlalchemy.orm import aliased, contains_eager, joinedload

from groupvisits.accounts.models import User
from groupvisits.agenda.models import (
    ACCEPTED,
    CARRIED_OVER,
    DECLINED,
    DISCUSSED,
    KEPT,
    MERGED,
    OPEN,
    PLANNED,
    QUESTION,
    TOPIC,
    AgendaItem,
    AgendaTopic,
    TopicEvent,
    TopicVote,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.localtime import day
from groupvisits.locking import lock_row
from groupvisits.neutral import is_secure_link, names_a_condition
from groupvisits.permissions import can_curate_agenda, can_curate_topics
from groupvisits.schedule.models import SCHEDULED, GroupSession, SessionSegment
from groupvisits.timeutil import utcnow

#: The kind of plan step whose minutes the agenda fills (SEGMENT_KINDS' "Group conversation").
GROUP_STEP = "group"
#: A time box, in minutes (the database holds the same range).
MINUTES_MIN, MINUTES_MAX = 1, 180
SUMMARY_MAX = 1000
REASON_MAX = 500
LINKS_MAX, LINK_LENGTH_MAX = 5, 500
#: Open topics offered on the facilitator's page, most votes first.
CANDIDATES_SHOWN = 40
QUESTIONS_SHOWN = 50
#: Stands in a calendar for a title that names a condition (calendars leave the clinic).
NEUTRAL_TITLE = "A topic chosen by the group"

LINK_MESSAGE = (
    "Give each link as a secure address starting with https:// and the name of the site, "
    "such as https://www.example.org/handout, one per line."
)

# Kinds of TopicEvent written here.
EV_ACCEPTED, EV_TIME_BOX, EV_REMOVED = "accepted", "time box changed", "taken off agenda"
EV_MERGED, EV_MERGED_IN, EV_DECLINED, EV_KEPT = "merged", "merged in", "declined", "kept"
EV_DISCUSSED, EV_SUMMARY, EV_CARRIED = "discussed", "summary changed", "carried over"


@dataclass(frozen=True)
class Budget:
    """Minutes of the session plan's group conversation, and how many the agenda uses."""

    planned: int
    used: int

    @property
    def left(self) -> int:
        """Minutes still free (negative when the plan was shortened under the agenda)."""
        return self.planned - self.used


@dataclass
class AgendaEntry:
    """One item of an agenda, with its topic and the topic's votes."""

    item: AgendaItem
    votes: int

    @property
    def topic(self) -> AgendaTopic:
        return self.item.topic

    @property
    def links(self) -> list[str]:
        return link_list(self.item.links)


@dataclass
class Candidate:
    """An open (or kept) topic of the group that could go on the agenda."""

    topic: AgendaTopic
    votes: int


@dataclass
class SessionTalk:
    """What one session talked about: its discussed items, in agenda order."""

    group_session: GroupSession
    entries: list[AgendaEntry] = field(default_factory=list)


@dataclass
class MemberAgenda:
    """The published agenda as members see it on their session page: titles and time boxes."""

    group_session: GroupSession
    published_at: datetime | None
    entries: list[AgendaEntry]

    @property
    def group(self) -> VisitGroup:
        return self.group_session.group

    @property
    def total_minutes(self) -> int:
        return sum(e.item.minutes for e in self.entries if e.item.outcome != CARRIED_OVER)


# Reading


@functools.cache
def _queries():
    """The agenda, the budget, the candidates, the questions (built once)."""
    votes = (
        select(func.count(TopicVote.id))
        .where(TopicVote.topic_id == AgendaTopic.id)
        .correlate(AgendaTopic)
        .scalar_subquery()
    )
    agenda = (
        select(AgendaItem, votes)
        .join(AgendaItem.topic)
        .options(contains_eager(AgendaItem.topic))
        .where(AgendaItem.session_id == bindparam("session_id"))
        .order_by(AgendaItem.position, AgendaItem.id)
    )
    planned = (
        select(func.coalesce(func.sum(SessionSegment.minutes), 0))
        .where(
            SessionSegment.session_id == bindparam("session_id"),
            SessionSegment.kind == GROUP_STEP,
        )
        .scalar_subquery()
    )
    used = (
        select(func.coalesce(func.sum(AgendaItem.minutes), 0))
        .where(
            AgendaItem.session_id == bindparam("session_id"),
            AgendaItem.outcome != CARRIED_OVER,
            AgendaItem.id != bindparam("except_id"),
        )
        .scalar_subquery()
    )
    budget = select(planned, used)
    candidates = (
        select(AgendaTopic, votes)
        .options(joinedload(AgendaTopic.proposer))
        .where(
            AgendaTopic.group_id == bindparam("group_id"),
            AgendaTopic.kind == TOPIC,
            AgendaTopic.status.in_((OPEN, KEPT)),
            AgendaTopic.hidden_at.is_(None),
        )
        .order_by(votes.desc(), AgendaTopic.created_at, AgendaTopic.id)
        .limit(CANDIDATES_SHOWN)
    )
    questions = (
        select(AgendaTopic)
        .where(
            AgendaTopic.session_id == bindparam("session_id"),
            AgendaTopic.kind == QUESTION,
            AgendaTopic.hidden_at.is_(None),
        )
        .order_by(AgendaTopic.created_at.desc(), AgendaTopic.id.desc())
        .limit(QUESTIONS_SHOWN)
    )
    talked = (
        select(AgendaItem, votes)
        .join(AgendaItem.group_session)
        .join(AgendaItem.topic)
        .options(contains_eager(AgendaItem.group_session), contains_eager(AgendaItem.topic))
        .where(
            GroupSession.group_id == bindparam("group_id"),
            AgendaItem.outcome == DISCUSSED,
            AgendaTopic.hidden_at.is_(None),
        )
        .order_by(GroupSession.starts_at.desc(), AgendaItem.position, AgendaItem.id)
    )
    return {
        "agenda": agenda,
        "budget": budget,
        "candidates": candidates,
        "questions": questions,
        "talked": talked,
    }


def agenda_of(group_session: GroupSession) -> list[AgendaEntry]:
    """The session's agenda in order, each item with its topic and the topic's votes."""
    rows = db.session.execute(_queries()["agenda"], {"session_id": group_session.id})
    return [AgendaEntry(item, votes) for item, votes in rows]


def budget(group_session: GroupSession) -> Budget:
    """Minutes of the plan's group-conversation steps, minutes the agenda uses, minutes left.

    Carried-over items use none of this session's time.
    """
    return _budget(group_session.id)


def _budget(session_id: int, except_id: int = 0) -> Budget:
    planned, used = db.session.execute(
        _queries()["budget"], {"session_id": session_id, "except_id": except_id}
    ).one()
    return Budget(planned=int(planned), used=int(used))


def candidates(group_session: GroupSession) -> list[Candidate]:
    """The group's open and kept topics, most votes first, with their proposer loaded."""
    rows = db.session.execute(_queries()["candidates"], {"group_id": group_session.group_id})
    return [Candidate(topic, votes) for topic, votes in rows]


def questions_of(group_session: GroupSession) -> list[AgendaTopic]:
    """Questions dropped in the question box during this session, not hidden, newest first."""
    return list(db.session.scalars(_queries()["questions"], {"session_id": group_session.id}))


def talked_about(group: VisitGroup) -> list[SessionTalk]:
    """The group's history: each session's discussed topics and summaries, newest first."""
    sessions: dict[int, SessionTalk] = {}
    for item, votes in db.session.execute(_queries()["talked"], {"group_id": group.id}):
        talk = sessions.setdefault(item.session_id, SessionTalk(item.group_session))
        talk.entries.append(AgendaEntry(item, votes))
    return list(sessions.values())


def member_agenda(group_session: GroupSession) -> MemberAgenda:
    """What ``templates/agenda/_session_agenda_member.html`` shows, as ``member_agenda``.

    Before publishing it holds no items (and reads nothing); after, the agenda's titles and
    time boxes, hidden topics left out. Nobody's name is in it.
    """
    published_at = group_session.agenda_published_at
    entries = []
    if published_at is not None:
        entries = [e for e in agenda_of(group_session) if not e.topic.is_hidden]
    return MemberAgenda(group_session, published_at, entries)


def publish_due_at(group_session: GroupSession) -> datetime:
    """When the agenda goes out by itself: local midnight, N days before the session's day."""
    local_day = group_session.local_start.date() - timedelta(
        days=group_session.group.agenda_publish_days
    )
    return datetime.combine(local_day, time.min, group_session.timezone)


def agenda_titles_for(session_ids: Iterable[int]) -> dict[int, list[str]]:
    """The titles of the published agendas of ``session_ids``, in agenda order, in one query.

    For calendar descriptions: titles only (no names, no details), hidden and carried-over
    topics left out, and a title that names a condition replaced by :data:`NEUTRAL_TITLE`
    (calendars leave the clinic). Sessions without a published agenda are not in the result.
    """
    ids = sorted({int(i) for i in session_ids})
    if not ids:
        return {}
    rows = db.session.execute(_titles_query(), {"session_ids": ids})
    titles: dict[int, list[str]] = {}
    for session_id, title in rows:
        shown = NEUTRAL_TITLE if names_a_condition(title) else title
        titles.setdefault(session_id, []).append(shown)
    return titles


@functools.cache
def _titles_query():
    return (
        select(AgendaItem.session_id, AgendaTopic.title)
        .join(AgendaTopic, AgendaTopic.id == AgendaItem.topic_id)
        .join(GroupSession, GroupSession.id == AgendaItem.session_id)
        .where(
            AgendaItem.session_id.in_(bindparam("session_ids", expanding=True)),
            GroupSession.agenda_published_at.is_not(None),
            AgendaItem.outcome != CARRIED_OVER,
            AgendaTopic.hidden_at.is_(None),
        )
        .order_by(AgendaItem.session_id, AgendaItem.position, AgendaItem.id)
    )


def link_list(links: str) -> list[str]:
    """The links an item keeps, one per line."""
    return [line for line in (links or "").splitlines() if line.strip()]


# Rules shared by the changes


def check_curator(actor: User, group_session: GroupSession) -> None:
    """:raises NotAllowed: ``actor`` neither facilitates the session nor coordinates its site."""
    if not can_curate_agenda(actor, group_session):
        raise NotAllowed(
            "Only the session's facilitator or a coordinator of the site changes its agenda."
        )


def check_topic_curator(actor: User, topic: AgendaTopic) -> None:
    """:raises NotAllowed: ``actor`` does not curate the topic's group."""
    if not can_curate_topics(actor, topic.group):
        raise NotAllowed(
            "Only the group's facilitators and the site's coordinators merge, decline or "
            "keep topics."
        )


def _minutes_words(minutes: int) -> str:
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def _check_minutes(minutes) -> int:
    if not isinstance(minutes, int) or not MINUTES_MIN <= minutes <= MINUTES_MAX:
        raise ValidationFailed(
            f"Give the topic from {MINUTES_MIN} to {MINUTES_MAX} minutes.", field="minutes"
        )
    return minutes


def _check_fits(available: Budget, minutes: int) -> None:
    """:raises ValidationFailed: ``minutes`` more would overflow the group conversation."""
    if available.planned <= 0:
        raise ValidationFailed(
            "This session's plan has no group conversation, so there is no time for topics. "
            "A coordinator can add a group conversation step to the session's plan.",
            field="minutes",
        )
    if minutes > available.left:
        left = max(available.left, 0)
        then = (
            f"Give it {left} or fewer, or shorten another topic first."
            if left
            else "Shorten or take off another topic first."
        )
        raise ValidationFailed(
            f"That does not fit: {_minutes_words(left)} left of the {available.planned}-minute "
            f"group conversation, and this topic asks for {minutes}. {then}",
            field="minutes",
        )


def _lock_session(group_session: GroupSession) -> GroupSession:
    """Lock the session's row (and read it afresh); refuse a cancelled session."""
    locked = lock_row(GroupSession, group_session.id)
    if locked.is_cancelled:
        raise Conflict("This session was cancelled: its agenda can no longer change.")
    return locked


def _fresh_item(item: AgendaItem) -> AgendaItem:
    """The item as it is now (under the session's lock), or a conflict if it is gone."""
    fresh = db.session.scalars(
        select(AgendaItem).where(AgendaItem.id == item.id).execution_options(populate_existing=True)
    ).one_or_none()
    if fresh is None:
        raise Conflict("That topic was taken off the agenda meanwhile.")
    return fresh


def _lock_topics(*topics: AgendaTopic) -> list[AgendaTopic]:
    """Lock the topics' rows in id order (no deadlock between two merges) and read them afresh."""
    by_id = {t.id: lock_row(AgendaTopic, t.id) for t in sorted(topics, key=lambda t: t.id)}
    return [by_id[t.id] for t in topics]


def _event(topic: AgendaTopic, kind: str, actor: User | None, note: str = "") -> None:
    db.session.add(
        TopicEvent(topic_id=topic.id, actor_id=actor.id if actor else None, kind=kind, note=note)
    )


def _date_of(group_session: GroupSession) -> str:
    return day(group_session.starts_at, group_session.group.site)


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
    _check_minutes(minutes)
    locked = _lock_session(group_session)
    (topic,) = _lock_topics(topic)
    _check_can_go_on_agenda(topic, locked)
    items = _items_in_order(locked.id)
    if any(i.topic_id == topic.id for i in items):
        raise Conflict("That topic was carried over from this session: put it on a later one.")
    _check_fits(_budget(locked.id), minutes)
    where = len(items) if position is None else min(max(position, 1), len(items) + 1) - 1
    item = AgendaItem(session_id=locked.id, topic_id=topic.id, minutes=minutes, topic=topic)
    items.insert(where, item)
    db.session.add(item)
    _renumber(items)
    topic.status = ACCEPTED
    _event(topic, EV_ACCEPTED, actor, f"{_date_of(locked)}: {_minutes_words(minutes)}")
    db.session.flush()
    return item


def set_time_box(item: AgendaItem, minutes: int, *, actor: User) -> AgendaItem:
    """Change a planned item's minutes, within the group conversation's minutes.

    :raises ValidationFailed: outside 1-180 minutes, or the agenda would overflow.
    :raises Conflict: the item was talked about, carried over or taken off meanwhile.
    """
    group_session = item.group_session
    check_curator(actor, group_session)
    _check_minutes(minutes)
    locked = _lock_session(group_session)
    item = _fresh_item(item)
    if item.outcome != PLANNED:
        raise Conflict(f"That topic was already {item.outcome_label.lower()}.")
    _check_fits(_budget(locked.id, except_id=item.id), minutes)
    if item.minutes != minutes:
        _event(item.topic, EV_TIME_BOX, actor, f"{item.minutes} → {minutes} minutes")
        item.minutes = minutes
    db.session.flush()
    return item


def reorder(item: AgendaItem, position: int, *, actor: User) -> AgendaItem:
    """Move an item to ``position`` on its agenda (1 = first); the others close up."""
    group_session = item.group_session
    check_curator(actor, group_session)
    locked = _lock_session(group_session)
    item = _fresh_item(item)
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
    locked = _lock_session(group_session)
    item = _fresh_item(item)
    if item.outcome != PLANNED:
        raise Conflict(
            f"That topic was already {item.outcome_label.lower()}: it stays in the history."
        )
    (topic,) = _lock_topics(item.topic)
    db.session.delete(item)
    _renumber([i for i in _items_in_order(locked.id) if i.id != item.id])
    if topic.status == ACCEPTED:
        topic.status = OPEN
    _event(topic, EV_REMOVED, actor, _date_of(locked))
    db.session.flush()
    return topic


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
    duplicate, into = _lock_topics(duplicate, into)
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
    _event(duplicate, EV_MERGED, actor, f"Into “{into.title}”")
    _event(into, EV_MERGED_IN, actor, f"“{duplicate.title}” ({moved} votes carried over)")
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
    (topic,) = _lock_topics(topic)
    _check_still_open(topic)
    topic.status, topic.decline_reason = DECLINED, reason
    _event(topic, EV_DECLINED, actor, reason)
    db.session.flush()
    return topic


def keep_for_later(topic: AgendaTopic, *, actor: User) -> AgendaTopic:
    """Keep an open topic for a later session: it leaves the voting list, its votes kept.

    :raises Conflict: the topic is not open (kept already, on an agenda, merged...).
    """
    check_topic_curator(actor, topic)
    (topic,) = _lock_topics(topic)
    _check_still_open(topic)
    if topic.status == KEPT:
        raise Conflict(f"“{topic.title}” is already kept for later.")
    topic.status = KEPT
    _event(topic, EV_KEPT, actor)
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


# During and after the session


def check_links(links: str | Iterable[str]) -> list[str]:
    """The links of a summary, one per line: each https:// with a host.

    :raises ValidationFailed: more than five, one too long, or one not secure.
    """
    lines = links.splitlines() if isinstance(links, str) else list(links)
    found = [line.strip() for line in lines if line and line.strip()]
    if len(found) > LINKS_MAX:
        raise ValidationFailed(f"Give at most {LINKS_MAX} links.", field="links")
    for link in found:
        if len(link) > LINK_LENGTH_MAX or not is_secure_link(link):
            raise ValidationFailed(LINK_MESSAGE, field="links")
    return found


def mark_discussed(
    item: AgendaItem,
    summary: str,
    links: str | Iterable[str] = "",
    *,
    actor: User,
    now: datetime | None = None,
) -> AgendaItem:
    """Record that the group talked about an item, with a short public summary and links
    (saving again changes the summary).

    :raises ValidationFailed: a summary past 1000 characters, or a link not https://.
    :raises Conflict: the session has not begun or was cancelled; the item was carried over.
    """
    group_session = item.group_session
    check_curator(actor, group_session)
    summary = (summary or "").strip()
    if len(summary) > SUMMARY_MAX:
        raise ValidationFailed(
            f"Keep the summary to {SUMMARY_MAX} characters (it has {len(summary)}).",
            field="summary",
        )
    found = check_links(links)
    locked = _lock_session(group_session)
    if (now or utcnow()) < locked.starts_at:
        raise Conflict("You can mark a topic talked about once the session has begun.")
    item = _fresh_item(item)
    if item.outcome == CARRIED_OVER:
        raise Conflict("That topic was carried over to a later session.")
    (topic,) = _lock_topics(item.topic)
    _event(topic, EV_SUMMARY if item.outcome == DISCUSSED else EV_DISCUSSED, actor, summary)
    item.outcome, item.summary, item.links = DISCUSSED, summary, "\n".join(found)
    topic.status = DISCUSSED
    db.session.flush()
    return item


def next_session_after(group_session: GroupSession) -> GroupSession | None:
    """The group's next scheduled session after this one."""
    return db.session.scalar(
        select(GroupSession)
        .where(
            GroupSession.group_id == group_session.group_id,
            GroupSession.starts_at > group_session.starts_at,
            GroupSession.status == SCHEDULED,
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
        .limit(1)
    )


def carry_over(item: AgendaItem, *, actor: User) -> GroupSession:
    """The group ran out of time for an item: its topic goes on to the group's next session,
    open for votes again with its votes kept (that session's facilitator fits it into that
    session's time). Returns the next session.

    :raises ValidationFailed: the group has no later session.
    :raises Conflict: the item was talked about or carried over already.
    """
    group_session = item.group_session
    check_curator(actor, group_session)
    _lock_session(group_session)
    item = _fresh_item(item)
    if item.outcome != PLANNED:
        raise Conflict(f"That topic was already {item.outcome_label.lower()}.")
    later = next_session_after(group_session)
    if later is None:
        raise ValidationFailed(
            "This group has no later session to carry the topic over to. A coordinator can "
            "add one; until then, keep the topic for later."
        )
    (topic,) = _lock_topics(item.topic)
    item.outcome = CARRIED_OVER
    topic.status, topic.session_id = OPEN, later.id
    _event(topic, EV_CARRIED, actor, f"To the session of {_date_of(later)}")
    db.session.flush()
    return later
