"""Staffing rules: templates, core teams, per-session assignments, time off and coverage."""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from groupvisits import audit
from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.locking import hold_sqlite_for_writing, lock_row
from groupvisits.permissions import can_manage_group, can_manage_user, serves_site
from groupvisits.roster.models import ACTIVE, Membership
from groupvisits.schedule.models import SCHEDULED, GroupSession
from groupvisits.team.coverage import (
    ADDED,
    CANCELLED,
    MOVED,
    REMOVED,
    Rule,
    SessionCoverage,
    coverage_for,
    disciplines_text,
    queue_team_notice,
    rules_by_group,
)
from groupvisits.team.models import (
    DEFAULT_DISCIPLINES,
    PEER_MENTOR,
    PRECEPTOR,
    TEAM_ROLES,
    CoreTeamMember,
    StaffAssignment,
    StaffingRule,
    TimeOff,
)
from groupvisits.team.people import CANDIDATE_OFFSET, Person, candidates_query
from groupvisits.timeutil import utcnow

#: PostgreSQL's SQLSTATE for a row refused by an exclusion constraint.
EXCLUSION_VIOLATION = "23P01"


def _check_manager(group: VisitGroup, actor: User | None) -> None:
    """``actor`` None is the system (sessions the schedule generates), which may staff them."""
    if actor is not None and not can_manage_group(actor, group):
        raise NotAllowed("Only coordinators of this group's clinic can change its team.")


def _check_role(role: str) -> None:
    if role not in TEAM_ROLES:
        raise ValidationFailed("Choose one of the team roles.", field="role")


def _check_person(user: User, role: str, group: VisitGroup) -> None:
    """A peer mentor is a willing member of the group; every other role is the clinic's
    active staff, of a discipline the role allows."""
    if not user.active:
        raise ValidationFailed(f"{user.full_name}'s account is deactivated.", field="user")
    if role == PEER_MENTOR:
        _check_peer_mentor(user, group)
        return
    if not serves_site(user, group.site_id):
        raise ValidationFailed(
            f"{user.full_name} is not on the staff of {group.site.name}.", field="user"
        )
    allowed = allowed_disciplines(group, role)
    if allowed and (user.discipline or "") not in allowed:
        kind = user.discipline_label or user.role_label
        raise ValidationFailed(
            f"{user.full_name} ({kind.lower()}) cannot be {TEAM_ROLES[role].lower()} in this "
            f"group: the role needs {disciplines_text(allowed)}. Choose someone else, or change "
            "the group's staffing template.",
            field="user",
        )


def _check_peer_mentor(user: User, group: VisitGroup) -> None:
    """Only a member who has said they are willing may be a peer mentor."""
    if not user.is_patient:
        raise ValidationFailed("A peer mentor is a member of the group.", field="user")
    willing = db.session.scalar(
        select(Membership.id).where(
            Membership.group_id == group.id,
            Membership.patient_id == user.id,
            Membership.status == ACTIVE,
            Membership.peer_mentor_since.is_not(None),
        )
    )
    if willing is None:
        raise ValidationFailed(
            f"{user.full_name} has not said they are willing to be a peer mentor in this group "
            "(members say so on their “My groups” page).",
            field="user",
        )


def allowed_disciplines(group: VisitGroup, role: str) -> tuple[str, ...]:
    """The disciplines that may fill ``role`` in ``group``, as its staffing template says.

    Empty means any discipline; a role the template leaves out allows any, except the
    precepting attending, who is an attending by definition.
    """
    if role == PRECEPTOR:
        return DEFAULT_DISCIPLINES[PRECEPTOR]
    rule = db.session.scalar(
        select(StaffingRule).where(StaffingRule.group_id == group.id, StaffingRule.role == role)
    )
    return rule.allowed if rule is not None else ()


# Staffing template


