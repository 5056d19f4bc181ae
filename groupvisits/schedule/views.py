"""Routes for sessions, the month calendar and calendar feeds."""

import calendar as monthgrid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from groupvisits import audit
from groupvisits.accounts.forms import ConfirmForm
from groupvisits.accounts.models import COORDINATOR
from groupvisits.agenda import sessions as agenda_sessions
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import FIRST_DATE, LAST_DATE, form_status
from groupvisits.groups.models import VisitGroup
from groupvisits.groups.views import plan_page
from groupvisits.messages import flash
from groupvisits.permissions import (
    MEETING_DETAILS_WITHHELD,
    STAFF,
    can_manage_group,
    can_see_meeting_details,
    get_group_or_404,
    get_session_or_404,
    get_site_or_404,
    public,
    require,
    roles,
    signed_in,
)
from groupvisits.roster.attendance import counts_for_sessions
from groupvisits.roster.calls import to_call
from groupvisits.schedule import bp, feeds, ical, services
from groupvisits.schedule import census as census_rules
from groupvisits.schedule.forms import CancelForm, ExtraSessionForm, SessionForm
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team_services
from groupvisits.team.forms import TeamMemberForm, person_choices
from groupvisits.team.models import PEER_MENTOR
from groupvisits.timeutil import utcnow

ICS_TYPE = "text/calendar; charset=utf-8"


@bp.get("/sessions/<int:session_id>")
@signed_in
def show_session(session_id):
    """One session: when and where, its plan, its census."""
    return _session_page(get_session_or_404(session_id))


def _session_page(
    group_session: GroupSession, cancel_form: CancelForm | None = None, team_form=None
) -> str:
    census = census_rules.census_for(
        [group_session], counts_for_sessions([group_session.id]), now=utcnow()
    )[group_session.id]
    # Staff see whom to phone: names and numbers of patients, so each showing is audited.
    calls = to_call(group_session) if current_user.is_staff else None
    if calls:
        audit.record_many(current_user, "view", calls.patient_ids, "call list")
    # The team is loaded once; staff also see its problems, worked out from it.
    coverage = team_services.session_coverage(group_session)
    team = coverage.team
    peer_mentors = sorted({a.user_id for a in team if a.role == PEER_MENTOR})
    if peer_mentors:
        audit.record_many(current_user, "view", peer_mentors, "session team", group_session.id)
    audited = bool(calls or peer_mentors)
    # Only the session's coordinators get its forms (each costs to build).
    manages = can_manage_group(current_user, group_session.group) and not group_session.is_cancelled
    if manages:
        cancel_form = cancel_form or CancelForm()
        team_form = team_form or TeamMemberForm()
        team_form.user_id.choices = person_choices(
            *team_services.team_candidates(group_session.group)
        )
    else:
        team_form = None
    page = render_template(
        "schedule/session.html",
        group_session=group_session,
        group=group_session.group,
        census=census,
        cancel_form=cancel_form,
        calls=calls,
        team=team,
        problems=coverage.problems if current_user.is_staff else [],
        team_form=team_form,
        can_remove=team_form is not None,
        # Members read the published agenda here; staff open the facilitator's page.
        member_agenda=agenda_sessions.member_agenda(group_session)
        if current_user.is_patient
        else None,
    )
    if audited:
        db.session.commit()  # after rendering: a commit expires the rows the page shows
    return page


#: The session page, for other areas' routes that answer with it (the team's, say).
session_page = _session_page


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_session(session_id):
    """Move one session, change its place, theme or notes."""
    group_session = get_session_or_404(session_id, manage=True)
    form = SessionForm()
    if request.method == "GET":
        local = group_session.local_start
        form.date.data, form.start_time.data = local.date(), local.time()
        form.length_minutes.data = group_session.length_minutes
        form.location.data, form.video_url.data = group_session.location, group_session.video_url
        form.theme.data, form.notes.data = group_session.theme, group_session.notes
    if form.validate_on_submit():
        try:
            moved = services.move_session(
                group_session,
                local_start=datetime.combine(form.date.data, form.start_time.data),
                length_minutes=form.length_minutes.data,
                location=form.location.data or "",
                video_url=form.video_url.data or "",
                theme=form.theme.data or "",
                notes=form.notes.data or "",
                actor=current_user,
            )
        except GroupVisitsError as exc:
            db.session.rollback()  # nothing of a refused move is kept
            form.date.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Saved. Calendars will show the change." if moved else "Saved.", "success")
            return redirect(url_for("schedule.show_session", session_id=group_session.id))
    return render_template(
        "schedule/session_form.html",
        form=form,
        group_session=group_session,
        fixed=services.why_fixed(group_session),
    ), form_status(form)


