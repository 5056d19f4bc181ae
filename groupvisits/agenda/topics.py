"""A group's topics and the question box: putting topics forward, votes, hiding, history.

Who sees whom. A topic shown "by name" shows a member to fellow members as "First L." if
their membership shares their name, otherwise as "A member"; staff see full names. An
anonymous topic shows nobody to members; staff still see its proposer, unless the group
allows fully anonymous topics: then a member's anonymous topic keeps no proposer at all
(``proposer_id`` None, its "proposed" event without actor), and nobody can ever find out.
Questions dropped in the question box are always anonymous to the group.

Votes: one per member per topic, held by the database's unique constraint. A vote locks the
topic's row first (as the curation in :mod:`groupvisits.agenda.sessions` does), so a vote and
a hide or merge of the same topic are served one after the other; the vote is then an
``INSERT ... ON CONFLICT DO NOTHING``, so a second click at the same moment is a no-op.

Like every service these flush and never commit, and raise :class:`ValidationFailed`
(bad input or a closed topic) or :class:`NotAllowed` (the actor may not) before they change
anything.
"""

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, joinedload

from groupvisits.accounts.models import User
from groupvisits.agenda.models import (
    ACCEPTED,
    ANONYMOUS,
    BY_NAME,
    DECLINED,
    DETAILS_MAX,
    DISCUSSED,
    KEPT,
    MERGED,
    OPEN,
    QUESTION,
    TITLE_MAX,
    TOPIC,
    AgendaTopic,
    TopicEvent,
    TopicVote,
)
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.locking import lock_row
from groupvisits.permissions import can_curate_agenda, can_curate_topics, can_take_part_in_agenda
from groupvisits.roster.models import ACTIVE, Membership, group_ids_of_patient
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.timeutil import utcnow

#: Topics members may still vote on (and take their vote back from).
VOTABLE = (OPEN, ACCEPTED, KEPT)
#: How a group's topic list is ordered.
SORTS = {"votes": "Most votes", "new": "Newest"}
#: The question box opens this long before a session starts, and closes when it ends.
QUESTION_BOX_OPENS = timedelta(minutes=60)
REASON_MAX = 500

# Kinds of TopicEvent written here (the session agenda writes its own).
EV_PROPOSED, EV_HIDDEN, EV_UNHIDDEN = "proposed", "hidden", "shown again"
#: The note of a question staff typed in from a paper card.
FROM_A_CARD = "typed in from a paper card"

ANONYMOUS_WORDS = "Anonymous"
A_MEMBER = "A member"
CLINIC_TEAM = "The clinic team"


@dataclass(frozen=True)
class TopicRow:
    """One topic (or question) as one viewer sees it, with its votes.

    :ivar shown_name: the proposer as this viewer sees them ("Pat I.", "A member",
        "Anonymous", "You"; staff see full names, and who is behind an anonymous topic
        unless it is fully anonymous).
    :ivar group_sees: the proposer as members see them (for staff, next to ``shown_name``).
    :ivar named_patient_id: the patient this row names to this viewer (to audit the view);
        never the proposer of an anonymous topic, never the viewer themself.
    :ivar hidden_by: who hid it (staff viewers only; members never get hidden topics).
    """

    topic: AgendaTopic
    votes: int
    voted: bool
    mine: bool
    shown_name: str
    group_sees: str
    named_patient_id: int | None
    hidden_by: User | None

    @property
    def can_vote(self) -> bool:
        """Open to votes: not hidden, and open, on an agenda or kept for later."""
        return is_votable(self.topic)

    @property
    def text(self) -> str:
        """A question's whole text (its title is shortened when it is long)."""
        return self.topic.details or self.topic.title


def is_votable(topic: AgendaTopic) -> bool:
    """True if members may vote on ``topic`` (and take their vote back) now."""
    return topic.kind == TOPIC and not topic.is_hidden and topic.status in VOTABLE


def is_fully_anonymous(topic: AgendaTopic) -> bool:
    """An anonymous topic whose proposer nobody knows (a member's, in a group allowing it)."""
    return topic.is_anonymous and topic.proposer_id is None and not topic.proposed_by_staff


# Reading


@functools.cache
def _rows_query():
    """Topics with their vote count, the viewer's vote, and whether the proposer shares their
    name with the group: one query, however many topics and votes."""
    votes = (
        select(func.count(TopicVote.id))
        .where(TopicVote.topic_id == AgendaTopic.id)
        .correlate(AgendaTopic)
        .scalar_subquery()
        .label("votes")
    )
    voted = (
        exists()
        .where(TopicVote.topic_id == AgendaTopic.id, TopicVote.voter_id == bindparam("viewer_id"))
        .correlate(AgendaTopic)
    )
    shares_name = (
        exists()
        .where(
            Membership.group_id == AgendaTopic.group_id,
            Membership.patient_id == AgendaTopic.proposer_id,
            Membership.status == ACTIVE,
            Membership.share_name.is_(True),
        )
        .correlate(AgendaTopic)
    )
    hider = aliased(User)
    return (
        select(AgendaTopic, votes, voted, shares_name, hider)
        .outerjoin(hider, hider.id == AgendaTopic.hidden_by_id)
        .options(
            joinedload(AgendaTopic.proposer),
            joinedload(AgendaTopic.group_session),
            joinedload(AgendaTopic.merged_into),
        )
    )