def set_staffing_rule(
    group: VisitGroup,
    role: str,
    count: int = 1,
    disciplines: list[str] | tuple[str, ...] | None = None,
    *,
    actor: User,
) -> StaffingRule:
    """Say how many people of ``role`` (of which disciplines) each session of ``group`` needs.

    ``disciplines`` None takes the role's defaults (DEFAULT_DISCIPLINES); empty allows any.
    """
    _check_manager(group, actor)
    _check_role(role)
    if count < 1:
        raise ValidationFailed("A role is needed at least once.", field="count")
    if disciplines is None or role == PRECEPTOR:
        # A precepting attending is an attending physician, whatever the form says.
        disciplines = DEFAULT_DISCIPLINES.get(role, ())
    unknown = [d for d in disciplines if d not in DISCIPLINES]
    if unknown:
        raise ValidationFailed("Choose disciplines from the list.", field="disciplines")
    rule = db.session.scalar(
        select(StaffingRule).where(StaffingRule.group_id == group.id, StaffingRule.role == role)
    )
    if rule is None:
        rule = StaffingRule(group_id=group.id, role=role)
        db.session.add(rule)
    rule.count = count
    rule.disciplines = ",".join(d for d in DISCIPLINES if d in disciplines)
    db.session.flush()
    return rule


def remove_staffing_rule(rule: StaffingRule, *, actor: User) -> None:
    """Stop requiring a role at the group's sessions."""
    _check_manager(rule.group, actor)
    db.session.delete(rule)
    db.session.flush()


# Core team


def add_core_member(group: VisitGroup, user: User, role: str, *, actor: User) -> CoreTeamMember:
    """Put ``user`` on the group's core team in ``role`` (idempotent)."""
    _check_manager(group, actor)
    _check_role(role)
    _check_person(user, role, group)
    member = db.session.scalar(
        select(CoreTeamMember).filter_by(group_id=group.id, user_id=user.id, role=role)
    )
    if member is None:
        member = CoreTeamMember(group_id=group.id, user_id=user.id, role=role)
        db.session.add(member)
        db.session.flush()
        if role == PEER_MENTOR:
            audit.record(actor, "create", user, "core_team_member", member.id)
    return member


def remove_core_member(member: CoreTeamMember, *, actor: User) -> None:
    """Take someone off the core team; sessions already staffed keep them."""
    _check_manager(member.group, actor)
    if member.role == PEER_MENTOR:
        audit.record(actor, "update", member.user, "core_team_member", member.id)
    db.session.delete(member)
    db.session.flush()


def staffing_rules(group: VisitGroup) -> list[Rule]:
    """The group's staffing template, in TEAM_ROLES order (one query)."""
    return rules_by_group([group.id]).get(group.id, [])


@functools.cache
def _core_team_query():
    return (
        select(CoreTeamMember)
        .where(CoreTeamMember.group_id == bindparam("group_id"))
        .options(joinedload(CoreTeamMember.user))
        .order_by(CoreTeamMember.id)
    )


def core_team(group: VisitGroup) -> list[CoreTeamMember]:
    """The group's core team, each with their person, in the order they joined (one query)."""
    return list(db.session.scalars(_core_team_query(), {"group_id": group.id}))


@dataclass
class CopiedTeam:
    """What ``copy_core_team`` did: who was added, and why anyone was left off."""

    added: list[StaffAssignment] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def copy_core_team(group_session: GroupSession, *, actor: User | None) -> CopiedTeam:
    """Put the group's core team onto one session; who is already there stays (idempotent).

    Someone away or busy elsewhere at that time is left off, with the reason in ``skipped``.
    """
    group = group_session.group
    _check_manager(group, actor)
    copied = CopiedTeam()
    for member in core_team(group):
        if _existing(group_session, member.user, member.role) is not None:
            continue
        try:
            copied.added.append(assign_staff(group_session, member.user, member.role, actor=actor))
        except (Conflict, ValidationFailed) as exc:
            copied.skipped.append(str(exc))
    return copied


def copy_core_team_to_upcoming(
    group: VisitGroup, *, actor: User, now: datetime | None = None
) -> list[tuple[GroupSession, CopiedTeam]]:
    """Put the core team onto every coming (not cancelled) session of ``group``.

    Returns each session with what was added and who was left off, and why.
    """
    _check_manager(group, actor)
    sessions = db.session.scalars(
        select(GroupSession)
        .where(
            GroupSession.group_id == group.id,
            GroupSession.starts_at > (now or utcnow()),
            GroupSession.status == SCHEDULED,
        )
        .order_by(GroupSession.starts_at)
    ).all()
    return [
        (group_session, copy_core_team(group_session, actor=actor)) for group_session in sessions
    ]


