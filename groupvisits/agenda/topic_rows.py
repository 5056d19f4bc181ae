"""How one person sees a topic or a question: its votes, their own vote, and who put it
forward, as far as they may know.

Who sees whom. A topic shown "by name" shows a member to fellow members as "First L." if
their membership shares their name, otherwise as "A member"; staff see full names. An
anonymous topic shows nobody to members; staff still see its proposer, unless the group
allows fully anonymous topics: then a member's anonymous topic keeps no proposer at all
(``proposer_id`` None, its "proposed" event without actor), and nobody can ever find out.
Questions dropped in the question box are always anonymous to the group.

Every list of topics is read by one query built on :func:`rows_query`, however many topics
and votes it holds; :mod:`groupvisits.agenda.topics` builds a group's lists on it.
"""

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import aliased, joinedload

from groupvisits.accounts.models import User
from groupvisits.agenda.models import (
    ACCEPTED,
    KEPT,
    OPEN,
    QUESTION,
    TOPIC,
    AgendaTopic,
    TopicVote,
)
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import ACTIVE, Membership
from groupvisits.schedule.models import GroupSession

#: Topics members may still vote on (and take their vote back from).
VOTABLE = (OPEN, ACCEPTED, KEPT)
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
    :ivar for_session_at: when the session the topic is for starts (None: any session).
    :ivar merged_into_title: the title of the topic it was merged into, if this viewer may
        see that topic (a member may not when it is hidden).
    """

    topic: AgendaTopic
    votes: int
    voted: bool
    mine: bool
    shown_name: str
    group_sees: str
    named_patient_id: int | None
    hidden_by: User | None
    for_session_at: datetime | None = None
    merged_into_title: str | None = None

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


def votes_of_topic():
    return (
        select(func.count(TopicVote.id))
        .where(TopicVote.topic_id == AgendaTopic.id)
        .correlate(AgendaTopic)
        .scalar_subquery()
    )


@functools.cache
def rows_query():
    """Topics with their vote count, the viewer's vote, whether the proposer shares their
    name with the group, who hid it, the start of its session and the topic it was merged
    into: one query, however many topics and votes. Related rows come as columns (the
    proposer and the hider as users), so that a long list builds few objects."""
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
    hider, merged_into = aliased(User), aliased(AgendaTopic)
    return (
        select(
            AgendaTopic,
            votes_of_topic().label("votes"),
            voted,
            shares_name,
            hider,
            GroupSession.starts_at,
            merged_into.title,
            merged_into.hidden_at,
        )
        .outerjoin(hider, hider.id == AgendaTopic.hidden_by_id)
        .outerjoin(GroupSession, GroupSession.id == AgendaTopic.session_id)
        .outerjoin(merged_into, merged_into.id == AgendaTopic.merged_into_id)
        .options(joinedload(AgendaTopic.proposer))
    )


def _rows(query, viewer: User | None, params: dict | None = None) -> list[TopicRow]:
    """Run a query of :func:`rows_query` for ``viewer`` (None: as any member sees it)."""
    return [row_of(found, viewer) for found in execute_rows(query, viewer, params)]


def execute_rows(query, viewer: User | None, params: dict | None) -> list:
    """The result rows of a query of :func:`rows_query` (or built on it) for ``viewer``."""
    viewer_id = viewer.id if viewer is not None else 0
    return db.session.execute(query, {**(params or {}), "viewer_id": viewer_id}).all()


def row_of(found, viewer: User | None) -> TopicRow:
    """A :class:`TopicRow` of one result row of :func:`rows_query`."""
    topic, votes, voted, shares_name, hider, starts_at, merged_title, merged_hidden_at = found[:8]
    viewer_id = viewer.id if viewer is not None else 0
    staff = viewer is not None and viewer.is_staff
    group_sees, names_someone = _as_members_see(topic, bool(shares_name))
    mine = topic.proposer_id is not None and topic.proposer_id == viewer_id
    if staff:
        shown = _as_staff_see(topic)
        # Staff see every proposer but a fully anonymous one; an anonymous topic's proposer
        # is still never written in the audit trail (the trail must not undo anonymity).
        named = None if topic.is_anonymous or topic.proposed_by_staff else topic.proposer_id
    else:
        shown, named, hider = group_sees, topic.proposer_id if names_someone else None, None
        if merged_hidden_at is not None:
            merged_title = None  # members do not see a hidden topic, not even its title
    if mine:
        shown, named = "You", None
    return TopicRow(
        topic,
        votes or 0,
        bool(voted),
        mine,
        shown,
        group_sees,
        named,
        hider,
        starts_at,
        merged_title,
    )


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


def open_questions(group_session: GroupSession, viewer: User | None = None) -> list[TopicRow]:
    """Questions dropped in this session's question box and still open, newest first.

    Without ``viewer``, or for a member, as members see them (hidden ones left out); for staff
    the hidden ones too, and who dropped each (unless fully anonymous).
    """
    query = rows_query().where(
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
    (row,) = _rows(rows_query().where(AgendaTopic.id == topic.id), viewer)
    return row


def name_shared(group: VisitGroup, patient: User) -> bool:
    """True if ``patient``'s membership lets fellow members see their name ("First L.")."""
    if not patient.is_patient:
        return False
    params = {"group_id": group.id, "patient_id": patient.id}
    return bool(db.session.scalar(_name_shared_query(), params))


@functools.cache
def _name_shared_query():
    return select(Membership.id).where(
        Membership.group_id == bindparam("group_id"),
        Membership.patient_id == bindparam("patient_id"),
        Membership.status == ACTIVE,
        Membership.share_name.is_(True),
    )
