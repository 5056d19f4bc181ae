"""A coordinator's week at a glance: what needs them first, then the next two weeks.

Every number here comes from a fixed number of queries, however many sessions, requests
or offers the coordinator's sites hold. Nothing names a patient: the counts and lapse
times send the coordinator to the roster or the session, where people are shown (and
their viewing audited).
"""

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import contains_eager

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.attendance import counts_for_sessions
from groupvisits.roster.models import OFFERED, REQUESTED, Membership
from groupvisits.schedule import census as census_rules
from groupvisits.schedule import participation
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team.coverage import coverage_for

#: The week at a glance covers this many site-local days, today included.
WEEK_DAYS = 14
#: An offer lapsing this soon needs the coordinator: call the person before the place moves on.
OFFER_LAPSING_SOON = timedelta(hours=24)


@dataclass(frozen=True)
class SessionLine:
    """One coming session with its census and the members who have not answered yet."""

    group_session: GroupSession
    census: census_rules.Census
    #: Active members with a place who have not answered the RSVP (0 for a cancelled session).
    missing_rsvps: int
    #: What is wrong with the session's team (``team.coverage``), empty when it is covered
    #: or cancelled; loaded for all sessions at once in :func:`coordinator_week`.
    staffing_gaps: list[str] = field(default_factory=list)

    @property
    def below_minimum(self) -> bool:
        """Below the group's minimum, within its warning window, with answers in or due."""
        return self.census.warn


@dataclass(frozen=True)
class DayOfSessions:
    """The sessions of one site-local day."""

    day: date
    lines: list[SessionLine]

    @property
    def group_session(self) -> GroupSession:
        """The first session, whose site names the day in its own words."""
        return self.lines[0].group_session


@dataclass(frozen=True)
class JoinRequests:
    """Patients waiting for a coordinator's answer to join one group."""

    group_id: int
    group_name: str
    count: int


@dataclass(frozen=True)
class OfferOut:
    """A place held for someone from the waitlist until it lapses."""

    membership: Membership
    lapses_soon: bool

    @property
    def group(self) -> VisitGroup:
        return self.membership.group


@dataclass
class Week:
    """What needs the coordinator, then everything in the next :data:`WEEK_DAYS` days."""

    days: list[DayOfSessions] = field(default_factory=list)
    requests: list[JoinRequests] = field(default_factory=list)
    offers: list[OfferOut] = field(default_factory=list)

    @property
    def low_sessions(self) -> list[SessionLine]:
        return [line for day in self.days for line in day.lines if line.below_minimum]

    @property
    def lapsing_offers(self) -> list[OfferOut]:
        return [offer for offer in self.offers if offer.lapses_soon]

    @property
    def needs_you(self) -> bool:
        return bool(self.low_sessions or self.requests or self.lapsing_offers)

    @property
    def session_count(self) -> int:
        return sum(len(day.lines) for day in self.days)


def coordinator_week(actor: User, *, now: datetime) -> Week:
    """The coming sessions, join requests and open offers of the groups at ``actor``'s sites.

    :param actor: the coordinator; only the groups of the sites they serve are shown.
    :param now: the instant "today" is taken from, in each site's own zone.
    """
    group_ids = participation.group_ids_of_staff(actor)
    if not group_ids:
        return Week()
    ids = sorted(group_ids)
    sessions = [
        s
        for s in schedule.upcoming_sessions(group_ids, now=now, days=WEEK_DAYS + 1)
        if s.local_start.date() < _local_today(s, now) + timedelta(days=WEEK_DAYS)
    ]
    counts = counts_for_sessions([s.id for s in sessions])
    censuses = census_rules.census_for(sessions, counts, now=now)
    # Nobody need answer for a cancelled session.
    missing = {
        s.id: counts[s.id].unanswered for s in sessions if s.id in counts and not s.is_cancelled
    }
    coverage = coverage_for([s for s in sessions if not s.is_cancelled])
    days: dict[date, list[SessionLine]] = {}
    for s in sessions:
        gaps = coverage[s.id].problems if s.id in coverage else []
        line = SessionLine(s, censuses[s.id], missing.get(s.id, 0), gaps)
        days.setdefault(s.local_start.date(), []).append(line)
    requests = [
        JoinRequests(group_id, name, count)
        for group_id, name, count in db.session.execute(_requests_query(), {"group_ids": ids})
    ]
    offers = [
        OfferOut(m, m.offer_expires_at is None or m.offer_expires_at - now <= OFFER_LAPSING_SOON)
        for m in db.session.scalars(_offers_query(), {"group_ids": ids})
    ]
    return Week(
        days=[DayOfSessions(day, lines) for day, lines in sorted(days.items())],
        requests=requests,
        offers=offers,
    )


def _local_today(group_session: GroupSession, now: datetime) -> date:
    return now.astimezone(ZoneInfo(group_session.group.site.timezone)).date()


@functools.cache
def _requests_query():
    return (
        select(VisitGroup.id, VisitGroup.name, func.count(Membership.id))
        .join(Membership, Membership.group_id == VisitGroup.id)
        .where(
            VisitGroup.id.in_(bindparam("group_ids", expanding=True)),
            Membership.status == REQUESTED,
        )
        .group_by(VisitGroup.id, VisitGroup.name)
        .order_by(VisitGroup.name, VisitGroup.id)
    )


@functools.cache
def _offers_query():
    # Joined, not selectin-loaded: one query whether there are no offers or many.
    return (
        select(Membership)
        .join(Membership.group)
        .join(VisitGroup.site)
        .where(
            Membership.group_id.in_(bindparam("group_ids", expanding=True)),
            Membership.status == OFFERED,
        )
        .options(contains_eager(Membership.group).contains_eager(VisitGroup.site))
        .order_by(Membership.offer_expires_at, Membership.id)
    )
