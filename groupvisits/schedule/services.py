"""Rules of the schedule: generating, moving, cancelling and planning sessions."""

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import contains_eager, joinedload

from groupvisits.accounts.models import User
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import SEGMENT_KINDS, VisitGroup
from groupvisits.locking import lock_row
from groupvisits.neutral import check_place
from groupvisits.permissions import can_manage_group
from groupvisits.roster.models import Attendance
from groupvisits.schedule import recurrence
from groupvisits.schedule.models import CANCELLED, SCHEDULED, GroupSession, SessionSegment
from groupvisits.sites.models import Site
from groupvisits.team import services as team
from groupvisits.timeutil import utcnow

#: How far ahead sessions exist, by default.
DEFAULT_HORIZON_DAYS = 183
#: The shortest and longest a session may last, in minutes.
SESSION_MINUTES = (30, 240)


@dataclass
class RuleChangeReport:
    """What a change of a group's rule did to its future sessions."""

    moved: list[tuple[GroupSession, datetime]] = field(default_factory=list)
    added: list[GroupSession] = field(default_factory=list)
    cancelled: list[GroupSession] = field(default_factory=list)
    kept: list[GroupSession] = field(default_factory=list)  # edited by hand, left alone


def _check_coordinator(group: VisitGroup, actor: User | None) -> None:
    if actor is not None and not can_manage_group(actor, group):
        raise NotAllowed("Only coordinators of this group's site can change its sessions.")


def checked_in_sessions(session_ids: list[int]) -> set[int]:
    """The sessions among these that hold a check-in (anyone marked arrived, late, absent...)."""
    if not session_ids:
        return set()
    return set(
        db.session.scalars(
            select(Attendance.session_id)
            .where(Attendance.session_id.in_(session_ids), Attendance.check_in.is_not(None))
            .distinct()
        )
    )


def why_fixed(group_session: GroupSession, *, now: datetime | None = None) -> str | None:
    """Why the session's time, place and status can no longer change; None if they can.

    A session that has begun, or holds a check-in, is a record of who came: moving or
    cancelling it would rewrite show rates and the history of who was there.
    """
    if group_session.id is None:
        return None
    if group_session.starts_at <= (now or utcnow()):
        return (
            "This session has already started; it cannot be moved or cancelled. Record who "
            "came on its check-in page, and add an extra session if the group meets again."
        )
    if checked_in_sessions([group_session.id]):
        return (
            "People are already checked in for this session; it cannot be moved or cancelled. "
            "Correct their check-ins on its check-in page if needed, and add an extra session "
            "if the group meets on another day."
        )
    return None


def _check_not_fixed(group_session: GroupSession, now: datetime | None) -> None:
    """:raises Conflict: the session has begun or holds a check-in."""
    reason = why_fixed(group_session, now=now)
    if reason:
        raise Conflict(reason)


def _copy_plan(group: VisitGroup) -> list[SessionSegment]:
    return [
        SessionSegment(
            position=s.position,
            kind=s.kind,
            name=s.name,
            minutes=s.minutes,
            no_pull_outs=s.no_pull_outs,
        )
        for s in group.plan
    ]


def _check_time_exists(local_start: datetime, timezone: str) -> None:
    """:raises ValidationFailed: the clocks skip this time at the site on that day."""
    if not recurrence.exists_locally(local_start, timezone):
        raise ValidationFailed(
            f"There is no {local_start:%H:%M} on {local_start:%d %b %Y} at this site: "
            "the clocks go forward that night. Choose another time."
        )


def _new_session(group: VisitGroup, local_start: datetime, *, key: str | None) -> GroupSession:
    starts_at = recurrence.to_utc(local_start, group.site.timezone)
    return GroupSession(
        group=group,
        occurrence_key=key,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=group.length_minutes),
        status=SCHEDULED,
        segments=_copy_plan(group),
    )


def rule_occurrences(group: VisitGroup, window_start: date, window_end: date) -> list[datetime]:
    """Local start times the group's rule gives within the window."""
    if not group.has_schedule:
        return []
    return recurrence.local_occurrences(
        group.recurrence_rule,
        group.schedule_start_date,
        group.schedule_start_time,
        until=group.schedule_until,
        count=group.schedule_count,
        window_start=max(window_start, group.schedule_start_date),
        window_end=window_end,
    )