def staff_new_sessions(
    group: VisitGroup, sessions: list[GroupSession], *, actor: User | None
) -> list[str]:
    """Give sessions the schedule has just created the group's core team (``actor`` None: system).

    Returns why anyone was left off, one line per person and session.
    """
    if not sessions:
        return []
    has_core_team = db.session.scalar(
        select(CoreTeamMember.id).where(CoreTeamMember.group_id == group.id).limit(1)
    )
    if has_core_team is None:
        return []
    skipped = []
    for group_session in sessions:
        for reason in copy_core_team(group_session, actor=actor).skipped:
            skipped.append(f"{group.site.when(group_session.starts_at)}: {reason}")
    return skipped


def session_coverage(group_session: GroupSession) -> SessionCoverage:
    """One session's team (each person, by role order then family name) and its problems,
    worked out from the team as loaded: one query."""
    return coverage_for([group_session])[group_session.id]


@functools.cache
def _team_candidates_query():
    return candidates_query(site_id=bindparam("site_id"), group_id=bindparam("group_id"))


def team_candidates(group: VisitGroup) -> tuple[list[Person], list[Person]]:
    """Who may join the group's team, in one query: the active staff of its clinic, and the
    members who are willing to be peer mentors."""
    staff: list[Person] = []
    members: list[Person] = []
    params = {"site_id": group.site_id, "group_id": group.id}
    for row in db.session.execute(_team_candidates_query(), params):
        person = Person(*row[CANDIDATE_OFFSET:])
        (members if person.is_patient else staff).append(person)
    return staff, members


# Assignments to one session


def _existing(group_session: GroupSession, user: User, role: str) -> StaffAssignment | None:
    return db.session.scalar(
        select(StaffAssignment).filter_by(session_id=group_session.id, user_id=user.id, role=role)
    )


def _time_off_during(user_id: int, starts_at: datetime, ends_at: datetime) -> TimeOff | None:
    return db.session.scalar(
        select(TimeOff)
        .where(TimeOff.user_id == user_id, TimeOff.starts_at < ends_at, TimeOff.ends_at > starts_at)
        .limit(1)
    )


def _clash(user_id: int, group_session: GroupSession) -> StaffAssignment | None:
    """An assignment of the person to another session overlapping this one, if any."""
    return db.session.scalar(
        select(StaffAssignment)
        .where(
            StaffAssignment.user_id == user_id,
            StaffAssignment.session_id != group_session.id,
            StaffAssignment.starts_at < group_session.ends_at,
            StaffAssignment.ends_at > group_session.starts_at,
        )
        .options(selectinload(StaffAssignment.group_session))
        .order_by(StaffAssignment.starts_at)
        .limit(1)
    )


def _clash_message(user: User, other: GroupSession | None, actor: User | None) -> str:
    """Name the clashing session, but not the group of a clinic the actor does not serve."""
    if other is None:
        return f"{user.full_name} is already on the team of another session at that time."
    site = other.group.site
    named = actor is not None and serves_site(actor, site)
    where = other.group.name if named else "a session at another clinic"
    return (
        f"{user.full_name} is already on the team of {where} on {site.when(other.starts_at)}, "
        "which overlaps this session."
    )


def _raise_if_clash(user: User, group_session: GroupSession, actor: User | None) -> None:
    clash = _clash(user.id, group_session)
    if clash is not None:
        raise Conflict(_clash_message(user, clash.group_session, actor), field="user")


