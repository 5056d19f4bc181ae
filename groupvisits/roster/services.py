"""Roster rules: enrolment, requests to join, the waitlist and its offers, agreements.

Every change that takes or frees a place locks the group first
(:func:`groupvisits.locking.lock_row`), so that active members never exceed
the group's maximum, whatever the number of requests at once.
"""

import functools
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from groupvisits import audit
from groupvisits.accounts.models import User
from groupvisits.errors import Conflict, GroupVisitsError, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.locking import lock_row
from groupvisits.mail import services as mail
from groupvisits.permissions import can_manage_group, serves_site
from groupvisits.roster.models import (
    ACTIVE,
    CURRENT,
    DECLINED,
    ENDED,
    HOLDS_PLACE,
    MAYBE,
    NO,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    WITHDRAWN,
    YES,
    AgreementAcceptance,
    Attendance,
    GroupAgreement,
    Membership,
    MembershipEvent,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.team import services as team
from groupvisits.timeutil import to_local, utcnow

DEFAULT_AGREEMENT = """What is said in the group stays in the group. We share our own stories, \
not other people's.
We do not record, photograph or film the group, in person or on video.
Other members will see your preferred first name and the first letter of your family name, \
if you allow it. They never see your contact details or your health record.
Your one-on-one visit with a clinician is private, as in any clinic visit.
You can leave the group at any time; your care at the clinic does not change."""


class GroupFull(GroupVisitsError):
    """No place is free in the group."""

    status_code = 409


class OfferExpired(GroupVisitsError):
    """The place offered is no longer held."""

    status_code = 409


def _coordinator_of(group: VisitGroup, actor: User | None) -> None:
    if actor is not None and not can_manage_group(actor, group):
        raise NotAllowed("Only coordinators of this group's site manage its roster.")


def _event(membership: Membership, kind: str, actor: User | None, note: str = "") -> None:
    db.session.add(
        MembershipEvent(
            membership_id=membership.id, kind=kind, actor_id=actor.id if actor else None, note=note
        )
    )


def places_taken(group: VisitGroup) -> int:
    """Active members plus places held by an open offer."""
    return db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.group_id == group.id, Membership.status.in_(HOLDS_PLACE))
    )


def _last_waitlist_position(group: VisitGroup) -> int:
    return (
        db.session.scalar(
            select(func.max(Membership.waitlist_position)).where(Membership.group_id == group.id)
        )
        or 0
    )


def current_membership(group: VisitGroup, patient: User) -> Membership | None:
    """The patient's request, place, offer or waitlist place in the group, read afresh.

    A copy already in memory may be stale (another request changed it since):
    the row read now replaces it.
    """
    return _current_membership(group.id, patient.id)


def _current_membership(group_id: int, patient_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership)
        .where(
            Membership.group_id == group_id,
            Membership.patient_id == patient_id,
            Membership.status.in_(CURRENT),
        )
        .execution_options(populate_existing=True)
    )


def _place_or_waitlist(group: VisitGroup, membership: Membership, actor, now) -> None:
    """Give ``membership`` a place if one is free, else the end of the waitlist.

    The caller holds the group's lock.
    """
    with db.session.no_autoflush:
        free = places_taken(group) < group.max_members
        position = None if free else _last_waitlist_position(group) + 1
    if free:
        membership.status, membership.joined_at = ACTIVE, now
    else:
        membership.status = WAITLISTED
    membership.waitlist_position = position
    db.session.add(membership)
    db.session.flush()
    if free:
        _event(membership, "enrolled", actor)
    else:
        _event(membership, "waitlisted", actor, f"position {position}")


def enrol(group: VisitGroup, patient: User, *, actor: User, now: datetime | None = None):
    """Enrol a patient of the group's site: a place if free, else the waitlist.

    :raises Conflict: the patient is already a member or waiting.
    :raises ValidationFailed: not a patient of this site, or the group is closed.
    """
    _coordinator_of(group, actor)
    now = now or utcnow()
    if not patient.is_patient or group.site_id not in patient.site_ids:
        raise ValidationFailed("Only patients of this group's site can be enrolled.")
    if not group.is_open and group.status != "paused":
        raise ValidationFailed("This group is closed.")
    group = lock_row(VisitGroup, group.id)
    existing = current_membership(group, patient)
    if existing is not None and existing.status != REQUESTED:
        raise Conflict(
            f"{patient.full_name} is already in this group ({existing.status_label.lower()})."
        )
    membership = existing or Membership(group_id=group.id, patient_id=patient.id)
    _place_or_waitlist(group, membership, actor, now)
    audit.record(actor, "create", patient, "membership", membership.id)
    return membership