def generate_sessions(
    group: VisitGroup, *, until: date, since: date | None = None, today: date | None = None
) -> list[GroupSession]:
    """Create the sessions of the rule up to ``until`` that do not exist yet.

    Idempotent: an occurrence that already has a session (even a moved or
    cancelled one) is skipped, and the database refuses a duplicate anyway.
    ``since`` (default today) lets demo data and imports create past sessions.
    """
    today = today or utcnow().date()
    since = since or today
    if not group.is_open or not group.has_schedule:
        return []
    existing = set(
        db.session.scalars(
            select(GroupSession.occurrence_key).where(
                GroupSession.group_id == group.id, GroupSession.occurrence_key.is_not(None)
            )
        )
    )
    created = []
    for local_start in rule_occurrences(group, since, until):
        key = recurrence.occurrence_key(local_start)
        if key in existing:
            continue
        created.append(_new_session(group, local_start, key=key))
        existing.add(key)
    db.session.add_all(created)
    if group.generated_until is None or group.generated_until < until:
        group.generated_until = until
    db.session.flush()
    # The system staffs new sessions with the core team; anyone away or busy is left off.
    team.staff_new_sessions(group, created, actor=None)
    return created


def horizon(today: date | None = None, days: int | None = None) -> date:
    """The last date sessions are generated for (SCHEDULE_HORIZON_DAYS ahead)."""
    if days is None:
        days = current_app.config.get("SCHEDULE_HORIZON_DAYS", DEFAULT_HORIZON_DAYS)
    return (today or utcnow().date()) + timedelta(days=days)


def extend_all(*, today: date | None = None, days: int | None = None) -> int:
    """Generate every open group's sessions up to the horizon; safe to run daily."""
    until = horizon(today, days)
    groups = db.session.scalars(select(VisitGroup).where(VisitGroup.recurrence_rule != "")).all()
    return sum(len(generate_sessions(group, until=until, today=today)) for group in groups)


def change_rule(
    group: VisitGroup,
    *,
    rule: str,
    start_date: date,
    start_time: time,
    until: date | None,
    count: int | None,
    actor: User | None,
    now: datetime | None = None,
    horizon_days: int | None = None,
) -> RuleChangeReport:
    """Set a new rule; move, add or cancel future sessions not edited by hand.

    Future rule-made sessions keep their identity (and so their RSVPs): each
    takes the new occurrence of its own month if there is one, the rest pair
    up in order. Surplus ones are cancelled, never deleted, so that calendars
    learn of it. Sessions that have begun or hold a check-in stay as they are.
    """
    _check_coordinator(group, actor)
    if until and until < start_date:
        raise ValidationFailed("The schedule cannot end before it starts.")
    now = now or utcnow()
    group.recurrence_rule, group.schedule_start_date = rule, start_date
    group.schedule_start_time, group.schedule_until, group.schedule_count = (
        start_time,
        until,
        count,
    )
    report = RuleChangeReport()
    future = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > now)
        .order_by(GroupSession.starts_at)
    ).all()
    # A session holding a check-in records who came: like one edited by hand, it stays.
    checked_in = checked_in_sessions([s.id for s in future])
    report.kept = [s for s in future if s.edited or s.is_extra or s.id in checked_in]
    # A day edited by hand stays as the coordinator left it, even when only the time
    # changes, and even if the session was moved to another day (or into the past).
    kept_days = {
        key[:10]
        for key in db.session.scalars(
            select(GroupSession.occurrence_key).where(
                GroupSession.group_id == group.id,
                GroupSession.occurrence_key.is_not(None),
                GroupSession.edited.is_(True) | (GroupSession.starts_at <= now),
            )
        )
    } | {s.occurrence_key[:10] for s in report.kept if s.occurrence_key}
    rule_made = [s for s in future if s not in report.kept]
    movable = [s for s in rule_made if s.status == SCHEDULED]
    # Sessions an earlier rule change cancelled are history: free their occurrence.
    retired = [s for s in rule_made if s.status == CANCELLED]
    end = max(horizon(now.date(), horizon_days), group.generated_until or now.date())
    local_now = now.astimezone(ZoneInfo(group.site.timezone)).replace(tzinfo=None)
    wanted = [
        occurrence
        for occurrence in rule_occurrences(group, now.date(), end)
        if occurrence > local_now and recurrence.occurrence_key(occurrence)[:10] not in kept_days
    ]
    # Free the keys first, so that reassigning them never clashes on the unique constraint.
    for group_session in movable + retired:
        group_session.occurrence_key = None
    db.session.flush()
    pairs, unmatched, left_over = _pair_by_month(movable, wanted)
    for group_session, local_start in pairs:
        starts_at = recurrence.to_utc(local_start, group.site.timezone)
        group_session.occurrence_key = recurrence.occurrence_key(local_start)
        if starts_at != group_session.starts_at:
            report.moved.append((group_session, group_session.starts_at))
            group_session.starts_at = starts_at
            group_session.ends_at = starts_at + timedelta(minutes=group.length_minutes)
            group_session.sequence += 1
    for group_session in unmatched:
        _cancel(group_session, "The group's schedule changed.", actor=actor)
        report.cancelled.append(group_session)
    # A paused or closed group gets no new sessions.
    for local_start in left_over if group.is_open else []:
        new = _new_session(group, local_start, key=recurrence.occurrence_key(local_start))
        db.session.add(new)
        report.added.append(new)
    group.generated_until = end
    db.session.flush()
    # Moved sessions' teams move with them; a clash refuses the whole change.
    for group_session, old_start in report.moved:
        team.sync_session_times(group_session, actor=actor, old_start=old_start)
    team.staff_new_sessions(group, report.added, actor=actor)
    return report