def _insert_guarded(
    assignment: StaffAssignment, user: User, group_session: GroupSession, actor: User | None
) -> None:
    """Insert in a savepoint on PostgreSQL; an exclusion violation becomes a Conflict."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        db.session.add(assignment)
        db.session.flush()
        return
    try:
        # Added inside the savepoint: begin_nested() first flushes what is pending.
        with db.session.begin_nested():
            db.session.add(assignment)
            db.session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise Conflict(
                f"{user.full_name} was just given this role by someone else.", field="user"
            ) from exc
        # The other request has committed (the insert waited for it): name what it saved.
        clash = _clash(user.id, group_session)
        other = clash.group_session if clash else None
        raise Conflict(_clash_message(user, other, actor), field="user") from exc


def assign_staff(
    group_session: GroupSession, user: User, role: str, *, actor: User | None
) -> StaffAssignment:
    """Put ``user`` on one session's team in ``role``; the group's template is untouched.

    Assigning someone already in that role returns their assignment.

    :raises NotAllowed: the actor does not coordinate the session's clinic.
    :raises ValidationFailed: an unknown role, a cancelled session, or the wrong person
        (a peer mentor is a patient of the clinic, other roles its staff).
    :raises Conflict: the person is on time off then, or on the team of another session
        that overlaps this one, at any clinic.
    """
    group = group_session.group
    _check_manager(group, actor)
    _check_role(role)
    if group_session.is_cancelled:
        raise ValidationFailed("This session is cancelled.")
    _check_person(user, role, group)
    # One person's assignments are checked one at a time: the person's row is locked on
    # PostgreSQL (two inserts racing into the exclusion constraint would otherwise wait on
    # each other, and one would die as a deadlock), the database on SQLite.
    lock_row(User, user.id)
    existing = _existing(group_session, user, role)
    if existing is not None:
        return existing
    if _time_off_during(user.id, group_session.starts_at, group_session.ends_at) is not None:
        raise Conflict(f"{user.full_name} is on time off during this session.", field="user")
    _raise_if_clash(user, group_session, actor)
    assignment = StaffAssignment(
        session_id=group_session.id,
        user_id=user.id,
        role=role,
        starts_at=group_session.starts_at,
        ends_at=group_session.ends_at,
    )
    _insert_guarded(assignment, user, group_session, actor)
    if role == PEER_MENTOR:
        audit.record(actor, "create", user, "staff_assignment", assignment.id)
    queue_team_notice(group_session, user, role, ADDED, actor=actor)
    return assignment


def unassign_staff(assignment: StaffAssignment, *, actor: User) -> None:
    """Take someone off one session's team in one role."""
    _check_manager(assignment.group_session.group, actor)
    if assignment.role == PEER_MENTOR:
        audit.record(actor, "update", assignment.user, "staff_assignment", assignment.id)
    queue_team_notice(
        assignment.group_session, assignment.user, assignment.role, REMOVED, actor=actor
    )
    db.session.delete(assignment)
    db.session.flush()


def _assignments_of(group_session: GroupSession) -> list[StaffAssignment]:
    """The session's assignments, each with its person."""
    return list(
        db.session.scalars(
            select(StaffAssignment)
            .where(StaffAssignment.session_id == group_session.id)
            .options(selectinload(StaffAssignment.user))
        )
    )


def sync_session_times(
    group_session: GroupSession, *, actor: User | None, old_start: datetime | None = None
) -> None:
    """Copy a session's (new) start and end onto its assignments; call after a move.

    With ``old_start``, each person on the team is told of the new time if either time is
    less than 14 days away (one notice per person, whatever their roles).

    :raises Conflict: someone on the team is already on another session at the new time
        (the move must then be undone, so the caller rolls back).
    """
    hold_sqlite_for_writing(db.session.connection())
    assignments = _assignments_of(group_session)
    for assignment in assignments:
        clash = _clash(assignment.user_id, group_session)
        if clash is not None:
            raise Conflict(_clash_message(assignment.user, clash.group_session, actor))
    stmt = (
        update(StaffAssignment)
        .where(StaffAssignment.session_id == group_session.id)
        .values(starts_at=group_session.starts_at, ends_at=group_session.ends_at)
        .execution_options(synchronize_session="fetch")
    )
    if db.session.connection().dialect.name == "sqlite":
        db.session.execute(stmt)
    else:
        try:
            with db.session.begin_nested():
                db.session.execute(stmt)
        except IntegrityError as exc:
            raise Conflict(
                "Someone on this session's team is on another session at the new time."
            ) from exc
    if old_start is not None and old_start != group_session.starts_at:
        for user, role in _one_role_each(assignments):
            queue_team_notice(group_session, user, role, MOVED, actor=actor, old_start=old_start)


