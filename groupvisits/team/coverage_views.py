"""The coverage page: a site's next eight weeks of sessions, their teams and staffing problems.

Coordinators of the site fill each gap from the page itself: every missing role comes with
the clinic's people who are free then, not away, and of a discipline the role allows.
"""

from flask import redirect, render_template, url_for
from flask_login import current_user

from groupvisits import audit
from groupvisits.accounts.models import COORDINATOR, User
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.messages import flash
from groupvisits.permissions import STAFF, can_manage_site, get_site_or_404, roles
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.team import bp, services
from groupvisits.team.forms import FillGapForm
from groupvisits.team.models import PEER_MENTOR, TEAM_ROLES
from groupvisits.team.site_coverage import COVERAGE_DAYS, site_coverage
from groupvisits.timeutil import utcnow


@bp.get("/sites/<int:site_id>/coverage")
@roles(*STAFF)
def show_coverage(site_id):
    """Each coming session of the site with its team by role; sessions with problems first."""
    return _coverage_page(get_site_or_404(site_id))


def _coverage_page(site: Site, status: int = 200):
    manages = can_manage_site(current_user, site)
    lines = site_coverage(site, now=utcnow(), with_candidates=manages)
    # Peer mentors are patients: showing them on a team, or offering them for one, is a
    # view of patient data.
    audit.record_each(
        current_user,
        "view",
        "staff_assignment",
        [(a.user_id, a.id) for line in lines for a in line.team if a.role == PEER_MENTOR],
    )
    offered = {
        user.id for line in lines for gap in line.gaps for user in gap.candidates if user.is_patient
    }
    if offered:
        audit.record_many(current_user, "view", sorted(offered), "peer mentor candidates")
    # Render before committing: a commit expires the loaded rows (one query per row).
    page = render_template(
        "team/coverage.html",
        site=site,
        lines=lines,
        weeks=COVERAGE_DAYS // 7,
        problem_count=sum(1 for line in lines if line.problems),
        manages=manages,
    )
    db.session.commit()
    return page, status


@bp.post("/sites/<int:site_id>/coverage/assign")
@roles(COORDINATOR)
def fill_gap(site_id):
    """Put someone in a role a coming session of the site still needs, from the coverage page."""
    site = get_site_or_404(site_id, manage=True)
    form = FillGapForm()
    group_session = person = None
    if form.validate_on_submit():
        group_session = db.session.get(GroupSession, form.session_id.data)
        person = db.session.get(User, form.user_id.data)
    if group_session is None or group_session.group.site_id != site.id or person is None:
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        flash(" ".join(errors) or "Choose a session of this clinic and a person.", "warning")
        return _coverage_page(site, status=422)
    if group_session.ends_at <= utcnow():
        flash("That session is over: its team can no longer change here.", "warning")
        return _coverage_page(site, status=422)
    try:
        assignment = services.assign_staff(
            group_session, person, form.role.data, actor=current_user
        )
    except GroupVisitsError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _coverage_page(site, status=exc.status_code)
    db.session.commit()
    flash(
        f"{assignment.user.full_name} is on the team of {group_session.group.name} on "
        f"{site.when(group_session.starts_at)} as {TEAM_ROLES[assignment.role].lower()}.",
        "success",
    )
    return redirect(
        url_for("team.show_coverage", site_id=site.id, _anchor=f"session-{group_session.id}")
    )
