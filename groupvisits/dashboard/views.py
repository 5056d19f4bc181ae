"""The home page: a dashboard that fits the signed-in person's role."""

import functools

from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager

from groupvisits import audit
from groupvisits.dashboard import bp
from groupvisits.dashboard.services import WEEK_DAYS, coordinator_week
from groupvisits.encounters import note_reading
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.permissions import public
from groupvisits.roster import services as roster
from groupvisits.roster.models import ACTIVE, CURRENT, OFFERED, REQUESTED, WAITLISTED, Membership
from groupvisits.schedule import participation
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team import my_schedule
from groupvisits.timeutil import utcnow


@bp.get("/")
@public
def home():
    """Send visitors to sign in, and each signed-in person to their dashboard."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if current_user.is_coordinator:
        # What needs them first, then their sites' next two weeks, then their sites.
        week = coordinator_week(current_user, now=utcnow())
        return render_template(
            "dashboard/coordinator.html", counts=week.people, week=week, week_days=WEEK_DAYS
        )
    if current_user.is_clinician:
        # The sessions they are on, with their roles, next first; then their sites' others.
        mine = my_schedule.coming_sessions(current_user, now=utcnow(), limit=5)
        upcoming = _upcoming_sessions(participation.group_ids_for(current_user))
        # Notes returned to them, drafts to sign and notes to attest come first.
        waiting = note_reading.notes_waiting(current_user)
        return render_template(
            "dashboard/clinician.html", mine=mine, upcoming=upcoming, waiting=waiting
        )
    return _patient_home()


def _patient_home():
    """A patient's home: an open offer first, their groups and waitlist places, next sessions."""
    from groupvisits.roster.my_views import rsvp_context

    # Only this patient's own lapsed offers: one patient's page changes nobody else's place.
    if roster.expire_offers(patient=current_user):
        db.session.commit()
    memberships = db.session.scalars(_memberships_query(), {"patient_id": current_user.id}).all()
    by_status: dict[str, list[Membership]] = {status: [] for status in CURRENT}
    for membership in memberships:
        by_status[membership.status].append(membership)
    upcoming = _upcoming_sessions({m.group_id for m in by_status[ACTIVE]})
    context = rsvp_context(current_user, upcoming[:3])
    audit.record(current_user, "view", current_user, "dashboard")
    page = render_template(
        "dashboard/patient.html",
        offers=by_status[OFFERED],
        member_of=by_status[ACTIVE],
        waiting=by_status[WAITLISTED],
        asked=by_status[REQUESTED],
        **context,
    )
    db.session.commit()
    return page


@functools.cache
def _memberships_query():
    """A patient's current memberships (place, offer, waitlist, request), with group and site.

    Joined, not selectin-loaded: one query instead of three, whatever the patient holds.
    """
    return (
        select(Membership)
        .join(Membership.group)
        .join(VisitGroup.site)
        .where(
            Membership.patient_id == bindparam("patient_id"),
            Membership.status.in_(CURRENT),
        )
        .options(contains_eager(Membership.group).contains_eager(VisitGroup.site))
        .order_by(Membership.offer_expires_at, Membership.waitlist_position, Membership.id)
    )


def _upcoming_sessions(group_ids: set[int], limit: int = 10) -> list[GroupSession]:
    """The next sessions of these groups in the coming three months."""
    return schedule.upcoming_sessions(group_ids, now=utcnow(), days=92, limit=limit)


@bp.get("/healthz")
@public
def health():
    """Liveness probe for the load balancer: the database answers."""
    db.session.execute(select(1))
    return {"status": "ok"}
