"""The home page: a dashboard that fits the signed-in person's role."""

from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from groupvisits import audit
from groupvisits.accounts.models import User, user_sites
from groupvisits.dashboard import bp
from groupvisits.extensions import db
from groupvisits.groups.models import VisitGroup
from groupvisits.permissions import public
from groupvisits.roster.models import ACTIVE
from groupvisits.schedule import participation
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow


@bp.get("/")
@public
def home():
    """Send visitors to sign in, and each signed-in person to their dashboard."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if current_user.is_coordinator:
        rows = db.session.execute(
            select(user_sites.c.site_id, User.role, func.count())
            .join(User, User.id == user_sites.c.user_id)
            .where(user_sites.c.site_id.in_(current_user.site_ids), User.active.is_(True))
            .group_by(user_sites.c.site_id, User.role)
        ).all()
        counts: dict[int, dict[str, int]] = {}
        for site_id, role, count in rows:
            counts.setdefault(site_id, {})[role] = count
        return render_template("dashboard/coordinator.html", counts=counts)
    if current_user.is_clinician:
        upcoming = _upcoming_sessions(participation.group_ids_for(current_user))
        return render_template("dashboard/clinician.html", upcoming=upcoming)
    by_status = participation.groups_of_patient_by_status(current_user)
    upcoming = _upcoming_sessions(by_status[ACTIVE])
    groups = db.session.scalars(
        select(VisitGroup)
        .where(VisitGroup.id.in_(set().union(*by_status.values())))
        .order_by(VisitGroup.name)
    ).all()
    from groupvisits.roster.my_views import rsvp_context

    context = rsvp_context(current_user, upcoming[:3])
    audit.record(current_user, "view", current_user, "dashboard")
    page = render_template("dashboard/patient.html", groups=groups, **context)
    db.session.commit()
    return page


def _upcoming_sessions(group_ids: set[int], limit: int = 10) -> list[GroupSession]:
    """The next sessions of these groups in the coming three months."""
    return schedule.upcoming_sessions(group_ids, now=utcnow(), days=92, limit=limit)


@bp.get("/healthz")
@public
def health():
    """Liveness probe for the load balancer: the database answers."""
    db.session.execute(select(1))
    return {"status": "ok"}
