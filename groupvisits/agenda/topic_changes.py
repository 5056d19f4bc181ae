"""Changes to a group's topics and its question box: putting topics forward, dropping
questions, votes, and hiding.

Votes: one per member per topic, held by the database's unique constraint. A vote locks the
topic's row first (as the curation in :mod:`groupvisits.agenda.agenda_building` does), so a
vote and a hide or merge of the same topic are served one after the other; the vote is then an
``INSERT ... ON CONFLICT DO NOTHING``, so a second click at the same moment is a no-op.

Like every service these flush and never commit, and raise :class:`ValidationFailed`
(bad input or a closed topic) or :class:`NotAllowed` (the actor may not) before they change
anything.
"""

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from groupvisits.accounts.models import User
from groupvisits.agenda.agenda_rules import record_event
from groupvisits.agenda.models import (
    ANONYMOUS,
    BY_NAME,
    DECLINED,
    DETAILS_MAX,
    DISCUSSED,
    MERGED,
    OPEN,
    QUESTION,
    TITLE_MAX,
    TOPIC,
    AgendaTopic,
    TopicVote,
)
from groupvisits.agenda.topic_rows import VOTABLE
from groupvisits.agenda.topics import (
    can_hide,
    is_member_with_place,
    next_session,
    question_box_is_open,
    question_box_opens_at,
)
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.locking import lock_row
from groupvisits.permissions import can_take_part_in_agenda
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

#: The longest reason for hiding a topic or showing it again.
REASON_MAX = 500

# Kinds of TopicEvent written here (the session agenda writes its own).
EV_PROPOSED, EV_HIDDEN, EV_UNHIDDEN = "proposed", "hidden", "shown again"
#: The note of a question staff typed in from a paper card.
FROM_A_CARD = "typed in from a paper card"


def propose(
    group: VisitGroup,
    *,
    title: str,
    details: str = "",
    anonymous: bool = False,
    for_next_session: bool = False,
    actor: User,
) -> AgendaTopic:
    """Put a topic forward for the group; members and the site's staff may.

    Staff topics always show the staff member's name. A member's anonymous topic shows no
    name to members; staff still see who, unless the group allows fully anonymous topics:
    then the topic keeps no proposer, and its "proposed" event no actor.

    :param for_next_session: for the group's next session (else for the group in general).
    :raises NotAllowed: ``actor`` neither a member with a place nor staff of the site.
    :raises ValidationFailed: an empty or too long title, too long details, or no session
        planned when one was asked for.
    """
    if not can_take_part_in_agenda(actor, group):
        raise NotAllowed("Only members of this group and its clinic team put topics forward.")
    title = clean_title(title)
    details = clean_text(details, field="details", what="The details")
    session_id = None
    if for_next_session:
        upcoming = next_session(group)
        if upcoming is None:
            raise ValidationFailed(
                "No session of this group is planned yet. Choose “Any session” instead.",
                field="when",
            )
        session_id = upcoming.id
    by_staff = actor.is_staff
    shown_as = ANONYMOUS if anonymous and not by_staff else BY_NAME
    nobody_knows = shown_as == ANONYMOUS and group.allow_anonymous_topics
    topic = AgendaTopic(
        group_id=group.id,
        kind=TOPIC,
        title=title,
        details=details,
        proposer_id=None if nobody_knows else actor.id,
        proposed_by_staff=by_staff,
        shown_as=shown_as,
        session_id=session_id,
        status=OPEN,
    )
    db.session.add(topic)
    db.session.flush()
    record_event(topic, EV_PROPOSED, None if nobody_knows else actor)
    db.session.flush()
    return topic


def drop_question(
    group_session: GroupSession, text: str, actor: User, *, now: datetime | None = None
) -> AgendaTopic:
    """Drop a question in the session's question box, for the group to talk about.

    Open from an hour before the session starts until it ends. A member's question is
    anonymous to the group (and fully anonymous where the group allows it); staff type in
    questions from paper cards: anonymous to the group, staff see who typed it.

    :raises NotAllowed: ``actor`` neither a member with a place nor staff of the site.
    :raises ValidationFailed: the box is not open, or the question is empty or too long.
    """
    group = group_session.group
    if not can_take_part_in_agenda(actor, group):
        raise NotAllowed("Only members of this group and its clinic team ask questions here.")
    now = now or utcnow()
    if group_session.is_cancelled:
        raise ValidationFailed("This session was cancelled, so its question box is closed.")
    if not question_box_is_open(group_session, now):
        site = group.site
        if now > group_session.ends_at:
            message = "This session is over, so its question box is closed."
        else:
            opens = question_box_opens_at(group_session)
            message = (
                f"The question box opens an hour before the session, at {site.clock(opens)} "
                f"on {site.day(opens)}, and closes when the session ends."
            )
        raise ValidationFailed(message, field="text")
    text = clean_text(text, field="text", what="Your question")
    if not text:
        raise ValidationFailed("Write your question first.", field="text")
    title = _short_title(text)
    by_staff = actor.is_staff
    nobody_knows = not by_staff and group.allow_anonymous_topics
    question = AgendaTopic(
        group_id=group.id,
        kind=QUESTION,
        title=title,
        details=text if text != title else "",
        proposer_id=None if nobody_knows else actor.id,
        proposed_by_staff=by_staff,
        shown_as=ANONYMOUS,
        session_id=group_session.id,
        status=OPEN,
    )
    db.session.add(question)
    db.session.flush()
    record_event(
        question, EV_PROPOSED, None if nobody_knows else actor, FROM_A_CARD if by_staff else ""
    )
    db.session.flush()
    return question


