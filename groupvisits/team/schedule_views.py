"""A clinician's own schedule: the sessions they are on, in which roles, and their time off."""

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from groupvisits.accounts.models import CLINICIAN
from groupvisits.errors import NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.formutil import form_status, options
from groupvisits.messages import flash
from groupvisits.permissions import roles
from groupvisits.team import bp, my_schedule, services
from groupvisits.team.models import TimeOff
from groupvisits.team.schedule_forms import RemoveTimeOffForm, TimeOffForm
from groupvisits.timeutil import utcnow


def _time_off_form() -> TimeOffForm:
    form = TimeOffForm()
    form.site_id.choices = options((site.id, site.name) for site in current_user.sites)
    if form.site_id.data is None and current_user.sites:
        form.site_id.data = current_user.sites[0].id
    return form


def _render(form: TimeOffForm):
    """The page, with ``form`` as it came back (422 when it has errors)."""
    now = utcnow()
    sites = {site.id: site for site in current_user.sites}
    home_site = sites.get(form.site_id.data) or (current_user.sites or [None])[0]
    page = render_template(
        "team/my_schedule.html",
        sessions=my_schedule.coming_sessions(current_user, now=now),
        time_off=my_schedule.coming_time_off(current_user, now=now),
        clashes=my_schedule.time_off_clashes(current_user, now=now),
        weeks=my_schedule.SCHEDULE_WEEKS,
        form=form,
        home_site=home_site,
        remove_form=RemoveTimeOffForm(),
    )
    return page, form_status(form)


@bp.get("/my/schedule")
@roles(CLINICIAN)
def show_my_schedule():
    """My coming sessions with my roles in each, and my time off."""
    return _render(_time_off_form())


@bp.post("/my/schedule/time-off")
@roles(CLINICIAN)
def add_my_time_off():
    """Record a span of my time off; sessions I am already on keep me (the page warns)."""
    form = _time_off_form()
    if not form.validate_on_submit():
        return _render(form)
    site = next(site for site in current_user.sites if site.id == form.site_id.data)
    starts_at = my_schedule.local_instant(form.start_date.data, form.start_time.data, site.timezone)
    ends_at = my_schedule.local_instant(form.end_date.data, form.end_time.data, site.timezone)
    try:
        services.add_time_off(
            current_user, starts_at, ends_at, form.reason.data or "", actor=current_user
        )
    except ValidationFailed as exc:
        # A span that ends before it starts once the clocks change (daylight saving).
        form.end_time.errors = [*form.end_time.errors, str(exc)]
        return _render(form)
    db.session.commit()
    flash("Your time off is saved.", "success")
    return redirect(url_for("team.show_my_schedule"))


@bp.post("/my/schedule/time-off/remove")
@roles(CLINICIAN)
def remove_my_time_off():
    """Remove one span of my time off."""
    form = RemoveTimeOffForm()
    if not form.validate_on_submit():
        abort(400)
    time_off = db.session.get(TimeOff, form.time_off_id.data)
    if time_off is None:
        abort(404)
    try:
        services.remove_time_off(time_off, actor=current_user)
    except NotAllowed:
        abort(404)  # someone else's time off: do not say that it exists
    db.session.commit()
    flash("That time off is removed.", "success")
    return redirect(url_for("team.show_my_schedule"))
