"""Every access rule of GroupVisits, in one place, denying by default.

Each view declares who may call it with one of the decorators below
(``public``, ``signed_in``, ``roles``); a request to a view that declares
nothing is refused. Object-level rules are ``can_*`` predicates, checked by
the ``get_*_or_404`` loaders, and handed to templates under the same names.
"""

import functools
from collections.abc import Callable

from flask import Flask, abort, current_app, request
from flask_login import current_user
from sqlalchemy import bindparam, exists, func, inspect, select
from sqlalchemy.orm import aliased, joinedload

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, User
from groupvisits.encounters.models import PatientGoal
from groupvisits.errors import NotAllowed
from groupvisits.extensions import db, login_manager
from groupvisits.groups.models import VisitGroup
from groupvisits.roster.models import (
    ACTIVE,
    AgreementAcceptance,
    GroupAgreement,
    Membership,
    group_ids_of_patient,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.team.models import (
    FACILITATOR,
    PRECEPTOR,
    PROVIDER,
    CoreTeamMember,
    StaffAssignment,
)

#: Attribute set on view functions by the access decorators.
ACCESS_ATTR = "access_roles"
PUBLIC = "public"
SIGNED_IN = "signed_in"
STAFF = (COORDINATOR, CLINICIAN)


def public(view: Callable) -> Callable:
    """Anyone may call this view, signed in or not."""
    setattr(view, ACCESS_ATTR, PUBLIC)
    return view


def signed_in(view: Callable) -> Callable:
    """Any signed-in person may call this view."""
    setattr(view, ACCESS_ATTR, SIGNED_IN)
    return view


def roles(*allowed: str) -> Callable[[Callable], Callable]:
    """Only signed-in people with one of these roles may call this view."""

    def decorate(view: Callable) -> Callable:
        setattr(view, ACCESS_ATTR, frozenset(allowed))
        return view

    return decorate


def view_access(app: Flask, endpoint: str | None):
    """The access declared by the view behind ``endpoint`` (None if undeclared)."""
    if endpoint is None:
        return None
    if endpoint == "static":
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, ACCESS_ATTR, None)


def check_request_access() -> None:
    """Before every request: enforce the view's declared access, deny if none."""
    if request.endpoint is None:
        return  # routing failed; the 404 or 405 handler answers
    access = view_access(current_app, request.endpoint)
    if access == PUBLIC:
        return
    if access is None:
        current_app.logger.error("View %s declares no access rule", request.endpoint)
        abort(403)
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    if access != SIGNED_IN and current_user.role not in access:
        abort(403)


# Object-level predicates. Each takes the acting user first.


def serves_site(user: User, site: Site | int) -> bool:
    """True if ``user`` is staff at ``site``."""
    site_id = site if isinstance(site, int) else site.id
    return user.is_authenticated and user.is_staff and site_id in user.site_ids


def can_manage_site(user: User, site: Site) -> bool:
    """Coordinators manage the sites they serve."""
    return user.is_authenticated and user.is_coordinator and site.id in user.site_ids


def can_view_patient(user: User, patient: User) -> bool:
    """A patient sees themself; staff see patients of the sites they serve."""
    if not user.is_authenticated or not patient.is_patient:
        return False
    if user.id == patient.id:
        return True
    return user.is_staff and bool(user.site_ids & patient.site_ids)


def can_edit_own_profile(user: User, patient: User) -> bool:
    """Patients edit their own contact details and needs."""
    return user.is_authenticated and user.is_patient and user.id == patient.id


def can_view_user(user: User, other: User) -> bool:
    """Staff see colleagues and patients of their sites; everyone sees themself."""
    if not user.is_authenticated:
        return False
    if user.id == other.id:
        return True
    return user.is_staff and bool(user.site_ids & other.site_ids)


