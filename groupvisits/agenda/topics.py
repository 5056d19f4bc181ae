"""A group's topics as its pages show them: the lists (open for votes, closed, hidden) with
their votes, a topic's history, the sessions the topic page points to, the question box's
hours, and who may vote or hide.

The lists that grow with the group's history (closed and hidden topics) are shown the latest
first and a page at a time; all of a page's lists come from one query. Changes to topics are
in :mod:`groupvisits.agenda.topic_changes`.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, literal, or_, select, union_all
from sqlalchemy.orm import joinedload

from groupvisits.accounts.models import User
from groupvisits.agenda.models import (
    TOPIC,
    AgendaTopic,
    TopicEvent,
)
from groupvisits.agenda.topic_rows import (
    VOTABLE,
    TopicRow,
    execute_rows,
    row_of,
    rows_query,
    votes_of_topic,
)
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.permissions import can_curate_agenda, can_curate_topics
from groupvisits.roster.models import ACTIVE, group_ids_of_patient
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.timeutil import utcnow

#: How a group's topic list is ordered.
SORTS = {"votes": "Most votes", "new": "Newest"}
#: The question box opens this long before a session starts, and closes when it ends.
QUESTION_BOX_OPENS = timedelta(minutes=60)
#: The lists of a group's topics, in the order the page shows them.
OPEN_LIST, CLOSED_LIST, HIDDEN_LIST = 0, 1, 2
#: Closed and hidden topics on the topic page (the latest); the rest are a page away.
LATEST_SHOWN = 5
#: Topics on each page of the closed (or hidden) ones.
SHELF_PAGE = 20
#: The lists of a group's topics that grow with its history, each paged.
SHELVES = {"closed": CLOSED_LIST, "hidden": HIDDEN_LIST}
#: More topics open for votes than any group could ever have (the open list is not paged).
MAX_OPEN = 10_000


@dataclass(frozen=True)
class Shelf:
    """A page of one of the lists that grow with a group's history (closed or hidden
    topics), the latest first.

    :ivar total: how many topics the list holds in all, on every page.
    """

    rows: list[TopicRow]
    total: int


@dataclass(frozen=True)
class TopicLists:
    """The topic page's lists: every topic open for votes, then the latest closed ones and
    (for staff) the latest hidden ones."""

    open: list[TopicRow]
    closed: Shelf
    hidden: Shelf

    @property
    def rows(self) -> list[TopicRow]:
        return [*self.open, *self.closed.rows, *self.hidden.rows]


# Reading


@functools.cache
def _lists_query(sort: str):
    """The group's topic lists in one query: every topic open for votes (in ``sort`` order),
    and a range of the closed and of the hidden ones, each list numbered and counted.

    Each list's topics are numbered first (``row_number``) and counted (``count(*) OVER
    ()``), reading only ids and dates; then the rows of the wanted ranges alone get their
    votes and names. The ranges come as parameters (``closed_from``, ``closed_to``, ...), a
    range of 0 to 0 leaving a list out.
    """
    of_group = (AgendaTopic.group_id == bindparam("group_id"), AgendaTopic.kind == TOPIC)
    if sort == "votes":
        open_order = (votes_of_topic().desc(), AgendaTopic.created_at, AgendaTopic.id)
    else:
        open_order = (AgendaTopic.created_at.desc(), AgendaTopic.id.desc())
    lists = [
        (
            OPEN_LIST,
            (AgendaTopic.hidden_at.is_(None), AgendaTopic.status.in_(VOTABLE)),
            open_order,
        ),
        (
            CLOSED_LIST,
            (AgendaTopic.hidden_at.is_(None), AgendaTopic.status.not_in(VOTABLE)),
            (AgendaTopic.updated_at.desc(), AgendaTopic.id.desc()),
        ),
        (
            HIDDEN_LIST,
            (AgendaTopic.hidden_at.is_not(None),),
            (AgendaTopic.hidden_at.desc(), AgendaTopic.id.desc()),
        ),
    ]
    numbered = union_all(
        *(
            select(
                AgendaTopic.id.label("topic_id"),
                literal(kind).label("list"),
                func.row_number().over(order_by=order).label("place"),
                func.count().over().label("total"),
            ).where(*of_group, *conditions)
            for kind, conditions, order in lists
        )
    ).subquery("numbered")
    wanted = or_(
        *(
            and_(
                numbered.c.list == kind,
                numbered.c.place > bindparam(f"{name}_from"),
                numbered.c.place <= bindparam(f"{name}_to"),
            )
            for kind, name in (
                (OPEN_LIST, "open"),
                (CLOSED_LIST, "closed"),
                (HIDDEN_LIST, "hidden"),
            )
        )
    )
    return (
        rows_query()
        .join(numbered, numbered.c.topic_id == AgendaTopic.id)
        .add_columns(numbered.c.list, numbered.c.total)
        .where(wanted)
        .order_by(numbered.c.list, numbered.c.place)
    )


def _ranges(**lists: tuple[int, int]) -> dict[str, int]:
    """The query parameters of the lists' ranges (first, last), 0 to 0 for the others."""
    params = {}
    for name in ("open", "closed", "hidden"):
        first, last = lists.get(name, (0, 0))
        params[f"{name}_from"], params[f"{name}_to"] = first, last
    return params


