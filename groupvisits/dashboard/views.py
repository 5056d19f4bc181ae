"""The home page: a dashboard that fits the signed-in person's role."""

from flask import redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from groupvisits.accounts.models import User, user_sites
from groupvisits.dashboard import bp
from groupvisits.extensions import db
from groupvisits.permissions import public


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
        return render_template("dashboard/clinician.html", upcoming=[])
    return render_template("dashboard/patient.html", groups=[])


@bp.get("/healthz")
@public
def health():
    """Liveness probe for the load balancer: the database answers."""
    db.session.execute(select(1))
    return {"status": "ok"}
