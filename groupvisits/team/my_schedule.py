"""A staff member's own schedule: the sessions they are on, in which roles, and their time off.

Read-only queries shared by the My schedule page, the clinician's home page and the
calendar feed; each costs one statement however many sessions a person is on.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import contains_eager

from groupvisits.accounts.models import User
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import TEAM_ROLES, StaffAssignment, TimeOff

#: How far ahead My schedule looks.
SCHEDULE_WEEKS = 12
_ROLE_ORDER = list(TEAM_ROLES)
#: Each assignment's session, group and site, from the joins of the same query.
_WITH_SESSION_GROUP_SITE = (
    contains_eager(StaffAssignment.group_session)
    .contains_eager(GroupSession.group)
    .joinedload(VisitGroup.site)
)


@dataclass
class MySession:
    """One coming session of a person, with every role they hold in it (labels, in order)."""

    group_session: GroupSession
    roles: list[str] = field(default_factory=list)


def _role_key(role: str) -> int:
    return _ROLE_ORDER.index(role) if role in TEAM_ROLES else len(_ROLE_ORDER)


def _by_session(assignments) -> list[MySession]:
    sessions: dict[int, MySession] = {}
    for assignment in sorted(
        assignments, key=lambda a: (a.starts_at, a.session_id, _role_key(a.role))
    ):
        mine = sessions.setdefault(assignment.session_id, MySession(assignment.group_session))
        mine.roles.append(assignment.role_label)
    return list(sessions.values())


def coming_sessions(
    user: User, *, now: datetime, weeks: int = SCHEDULE_WEEKS, limit: int | None = None
) -> list[MySession]:
    """The sessions ``user`` is on that end after ``now`` and start within ``weeks``, next first.

    One query, with each session's group and site.
    """
    query = (
        select(StaffAssignment)
        .join(StaffAssignment.group_session)
        .join(GroupSession.group)
        .where(
            StaffAssignment.user_id == user.id,
            StaffAssignment.ends_at > now,
            StaffAssignment.starts_at < now + timedelta(weeks=weeks),
        )
        .options(_WITH_SESSION_GROUP_SITE)
        .order_by(StaffAssignment.starts_at, StaffAssignment.session_id)
    )
    sessions = _by_session(db.session.scalars(query).unique())
    return sessions[:limit] if limit is not None else sessions


def coming_time_off(user: User, *, now: datetime) -> list[TimeOff]:
    """The person's time off that has not yet ended, soonest first."""
    return list(
        db.session.scalars(
            select(TimeOff)
            .where(TimeOff.user_id == user.id, TimeOff.ends_at > now)
            .order_by(TimeOff.starts_at, TimeOff.id)
        )
    )


def time_off_clashes(user: User, *, now: datetime) -> dict[int, list[GroupSession]]:
    """For each coming span of time off, the sessions (not cancelled) the person is still on.

    Keys are time-off ids; one query whatever the number of spans and sessions.
    """
    rows = db.session.execute(
        select(TimeOff.id, StaffAssignment)
        .join(
            StaffAssignment,
            and_(
                StaffAssignment.user_id == TimeOff.user_id,
                StaffAssignment.starts_at < TimeOff.ends_at,
                StaffAssignment.ends_at > TimeOff.starts_at,
            ),
        )
        .join(StaffAssignment.group_session)
        .join(GroupSession.group)
        .where(TimeOff.user_id == user.id, TimeOff.ends_at > now)
        .options(_WITH_SESSION_GROUP_SITE)
        .order_by(StaffAssignment.starts_at, StaffAssignment.id)
    ).unique()
    clashes: dict[int, list[GroupSession]] = {}
    for time_off_id, assignment in rows:
        group_session = assignment.group_session
        if group_session.is_cancelled:
            continue
        sessions = clashes.setdefault(time_off_id, [])
        if group_session not in sessions:
            sessions.append(group_session)
    return clashes


def roles_by_session(user: User, *, since: datetime | None = None) -> dict[int, list[str]]:
    """The role labels ``user`` holds by session id, sessions from ``since`` on; one query."""
    query = select(StaffAssignment.session_id, StaffAssignment.role).where(
        StaffAssignment.user_id == user.id
    )
    if since is not None:
        query = query.where(StaffAssignment.starts_at >= since)
    roles: dict[int, list[str]] = {}
    for session_id, role in sorted(db.session.execute(query), key=lambda r: _role_key(r[1])):
        roles.setdefault(session_id, []).append(TEAM_ROLES.get(role, role))
    return roles


def local_instant(day: date, clock_time: time, timezone: str) -> datetime:
    """The instant at which a site's clocks show ``day`` at ``clock_time``, in UTC."""
    return datetime.combine(day, clock_time, ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))
