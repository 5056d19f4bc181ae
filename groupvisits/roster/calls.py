"""Who staff phone before a session: the people the app itself cannot ask.

Members holding a place who cannot sign in (no email address, no password yet, or a
deactivated account) and have not answered for the session, and places offered to
such people. Staff call them and record what they say (see ``call_views``).
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.orm import contains_eager

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.roster.models import (
    ACTIVE,
    OFFERED,
    AgreementAcceptance,
    Attendance,
    GroupAgreement,
    Membership,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

#: People who cannot answer in the app: the mirror of ``User.can_sign_in``.
CANNOT_SIGN_IN = or_(User.email.is_(None), User.password_hash.is_(None), User.active.is_(False))


def why_to_call(patient: User) -> str:
    """Why the app cannot ask this person itself, in a few words."""
    if not patient.email:
        return "No email address"
    if not patient.active:
        return "Account deactivated"
    return "Has not set a password yet"


@dataclass
class Call:
    """One person to phone, with what the call is about."""

    membership: Membership
    #: The group's agreement waits for this member's acceptance (a paper form will do).
    needs_agreement: bool = False

    @property
    def patient(self) -> User:
        return self.membership.patient

    @property
    def reason(self) -> str:
        return why_to_call(self.patient)


@dataclass
class CallList:
    """A session's calls: members to ask whether they come, offers waiting for an answer."""

    members: list[Call] = field(default_factory=list)
    offers: list[Call] = field(default_factory=list)

    @property
    def patient_ids(self) -> list[int]:
        return [call.patient.id for call in self.members + self.offers]

    def __len__(self) -> int:
        return len(self.members) + len(self.offers)


@functools.cache
def _calls_query():
    """Members without an answer and open offers, of people who cannot sign in (built once)."""
    latest_agreement = (
        select(GroupAgreement.id)
        .where(GroupAgreement.group_id == Membership.group_id)
        .order_by(GroupAgreement.version.desc())
        .limit(1)
        .correlate(Membership)
        .scalar_subquery()
    )
    accepted = (
        exists()
        .where(
            AgreementAcceptance.agreement_id == latest_agreement,
            AgreementAcceptance.patient_id == Membership.patient_id,
        )
        .correlate(Membership)
    )
    return (
        select(Membership, latest_agreement.label("agreement_id"), accepted.label("accepted"))
        .join(Membership.patient)
        .outerjoin(
            Attendance,
            and_(
                Attendance.session_id == bindparam("session_id"),
                Attendance.patient_id == Membership.patient_id,
            ),
        )
        .where(
            Membership.group_id == bindparam("group_id"),
            CANNOT_SIGN_IN,
            or_(
                and_(Membership.status == ACTIVE, Attendance.rsvp.is_(None)),
                and_(Membership.status == OFFERED, Membership.offer_expires_at > bindparam("now")),
            ),
        )
        .options(contains_eager(Membership.patient))
        .order_by(User.family_name, User.given_name, User.id)
    )


def to_call(group_session: GroupSession, *, now: datetime | None = None) -> CallList | None:
    """Whom to phone about ``group_session``, in one query; None once it began or if cancelled."""
    now = now or utcnow()
    if group_session.is_cancelled or group_session.starts_at <= now:
        return None
    calls = CallList()
    rows = db.session.execute(
        _calls_query(),
        {"session_id": group_session.id, "group_id": group_session.group_id, "now": now},
    ).all()
    for membership, agreement_id, accepted in rows:
        call = Call(membership, needs_agreement=agreement_id is not None and not accepted)
        (calls.members if membership.status == ACTIVE else calls.offers).append(call)
    return calls