def request_to_join(group: VisitGroup, patient: User, message: str = "") -> Membership:
    """A patient asks to join an open group of their site; a coordinator decides."""
    if not patient.is_patient or group.site_id not in patient.site_ids or not group.is_open:
        raise ValidationFailed("You can ask to join open groups of your own clinic.")
    if current_membership(group, patient) is not None:
        raise Conflict("You have already asked, or you are already in this group.")
    membership = Membership(
        group_id=group.id, patient_id=patient.id, status=REQUESTED, request_message=message
    )
    db.session.add(membership)
    db.session.flush()
    _event(membership, "asked to join", patient, message)
    audit.record(patient, "create", patient, "membership", membership.id)
    return membership


def _lock_and_reread(membership: Membership) -> None:
    """Lock the membership's group, then read the membership again, as it is now.

    The copy in memory was read before the lock: a second click, or a second
    coordinator, may have changed it since (approved, declined, offered a place).
    """
    lock_row(VisitGroup, membership.group_id)
    db.session.refresh(membership)


def approve_request(membership: Membership, *, actor: User, message: str = "") -> Membership:
    """Accept a request to join: a place, or the waitlist if the group is full.

    :raises ValidationFailed: the request has been answered already (approved or declined).
    """
    _coordinator_of(membership.group, actor)
    _lock_and_reread(membership)
    if membership.status != REQUESTED:
        raise ValidationFailed("This request has already been answered.")
    membership.reply_message = message
    return enrol(membership.group, membership.patient, actor=actor)


def decline_request(membership: Membership, *, actor: User, message: str) -> None:
    """Decline a request to join, with a message to the patient.

    :raises ValidationFailed: no message, or the request has been answered already.
    """
    _coordinator_of(membership.group, actor)
    if not message.strip():
        raise ValidationFailed("Write a short message to the patient.")
    _lock_and_reread(membership)
    if membership.status != REQUESTED:
        raise ValidationFailed("This request has already been answered.")
    membership.status, membership.reply_message = DECLINED, message.strip()
    membership.ended_at = utcnow()
    _event(membership, "request declined", actor, message.strip())
    audit.record(actor, "update", membership.patient, "membership", membership.id)


def _leave(membership: Membership, status: str, reason: str, actor: User, now: datetime):
    group = lock_row(VisitGroup, membership.group_id)
    db.session.refresh(membership)
    if membership.status not in CURRENT:
        raise ValidationFailed("This membership has already ended.")
    was_waiting = membership.status == WAITLISTED
    membership.status, membership.ended_at, membership.end_reason = status, now, reason
    membership.waitlist_position = None
    membership.offer_expires_at = None
    if membership.peer_mentor_since is not None:
        # Someone who left no longer co-facilitates its coming sessions.
        membership.peer_mentor_since = None
        team.drop_peer_mentor(group, membership.patient, actor=actor, now=now)
    db.session.flush()
    _event(membership, status, actor, reason)
    audit.record(actor, "update", membership.patient, "membership", membership.id)
    # Answers for sessions still to come no longer hold seats.
    db.session.execute(
        update(Attendance)
        .where(
            Attendance.membership_id == membership.id,
            Attendance.rsvp.in_((YES, MAYBE)),
            Attendance.session_id.in_(select(GroupSession.id).where(GroupSession.starts_at > now)),
        )
        .values(rsvp=NO, brings_support_person=False)
    )
    # What follows for others (an offer, a new place in the queue) is the system's doing
    # when a patient left: the trail must not show one patient changing another's data.
    by = actor if actor.is_staff else None
    offer_next(group, actor=by, now=now)
    if was_waiting:
        # Close the gap left on the waitlist.
        _renumber(group, waitlist(group), by)


