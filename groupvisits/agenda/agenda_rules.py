"""Rules every change to a session's agenda follows: who may make it, the time boxes, the
locks, and the trail of events each topic keeps.

Every change to an agenda locks the session's row first (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), then reads the minutes used: two curators adding
topics at once are served one after the other, and the second sees what the first added.
A change to a topic's status locks the topic's row too (sessions before topics, topics in id
order), so that a merge and an acceptance of the same topic never both win.
"""

from sqlalchemy import select

from groupvisits.accounts.models import User
from groupvisits.agenda.models import (
    AgendaItem,
    AgendaTopic,
    TopicEvent,
)
from groupvisits.agenda.sessions import Budget
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.localtime import day
from groupvisits.locking import lock_row
from groupvisits.permissions import can_curate_agenda, can_curate_topics
from groupvisits.schedule.models import GroupSession

#: A time box, in minutes (the database holds the same range).
MINUTES_MIN, MINUTES_MAX = 1, 180


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


def minutes_words(minutes: int) -> str:
    """ "1 minute", "20 minutes"."""
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def check_minutes(minutes) -> int:
    """:raises ValidationFailed: not a whole number of minutes from 1 to 180."""
    if not isinstance(minutes, int) or not MINUTES_MIN <= minutes <= MINUTES_MAX:
        raise ValidationFailed(
            f"Give the topic from {MINUTES_MIN} to {MINUTES_MAX} minutes.", field="minutes"
        )
    return minutes


def check_fits(available: Budget, minutes: int) -> None:
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
            f"That does not fit: {minutes_words(left)} left of the {available.planned}-minute "
            f"group conversation, and this topic asks for {minutes}. {then}",
            field="minutes",
        )


def lock_session(group_session: GroupSession) -> GroupSession:
    """Lock the session's row (and read it afresh); refuse a cancelled session."""
    locked = lock_row(GroupSession, group_session.id)
    if locked.is_cancelled:
        raise Conflict("This session was cancelled: its agenda can no longer change.")
    return locked


def fresh_item(item: AgendaItem) -> AgendaItem:
    """The item as it is now (under the session's lock), or a conflict if it is gone."""
    fresh = db.session.scalars(
        select(AgendaItem).where(AgendaItem.id == item.id).execution_options(populate_existing=True)
    ).one_or_none()
    if fresh is None:
        raise Conflict("That topic was taken off the agenda meanwhile.")
    return fresh


def lock_topics(*topics: AgendaTopic) -> list[AgendaTopic]:
    """Lock the topics' rows in id order (no deadlock between two merges) and read them afresh."""
    by_id = {t.id: lock_row(AgendaTopic, t.id) for t in sorted(topics, key=lambda t: t.id)}
    return [by_id[t.id] for t in topics]


def record_event(topic: AgendaTopic, kind: str, actor: User | None, note: str = "") -> None:
    """Add one change to ``topic``'s history (``actor`` None: the system, or the proposer of
    a fully anonymous topic)."""
    db.session.add(
        TopicEvent(topic_id=topic.id, actor_id=actor.id if actor else None, kind=kind, note=note)
    )


def date_of(group_session: GroupSession) -> str:
    """The session's day, in its site's words (for the notes of the topic's events)."""
    return day(group_session.starts_at, group_session.group.site)