def _pair_by_month(sessions: list[GroupSession], occurrences: list[datetime]):
    """Pair sessions with new occurrences: same month first, then in order.

    Returns (pairs, sessions left without an occurrence, occurrences left over).
    """

    def month(moment: datetime) -> tuple[int, int]:
        return moment.year, moment.month

    free = list(occurrences)
    pairs, waiting = [], []
    for group_session in sessions:
        local = group_session.local_start
        same_month = next((o for o in free if month(o) == month(local)), None)
        if same_month is None:
            waiting.append(group_session)
        else:
            free.remove(same_month)
            pairs.append((group_session, same_month))
    pairs += list(zip(waiting, free, strict=False))
    unmatched = waiting[len(free) :]
    left_over = free[len(waiting) :]
    return sorted(pairs, key=lambda pair: pair[1]), unmatched, left_over


def _cancel(group_session: GroupSession, reason: str, *, actor: User | None) -> None:
    """Mark a session cancelled (it stays on calendars as such) and free its team."""
    if group_session.status != CANCELLED:
        group_session.status = CANCELLED
        group_session.cancel_reason = reason
        group_session.sequence += 1
        # A cancelled session holds nobody's time; its team is told, if it was close.
        team.release_team(group_session, actor=actor)


def _room(place: str | None) -> str:
    """A room as compared for clashes: case and spacing do not matter."""
    return " ".join((place or "").split()).casefold()


@functools.cache
def _clash_query():
    """Sessions (not cancelled) of a site overlapping a time, with their groups (built once)."""
    return (
        select(GroupSession)
        .join(VisitGroup, VisitGroup.id == GroupSession.group_id)
        .where(
            VisitGroup.site_id == bindparam("site_id"),
            GroupSession.status != CANCELLED,
            # No session lasts longer: the index on starts_at keeps this a short range scan.
            GroupSession.starts_at > bindparam("earliest"),
            GroupSession.starts_at < bindparam("ends_at"),
            GroupSession.ends_at > bindparam("starts_at"),
            GroupSession.id != bindparam("excluding"),
        )
        .options(contains_eager(GroupSession.group))
        .order_by(GroupSession.starts_at, GroupSession.id)
    )


