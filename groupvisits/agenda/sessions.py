"""A session's agenda as its pages read it: the time-boxed agenda and the minutes it uses of
the session plan's group conversation, the topics a facilitator may add, the questions of the
question box, what members see once it is published, and what the group talked about.

The changes are in :mod:`groupvisits.agenda.agenda_building` (building, curating and
publishing an agenda) and :mod:`groupvisits.agenda.agenda_outcomes` (what came of each topic).
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import contains_eager, joinedload

from groupvisits.agenda.models import (
    CARRIED_OVER,
    DISCUSSED,
    KEPT,
    OPEN,
    QUESTION,
    TOPIC,
    AgendaItem,
    AgendaTopic,
    TopicVote,
)
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.neutral import names_a_condition
from groupvisits.schedule.models import SCHEDULED, GroupSession, SessionSegment

#: The kind of plan step whose minutes the agenda fills (SEGMENT_KINDS' "Group conversation").
GROUP_STEP = "group"
#: Open topics offered on the facilitator's page, most votes first.
CANDIDATES_SHOWN = 40
QUESTIONS_SHOWN = 50
#: Sessions on each page of "What we talked about", newest first.
TALKED_PAGE = 10
#: Stands in a calendar for a title that names a condition (calendars leave the clinic).
NEUTRAL_TITLE = "A topic chosen by the group"


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
class TalkedAbout:
    """A page of the group's history: its sessions, and how many sessions there are in all."""

    talks: list[SessionTalk]
    total: int


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
    # One page of the sessions that talked about a topic members still see, newest first,
    # with how many such sessions there are in all (a window function, before the LIMIT).
    discussed_here = exists().where(
        AgendaItem.session_id == GroupSession.id,
        AgendaItem.outcome == DISCUSSED,
        AgendaTopic.id == AgendaItem.topic_id,
        AgendaTopic.hidden_at.is_(None),
    )
    shown = (
        select(GroupSession.id, func.count().over().label("total"))
        .where(GroupSession.group_id == bindparam("group_id"), discussed_here)
        .order_by(GroupSession.starts_at.desc(), GroupSession.id.desc())
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery()
    )
    talked = (
        select(AgendaItem, votes, shown.c.total)
        .join(shown, shown.c.id == AgendaItem.session_id)
        .join(AgendaItem.group_session)
        .join(AgendaItem.topic)
        .options(contains_eager(AgendaItem.group_session), contains_eager(AgendaItem.topic))
        .where(AgendaItem.outcome == DISCUSSED, AgendaTopic.hidden_at.is_(None))
        .order_by(
            GroupSession.starts_at.desc(),
            GroupSession.id.desc(),
            AgendaItem.position,
            AgendaItem.id,
        )
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


def budget(group_session: GroupSession, *, except_id: int = 0) -> Budget:
    """Minutes of the plan's group-conversation steps, minutes the agenda uses, minutes left.

    Carried-over items use none of this session's time.

    :param except_id: an item whose minutes not to count (the one being changed).
    """
    planned, used = db.session.execute(
        _queries()["budget"], {"session_id": group_session.id, "except_id": except_id}
    ).one()
    return Budget(planned=int(planned), used=int(used))


def candidates(group_session: GroupSession) -> list[Candidate]:
    """The group's open and kept topics, most votes first, with their proposer loaded."""
    rows = db.session.execute(_queries()["candidates"], {"group_id": group_session.group_id})
    return [Candidate(topic, votes) for topic, votes in rows]


def questions_of(group_session: GroupSession) -> list[AgendaTopic]:
    """Questions dropped in the question box during this session, not hidden, newest first."""
    return list(db.session.scalars(_queries()["questions"], {"session_id": group_session.id}))


def talked_about(group: VisitGroup, *, page: int = 1) -> TalkedAbout:
    """The group's history, a page of sessions at a time: each session's discussed topics and
    summaries, newest session first, in one query however long the history.

    :param page: 1 for the latest :data:`TALKED_PAGE` sessions, 2 for those before, ...
    """
    params = {
        "group_id": group.id,
        "limit": TALKED_PAGE,
        "offset": (max(page, 1) - 1) * TALKED_PAGE,
    }
    rows = db.session.execute(_queries()["talked"], params).all()
    sessions: dict[int, SessionTalk] = {}
    for item, votes, _total in rows:
        talk = sessions.setdefault(item.session_id, SessionTalk(item.group_session))
        talk.entries.append(AgendaEntry(item, votes))
    total = rows[0].total if rows else 0
    return TalkedAbout(list(sessions.values()), total)


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