def withdraw(membership: Membership, *, actor: User, now: datetime | None = None) -> None:
    """The patient leaves the group (or its waitlist); a freed place is offered on."""
    if actor.id != membership.patient_id:
        raise NotAllowed("Only the member can withdraw; coordinators end memberships.")
    _leave(membership, WITHDRAWN, "", actor, now or utcnow())


def end_membership(membership: Membership, reason: str, *, actor: User, now=None) -> None:
    """A coordinator ends a membership with a reason; a freed place is offered on."""
    _coordinator_of(membership.group, actor)
    if not reason.strip():
        raise ValidationFailed("Give a reason for ending the membership.")
    _leave(membership, ENDED, reason.strip(), actor, now or utcnow())


def _renumber(
    group: VisitGroup,
    ordered: list[Membership],
    actor: User | None = None,
    audited: frozenset[int] = frozenset(),
) -> None:
    """Number the waitlist 1, 2, ... in ``ordered``; each moved person's row is audited."""
    before = {m.id: m.waitlist_position for m in ordered}
    for membership in ordered:
        membership.waitlist_position = None
    db.session.flush()
    for position, membership in enumerate(ordered, start=1):
        membership.waitlist_position = position
    db.session.flush()
    moved = [
        (m.patient_id, m.id)
        for m in ordered
        if m.id not in audited and before[m.id] != m.waitlist_position
    ]
    audit.record_each(actor, "update", "membership", moved)


def waitlist(group: VisitGroup) -> list[Membership]:
    """The people waiting, in order, with their positions as they are now (not as in memory)."""
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.group_id == group.id, Membership.status == WAITLISTED)
            .order_by(Membership.waitlist_position)
            .execution_options(populate_existing=True)
        )
    )


def offer_next(
    group: VisitGroup,
    *,
    actor: User | None = None,
    now: datetime | None = None,
    skip: set[int] = frozenset(),
) -> list[Membership]:
    """Offer each free place to the next person on the waitlist (caller holds the lock).

    :param actor: whose change freed the place (None: the system, e.g. an offer lapsed).
    :param skip: memberships not to offer to now (their offer has just lapsed).
    """
    now = now or utcnow()
    offered = []
    queue = [m for m in waitlist(group) if m.id not in skip]
    free = group.max_members - places_taken(group)
    for membership in queue[: max(free, 0)]:
        # An offer leaves the waitlist: its position goes to the people still waiting.
        membership.status, membership.waitlist_position = OFFERED, None
        membership.offer_expires_at = now + timedelta(hours=group.offer_hold_hours)
        offered.append(membership)
        _event(
            membership,
            "offered",
            None,
            f"held until {membership.offer_expires_at:%Y-%m-%d %H:%M} UTC",
        )
        mail.queue(
            membership.patient.email,
            "A place is open for you",
            "place_offered.txt",
            membership=membership,
            group=group,
            link=mail.external_url("roster.my_groups"),
        )
    audit.record_each(actor, "update", "membership", [(m.patient_id, m.id) for m in offered])
    if offered:
        # Lapsed offers (skip) were audited as they went back to the waitlist.
        waiting = [m for m in waitlist(group) if m.status == WAITLISTED]
        _renumber(group, waiting, actor, audited=frozenset(skip))
    return offered


def _offer_decider(membership: Membership, actor: User, verb: str) -> str:
    """How ``actor`` may answer this offer: "" for the patient, a note for staff by phone.

    The patient answers in the app; a coordinator of the group's site records the answer
    the patient gave on the phone. Nobody else decides on someone's offer.

    :raises NotAllowed: any other person (another patient, staff of another site, a clinician).
    """
    if actor.id == membership.patient_id:
        return ""
    if not can_manage_group(actor, membership.group):
        raise NotAllowed(
            f"Only the person offered the place, or a coordinator of the group's site "
            f"recording their answer by phone, can {verb} it."
        )
    return f"by phone, recorded by {actor.full_name}"