@bp.post("/sessions/<int:session_id>/cancel")
@roles(COORDINATOR)
def cancel_session(session_id):
    """Cancel one session, with a reason everyone sees; a refusal keeps the session as it was."""
    group_session = get_session_or_404(session_id, manage=True)
    form = CancelForm()
    if not form.validate_on_submit():
        flash(" ".join(form.reason.errors) or "Give a reason.", "warning")
        return _session_page(group_session, form), 422
    try:
        services.cancel_session(group_session, form.reason.data, actor=current_user)
    except GroupVisitsError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return _session_page(group_session, form), exc.status_code
    db.session.commit()
    flash("The session is cancelled. Calendars will show it as cancelled.", "success")
    return redirect(url_for("schedule.show_session", session_id=group_session.id))


@bp.post("/sessions/<int:session_id>/restore")
@roles(COORDINATOR)
def restore_session(session_id):
    """Undo the cancellation of a session."""
    group_session = get_session_or_404(session_id, manage=True)
    if ConfirmForm().validate_on_submit():
        try:
            services.restore_session(group_session, actor=current_user)
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
            return _session_page(group_session, CancelForm()), exc.status_code
        db.session.commit()
        flash("The session is back on.", "success")
    return redirect(url_for("schedule.show_session", session_id=group_session.id))


@bp.route("/groups/<int:group_id>/sessions/new", methods=["GET", "POST"])
@roles(COORDINATOR)
def new_session(group_id):
    """Add an extra session outside the group's rule."""
    group = get_group_or_404(group_id, manage=True)
    form = ExtraSessionForm()
    if request.method == "GET":
        form.length_minutes.data = group.length_minutes
        form.start_time.data = group.schedule_start_time
    if form.validate_on_submit():
        try:
            group_session = services.add_extra_session(
                group,
                local_start=datetime.combine(form.date.data, form.start_time.data),
                length_minutes=form.length_minutes.data,
                theme=form.theme.data or "",
                record_past=form.record_past.data,
                actor=current_user,
            )
        except GroupVisitsError as exc:
            form.date.errors.append(str(exc))
        else:
            db.session.commit()
            flash("The extra session is added.", "success")
            return redirect(url_for("schedule.show_session", session_id=group_session.id))
    return render_template("schedule/extra_form.html", form=form, group=group), form_status(form)