def can_manage_user(user: User, other: User) -> bool:
    """Coordinators administer the accounts of people whose every site they serve.

    Sharing one site is not enough: a coordinator who could change the email
    of someone who also works at another site could take that account over
    (by a password reset to the new address) and read the other site's patients.
    """
    if not user.is_authenticated or not user.is_coordinator:
        return False
    return bool(other.site_ids) and other.site_ids <= user.site_ids


def can_view_audit(user: User, site: Site) -> bool:
    """Coordinators read the audit trail of the sites they serve."""
    return can_manage_site(user, site)


def can_view_group(user: User, group: VisitGroup) -> bool:
    """Staff of the group's site see it; patients see the groups they belong to."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return group.site_id in user.site_ids
    return group.id in member_group_ids(user)


def can_manage_group(user: User, group: VisitGroup) -> bool:
    """Coordinators of the group's site run it: details, schedule, sessions."""
    return user.is_authenticated and user.is_coordinator and group.site_id in user.site_ids


def member_group_ids(user: User) -> set[int]:
    """Groups a patient takes part in (filled in by the roster)."""
    return group_ids_of_patient(user)


#: Why a patient who may see a group is not given its room, video link or calendar file.
MEETING_DETAILS_WITHHELD = (
    "The room, the video link and the calendar file are for members who hold a place "
    "in the group and have accepted the group agreement."
)


def can_see_meeting_details(user: User, group: VisitGroup) -> bool:
    """The room, the video link and the calendar file of a group's sessions.

    Staff of the group's site see them, and members who hold a place and have
    accepted the group's current agreement (or whose group has none yet).
    Someone waiting, offered a place or asking to join sees only when, and at
    which site, the group meets.
    """
    return group.id in meeting_details_group_ids(user, [group])


def meeting_details_group_ids(user: User, groups) -> set[int]:
    """Of ``groups``, those whose meeting details ``user`` sees (one query for a patient)."""
    if not user.is_authenticated:
        return set()
    if user.is_staff:
        return {group.id for group in groups if serves_site(user, group.site_id)}
    group_ids = sorted({group.id for group in groups})
    if not user.is_patient or not group_ids:
        return set()
    return set(
        db.session.scalars(
            _meeting_details_query(), {"patient_id": user.id, "group_ids": group_ids}
        )
    )


@functools.cache
def _meeting_details_query():
    """Groups where a patient is active and no newer agreement waits for their acceptance."""
    newer = aliased(GroupAgreement)
    latest_version = (
        select(func.max(newer.version))
        .where(newer.group_id == Membership.group_id)
        .correlate(Membership)
        .scalar_subquery()
    )
    accepted = (
        exists()
        .where(
            AgreementAcceptance.agreement_id == GroupAgreement.id,
            AgreementAcceptance.patient_id == Membership.patient_id,
        )
        .correlate(GroupAgreement, Membership)
    )
    unaccepted = (
        exists()
        .where(
            GroupAgreement.group_id == Membership.group_id,
            GroupAgreement.version == latest_version,
            ~accepted,
        )
        .correlate(Membership)
    )
    return select(Membership.group_id).where(
        Membership.patient_id == bindparam("patient_id"),
        Membership.status == ACTIVE,
        Membership.group_id.in_(bindparam("group_ids", expanding=True)),
        ~unaccepted,
    )


def require(allowed: bool, message: str | None = None) -> None:
    """Refuse with 403 unless ``allowed``; a ``message`` tells the person why."""
    if not allowed:
        if message:
            raise NotAllowed(message)
        abort(403)


# Loaders: fetch and check in one step. Objects outside a user's reach are 404,
# so that a guessed id does not reveal that a record exists.


def get_site_or_404(site_id: int, *, manage: bool = False) -> Site:
    """A site the current user serves (and manages, with ``manage``)."""
    site = db.session.get(Site, site_id)
    if site is None or not serves_site(current_user, site):
        abort(404)
    if manage:
        require(can_manage_site(current_user, site))
    return site


def get_user_or_404(user_id: int, *, manage: bool = False) -> User:
    """A person the current user may see (and administer, with ``manage``)."""
    user = db.session.get(User, user_id)
    if user is None or not can_view_user(current_user, user):
        abort(404)
    if manage:
        require(can_manage_user(current_user, user))
    return user


