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

from sqlalchemy import bindparam, func, literal_column, null, select, union_all

from groupvisits.accounts.models import User, user_sites
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.attendance import counts_for_sessions
from groupvisits.roster.models import OFFERED, REQUESTED, Membership
from groupvisits.schedule import census as census_rules
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
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
    """A place held for someone from the waitlist until it lapses (nobody named)."""

    group_id: int
    group_name: str
    site: Site
    #: When the place moves on to the next person (None: no limit was set).
    expires_at: datetime | None
    lapses_soon: bool


@dataclass
class Week:
    """What needs the coordinator, then everything in the next :data:`WEEK_DAYS` days."""

    days: list[DayOfSessions] = field(default_factory=list)
    requests: list[JoinRequests] = field(default_factory=list)
    offers: list[OfferOut] = field(default_factory=list)
    #: The active people of each of the coordinator's sites, by role: {site id: {role: n}}.
    people: dict[int, dict[str, int]] = field(default_factory=dict)

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
    """The coming sessions, join requests and open offers of the groups at ``actor``'s sites,
    and the sites' active people by role.

    :param actor: the coordinator; only the groups of the sites they serve are shown.
    :param now: the instant "today" is taken from, in each site's own zone.
    """
    group_ids, people, requests, offers = _at_the_sites(actor, now=now)
    if not group_ids:
        return Week(people=people)
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
    return Week(
        days=[DayOfSessions(day, lines) for day, lines in sorted(days.items())],
        requests=requests,
        offers=offers,
        people=people,
    )


def _local_today(group_session: GroupSession, now: datetime) -> date:
    return now.astimezone(ZoneInfo(group_session.group.site.timezone)).date()


def _at_the_sites(
    actor: User, *, now: datetime
) -> tuple[set[int], dict[int, dict[str, int]], list[JoinRequests], list[OfferOut]]:
    """What the home page shows of ``actor``'s sites besides their sessions, in one query:
    the groups, the active people by role, the join requests by group and the open offers."""
    sites = {site.id: site for site in actor.sites}
    group_ids: set[int] = set()
    people: dict[int, dict[str, int]] = {}
    requests, offers = [], []
    rows = db.session.execute(_sites_query(), {"site_ids": sorted(sites)}).all()
    for kind, site_id, group_id, name, role, count, expires_at, _name_key, _id_key in rows:
        if kind == _OFFER:
            lapses_soon = expires_at is None or expires_at - now <= OFFER_LAPSING_SOON
            offers.append(OfferOut(group_id, name, sites[site_id], expires_at, lapses_soon))
        elif kind == _REQUEST:
            requests.append(JoinRequests(group_id, name, count))
        elif kind == _GROUP:
            group_ids.add(group_id)
        else:
            people.setdefault(site_id, {})[role] = count
    return group_ids, people, requests, offers


#: The kinds of row of :func:`_sites_query`, in the order it gives them.
_OFFER, _REQUEST, _GROUP, _PEOPLE = range(4)


@functools.cache
def _sites_query():
    # Offers first: their times give the column its type. Offers come soonest lapse first,
    # requests by group name: each kind has its own order keys, null in the others.
    def kind(value: int):
        return literal_column(str(value))

    site_ids = bindparam("site_ids", expanding=True)
    offers = (
        select(
            kind(_OFFER).label("kind"),
            VisitGroup.site_id.label("site_id"),
            VisitGroup.id.label("group_id"),
            VisitGroup.name.label("name"),
            null().label("role"),
            null().label("count"),
            Membership.offer_expires_at.label("expires_at"),
            null().label("name_key"),
            Membership.id.label("id_key"),
        )
        .join(Membership, Membership.group_id == VisitGroup.id)
        .where(VisitGroup.site_id.in_(site_ids), Membership.status == OFFERED)
    )
    requests = (
        select(
            kind(_REQUEST),
            VisitGroup.site_id,
            VisitGroup.id,
            VisitGroup.name,
            null(),
            func.count(Membership.id),
            null(),
            VisitGroup.name,
            VisitGroup.id,
        )
        .join(Membership, Membership.group_id == VisitGroup.id)
        .where(VisitGroup.site_id.in_(site_ids), Membership.status == REQUESTED)
        .group_by(VisitGroup.site_id, VisitGroup.id, VisitGroup.name)
    )
    groups = select(kind(_GROUP), VisitGroup.site_id, VisitGroup.id, *[null()] * 6).where(
        VisitGroup.site_id.in_(site_ids)
    )
    people = (
        select(kind(_PEOPLE), user_sites.c.site_id, null(), null(), User.role, func.count())
        .add_columns(*[null()] * 3)
        .join(User, User.id == user_sites.c.user_id)
        .where(user_sites.c.site_id.in_(site_ids), User.active.is_(True))
        .group_by(user_sites.c.site_id, User.role)
    )
    return union_all(offers, requests, groups, people).order_by(
        "kind", "expires_at", "name_key", "id_key"
    )