def vote(topic: AgendaTopic, actor: User) -> bool:
    """Vote for a topic; True if the vote was added, False if it was there already.

    :raises NotAllowed: ``actor`` is not a member with a place in the topic's group.
    :raises ValidationFailed: the topic is hidden, merged, declined, talked about, or a question.
    """
    topic = _lock_for_voting(topic, actor)
    statement = _insert_ignoring_duplicates(
        {"topic_id": topic.id, "voter_id": actor.id, "created_at": utcnow()}
    )
    return db.session.execute(statement).scalar_one_or_none() is not None


def unvote(topic: AgendaTopic, actor: User) -> bool:
    """Take one's vote back; True if there was one. The same rules as :func:`vote`."""
    topic = _lock_for_voting(topic, actor)
    removed = db.session.execute(
        delete(TopicVote).where(TopicVote.topic_id == topic.id, TopicVote.voter_id == actor.id)
    ).rowcount
    return removed == 1


def hide(topic: AgendaTopic, reason: str, actor: User) -> AgendaTopic:
    """Take a topic or question off members' lists, with a reason kept in its history.

    :raises NotAllowed: ``actor`` does not curate the group's topics (or the session's agenda).
    :raises ValidationFailed: no reason, or the topic is hidden already.
    """
    if not can_hide(actor, topic):
        raise NotAllowed("Only the group's coordinators and facilitators hide topics.")
    reason = _reason(reason, "Say why you hide it (members do not see the reason).")
    topic = lock_row(AgendaTopic, topic.id)
    if topic.is_hidden:
        raise ValidationFailed(f"“{topic.title}” is hidden already.")
    topic.hidden_at = utcnow()
    topic.hidden_by_id = actor.id
    topic.hidden_reason = reason
    record_event(topic, EV_HIDDEN, actor, reason)
    db.session.flush()
    return topic


def unhide(topic: AgendaTopic, actor: User, reason: str = "") -> AgendaTopic:
    """Show a hidden topic to members again (its hiding stays in its history).

    :raises NotAllowed: as for :func:`hide`.
    :raises ValidationFailed: the topic is not hidden, or the reason is too long.
    """
    if not can_hide(actor, topic):
        raise NotAllowed("Only the group's coordinators and facilitators hide topics.")
    reason = _reason(reason, None)
    topic = lock_row(AgendaTopic, topic.id)
    if not topic.is_hidden:
        raise ValidationFailed(f"“{topic.title}” is not hidden.")
    topic.hidden_at = None
    topic.hidden_by_id = None
    topic.hidden_reason = ""
    record_event(topic, EV_UNHIDDEN, actor, reason)
    db.session.flush()
    return topic


# Input


def clean_title(title: str | None) -> str:
    """A topic's title on one line, without extra spaces.

    :raises ValidationFailed: empty, too long, or holding a null character.
    """
    title = " ".join(str(title or "").split())
    if "\x00" in title:
        raise ValidationFailed("The title holds a null character; please remove it.", field="title")
    if not title:
        raise ValidationFailed("Give your topic a short title.", field="title")
    if len(title) > TITLE_MAX:
        raise ValidationFailed(
            f"Keep the title to {TITLE_MAX} characters (it has {len(title)}). "
            "Put the rest in the details.",
            field="title",
        )
    return title


def clean_text(text: str | None, *, field: str, what: str) -> str:
    """Free text (details, a question): line breaks kept, outer spaces dropped.

    :raises ValidationFailed: longer than :data:`DETAILS_MAX` characters, or a null character.
    """
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if "\x00" in text:
        raise ValidationFailed(f"{what} holds a null character; please remove it.", field=field)
    if len(text) > DETAILS_MAX:
        raise ValidationFailed(
            f"{what} can be up to {DETAILS_MAX} characters (it has {len(text)}).", field=field
        )
    return text


def _short_title(text: str) -> str:
    """A question's title: the question on one line, cut at a word to fit."""
    line = " ".join(text.split())
    if len(line) <= TITLE_MAX:
        return line
    cut = line[: TITLE_MAX - 1]
    if " " in cut[TITLE_MAX // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip() + "…"


def _reason(reason: str | None, missing: str | None) -> str:
    reason = " ".join(str(reason or "").split())
    if missing and not reason:
        raise ValidationFailed(missing, field="reason")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(
            f"Keep the reason to {REASON_MAX} characters (it has {len(reason)}).", field="reason"
        )
    return reason


# Helpers


def _lock_for_voting(topic: AgendaTopic, actor: User) -> AgendaTopic:
    """Check ``actor`` may vote on ``topic``, lock its row and check it afresh."""
    if topic.kind != TOPIC:
        raise ValidationFailed("Questions from the question box are not voted on.")
    if not is_member_with_place(actor, topic.group):
        raise NotAllowed("Only members of this group vote on its topics.")
    topic = lock_row(AgendaTopic, topic.id)
    _check_votable(topic)
    return topic


def _check_votable(topic: AgendaTopic) -> None:
    if topic.is_hidden:
        raise ValidationFailed("This topic was taken off the list, so votes on it are closed.")
    if topic.status not in VOTABLE:
        why = {
            DECLINED: "This topic was declined",
            MERGED: "This topic was merged into another one (vote for that one instead)",
            DISCUSSED: "The group has talked about this topic",
        }.get(topic.status, "This topic is closed")
        raise ValidationFailed(f"{why}, so votes on it are closed.")


def _insert_ignoring_duplicates(values: dict):
    """INSERT a vote, doing nothing if the member's vote is there (both databases); it
    returns the new vote's id, or no row if there was one already."""
    dialect = db.session.connection().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(TopicVote)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["topic_id", "voter_id"])
        .returning(TopicVote.id)
    )