def _rows(query, viewer: User | None) -> list[TopicRow]:
    """Run a query of :func:`_rows_query` for ``viewer`` (None: as any member sees it)."""
    viewer_id = viewer.id if viewer is not None else 0
    staff = viewer is not None and viewer.is_staff
    rows = db.session.execute(query, {"viewer_id": viewer_id}).unique()
    return [
        _row(topic, votes, voted, shares_name, hider, viewer_id, staff)
        for topic, votes, voted, shares_name, hider in rows
    ]


def _row(topic, votes, voted, shares_name, hider, viewer_id: int, staff: bool) -> TopicRow:
    group_sees, names_someone = _as_members_see(topic, bool(shares_name))
    mine = topic.proposer_id is not None and topic.proposer_id == viewer_id
    if staff:
        shown = _as_staff_see(topic)
        # Staff see every proposer but a fully anonymous one; an anonymous topic's proposer
        # is still never written in the audit trail (the trail must not undo anonymity).
        named = None if topic.is_anonymous or topic.proposed_by_staff else topic.proposer_id
    else:
        shown, named, hider = group_sees, topic.proposer_id if names_someone else None, None
    if mine:
        shown, named = "You", None
    return TopicRow(topic, votes or 0, bool(voted), mine, shown, group_sees, named, hider)


def _as_members_see(topic: AgendaTopic, shares_name: bool) -> tuple[str, bool]:
    """The proposer as fellow members see them, and whether that names a patient."""
    if topic.is_anonymous:
        return ANONYMOUS_WORDS, False
    proposer = topic.proposer
    if topic.proposed_by_staff:
        return (f"{proposer.full_name} (clinic team)" if proposer else CLINIC_TEAM), False
    if proposer is not None and shares_name:
        return proposer.group_name, True
    return A_MEMBER, False


def _as_staff_see(topic: AgendaTopic) -> str:
    """The proposer as staff see them (next to how members see them)."""
    proposer = topic.proposer
    if topic.proposed_by_staff:
        name = proposer.full_name if proposer else "someone no longer with the clinic"
        if topic.is_anonymous:
            return f"Typed in from a paper card by {name}"
        return f"{name} (clinic team)"
    if proposer is None:
        if topic.is_anonymous:
            return "Fully anonymous: nobody, staff included, can see who"
        return "A former member"
    return proposer.full_name


def group_topics(group: VisitGroup, viewer: User, sort: str = "votes") -> list[TopicRow]:
    """The group's topics (not questions) as ``viewer`` sees them, with votes, in one query.

    Members get the visible topics, whatever their status (so they see what became of each);
    staff get the hidden ones too (``row.topic.is_hidden``, ``row.hidden_by``). Each row says
    how many votes the topic has, whether ``viewer`` voted for it, and how the viewer sees its
    proposer. The caller checks that ``viewer`` may see the group's topics.

    :param sort: "votes" (most votes first, then the longest waiting) or "new" (newest first).
    :raises ValueError: an unknown ``sort``.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    query = _rows_query().where(AgendaTopic.group_id == group.id, AgendaTopic.kind == TOPIC)
    if not viewer.is_staff:
        query = query.where(AgendaTopic.hidden_at.is_(None))
    if sort == "votes":
        query = query.order_by(
            query.selected_columns.votes.desc(), AgendaTopic.created_at, AgendaTopic.id
        )
    else:
        query = query.order_by(AgendaTopic.created_at.desc(), AgendaTopic.id.desc())
    return _rows(query, viewer)


def open_questions(group_session: GroupSession, viewer: User | None = None) -> list[TopicRow]:
    """Questions dropped in this session's question box and still open, newest first.

    Without ``viewer``, or for a member, as members see them (hidden ones left out); for staff
    the hidden ones too, and who dropped each (unless fully anonymous).
    """
    query = _rows_query().where(
        AgendaTopic.session_id == group_session.id,
        AgendaTopic.kind == QUESTION,
        AgendaTopic.status == OPEN,
    )
    staff = viewer is not None and viewer.is_staff
    if not staff:
        query = query.where(AgendaTopic.hidden_at.is_(None))
    query = query.order_by(AgendaTopic.created_at.desc(), AgendaTopic.id.desc())
    return _rows(query, viewer)


def topic_row(topic: AgendaTopic, viewer: User) -> TopicRow:
    """One topic or question (hidden or not) as ``viewer`` sees it, with its votes."""
    (row,) = _rows(_rows_query().where(AgendaTopic.id == topic.id), viewer)
    return row


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


def question_box_session(group: VisitGroup, now: datetime | None = None) -> GroupSession | None:
    """The group's session whose question box is open now, or else the next one to open."""
    return db.session.scalar(
        select(GroupSession)
        .where(
            GroupSession.group_id == group.id,
            GroupSession.ends_at > (now or utcnow()),
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


def name_shared(group: VisitGroup, patient: User) -> bool:
    """True if ``patient``'s membership lets fellow members see their name ("First L.")."""
    if not patient.is_patient:
        return False
    return bool(
        db.session.scalar(
            select(Membership.id).where(
                Membership.group_id == group.id,
                Membership.patient_id == patient.id,
                Membership.status == ACTIVE,
                Membership.share_name.is_(True),
            )
        )
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


# Changing


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
    _event(topic, EV_PROPOSED, None if nobody_knows else actor)
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
    _event(question, EV_PROPOSED, None if nobody_knows else actor, FROM_A_CARD if by_staff else "")
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
    _event(topic, EV_HIDDEN, actor, reason)
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
    _event(topic, EV_UNHIDDEN, actor, reason)
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


def _event(topic: AgendaTopic, kind: str, actor: User | None, note: str = "") -> None:
    db.session.add(
        TopicEvent(topic_id=topic.id, actor_id=actor.id if actor else None, kind=kind, note=note)
    )