def find_clash(
    group: VisitGroup,
    *,
    starts_at: datetime,
    ends_at: datetime,
    location: str = "",
    excluding: int | None = None,
) -> GroupSession | None:
    """The first session this time would overlap, in one query; None if there is none.

    A clash is another session (not cancelled) of the same group, or a session of another
    group of the site in the same room: the same place, whatever its case and spacing.
    ``location`` is the session's own place ("" takes the group's).
    """
    room = _room(location or group.location)
    candidates = db.session.scalars(
        _clash_query(),
        {
            "site_id": group.site_id,
            "earliest": starts_at - timedelta(minutes=SESSION_MINUTES[1]),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "excluding": excluding or 0,
        },
    )
    for other in candidates:
        if other.group_id == group.id or (room and _room(other.place) == room):
            return other
    return None


def describe_clash(other: GroupSession) -> str:
    """ "Clashes with Tuesday evening group, Tue 12 Jan 2027, 5:00 PM–7:00 PM in Community room"."""
    site = other.group.site
    place = " ".join(other.place.split())
    where = f" in {place}" if place else ""
    return (
        f"Clashes with {other.group.name}, {site.when(other.starts_at)}–"
        f"{site.clock(other.ends_at)}{where}. Choose another time or room."
    )


def _check_no_clash(group: VisitGroup, starts_at: datetime, ends_at: datetime, **place) -> None:
    """:raises ValidationFailed: the time clashes (see :func:`find_clash`)."""
    # Two coordinators placing sessions at once could each miss the other's: the site's
    # row serialises every placing of a session at the site until commit.
    lock_row(Site, group.site_id)
    other = find_clash(group, starts_at=starts_at, ends_at=ends_at, **place)
    if other is not None:
        raise ValidationFailed(describe_clash(other), field="date")


def _check_length(length_minutes: int) -> None:
    low, high = SESSION_MINUTES
    if not low <= length_minutes <= high:
        raise ValidationFailed(f"A session lasts between {low} and {high} minutes.")


def cancel_session(
    group_session: GroupSession, reason: str, *, actor: User, now: datetime | None = None
) -> None:
    """Cancel one session with a reason; it stays on calendars as cancelled.

    The session's row is locked first: a check-in arriving at the same moment
    waits, then finds the session cancelled (or this waits, and finds the check-in).

    :raises ValidationFailed: no reason given, or already cancelled.
    :raises Conflict: the session has begun or holds a check-in.
    """
    _check_coordinator(group_session.group, actor)
    if not reason.strip():
        raise ValidationFailed("Give a reason: members and staff will see it.")
    group_session = lock_row(GroupSession, group_session.id)
    if group_session.is_cancelled:
        raise ValidationFailed("This session is already cancelled.")
    _check_not_fixed(group_session, now)
    _cancel(group_session, reason.strip(), actor=actor)
    group_session.edited = True
    db.session.flush()


def restore_session(
    group_session: GroupSession, *, actor: User, now: datetime | None = None
) -> None:
    """Undo a cancellation of a session still to come.

    :raises ValidationFailed: not cancelled, its time has passed, or its time now
        clashes with another session.
    """
    _check_coordinator(group_session.group, actor)
    group_session = lock_row(GroupSession, group_session.id)
    if not group_session.is_cancelled:
        raise ValidationFailed("This session is not cancelled.")
    if group_session.starts_at <= (now or utcnow()):
        raise ValidationFailed(
            "This session's time has passed, so it stays cancelled. If the group met after "
            "all, add an extra session and tick “Record a past session”."
        )
    _check_no_clash(
        group_session.group,
        group_session.starts_at,
        group_session.ends_at,
        location=group_session.location,
        excluding=group_session.id,
    )
    group_session.status = SCHEDULED
    group_session.cancel_reason = ""
    group_session.sequence += 1
    db.session.flush()
    # Its team was freed when it was cancelled: the core team goes back on, where free.
    team.staff_new_sessions(group_session.group, [group_session], actor=actor)


