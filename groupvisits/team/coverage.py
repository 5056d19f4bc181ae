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

from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.mail import services as mail
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.team.models import (
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

_ROLE_ORDER = {role: index for index, role in enumerate(TEAM_ROLES)}


@dataclass
class SessionCoverage:
    """One session's team, by role in TEAM_ROLES order, and what is wrong with it."""

    group_session: GroupSession
    team: list[StaffAssignment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return not self.problems


def _disciplines_text(codes: tuple[str, ...]) -> str:
    names = [DISCIPLINES[code].lower() for code in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _people(count: int, role: str) -> str:
    label = TEAM_ROLES[role].lower()
    return f"{count} {label}" if count == 1 else f"{count} people as {label}"


def problems_of(
    group_session: GroupSession,
    assignments: list[StaffAssignment],
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
                    f"{_disciplines_text(rule.allowed)}."
                )
        if len(fit) < rule.count:
            kinds = f" ({_disciplines_text(rule.allowed)})" if rule.allowed else ""
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
        select(StaffAssignment)
        .where(StaffAssignment.session_id.in_(bindparam("session_ids", expanding=True)))
        .options(joinedload(StaffAssignment.user, innerjoin=True))
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


def coverage_for(sessions: list[GroupSession]) -> dict[int, SessionCoverage]:
    """Each session's team and problems, by session id, in three queries however many.

    The sessions should come with their group and site loaded (the supervision ratio is
    the site's), as ``schedule.services.upcoming_sessions`` loads them.
    """
    if not sessions:
        return {}
    session_ids = sorted({s.id for s in sessions})
    group_ids = sorted({s.group_id for s in sessions})
    by_session: dict[int, list[StaffAssignment]] = {}
    for assignment in db.session.scalars(_assignments_query(), {"session_ids": session_ids}):
        by_session.setdefault(assignment.session_id, []).append(assignment)
    by_group: dict[int, list[StaffingRule]] = {}
    for rule in db.session.scalars(_rules_query(), {"group_ids": group_ids}):
        by_group.setdefault(rule.group_id, []).append(rule)
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


def site_coverage(site_id: int, *, now: datetime) -> list[SessionCoverage]:
    """The scheduled sessions of a site's groups in the next :data:`COVERAGE_DAYS` days.

    Sessions with problems come first (soonest first), then the covered ones.
    """
    params = {"site_id": site_id, "now": now, "until": now + timedelta(days=COVERAGE_DAYS)}
    sessions = list(db.session.scalars(_site_sessions_query(), params))
    coverage = coverage_for(sessions)
    lines = [coverage[s.id] for s in sessions]
    return sorted(lines, key=lambda line: line.covered)  # stable: keeps time order


def queue_team_notice(
    group_session: GroupSession, user: User, role: str, *, added: bool, actor: User | None
) -> None:
    """Tell ``user`` they were put on or taken off a session that is less than 14 days away.

    The message names the group only by its calendar name (never its name or focus), and
    nobody but the person themself; further ahead nothing is sent (the schedule page shows
    it). People without email get nothing: the outbox skips them.
    """
    now = utcnow()
    if group_session.starts_at < now or group_session.starts_at - now > NOTICE_WINDOW:
        return
    site = group_session.group.site
    mail.queue(
        user.email,
        NOTICE_SUBJECT,
        "team_changed.txt",
        user=user,
        added=added,
        calendar_name=group_session.group.calendar_name,
        local_time=site.when(group_session.starts_at),
        site=site,
        role_label=TEAM_ROLES.get(role, role),
        actor=actor,
    )