def accept_offer(membership: Membership, *, actor: User, now: datetime | None = None) -> None:
    """Take the place offered, if the offer still holds (the patient, or a coordinator by phone).

    :raises NotAllowed: not the patient, nor a coordinator of the group's site.
    :raises OfferExpired: the hold time has passed (the place goes to the next person).
    """
    note = _offer_decider(membership, actor, "accept")
    now = now or utcnow()
    lock_row(VisitGroup, membership.group_id)
    db.session.refresh(membership)
    if membership.status != OFFERED:
        raise OfferExpired("This offer is no longer open.")
    if membership.offer_expires_at <= now:
        raise OfferExpired("Sorry, this offer has expired and the place was offered on.")
    membership.status, membership.joined_at, membership.offer_expires_at = ACTIVE, now, None
    _event(membership, "accepted offer", actor, note)
    audit.record(actor, "update", membership.patient, "membership", membership.id)


def decline_offer(membership: Membership, *, actor: User, now: datetime | None = None) -> None:
    """Turn the place down and leave the waitlist (the patient, or a coordinator by phone).

    :raises NotAllowed: not the patient, nor a coordinator of the group's site.
    :raises ValidationFailed: the offer is no longer open; the place goes to the next person.
    """
    note = _offer_decider(membership, actor, "decline")
    _lock_and_reread(membership)  # the offer may have lapsed since the page was shown
    if membership.status != OFFERED:
        raise ValidationFailed("This offer is no longer open.")
    reason = "declined the offered place" + (f" {note}" if note else "")
    _leave(membership, WITHDRAWN, reason, actor, now or utcnow())


def expire_offers(
    now: datetime | None = None,
    group: VisitGroup | None = None,
    patient: User | None = None,
) -> int:
    """Offers past their hold time go back to the end of the waitlist; the place moves on.

    Every group, or only ``group``, or only the groups where ``patient`` holds a lapsed offer.
    """
    now = now or utcnow()
    params = {"now": now}
    if group is not None:
        params["group_id"] = group.id
    if patient is not None:
        params["patient_id"] = patient.id
    # Pages ask this on every visit (usually to find nothing): the query is built once.
    query = _lapsed_offers_query(group is not None, patient is not None)
    lapsed = 0
    for group_id in sorted(set(db.session.scalars(query, params))):
        locked = lock_row(VisitGroup, group_id)
        expired = db.session.scalars(
            select(Membership)
            .where(
                Membership.group_id == group_id,
                Membership.status == OFFERED,
                Membership.offer_expires_at <= now,
            )
            .execution_options(populate_existing=True)
        ).all()
        if not expired:
            continue  # someone else moved these offers on in the meantime
        for membership in expired:
            membership.status, membership.offer_expires_at = WAITLISTED, None
            membership.waitlist_position = _last_waitlist_position(locked) + 1
            db.session.flush()
            _event(membership, "offer lapsed", None, "back to the end of the waitlist")
            lapsed += 1
        audit.record_each(None, "update", "membership", [(m.patient_id, m.id) for m in expired])
        # The place goes to the next person; whoever just let it lapse waits for the next one.
        offer_next(locked, now=now, skip={m.id for m in expired})
    return lapsed


@functools.cache
def _lapsed_offers_query(of_group: bool, of_patient: bool):
    """Groups with an offer past its hold time: all, or of one group, or of one patient."""
    query = select(Membership.group_id).where(
        Membership.status == OFFERED, Membership.offer_expires_at <= bindparam("now")
    )
    if of_group:
        query = query.where(Membership.group_id == bindparam("group_id"))
    if of_patient:
        query = query.where(Membership.patient_id == bindparam("patient_id"))
    return query


def move_on_waitlist(membership: Membership, position: int, reason: str, *, actor: User):
    """Put someone at ``position`` on the waitlist (clinical priority), with a reason.

    :raises ValidationFailed: no reason, or the person is not waiting (any more: offered a
        place, left) when the group's lock is taken.
    """
    _coordinator_of(membership.group, actor)
    if not reason.strip():
        raise ValidationFailed("Give the reason for the new order (for example clinical priority).")
    _lock_and_reread(membership)
    if membership.status != WAITLISTED:
        raise ValidationFailed("Only people on the waitlist can be moved.")
    queue = [m for m in waitlist(membership.group) if m.id != membership.id]
    position = min(max(position, 1), len(queue) + 1)
    queue.insert(position - 1, membership)
    _renumber(membership.group, queue, actor, audited=frozenset({membership.id}))
    _event(membership, "moved on waitlist", actor, f"to position {position}: {reason.strip()}")
    audit.record(actor, "update", membership.patient, "membership", membership.id)


