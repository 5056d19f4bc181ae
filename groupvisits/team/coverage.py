"""Coverage of many sessions at once, and notices to people whose schedule a team change moves.

:func:`coverage_for` checks the same rules as ``services.coverage_problems`` for any number of
sessions in one query (the teams, with who of them is away, and the staffing rules), so that
pages listing many sessions do not grow with them.
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, literal_column, null, select, union_all

from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.extensions import db
from groupvisits.mail import services as mail
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import (
    PRECEPTOR,
    PROVIDER,
    TEAM_ROLES,
    StaffAssignment,
    StaffingRule,
    TimeOff,
    split_disciplines,
)
from groupvisits.team.people import PERSON_COLUMNS, PERSON_WIDTH, Person, one_each
from groupvisits.timeutil import utcnow

#: A team change this close to a session is sent to the people it adds or removes.
NOTICE_WINDOW = timedelta(days=14)
#: Neutral on purpose: no group name, focus or condition in a subject line.
NOTICE_SUBJECT = "Your group visit schedule changed"
#: What a notice tells its reader about their place on a session's team.
ADDED, REMOVED, MOVED, CANCELLED = "added", "removed", "moved", "cancelled"

_ROLE_ORDER = {role: index for index, role in enumerate(TEAM_ROLES)}


class Assigned(NamedTuple):
    """One assignment as team pages read it: a plain row with its person, and whether the
    person is on time off during the session."""

    id: int
    session_id: int
    user_id: int
    role: str
    away: bool
    user: Person

    @property
    def role_label(self) -> str:
        return TEAM_ROLES.get(self.role, self.role)


class Rule(NamedTuple):
    """A staffing rule as coverage reads it: plain values rather than an ORM object, as the
    checks read each rule many times a page. ``allows`` is ``StaffingRule``'s own."""

    group_id: int
    role: str
    count: int
    #: The allowed disciplines (empty: any), as ``StaffingRule.allowed``.
    allowed: tuple[str, ...]

    allows = StaffingRule.allows


@dataclass
class SessionCoverage:
    """One session's team, by role in TEAM_ROLES order, and what is wrong with it."""

    group_session: GroupSession
    team: list[Assigned] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Roles that need more people, in TEAM_ROLES order.
    to_fill: list[str] = field(default_factory=list)

    #: The roles to fill (one entry per role, in TEAM_ROLES order), with the people of
    #: the clinic free to fill each: set by :func:`site_coverage` for coordinators.
    gaps: list["Gap"] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return not self.problems


@dataclass
class Gap:
    """A role a session still needs, and who could take it (free, not away, allowed)."""

    role: str
    candidates: list[Person] = field(default_factory=list)

    @property
    def label(self) -> str:
        return TEAM_ROLES[self.role]

    @property
    def offer(self) -> tuple[int, ...]:
        """Who is offered, by id: gaps that offer the same people share one rendered list."""
        return tuple(person.id for person in self.candidates)