@functools.cache
def _object_queries():
    """A group with its site; a session with its group and site (built once)."""
    group = (
        select(VisitGroup)
        .where(VisitGroup.id == bindparam("id"))
        .options(joinedload(VisitGroup.site, innerjoin=True))
    )
    group_session = (
        select(GroupSession)
        .where(GroupSession.id == bindparam("id"))
        .options(
            joinedload(GroupSession.group, innerjoin=True).joinedload(
                VisitGroup.site, innerjoin=True
            )
        )
    )
    return group, group_session


def _loaded_or_fetched(model, query, row_id: int):
    """The row already loaded (and not expired) in this request, or the row ``query`` fetches.

    An expired row is fetched again, so that a row deleted meanwhile gives None (a 404).
    """
    loaded = db.session.identity_map.get(db.session.identity_key(model, row_id))
    if loaded is not None and not inspect(loaded).expired:
        return loaded
    return db.session.scalar(query, {"id": row_id})


def get_group_or_404(group_id: int, *, manage: bool = False) -> VisitGroup:
    """A group the current user may see (and run, with ``manage``)."""
    group = _loaded_or_fetched(VisitGroup, _object_queries()[0], group_id)
    if group is None or not can_view_group(current_user, group):
        abort(404)
    if manage:
        require(can_manage_group(current_user, group))
    return group


def get_session_or_404(session_id: int, *, manage: bool = False) -> GroupSession:
    """A session of a group the current user may see (and run, with ``manage``)."""
    group_session = _loaded_or_fetched(GroupSession, _object_queries()[1], session_id)
    if group_session is None or not can_view_group(current_user, group_session.group):
        abort(404)
    if manage:
        require(can_manage_group(current_user, group_session.group))
    return group_session


def can_view_membership(user: User, membership) -> bool:
    """The patient themself, and staff of the group's site."""
    if not user.is_authenticated:
        return False
    if user.is_patient:
        return membership.patient_id == user.id
    return membership.group.site_id in user.site_ids


def get_membership_or_404(membership_id: int, *, manage: bool = False, own: bool = False):
    """A membership the current user may see.

    ``manage``: only coordinators of the group's site; ``own``: only its patient.
    """
    membership = db.session.get(Membership, membership_id)
    if membership is None or not can_view_membership(current_user, membership):
        abort(404)
    if manage:
        require(can_manage_group(current_user, membership.group))
    if own:
        require(membership.patient_id == current_user.id)
    return membership


# One-on-one visits and their notes


def can_plan_one_on_ones(user: User, group_session: GroupSession) -> bool:
    """Coordinators of the site and the session's providers plan and move its slots.

    ``group_session``'s team must be known to the caller: providers are checked by
    :func:`is_session_provider`, which reads the assignments.
    """
    if not user.is_authenticated or not user.is_staff:
        return False
    if can_manage_group(user, group_session.group):
        return True
    return is_session_provider(user, group_session)


def is_session_provider(user: User, group_session: GroupSession) -> bool:
    """True if ``user`` sees patients one-on-one (or precepts) at this session."""
    if not user.is_authenticated or not user.is_clinician:
        return False
    return _holds_role(user, group_session, (PROVIDER, PRECEPTOR))


def _holds_role(user: User, group_session: GroupSession, roles: tuple[str, ...]) -> bool:
    """True if ``user`` is on the session's team in one of ``roles`` (one query)."""
    return (
        db.session.scalar(
            select(StaffAssignment.id)
            .where(
                StaffAssignment.session_id == group_session.id,
                StaffAssignment.user_id == user.id,
                StaffAssignment.role.in_(roles),
            )
            .limit(1)
        )
        is not None
    )