@bp.route("/sessions/<int:session_id>/plan", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_session_plan(session_id):
    """Change the timeline of one session."""
    group_session = get_session_or_404(session_id, manage=True)
    return plan_page(
        group=group_session.group,
        owner=group_session,
        segments=group_session.segments,
        length=group_session.length_minutes,
        save=lambda rows: services.set_session_plan(group_session, rows, actor=current_user),
        saved="The session plan is saved.",
        next_url=url_for("schedule.show_session", session_id=group_session.id),
    )


@bp.get("/sites/<int:site_id>/calendar")
@roles(*STAFF)
def month_calendar(site_id):
    """A month of a site's sessions, week by week, in the site's local time."""
    site = get_site_or_404(site_id)
    zone = ZoneInfo(site.timezone)
    today = utcnow().astimezone(zone).date()
    try:
        year, month = (int(part) for part in request.args.get("month", "").split("-"))
        first = date(year, month, 1)
    except (ValueError, OverflowError):
        if request.args.get("month"):
            abort(400, "Give the month as YYYY-MM, for example 2026-12.")
        first = today.replace(day=1)
    if not FIRST_DATE <= first <= LAST_DATE:
        abort(400, f"Choose a month between {FIRST_DATE.year} and {LAST_DATE.year}.")
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(following, time.min, zone).astimezone(UTC)
    group_ids = list(db.session.scalars(select(VisitGroup.id).where(VisitGroup.site_id == site.id)))
    sessions = db.session.scalars(
        services.sessions_between(group_ids, start, end).options(selectinload(GroupSession.group))
    ).all()
    by_day: dict[date, list[GroupSession]] = {}
    for group_session in sessions:
        by_day.setdefault(group_session.local_start.date(), []).append(group_session)
    weeks = monthgrid.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    return render_template(
        "schedule/month.html",
        site=site,
        first=first,
        weeks=weeks,
        by_day=by_day,
        today=today,
        # No links beyond the months the calendar holds.
        previous=(first - timedelta(days=1)).strftime("%Y-%m") if first > FIRST_DATE else None,
        following=following.strftime("%Y-%m") if following <= LAST_DATE else None,
    )


# Calendar files and feeds


@bp.get("/sessions/<int:session_id>/calendar.ics")
@signed_in
def session_ics(session_id):
    """Download one session as an .ics file (it holds the room and the video link)."""
    group_session = get_session_or_404(session_id)
    # The session is no secret to this person (its page is open to them): say why, as a 403.
    require(can_see_meeting_details(current_user, group_session.group), MEETING_DETAILS_WITHHELD)
    if current_user.is_patient:
        audit.record(current_user, "calendar", current_user, "group_session", group_session.id)
        db.session.commit()
    body = ical.build_calendar(
        [group_session],
        name=group_session.group.calendar_name,
        domain=_uid_domain(),
        stamp=utcnow(),
    )
    return Response(
        body,
        content_type=ICS_TYPE,
        headers={"Content-Disposition": 'attachment; filename="group-visit.ics"'},
    )


@bp.get("/calendar")
@signed_in
def my_calendar():
    """The signed-in person's calendar subscription: addresses, renew, revoke."""
    feed = feeds.active_feed(current_user)
    return render_template(
        "schedule/my_calendar.html",
        feed=feed,
        urls=feeds.feed_urls(feed) if feed else None,
        group_urls=feeds.group_feed_urls(current_user, feed) if feed else [],
        site=current_user.sites[0] if current_user.sites else None,
    )


#: What a form posts to say the person saw what a change of address does.
CONFIRMED = "yes"


@bp.get("/calendar/feed/new")
@signed_in
def confirm_renew_feed():
    """Ask before making a new address: the old one stops working in every calendar."""
    if feeds.active_feed(current_user) is None:
        return redirect(url_for("schedule.my_calendar"))
    return render_template("schedule/feed_confirm.html", renew=True, confirmed=CONFIRMED)


@bp.get("/calendar/feed/revoke")
@signed_in
def confirm_revoke_feed():
    """Ask before turning the address off: calendars stop getting changes."""
    if feeds.active_feed(current_user) is None:
        return redirect(url_for("schedule.my_calendar"))
    return render_template("schedule/feed_confirm.html", renew=False, confirmed=CONFIRMED)


@bp.post("/calendar/feed")
@signed_in
def renew_feed():
    """Create the secret feed address, or replace it once the person has confirmed."""
    if not _csrf_ok():
        abort(400)
    if not _confirmed() and feeds.active_feed(current_user) is not None:
        return redirect(url_for("schedule.confirm_renew_feed"), 303)
    feeds.renew_feed(current_user)
    db.session.commit()
    flash("Your calendar address is ready. Any older address no longer works.", "success")
    return redirect(url_for("schedule.my_calendar"))


@bp.post("/calendar/feed/revoke")
@signed_in
def revoke_feed():
    """Turn the secret feed address off, once the person has confirmed."""
    if not _csrf_ok():
        abort(400)
    if not _confirmed():
        return redirect(url_for("schedule.confirm_revoke_feed"), 303)
    feeds.revoke_feeds(current_user)
    db.session.commit()
    flash("Your calendar address is turned off.", "success")
    return redirect(url_for("schedule.my_calendar"))


@bp.get("/feeds/<token>.ics")
@public
def user_feed(token):
    """The sessions a person takes part in, for their calendar program."""
    feed = feeds.feed_for_token(token)
    if feed is None:
        abort(404)
    body = feeds.user_feed_body(feed, domain=_uid_domain(), now=utcnow())
    db.session.commit()
    return Response(body, content_type=ICS_TYPE)


@bp.get("/feeds/<token>/groups/<int:group_id>.ics")
@public
def group_feed(token, group_id):
    """All sessions of one group, for its staff."""
    feed = feeds.feed_for_token(token)
    if feed is None or not feed.user.is_staff:
        abort(404)
    group = db.session.get(VisitGroup, group_id)
    if group is None or group.site_id not in feed.user.site_ids:
        abort(404)
    body = feeds.group_feed_body(feed, group, domain=_uid_domain(), now=utcnow())
    db.session.commit()
    return Response(body, content_type=ICS_TYPE)


def _uid_domain() -> str:
    return current_app.config["CALENDAR_UID_DOMAIN"]


def _csrf_ok() -> bool:
    return ConfirmForm().validate_on_submit()


def _confirmed() -> bool:
    return request.form.get("confirmed") == CONFIRMED