def _one_role_each(assignments: list[StaffAssignment]) -> list[tuple[User, str]]:
    """Each person once, with their first role in TEAM_ROLES order (for one notice each)."""
    order = list(TEAM_ROLES)
    first: dict[int, StaffAssignment] = {}
    for assignment in sorted(assignments, key=lambda a: order.index(a.role)):
        first.setdefault(assignment.user_id, assignment)
    return [(a.user, a.role) for a in first.values()]


def release_team(group_session: GroupSession, *, actor: User | None) -> int:
    """Free the team of a session that is being cancelled; returns how many were on it.

    A cancelled session holds nobody's time: its assignments are deleted, and each person
    is told if it was less than 14 days away. Restoring the session copies the core team
    back (:func:`staff_new_sessions`).
    """
    assignments = _assignments_of(group_session)
    for user, role in _one_role_each(assignments):
        queue_team_notice(group_session, user, role, CANCELLED, actor=actor)
    for assignment in assignments:
        if assignment.role == PEER_MENTOR:
            audit.record(actor, "update", assignment.user, "staff_assignment", assignment.id)
        db.session.delete(assignment)
    db.session.flush()
    return len({a.user_id for a in assignments})


def drop_peer_mentor(
    group: VisitGroup, patient: User, *, actor: User, now: datetime | None = None
) -> None:
    """Take a member off the group's core team and coming sessions as peer mentor.

    Called when they take back their agreement or leave the group; past sessions keep
    the record of what they did.
    """
    core = db.session.scalars(
        select(CoreTeamMember).filter_by(group_id=group.id, user_id=patient.id, role=PEER_MENTOR)
    ).all()
    coming = db.session.scalars(
        select(StaffAssignment)
        .join(StaffAssignment.group_session)
        .where(
            GroupSession.group_id == group.id,
            StaffAssignment.user_id == patient.id,
            StaffAssignment.role == PEER_MENTOR,
            StaffAssignment.starts_at > (now or utcnow()),
        )
    ).all()
    for member in core:
        audit.record(actor, "update", patient, "core_team_member", member.id)
        db.session.delete(member)
    for assignment in coming:
        audit.record(actor, "update", patient, "staff_assignment", assignment.id)
        db.session.delete(assignment)
    db.session.flush()


# Time off


def add_time_off(
    user: User, starts_at: datetime, ends_at: datetime, reason: str = "", *, actor: User
) -> TimeOff:
    """Record a span when ``user`` is away; staff record their own, coordinators anyone's.

    Sessions they are already on keep them; ``coverage_problems`` then reports it.
    """
    if not (user.is_staff and (actor.id == user.id or can_manage_user(actor, user))):
        raise NotAllowed("You may record time off only for yourself or staff you manage.")
    if ends_at <= starts_at:
        raise ValidationFailed("Time off must end after it starts.", field="ends_at")
    time_off = TimeOff(user_id=user.id, starts_at=starts_at, ends_at=ends_at, reason=reason.strip())
    db.session.add(time_off)
    db.session.flush()
    return time_off


def remove_time_off(time_off: TimeOff, *, actor: User) -> None:
    """Delete a span of time off."""
    user = time_off.user
    if not (actor.id == user.id or can_manage_user(actor, user)):
        raise NotAllowed("You may remove time off only for yourself or staff you manage.")
    db.session.delete(time_off)
    db.session.flush()


# Coverage


def coverage_problems(group_session: GroupSession) -> list[str]:
    """What is wrong with one session's team, in plain words; empty when it is covered.

    Checks the group's staffing template (count and disciplines per role), a precepting
    attending whenever a resident is a provider, the site's supervision ratio, and
    that nobody is on time off. Time-off reasons are never named. One rule for one
    session and for many (:func:`groupvisits.team.coverage.coverage_for`).
    """
    return session_coverage(group_session).problems