def disciplines_text(codes: tuple[str, ...]) -> str:
    """``("attending", "resident")`` as "attending or resident"."""
    names = [DISCIPLINES[code].lower() for code in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _people(count: int, role: str) -> str:
    label = TEAM_ROLES[role].split(" (")[0].lower()  # "provider", not "provider (one-on-...)"
    return f"{count} {label}" if count == 1 else f"{count} people as {label}"


def review_team(
    group_session: GroupSession, assignments: list[Assigned], rules: list[Rule]
) -> tuple[list[str], list[str]]:
    """What is wrong with a session's team as loaded, and which roles need more people
    (no query): the rules of ``services.coverage_problems``.

    Checks the count and disciplines of each role of the template, a precepting attending
    whenever a resident is a provider, the site's supervision ratio, and time off.

    :param assignments: the session's assignments in id order, with their people and
        whether each is away during the session.
    :param rules: the staffing rules of the session's group, in TEAM_ROLES order.
    :returns: the problems in plain words, and the roles to fill in TEAM_ROLES order.
    """
    problems: list[str] = []
    to_fill: set[str] = set()
    by_role: dict[str, list[Person]] = {}
    for assignment in assignments:
        by_role.setdefault(assignment.role, []).append(assignment.user)

    for rule in rules:
        people = by_role.get(rule.role, [])
        fit = 0
        for person in people:
            if rule.allows(person):
                fit += 1
            else:
                problems.append(
                    f"{person.full_name} is assigned as {TEAM_ROLES[rule.role].lower()}, "
                    f"which needs: {disciplines_text(rule.allowed)}."
                )
        if fit < rule.count:
            to_fill.add(rule.role)
            kinds = f" ({disciplines_text(rule.allowed)})" if rule.allowed else ""
            problems.append(f"Needs {_people(rule.count, rule.role)}{kinds}; {fit} assigned.")

    residents = sum(1 for p in by_role.get(PROVIDER, []) if p.discipline == "resident")
    preceptors = sum(1 for p in by_role.get(PRECEPTOR, []) if p.discipline == "attending")
    ratio = group_session.group.site.supervision_ratio or 1
    if residents > ratio * preceptors:
        to_fill.add(PRECEPTOR)
    if residents and not preceptors:
        problems.append("A resident is a provider, so a precepting attending is needed.")
    elif residents > ratio * preceptors:
        problems.append(
            f"{residents} residents are providers, but {preceptors} precepting "
            f"attending(s) may supervise at most {ratio * preceptors} "
            f"({ratio} each at this clinic)."
        )

    named: set[int] = set()
    for assignment in assignments:
        if assignment.away and assignment.user_id not in named:
            named.add(assignment.user_id)
            problems.append(f"{assignment.user.full_name} is on time off during this session.")
    return problems, sorted(to_fill, key=_ROLE_ORDER.__getitem__)


def away_during(user_id, starts_at, ends_at):
    """Whether the person (a column) has time off overlapping the span (columns too)."""
    return (
        select(TimeOff.id)
        .where(TimeOff.user_id == user_id, TimeOff.starts_at < ends_at, TimeOff.ends_at > starts_at)
        .exists()
    )


#: Kinds of row of :func:`_teams_and_rules_query`.
_ASSIGNMENT, _RULE = 0, 1


@functools.cache
def _teams_and_rules_query():
    # One statement for the sessions' teams and their groups' rules, as a query costs about
    # as much as checking a page's every team: each assignment with its person and whether
    # they are away (the assignment copies its session's times, so one correlated test
    # tells), then each rule. Each kind leaves the other's columns empty.
    away = away_during(StaffAssignment.user_id, StaffAssignment.starts_at, StaffAssignment.ends_at)
    assignments = (
        select(
            literal_column(str(_ASSIGNMENT)).label("kind"),
            StaffAssignment.id.label("assignment_id"),
            StaffAssignment.session_id.label("owner_id"),
            StaffAssignment.role.label("role"),
            away.label("away"),
            null().label("needed"),
            null().label("disciplines"),
            *PERSON_COLUMNS,
        )
        .join(User, User.id == StaffAssignment.user_id)
        .where(StaffAssignment.session_id.in_(bindparam("session_ids", expanding=True)))
    )
    rules = select(
        literal_column(str(_RULE)),
        null(),
        StaffingRule.group_id,
        StaffingRule.role,
        null(),
        StaffingRule.count,
        StaffingRule.disciplines,
        *[null()] * PERSON_WIDTH,
    ).where(StaffingRule.group_id.in_(bindparam("group_ids", expanding=True)))
    return union_all(assignments, rules).order_by("kind", "assignment_id")


@functools.cache
def _rules_query():
    return select(
        StaffingRule.group_id, StaffingRule.role, StaffingRule.count, StaffingRule.disciplines
    ).where(StaffingRule.group_id.in_(bindparam("group_ids", expanding=True)))


def _by_group(rows) -> dict[int, list[Rule]]:
    """Rules from ``(group id, role, count, disciplines)`` rows, by group, in TEAM_ROLES order."""
    rules = [
        Rule(group_id, role, count, split_disciplines(disciplines))
        for group_id, role, count, disciplines in rows
    ]
    by_group: dict[int, list[Rule]] = {}
    for rule in sorted(rules, key=lambda rule: _ROLE_ORDER[rule.role]):
        by_group.setdefault(rule.group_id, []).append(rule)
    return by_group


def rules_by_group(group_ids: list[int]) -> dict[int, list[Rule]]:
    """Each group's staffing rules, in TEAM_ROLES order (one query)."""
    return _by_group(db.session.execute(_rules_query(), {"group_ids": sorted(set(group_ids))}))


def teams_and_rules(
    sessions: list[GroupSession],
) -> tuple[dict[int, list[Assigned]], dict[int, list[Rule]]]:
    """Each session's assignments (in id order), and each of their groups' rules: one query."""
    params = {
        "session_ids": sorted({s.id for s in sessions}),
        "group_ids": sorted({s.group_id for s in sessions}),
    }
    teams: dict[int, list[Assigned]] = {}
    rule_rows = []
    people: dict[int, Person] = {}
    rows = db.session.execute(_teams_and_rules_query(), params).all()
    for kind, assignment_id, owner_id, role, away, needed, disciplines, *columns in rows:
        if kind == _RULE:
            rule_rows.append((owner_id, role, needed, disciplines))
            continue
        person = one_each(people, columns)
        assigned = Assigned(assignment_id, owner_id, person.id, role, bool(away), person)
        teams.setdefault(owner_id, []).append(assigned)
    return teams, _by_group(rule_rows)


def _team_key(assignment: Assigned) -> tuple[int, str, int]:
    """Role in TEAM_ROLES order, then family name (as team tables list people)."""
    return (_ROLE_ORDER[assignment.role], assignment.user.family_name, assignment.user_id)


def review_all(
    sessions: list[GroupSession],
    teams: dict[int, list[Assigned]],
    rules: dict[int, list[Rule]],
) -> dict[int, SessionCoverage]:
    result = {}
    for group_session in sessions:
        assignments = teams.get(group_session.id, [])
        problems, to_fill = review_team(
            group_session, assignments, rules.get(group_session.group_id, [])
        )
        result[group_session.id] = SessionCoverage(
            group_session, sorted(assignments, key=_team_key), problems, to_fill
        )
    return result


def coverage_for(
    sessions: list[GroupSession],
) -> dict[int, SessionCoverage]:
    """Each session's team and problems, by session id, in one query however many.

    The team is loaded once, and its problems are worked out from it (:func:`review_team`).
    The sessions should come with their group and site loaded (the supervision ratio is
    the site's), as ``schedule.services.upcoming_sessions`` loads them; rows with the same
    names do as well (the coverage page's ``site_coverage.ComingSession``).
    """
    if not sessions:
        return {}
    return review_all(sessions, *teams_and_rules(sessions))


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
