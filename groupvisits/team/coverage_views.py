"""The coverage page: a site's next eight weeks of sessions, their teams and staffing problems."""

from flask import render_template
from flask_login import current_user

from groupvisits import audit
from groupvisits.extensions import db
from groupvisits.permissions import STAFF, get_site_or_404, roles
from groupvisits.team import bp
from groupvisits.team.coverage import COVERAGE_DAYS, site_coverage
from groupvisits.team.models import PEER_MENTOR
from groupvisits.timeutil import utcnow


@bp.get("/sites/<int:site_id>/coverage")
@roles(*STAFF)
def show_coverage(site_id):
    """Each coming session of the site with its team by role; sessions with problems first."""
    site = get_site_or_404(site_id)
    lines = site_coverage(site.id, now=utcnow())
    # Peer mentors are patients: showing them on a team is a view of patient data.
    audit.record_each(
        current_user,
        "view",
        "staff_assignment",
        [(a.user_id, a.id) for line in lines for a in line.team if a.role == PEER_MENTOR],
    )
    # Render before committing: a commit expires the loaded rows (one query per row).
    page = render_template(
        "team/coverage.html",
        site=site,
        lines=lines,
        weeks=COVERAGE_DAYS // 7,
        problem_count=sum(1 for line in lines if line.problems),
    )
    db.session.commit()
    return page
