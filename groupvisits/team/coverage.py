"""Coverage of many sessions at once, and notices to people whose schedule a team change moves.

:func:`coverage_for` checks the same rules as ``services.coverage_problems`` for any number of
sessions in a fixed number of queries (assignments, their people, staffing rules, time off),
so that pages listing many sessions do not grow with them.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, DISCIPLINES, User, user_sites
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.mail import services as mail
from groupvisits.roster.models import ACTIVE, Membership
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.team.models import (
    DEFAULT_DISCIPLINES,
    PEER_MENTOR,
    PRECEPTOR,
    PROVIDER,
    TEAM_ROLES,
    StaffAssignment,
    StaffingRule,
    TimeOff,
)
from groupvisits.timeutil import utcnow

#: The coverage page looks this far ahead.
COVERAGE_DAYS = 8 * 7
#: A team change this close to a session is sent to the people it adds or removes.
NOTICE_WINDOW = timedelta(days=14)
#: Neutral on purpose: no group name, focus or condition in a subject line.
NOTICE_SUBJECT = "Your group visit schedule changed"
#: What a notice tells its reader about their place on a session's team.
ADDED, REMOVED, MOVED, CANCELLED = "added", "removed", "moved", "cancelled"

_ROLE_ORDER = {role: index for index, role in enumerate(TEAM_ROLES)}


@dataclass(frozen=True)
class Assigned:
    """One assignment as coverage pages read it: a plain row with its person (cheaper than an
    ORM object per assignment when a page lists a site's eight weeks)."""

    id: int
    session_id: int
    user_id: int
    role: str
    user: User

    @property
    def role_label(self) -> str:
        return TEAM_ROLES.get(self.role, self.role)


@dataclass
class SessionCoverage:
    """One session's team, by role in TEAM_ROLES order, and what is wrong with it."""

    group_session: GroupSession
    team: list[Assigned] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    #: Roles still to fill (one entry per role, in TEAM_ROLES order), with the people of
    #: the clinic free to fill each: set by :func:`site_coverage` for coordinators.
    gaps: list["Gap"] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return not self.problems


@dataclass
class Gap:
    """A role a session still needs, and who could take it (free, not away, allowed)."""

    role: str
    candidates: list[User] = field(default_factory=list)

    @property
    def label(self) -> str:
        return TEAM_ROLES[self.role]


def disciplines_text(codes: tuple[str, ...]) -> str:
    """``("attending", "resident")`` as "attending or resident"."""
    names = [DISCIPLINES[code].lower() for code in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _people(count: int, role: str) -> str:
    label = TEAM_ROLES[role].split(" (")[0].lower()  # "provider", not "provider (one-on-...)"
    return f"{count} {label}" if count == 1 else f"{count} people as {label}"


def gap_roles(
    group_session: GroupSession, assignments: list[Assigned], rules: list[StaffingRule]
) -> list[str]:
    """Roles the session needs more people in: its template's, and a precepting attending
    when residents are providers with none, or more than the site's ratio allows."""
    by_role: dict[str, list[User]] = {}
    for assignment in assignments:
        by_role.setdefault(assignment.role, []).append(assignment.user)
    roles = [
        rule.role
        for rule in rules
        if sum(1 for person in by_role.get(rule.role, []) if rule.allows(person)) < rule.count
    ]
    residents = sum(1 for p in by_role.get(PROVIDER, []) if p.discipline == "resident")
    preceptors = sum(1 for p in by_role.get(PRECEPTOR, []) if p.discipline == "attending")
    ratio = group_session.group.site.supervision_ratio or 1
    if residents > ratio * preceptors:
        roles.append(PRECEPTOR)
    return sorted(set(roles), key=_ROLE_ORDER.__getitem__)


def problems_of(
    group_session: GroupSession,
    assignments: list[Assigned],
    rules: list[StaffingRule],
    away: set[int],
) -> list[str]:
    """The rules of ``services.coverage_problems``, on rows already loaded (no query).

    :param assignments: the session's assignments in id order, with their users loaded.
    :param rules: the staffing rules of the session's group.
    :param away: ids of assigned people on time off during the session.
    """
    problems: list[str] = []
    by_role: dict[str, list[User]] = {}
    for assignment in assignments:
        by_role.setdefault(assignment.role, []).append(assignment.user)

    for rule in sorted(rules, key=lambda r: _ROLE_ORDER[r.role]):
        people = by_role.get(rule.role, [])
        fit = [person for person in people if rule.allows(person)]
        label = TEAM_ROLES[rule.role].lower()
        for person in people:
            if not rule.allows(person):
                problems.append(
                    f"{person.full_name} is assigned as {label}, which needs: "
                    f"{disciplines_text(rule.allowed)}."
                )
        if len(fit) < rule.count:
            kinds = f" ({disciplines_text(rule.allowed)})" if rule.allowed else ""
            problems.append(f"Needs {_people(rule.count, rule.role)}{kinds}; {len(fit)} assigned.")

    residents = [p for p in by_role.get(PROVIDER, []) if p.discipline == "resident"]
    preceptors = [p for p in by_role.get(PRECEPTOR, []) if p.discipline == "attending"]
    if residents and not preceptors:
        problems.append("A resident is a provider, so a precepting attending is needed.")
    ratio = group_session.group.site.supervision_ratio or 1
    if preceptors and len(residents) > ratio * len(preceptors):
        problems.append(
            f"{len(residents)} residents are providers, but {len(preceptors)} precepting "
            f"attending(s) may supervise at most {ratio * len(preceptors)} "
            f"({ratio} each at this clinic)."
        )

    named: set[int] = set()
    for assignment in assignments:
        if assignment.user_id in away and assignment.user_id not in named:
            named.add(assignment.user_id)
            problems.append(f"{assignment.user.full_name} is on time off during this session.")
    return problems


@functools.cache
def _assignments_query():
    return (
        select(
            StaffAssignment.id,
            StaffAssignment.session_id,
            StaffAssignment.user_id,
            StaffAssignment.role,
            User,
        )
        .join(User, User.id == StaffAssignment.user_id)
        .where(StaffAssignment.session_id.in_(bindparam("session_ids", expanding=True)))
        .order_by(StaffAssignment.id)
    )


@functools.cache
def _rules_query():
    return (
        select(StaffingRule)
        .where(StaffingRule.group_id.in_(bindparam("group_ids", expanding=True)))
        .order_by(StaffingRule.id)
    )


@functools.cache
def _away_query():
    # Each assignment copies its session's times, so one join finds who is away when.
    return (
        select(StaffAssignment.session_id, StaffAssignment.user_id)
        .join(
            TimeOff,
            (TimeOff.user_id == StaffAssignment.user_id)
            & (TimeOff.starts_at < StaffAssignment.ends_at)
            & (TimeOff.ends_at > StaffAssignment.starts_at),
        )
        .where(StaffAssignment.session_id.in_(bindparam("session_ids", expanding=True)))
        .distinct()
    )


def _rules_by_group(group_ids: list[int]) -> dict[int, list[StaffingRule]]:
    by_group: dict[int, list[StaffingRule]] = {}
    for rule in db.session.scalars(_rules_query(), {"group_ids": sorted(set(group_ids))}):
        by_group.setdefault(rule.group_id, []).append(rule)
    return by_group


def coverage_for(
    sessions: list[GroupSession], rules: dict[int, list[StaffingRule]] | None = None
) -> dict[int, SessionCoverage]:
    """Each session's team and problems, by session id, in three queries however many.

    The sessions should come with their group and site loaded (the supervision ratio is
    the site's), as ``schedule.services.upcoming_sessions`` loads them.
    """
    if not sessions:
        return {}
    session_ids = sorted({s.id for s in sessions})
    group_ids = sorted({s.group_id for s in sessions})
    by_session: dict[int, list[Assigned]] = {}
    for row in db.session.execute(_assignments_query(), {"session_ids": session_ids}):
        by_session.setdefault(row.session_id, []).append(Assigned(*row))
    by_group = rules if rules is not None else _rules_by_group(group_ids)
    away: dict[int, set[int]] = {}
    # Run even with no assignment, so that a page's query count never depends on the data.
    for session_id, user_id in db.session.execute(_away_query(), {"session_ids": session_ids}):
        away.setdefault(session_id, set()).add(user_id)
    result = {}
    for group_session in sessions:
        assignments = by_session.get(group_session.id, [])
        problems = problems_of(
            group_session,
            assignments,
            by_group.get(group_session.group_id, []),
            away.get(group_session.id, set()),
        )
        team = sorted(assignments, key=lambda a: (_ROLE_ORDER[a.role], a.user.full_name, a.id))
        result[group_session.id] = SessionCoverage(group_session, team, problems)
    return result


@functools.cache
def _site_sessions_query():
    return (
        select(GroupSession)
        .join(GroupSession.group)
        .where(
            VisitGroup.site_id == bindparam("site_id"),
            GroupSession.status == SCHEDULED,
            GroupSession.ends_at >= bindparam("now"),
            GroupSession.starts_at < bindparam("until"),
        )
        .options(
            joinedload(GroupSession.group, innerjoin=True).joinedload(
                VisitGroup.site, innerjoin=True
            )
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    )


def site_coverage(
    site_id: int, *, now: datetime, with_candidates: bool = False
) -> list[SessionCoverage]:
    """The scheduled sessions of a site's groups in the next :data:`COVERAGE_DAYS` days.

    Sessions with problems come first (soonest first), then the covered ones. With
    ``with_candidates``, each line's ``gaps`` lists the roles to fill and who is free to
    fill each (three more queries, however many sessions and people).
    """
    until = now + timedelta(days=COVERAGE_DAYS)
    params = {"site_id": site_id, "now": now, "until": until}
    sessions = list(db.session.scalars(_site_sessions_query(), params))
    rules = _rules_by_group([s.group_id for s in sessions])
    coverage = coverage_for(sessions, rules)
    lines = [coverage[s.id] for s in sessions]
    if with_candidates:
        _fill_gaps(site_id, lines, rules, now=now, until=until)
    return sorted(lines, key=lambda line: line.covered)  # stable: keeps time order


@functools.cache
def _site_staff_query():
    return (
        select(User)
        .join(user_sites, user_sites.c.user_id == User.id)
        .where(
            user_sites.c.site_id == bindparam("site_id"),
            User.role.in_((COORDINATOR, CLINICIAN)),
            User.active.is_(True),
        )
        .order_by(User.family_name, User.given_name, User.id)
    )


@functools.cache
def _busy_query():
    # Every assignment of the clinic's staff in the window, at any clinic.
    staff_ids = select(user_sites.c.user_id).where(user_sites.c.site_id == bindparam("site_id"))
    return select(
        StaffAssignment.user_id,
        StaffAssignment.session_id,
        StaffAssignment.role,
        StaffAssignment.starts_at,
        StaffAssignment.ends_at,
    ).where(
        StaffAssignment.user_id.in_(staff_ids),
        StaffAssignment.ends_at > bindparam("now"),
        StaffAssignment.starts_at < bindparam("until"),
    )


@functools.cache
def _time_off_query():
    staff_ids = select(user_sites.c.user_id).where(user_sites.c.site_id == bindparam("site_id"))
    return select(TimeOff.user_id, TimeOff.starts_at, TimeOff.ends_at).where(
        TimeOff.user_id.in_(staff_ids),
        TimeOff.ends_at > bindparam("now"),
        TimeOff.starts_at < bindparam("until"),
    )


@functools.cache
def _willing_members_query():
    return (
        select(Membership.group_id, User)
        .join(User, User.id == Membership.patient_id)
        .where(
            Membership.group_id.in_(bindparam("group_ids", expanding=True)),
            Membership.status == ACTIVE,
            Membership.peer_mentor_since.is_not(None),
            User.active.is_(True),
        )
        .order_by(User.given_name, User.family_name, User.id)
    )


def _fill_gaps(
    site_id: int,
    lines: list[SessionCoverage],
    rules: dict[int, list[StaffingRule]],
    *,
    now: datetime,
    until: datetime,
) -> None:
    """Set each line's gaps with the clinic's staff free to fill them, allowed by the rules."""
    params = {"site_id": site_id, "now": now, "until": until}
    staff = list(db.session.scalars(_site_staff_query(), {"site_id": site_id}))
    busy: dict[int, list[tuple[int, str, datetime, datetime]]] = {}
    for user_id, session_id, role, starts_at, ends_at in db.session.execute(_busy_query(), params):
        busy.setdefault(user_id, []).append((session_id, role, starts_at, ends_at))
    away: dict[int, list[tuple[datetime, datetime]]] = {}
    for user_id, starts_at, ends_at in db.session.execute(_time_off_query(), params):
        away.setdefault(user_id, []).append((starts_at, ends_at))
    group_ids = sorted({line.group_session.group_id for line in lines})
    # Peer mentors are the group's members who said they are willing (run even if unused,
    # so that the page's query count never depends on the data).
    willing: dict[int, list[User]] = {}
    for group_id, user in db.session.execute(_willing_members_query(), {"group_ids": group_ids}):
        willing.setdefault(group_id, []).append(user)

    def free(user: User, group_session: GroupSession, role: str) -> bool:
        start, end = group_session.starts_at, group_session.ends_at
        for session_id, held_role, starts_at, ends_at in busy.get(user.id, []):
            if session_id == group_session.id:
                if held_role == role:
                    return False  # already in this role here
            elif starts_at < end and ends_at > start:
                return False
        return not any(s < end and e > start for s, e in away.get(user.id, []))

    for line in lines:
        group_session = line.group_session
        group_rules = {rule.role: rule for rule in rules.get(group_session.group_id, [])}
        for role in gap_roles(group_session, line.team, list(group_rules.values())):
            if role == PEER_MENTOR:
                taken = {a.user_id for a in line.team if a.role == PEER_MENTOR}
                members = willing.get(group_session.group_id, [])
                line.gaps.append(Gap(role, [u for u in members if u.id not in taken]))
                continue
            rule = group_rules.get(role)
            if role == PRECEPTOR or rule is None:
                allowed = DEFAULT_DISCIPLINES[PRECEPTOR]
            else:
                allowed = rule.allowed
            line.gaps.append(
                Gap(
                    role,
                    [
                        user
                        for user in staff
                        if (not allowed or (user.discipline or "") in allowed)
                        and free(user, group_session, role)
                    ],
                )
            )


def queue_team_notice(
    group_session: GroupSession,
    user: User,
    role: str,
    change: str,
    *,
    actor: User | None,
    old_start: datetime | None = None,
) -> None:
    """Tell ``user`` of a change to their place on a session less than 14 days away.

    ``change`` is ADDED, REMOVED, CANCELLED or MOVED (from ``old_start``; sent when either
    time is that close). The message names the group only by its calendar name (never its
    name or focus), and nobody but the person themself; further ahead nothing is sent (the
    schedule page shows it). People without email get nothing: the outbox skips them.
    """
    now = utcnow()
    times = [group_session.starts_at] + ([old_start] if old_start else [])
    if not any(now <= moment <= now + NOTICE_WINDOW for moment in times):
        return
    site = group_session.group.site
    mail.queue(
        user.email,
        NOTICE_SUBJECT,
        "team_changed.txt",
        user=user,
        change=change,
        calendar_name=group_session.group.calendar_name,
        local_time=site.when(group_session.starts_at),
        old_time=site.when(old_start) if old_start else "",
        site=site,
        role_label=TEAM_ROLES.get(role, role),
        actor=actor,
    )