def set_share_name(membership: Membership, share: bool, *, actor: User) -> None:
    """The member chooses whether fellow members see their name."""
    if actor.id != membership.patient_id:
        raise NotAllowed("Only the member can change this.")
    _record_share_name(membership, share, actor)


def set_peer_mentor(membership: Membership, willing: bool, *, actor: User) -> None:
    """The member says whether they are willing to be a peer mentor in the group.

    Taking it back takes them off the group's core team and coming sessions as peer mentor.

    :raises NotAllowed: anyone but the member.
    :raises ValidationFailed: not a member with a place (active).
    """
    if actor.id != membership.patient_id:
        raise NotAllowed("Only the member can say this.")
    if membership.status != ACTIVE:
        raise ValidationFailed("Only members of the group can be peer mentors.")
    if willing == (membership.peer_mentor_since is not None):
        return
    membership.peer_mentor_since = utcnow() if willing else None
    if not willing:
        team.drop_peer_mentor(membership.group, membership.patient, actor=actor)
    _event(membership, "willing to mentor" if willing else "no longer mentors", actor)
    audit.record(actor, "update", membership.patient, "membership", membership.id)


def _record_share_name(membership: Membership, share: bool, actor: User, note: str = "") -> None:
    """Keep the member's answer, with a step in the membership's history (who, when, how)."""
    membership.share_name = share
    _event(membership, "shares name" if share else "does not share name", actor, note)
    audit.record(actor, "update", membership.patient, "membership", membership.id)


def unanswered_share_name(group: VisitGroup, patient: User) -> Membership | None:
    """The patient's place in the group while their share-name answer is missing."""
    membership = current_membership(group, patient)
    if membership is None or membership.status != ACTIVE or membership.share_name is not None:
        return None
    return membership


# Confidentiality agreements


@functools.cache
def _agreement_queries():
    """The latest agreement of a group; acceptances of one agreement (built once)."""
    latest = (
        select(GroupAgreement)
        .where(GroupAgreement.group_id == bindparam("group_id"))
        .order_by(GroupAgreement.version.desc())
        .limit(1)
    )
    accepted = select(AgreementAcceptance).where(
        AgreementAcceptance.agreement_id == bindparam("agreement_id"),
        AgreementAcceptance.patient_id.in_(bindparam("patient_ids", expanding=True)),
    )
    return latest, accepted


def current_agreement(group: VisitGroup) -> GroupAgreement | None:
    return db.session.scalar(_agreement_queries()[0], {"group_id": group.id})


def publish_agreement(group: VisitGroup, text: str, *, actor: User | None) -> GroupAgreement:
    """A new version of the agreement: every member is asked to accept it again."""
    _coordinator_of(group, actor)
    if not text.strip():
        raise ValidationFailed("The agreement needs some text.")
    latest = current_agreement(group)
    agreement = GroupAgreement(
        group_id=group.id,
        version=(latest.version + 1) if latest else 1,
        text=text.strip(),
        created_by_id=actor.id if actor else None,
    )
    db.session.add(agreement)
    db.session.flush()
    return agreement