def move_session(
    group_session: GroupSession,
    *,
    local_start: datetime,
    length_minutes: int,
    location: str,
    video_url: str,
    theme: str,
    notes: str,
    actor: User,
    now: datetime | None = None,
) -> bool:
    """Change one session's time, place, theme or notes. Returns True if it moved.

    A change of time or place raises the calendar SEQUENCE and marks the
    session as edited by hand, so later rule changes leave it alone. The
    session's row is locked before it is checked, so a check-in arriving at
    the same moment waits for the move (or the move for the check-in).

    :raises Conflict: a change of time or place of a session that has begun or
        holds a check-in (its theme and notes may still change).
    :raises ValidationFailed: a start that has passed, or a time that clashes with
        another session of the group or with one in the same room.
    """
    group = group_session.group
    _check_coordinator(group, actor)
    now = now or utcnow()
    _check_length(length_minutes)
    location, video_url = location.strip(), video_url.strip()
    if (location, video_url) != (group_session.location, group_session.video_url):
        check_place(location, video_url)
    _check_time_exists(local_start, group.site.timezone)
    starts_at = recurrence.to_utc(local_start, group.site.timezone)
    ends_at = starts_at + timedelta(minutes=length_minutes)
    if sum(s.minutes for s in group_session.segments) > length_minutes:
        raise ValidationFailed(
            "The session plan is longer than the new length. Shorten the plan first."
        )
    group_session = lock_row(GroupSession, group_session.id)
    old_start = group_session.starts_at
    changed = (starts_at, ends_at, location, video_url) != (
        group_session.starts_at,
        group_session.ends_at,
        group_session.location,
        group_session.video_url,
    )
    if changed:
        _check_not_fixed(group_session, now)
        if starts_at <= now:
            raise ValidationFailed(
                f"{group.site.when(starts_at)} has passed. Choose a date and time still to come.",
                field="date",
            )
        _check_no_clash(group, starts_at, ends_at, location=location, excluding=group_session.id)
    group_session.theme, group_session.notes = theme.strip(), notes.strip()
    if changed:
        if starts_at != group_session.starts_at:
            # Patients are told where it was: the first start stays through later moves,
            # and a session moved back to it has not moved at all.
            original = group_session.moved_from or group_session.starts_at
            group_session.moved_from = None if starts_at == original else original
        group_session.starts_at, group_session.ends_at = starts_at, ends_at
        group_session.location, group_session.video_url = location, video_url
        group_session.sequence += 1
        group_session.edited = True
    db.session.flush()
    if changed:
        # The team's copied times follow; someone busy at the new time refuses the move.
        team.sync_session_times(group_session, actor=actor, old_start=old_start)
    return changed


def add_extra_session(
    group: VisitGroup,
    *,
    local_start: datetime,
    length_minutes: int,
    actor: User,
    theme: str = "",
    record_past: bool = False,
    now: datetime | None = None,
) -> GroupSession:
    """Add a session outside the rule (a make-up date, say), in the group's usual place.

    A day before today is refused unless ``record_past`` says the meeting took place and
    is being recorded; today is allowed at any hour (a meeting under way gets its check-in).

    :raises ValidationFailed: a past day, or a time that clashes with another session.
    """
    _check_coordinator(group, actor)
    _check_length(length_minutes)
    _check_time_exists(local_start, group.site.timezone)
    today = (now or utcnow()).astimezone(ZoneInfo(group.site.timezone)).date()
    if local_start.date() < today and not record_past:
        raise ValidationFailed(
            f"{group.site.day(local_start.date())} {local_start.year} has passed. Choose today "
            "or a later day, or tick “Record a past session” for a meeting that took place.",
            field="date",
        )
    group_session = _new_session(group, local_start, key=None)
    group_session.ends_at = group_session.starts_at + timedelta(minutes=length_minutes)
    _check_no_clash(group, group_session.starts_at, group_session.ends_at)
    group_session.is_extra = group_session.edited = True
    group_session.theme = theme.strip()
    if group_session.planned_minutes > length_minutes:
        group_session.segments = []
    db.session.add(group_session)
    db.session.flush()
    team.staff_new_sessions(group, [group_session], actor=actor)
    return group_session


#: One step of a plan as forms and services pass it: (kind, name, minutes), optionally with
#: "no pull-outs" (nobody leaves for a one-on-one visit during it) as a fourth value.
PlanStep = tuple[str, str, int] | tuple[str, str, int, bool]