def _run_lists(group: VisitGroup, viewer: User, sort: str, ranges: dict) -> dict:
    """Run :func:`_lists_query`: each list's rows and count, by list."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    found = execute_rows(_lists_query(sort), viewer, {"group_id": group.id, **ranges})
    rows: dict[int, list[TopicRow]] = {OPEN_LIST: [], CLOSED_LIST: [], HIDDEN_LIST: []}
    totals = dict.fromkeys(rows, 0)
    for result in found:
        rows[result.list].append(row_of(result, viewer))
        totals[result.list] = result.total
    return {kind: Shelf(rows[kind], totals[kind]) for kind in rows}


def topic_lists(
    group: VisitGroup, viewer: User, sort: str = "votes", *, latest: int = LATEST_SHOWN
) -> TopicLists:
    """The group's topics (not questions) as ``viewer`` sees them, with votes, in one query.

    Every topic members may vote on now (not hidden; open, on an agenda or kept for later):
    what a member comes to the page for. Then the ``latest`` closed ones (talked about,
    declined, merged: members see what became of them), the latest changed first, and for
    staff the ``latest`` hidden ones, the latest hidden first; each with how many there are
    in all (the rest are on :func:`topic_shelf`'s pages). Each row says how many votes the
    topic has, whether ``viewer`` voted for it, and how the viewer sees its proposer. The
    caller checks that ``viewer`` may see the group's topics.

    :param sort: "votes" (most votes first, then the longest waiting) or "new" (newest first).
    :raises ValueError: an unknown ``sort``.
    """
    hidden = (0, latest) if viewer.is_staff else (0, 0)
    lists = _run_lists(
        group,
        viewer,
        sort,
        _ranges(open=(0, MAX_OPEN), closed=(0, latest), hidden=hidden),
    )
    return TopicLists(lists[OPEN_LIST].rows, lists[CLOSED_LIST], lists[HIDDEN_LIST])


def topic_shelf(group: VisitGroup, viewer: User, shelf: str, *, page: int) -> Shelf:
    """Page ``page`` (from 1) of the group's closed topics (``shelf`` "closed"), or of its
    hidden ones ("hidden": staff only, a member gets none), :data:`SHELF_PAGE` topics a page,
    the latest first, as :func:`topic_lists` shows them. One query.

    :raises ValueError: an unknown ``shelf``.
    """
    if shelf not in SHELVES:
        raise ValueError(f"unknown list {shelf!r}")
    if shelf == "hidden" and not viewer.is_staff:
        return Shelf([], 0)
    first = (max(page, 1) - 1) * SHELF_PAGE
    lists = _run_lists(group, viewer, "new", _ranges(**{shelf: (first, first + SHELF_PAGE)}))
    return lists[SHELVES[shelf]]


def topic_history(topic: AgendaTopic) -> list[TopicEvent]:
    """Every change to ``topic``, oldest first, with who made it (for staff only).

    An event's ``actor`` is None for the system and for the proposer of a fully anonymous
    topic.
    """
    return list(
        db.session.scalars(
            select(TopicEvent)
            .where(TopicEvent.topic_id == topic.id)
            .options(joinedload(TopicEvent.actor))
            .order_by(TopicEvent.occurred_at, TopicEvent.id)
        )
    )


@dataclass(frozen=True)
class SessionsAhead:
    """The group's sessions a topic page points to.

    :ivar next: the next scheduled session not started yet (a topic "for the next session").
    :ivar box: the session whose question box is open now, or else the next one to open.
    """

    next: GroupSession | None
    box: GroupSession | None


def sessions_ahead(group: VisitGroup, now: datetime | None = None) -> SessionsAhead:
    """The group's next session and its question box session, in one query (two when the
    group has two sessions under way at once)."""
    now = now or utcnow()
    ahead = db.session.scalars(_ahead_query(), {"group_id": group.id, "now": now}).all()
    box = ahead[0] if ahead else None
    upcoming = next((s for s in ahead if s.starts_at >= now), None)
    if upcoming is None and len(ahead) == 2:
        upcoming = next_session(group, now)
    return SessionsAhead(upcoming, box)


@functools.cache
def _ahead_query():
    """The group's first two scheduled sessions not over yet: the first is the one whose
    question box is open or opens next; the next session is the first not started."""
    return (
        select(GroupSession)
        .where(
            GroupSession.group_id == bindparam("group_id"),
            GroupSession.ends_at > bindparam("now"),
            GroupSession.status == SCHEDULED,
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
        .limit(2)
    )


def next_session(group: VisitGroup, now: datetime | None = None) -> GroupSession | None:
    """The group's next scheduled session (not started yet): the one a topic "for the next
    session" is for."""
    return db.session.scalar(
        select(GroupSession)
        .where(
            GroupSession.group_id == group.id,
            GroupSession.starts_at >= (now or utcnow()),
            GroupSession.status == SCHEDULED,
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
        .limit(1)
    )


def question_box_opens_at(group_session: GroupSession) -> datetime:
    return group_session.starts_at - QUESTION_BOX_OPENS


def question_box_is_open(group_session: GroupSession, now: datetime | None = None) -> bool:
    """From an hour before the session starts until it ends, unless it is cancelled."""
    now = now or utcnow()
    return (
        not group_session.is_cancelled
        and question_box_opens_at(group_session) <= now <= group_session.ends_at
    )


# Who may


def is_member_with_place(user: User, group: VisitGroup) -> bool:
    """An active member of the group (only they vote)."""
    return (
        user.is_authenticated
        and user.is_patient
        and group.id in group_ids_of_patient(user, (ACTIVE,))
    )


def can_hide(user: User, topic: AgendaTopic) -> bool:
    """Who curates the group's topics, and for a topic or question of one session, that
    session's facilitator."""
    if can_curate_topics(user, topic.group):
        return True
    return topic.group_session is not None and can_curate_agenda(user, topic.group_session)