def accept_agreement(
    agreement: GroupAgreement,
    patient: User,
    *,
    actor: User,
    share_name: bool | None = None,
    method: str = "app",
    accepted_on: date | None = None,
    now: datetime | None = None,
) -> AgreementAcceptance:
    """Record that ``patient`` accepted this version: in the app, or on paper (staff).

    Dates are the site's calendar dates: "today" is today where the clinic is.

    :param share_name: the patient's answer, asked with the agreement (on paper: as written
        on the form), to "fellow members may see my first name and last initial"; kept on
        their membership of the group. None: not asked here, an earlier answer stands.
    """
    if method == "app" and actor.id != patient.id:
        raise NotAllowed("Only the patient accepts in the app; staff record paper forms.")
    site = _agreement_site(agreement)
    if method == "paper" and not serves_site(actor, site):
        raise NotAllowed("Only staff of this site record a paper agreement.")
    today = to_local(now or utcnow(), site.timezone).date()
    if accepted_on and accepted_on > today:
        raise ValidationFailed("The date of a paper agreement cannot be in the future.")
    if share_name is not None:
        membership = _current_membership(agreement.group_id, patient.id)
        if membership is not None:
            how = "on the paper agreement" if method == "paper" else "with the agreement"
            _record_share_name(membership, share_name, actor, how)
    existing = db.session.scalar(
        select(AgreementAcceptance).where(
            AgreementAcceptance.agreement_id == agreement.id,
            AgreementAcceptance.patient_id == patient.id,
        )
    )
    if existing is not None:
        return existing
    acceptance = AgreementAcceptance(
        agreement_id=agreement.id,
        patient_id=patient.id,
        method=method,
        accepted_on=accepted_on or today,
        recorded_by_id=actor.id,
    )
    db.session.add(acceptance)
    db.session.flush()
    audit.record(actor, "update", patient, "agreement", acceptance.id)
    return acceptance


def _agreement_site(agreement: GroupAgreement) -> Site:
    return db.session.scalar(
        select(Site)
        .join(VisitGroup, VisitGroup.site_id == Site.id)
        .where(VisitGroup.id == agreement.group_id)
    )


def acceptances_of(
    agreement: GroupAgreement | None, patient_ids: list[int]
) -> dict[int, AgreementAcceptance]:
    """Acceptances of this agreement version, by patient id (one query)."""
    if agreement is None or not patient_ids:
        return {}
    rows = db.session.scalars(
        _agreement_queries()[1], {"agreement_id": agreement.id, "patient_ids": list(patient_ids)}
    )
    return {row.patient_id: row for row in rows}


def current_agreement_and_acceptances(
    group: VisitGroup, patient_ids: list[int]
) -> tuple[GroupAgreement | None, dict[int, AgreementAcceptance]]:
    """The group's current agreement and its acceptances by these patients, in one query."""
    rows = db.session.execute(
        _agreement_with_acceptances_query(),
        {"group_id": group.id, "patient_ids": sorted(set(patient_ids))},
    ).all()
    if not rows:
        return None, {}
    return rows[0][0], {row.patient_id: row for _, row in rows if row is not None}


@functools.cache
def _agreement_with_acceptances_query():
    latest = (
        select(GroupAgreement.id)
        .where(GroupAgreement.group_id == bindparam("group_id"))
        .order_by(GroupAgreement.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    accepted = (AgreementAcceptance.agreement_id == GroupAgreement.id) & (
        AgreementAcceptance.patient_id.in_(bindparam("patient_ids", expanding=True))
    )
    return (
        select(GroupAgreement, AgreementAcceptance)
        .outerjoin(AgreementAcceptance, accepted)
        .where(GroupAgreement.id == latest)
    )


def accepted_current(group: VisitGroup, patient_ids: list[int]) -> dict[int, AgreementAcceptance]:
    """Acceptances of the group's current agreement, by patient id."""
    return acceptances_of(current_agreement(group), patient_ids)


def needs_agreement(group: VisitGroup, patient: User) -> GroupAgreement | None:
    """The current agreement if the patient has not accepted it yet."""
    agreement = current_agreement(group)
    if agreement is None:
        return None
    return None if acceptances_of(agreement, [patient.id]) else agreement


def close_memberships(group: VisitGroup, reason: str, *, actor: User | None) -> int:
    """A closing group ends its waitlist, offers and requests (history kept).

    Members keep their membership, so that their calendars still show the
    group's sessions, as cancelled.
    """
    now = utcnow()
    current = db.session.scalars(
        select(Membership).where(
            Membership.group_id == group.id,
            Membership.status.in_((REQUESTED, WAITLISTED, OFFERED)),
        )
    ).all()
    for membership in current:
        membership.status, membership.ended_at, membership.end_reason = ENDED, now, reason
        membership.waitlist_position = membership.offer_expires_at = None
    db.session.flush()
    for membership in current:
        _event(membership, ENDED, actor, reason)
    audit.record_each(actor, "update", "membership", [(m.patient_id, m.id) for m in current])
    return len(current)