def plan_steps(segments: list[PlanStep]) -> list[tuple[str, str, int, bool]]:
    """Every step as (kind, name, minutes, no pull-outs)."""
    return [(*step[:3], bool(step[3]) if len(step) > 3 else False) for step in segments]


def check_plan(segments: list[PlanStep], length_minutes: int) -> None:
    """:raises ValidationFailed: unknown kinds, bad lengths, or a plan longer than the session."""
    total = 0
    for kind, name, minutes, _ in plan_steps(segments):
        if kind not in SEGMENT_KINDS:
            raise ValidationFailed(f"Unknown kind of segment {kind!r}.")
        if not name.strip():
            raise ValidationFailed("Every segment needs a name.")
        if not 1 <= minutes <= 180:
            raise ValidationFailed(f"“{name}” must last between 1 and 180 minutes.")
        total += minutes
    if total > length_minutes:
        raise ValidationFailed(
            f"The plan takes {total} minutes but the session lasts {length_minutes}. "
            "Shorten a segment or lengthen the session."
        )
    if sum(1 for step in segments if step[0] == "one_on_one") > 1:
        raise ValidationFailed("A plan has at most one one-on-one window.")


def set_session_plan(group_session: GroupSession, segments: list[PlanStep], *, actor: User) -> None:
    """Replace one session's timeline."""
    _check_coordinator(group_session.group, actor)
    check_plan(segments, group_session.length_minutes)
    group_session.segments = [
        SessionSegment(
            position=i, kind=kind, name=name.strip(), minutes=minutes, no_pull_outs=no_pull_outs
        )
        for i, (kind, name, minutes, no_pull_outs) in enumerate(plan_steps(segments))
    ]
    db.session.flush()


def sessions_between(group_ids: list[int], start: datetime, end: datetime):
    """A select of the sessions of these groups starting in [start, end)."""
    return (
        select(GroupSession)
        .where(
            GroupSession.group_id.in_(group_ids),
            GroupSession.starts_at >= start,
            GroupSession.starts_at < end,
        )
        .order_by(GroupSession.starts_at)
    )


@functools.cache
def _next_sessions_query():
    first = (
        select(GroupSession.group_id, func.min(GroupSession.starts_at).label("starts_at"))
        .where(
            GroupSession.group_id.in_(bindparam("group_ids", expanding=True)),
            GroupSession.starts_at >= bindparam("now"),
            GroupSession.status == SCHEDULED,
        )
        .group_by(GroupSession.group_id)
        .subquery()
    )
    return select(GroupSession).join(
        first,
        (GroupSession.group_id == first.c.group_id) & (GroupSession.starts_at == first.c.starts_at),
    )


def next_sessions(group_ids: list[int], now: datetime) -> dict[int, GroupSession]:
    """The next scheduled session of each group, in one query."""
    if not group_ids:
        return {}
    rows = db.session.scalars(
        _next_sessions_query(), {"group_ids": sorted(group_ids), "now": now}
    ).all()
    return {row.group_id: row for row in rows}


@functools.cache
def _upcoming_query(limited: bool):
    query = (
        select(GroupSession)
        .where(
            GroupSession.group_id.in_(bindparam("group_ids", expanding=True)),
            GroupSession.ends_at >= bindparam("now"),
            GroupSession.starts_at < bindparam("until"),
        )
        # Each session has one group and the group one site: joined in the same query.
        .options(
            joinedload(GroupSession.group, innerjoin=True).joinedload(
                VisitGroup.site, innerjoin=True
            )
        )
        .order_by(GroupSession.starts_at, GroupSession.id)
    )
    return query.limit(bindparam("limit")) if limited else query


def upcoming_sessions(
    group_ids, *, now: datetime, days: int, limit: int | None = None
) -> list[GroupSession]:
    """Sessions of these groups not yet over and starting within ``days``, with group and site.

    Cancelled ones are included, so that nobody travels in vain.
    """
    if not group_ids:
        return []
    params = {"group_ids": sorted(group_ids), "now": now, "until": now + timedelta(days=days)}
    if limit is not None:
        params["limit"] = limit
    return list(db.session.scalars(_upcoming_query(limit is not None), params))
