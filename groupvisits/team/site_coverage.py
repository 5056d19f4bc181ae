"""The coverage page's lines: a site's coming sessions with their teams and problems, and
for each role still to fill, the people free to take it."""

import functools
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Boolean, bindparam, or_, select

from groupvisits.accounts.models import User, user_sites
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.sites.models import Site
from groupvisits.team.coverage import (
    Gap,
    Rule,
    SessionCoverage,
    away_during,
    review_all,
    teams_and_rules,
)
from groupvisits.team.models import DEFAULT_DISCIPLINES, PEER_MENTOR, PRECEPTOR, StaffAssignment
from groupvisits.team.people import Person, candidates_query, one_each
from groupvisits.timeutil import utcnow

#: The coverage page looks this far ahead.
COVERAGE_DAYS = 8 * 7


class SiteGroup(NamedTuple):
    """A group as the coverage page names it."""

    id: int
    name: str
    site: Site


class ComingSession(NamedTuple):
    """A coming session as the coverage page lists it: a few columns, not an ORM object
    (the page lists weeks of them)."""

    id: int
    group_id: int
    starts_at: datetime
    ends_at: datetime
    group: SiteGroup


@functools.cache
def _site_sessions_query():
    return (
        select(
            GroupSession.id,
            GroupSession.group_id,
            GroupSession.starts_at,
            GroupSession.ends_at,
            VisitGroup.name,
        )
        .join(GroupSession.group)
        .where(
            VisitGroup.site_id == bindparam("site_id"),
            GroupSession.status == SCHEDULED,
            GroupSession.ends_at >= bindparam("now"),
            GroupSession.starts_at < bindparam("until"),
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    )


def site_coverage(
    site: Site, *, now: datetime, with_candidates: bool = False
) -> list[SessionCoverage]:
    """The scheduled sessions of a site's groups in the next :data:`COVERAGE_DAYS` days.

    Sessions with problems come first (soonest first), then the covered ones. With
    ``with_candidates``, each line's ``gaps`` lists the roles to fill and who is free to
    fill each (one more query, however many sessions, gaps and people).
    """
    params = {"site_id": site.id, "now": now, "until": now + timedelta(days=COVERAGE_DAYS)}
    groups: dict[int, SiteGroup] = {}
    sessions = []
    for session_id, group_id, starts_at, ends_at, name in db.session.execute(
        _site_sessions_query(), params
    ):
        group = groups.get(group_id) or groups.setdefault(group_id, SiteGroup(group_id, name, site))
        sessions.append(ComingSession(session_id, group_id, starts_at, ends_at, group))
    teams, rules = teams_and_rules(sessions)
    coverage = review_all(sessions, teams, rules)
    lines = [coverage[s.id] for s in sessions]
    if with_candidates:
        _fill_gaps(site.id, lines, rules)
    return sorted(lines, key=lambda line: line.covered)  # stable: keeps time order


@functools.cache
def _gap_candidates_query():
    # For each session with a gap: the site's staff of the disciplines the gaps allow, not on
    # another session then and not away; for a peer mentor's gap, the group's willing members
    # (whatever their other plans). The staff's assignments around the gaps are read once
    # (each person's history is long, and one look per person and session costs).
    # The any_* flags let the database skip a half, or the discipline test, at once.
    allowed = or_(
        bindparam("any_discipline", type_=Boolean()),
        User.discipline.in_(bindparam("disciplines", expanding=True)),
    )
    held = (
        select(
            StaffAssignment.user_id,
            StaffAssignment.session_id,
            StaffAssignment.starts_at,
            StaffAssignment.ends_at,
        )
        .where(
            StaffAssignment.user_id.in_(
                select(user_sites.c.user_id)
                .join(User, User.id == user_sites.c.user_id)
                .where(user_sites.c.site_id == bindparam("site_id"), allowed)
            ),
            StaffAssignment.starts_at < bindparam("until"),
            StaffAssignment.ends_at > bindparam("since"),
        )
        .cte("held")
        .prefix_with("MATERIALIZED")
    )
    busy = (
        select(held.c.user_id)
        .where(
            held.c.user_id == User.id,
            held.c.session_id != GroupSession.id,
            held.c.starts_at < GroupSession.ends_at,
            held.c.ends_at > GroupSession.starts_at,
        )
        .exists()
    )
    return candidates_query(
        GroupSession.id.label("session_id"),
        site_id=VisitGroup.site_id,
        group_id=GroupSession.group_id,
        staff_also=(
            bindparam("any_staff_gap", type_=Boolean()),
            GroupSession.id.in_(bindparam("staff_gaps", expanding=True)),
            VisitGroup.id == GroupSession.group_id,
            allowed,
            ~busy,
            ~away_during(User.id, GroupSession.starts_at, GroupSession.ends_at),
        ),
        members_also=(
            bindparam("any_mentor_gap", type_=Boolean()),
            GroupSession.id.in_(bindparam("mentor_gaps", expanding=True)),
        ),
    )


def _allowed(role: str, rules: dict[str, Rule]) -> tuple[str, ...] | None:
    """The disciplines that may fill ``role`` (empty: any); None for a peer mentor, who is a
    member. A precepting attending is an attending whatever the template says."""
    if role == PEER_MENTOR:
        return None
    if role == PRECEPTOR or role not in rules:
        return DEFAULT_DISCIPLINES[PRECEPTOR]
    return rules[role].allowed


def _fill_gaps(site_id: int, lines: list[SessionCoverage], rules: dict[int, list[Rule]]) -> None:
    """Set each line's gaps with the people free to fill them and allowed by the rules."""
    gaps = []
    for line in lines:
        group_rules = {rule.role: rule for rule in rules.get(line.group_session.group_id, [])}
        gaps += [(line, role, _allowed(role, group_rules)) for role in line.to_fill]
    staff_gaps = [(line.group_session, allowed) for line, _, allowed in gaps if allowed is not None]
    mentor_gaps = sorted({line.group_session.id for line, _, allowed in gaps if allowed is None})
    disciplines = sorted({code for _, allowed in staff_gaps for code in allowed or ()})
    # Run even without a gap, so that the page's query count never depends on the data.
    params = {
        "site_id": site_id,
        "any_staff_gap": bool(staff_gaps),
        "staff_gaps": sorted({s.id for s, _ in staff_gaps}),
        "any_discipline": any(not allowed for _, allowed in staff_gaps),
        "disciplines": disciplines,
        "since": min((s.starts_at for s, _ in staff_gaps), default=utcnow()),
        "until": max((s.ends_at for s, _ in staff_gaps), default=utcnow()),
        "any_mentor_gap": bool(mentor_gaps),
        "mentor_gaps": mentor_gaps,
    }
    free: dict[int, list[Person]] = {}
    people: dict[int, Person] = {}
    rows = db.session.execute(_gap_candidates_query(), params).all()
    for session_id, _kind, _k1, _k2, _k3, *columns in rows:
        free.setdefault(session_id, []).append(one_each(people, columns))

    for line, role, allowed in gaps:
        taken = {a.user_id for a in line.team if a.role == role}
        line.gaps.append(
            Gap(
                role,
                [
                    person
                    for person in free.get(line.group_session.id, [])
                    if (person.is_patient if allowed is None else not person.is_patient)
                    and (not allowed or (person.discipline or "") in allowed)
                    and person.id not in taken
                ],
            )
        )
