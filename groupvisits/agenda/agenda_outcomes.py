"""What came of each topic on a session's agenda, once the session has begun: talked about
(with a short public summary and links for members), or carried over to the group's next
session when time ran out. The rules of :mod:`groupvisits.agenda.agenda_rules` hold here too;
nothing here commits.
"""

from collections.abc import Iterable
from datetime import datetime

from groupvisits.accounts.models import User
from groupvisits.agenda.agenda_rules import (
    check_curator,
    date_of,
    fresh_item,
    lock_session,
    lock_topics,
    record_event,
)
from groupvisits.agenda.models import (
    CARRIED_OVER,
    DISCUSSED,
    OPEN,
    PLANNED,
    AgendaItem,
)
from groupvisits.agenda.sessions import next_session_after
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.extensions import db
from groupvisits.neutral import is_secure_link
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

SUMMARY_MAX = 1000
LINKS_MAX, LINK_LENGTH_MAX = 5, 500
LINK_MESSAGE = (
    "Give each link as a secure address starting with https:// and the name of the site, "
    "such as https://www.example.org/handout, one per line."
)

# Kinds of TopicEvent written here.
EV_DISCUSSED, EV_SUMMARY, EV_CARRIED = "discussed", "summary changed", "carried over"


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
    locked = lock_session(group_session)
    if (now or utcnow()) < locked.starts_at:
        raise Conflict("You can mark a topic talked about once the session has begun.")
    item = fresh_item(item)
    if item.outcome == CARRIED_OVER:
        raise Conflict("That topic was carried over to a later session.")
    (topic,) = lock_topics(item.topic)
    record_event(topic, EV_SUMMARY if item.outcome == DISCUSSED else EV_DISCUSSED, actor, summary)
    item.outcome, item.summary, item.links = DISCUSSED, summary, "\n".join(found)
    topic.status = DISCUSSED
    db.session.flush()
    return item


def carry_over(item: AgendaItem, *, actor: User) -> GroupSession:
    """The group ran out of time for an item: its topic goes on to the group's next session,
    open for votes again with its votes kept (that session's facilitator fits it into that
    session's time). Returns the next session.

    :raises ValidationFailed: the group has no later session.
    :raises Conflict: the item was talked about or carried over already.
    """
    group_session = item.group_session
    check_curator(actor, group_session)
    lock_session(group_session)
    item = fresh_item(item)
    if item.outcome != PLANNED:
        raise Conflict(f"That topic was already {item.outcome_label.lower()}.")
    later = next_session_after(group_session)
    if later is None:
        raise ValidationFailed(
            "This group has no later session to carry the topic over to. A coordinator can "
            "add one; until then, keep the topic for later."
        )
    (topic,) = lock_topics(item.topic)
    item.outcome = CARRIED_OVER
    topic.status, topic.session_id = OPEN, later.id
    record_event(topic, EV_CARRIED, actor, f"To the session of {date_of(later)}")
    db.session.flush()
    return later