def can_read_note(user: User, note) -> bool:
    """A note's contents: its author, its attending, and clinicians of the session's site.

    Coordinators see where notes stand (the tracker), never what they say; patients read
    their own after-visit summary, never the note.
    """
    if not user.is_authenticated or not user.is_clinician:
        return False
    if user.id in (note.author_id, note.preceptor_id):
        return True
    return note.group_session.group.site_id in user.site_ids


def can_write_note(user: User, note) -> bool:
    """Only the author writes, signs and adds to their note."""
    return user.is_authenticated and user.is_clinician and user.id == note.author_id


def can_attest_note(user: User, note) -> bool:
    """The note's precepting attending attests it or returns it."""
    return (
        user.is_authenticated
        and user.is_clinician
        and note.preceptor_id is not None
        and user.id == note.preceptor_id
    )


# The patients' agenda


def can_take_part_in_agenda(user: User, group: VisitGroup) -> bool:
    """Members with a place (active) propose, vote and drop questions; staff of the site
    propose too. Former members, the waitlisted and other groups' members see nothing."""
    if not user.is_authenticated:
        return False
    if user.is_staff:
        return group.site_id in user.site_ids
    return group.id in group_ids_of_patient(user, (ACTIVE,))


def is_session_facilitator(user: User, group_session: GroupSession) -> bool:
    """True if ``user`` facilitates this session (its team, role facilitator)."""
    if not user.is_authenticated or not user.is_staff:
        return False
    return _holds_role(user, group_session, (FACILITATOR,))


def can_write_group_note(user: User, group_session: GroupSession) -> bool:
    """The session's facilitator, or a coordinator of its site, writes its group note."""
    if not serves_site(user, group_session.group.site_id):
        return False
    return can_manage_group(user, group_session.group) or is_session_facilitator(
        user, group_session
    )


def get_own_goal_or_404(goal_id: int):
    """One of the current patient's own goals; anyone else's is not found (a guessed
    number reveals nothing)."""
    goal = db.session.get(PatientGoal, goal_id)
    if goal is None or goal.patient_id != current_user.id:
        abort(404)
    return goal


def can_curate_agenda(user: User, group_session: GroupSession) -> bool:
    """The session's facilitator and the site's coordinators build, publish and close its
    agenda, and hide topics or questions."""
    return can_manage_group(user, group_session.group) or is_session_facilitator(
        user, group_session
    )


def can_curate_topics(user: User, group: VisitGroup) -> bool:
    """Curating the group's topic list (merge, decline, keep, hide) outside one session:
    coordinators of the site and any clinician of the site who facilitates the group."""
    if can_manage_group(user, group):
        return True
    if not user.is_authenticated or not user.is_clinician or group.site_id not in user.site_ids:
        return False
    return (
        db.session.scalar(
            select(CoreTeamMember.id)
            .where(
                CoreTeamMember.group_id == group.id,
                CoreTeamMember.user_id == user.id,
                CoreTeamMember.role == FACILITATOR,
            )
            .limit(1)
        )
        is not None
    )


#: Predicates exposed to templates, so that templates never restate a rule.
TEMPLATE_PREDICATES = {
    "can_manage_site": can_manage_site,
    "can_view_patient": can_view_patient,
    "can_manage_user": can_manage_user,
    "can_view_audit": can_view_audit,
    "serves_site": serves_site,
    "can_view_group": can_view_group,
    "can_manage_group": can_manage_group,
    "can_see_meeting_details": can_see_meeting_details,
    "can_read_note": can_read_note,
    "can_write_note": can_write_note,
    "can_attest_note": can_attest_note,
    "can_take_part_in_agenda": can_take_part_in_agenda,
    "can_curate_agenda": can_curate_agenda,
    "can_curate_topics": can_curate_topics,
}


def register_permissions(app: Flask) -> None:
    """Install the deny-by-default guard and expose predicates to Jinja."""
    app.before_request(check_request_access)
    app.jinja_env.globals.update(TEMPLATE_PREDICATES)
    app.jinja_env.globals["meeting_details_withheld"] = MEETING_DETAILS_WITHHELD
