"""Routes for coordinators and staff: the list of groups, a group, its schedule and plan."""

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from groupvisits import localtime
from groupvisits.accounts.models import COORDINATOR
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import form_status, options
from groupvisits.groups import bp, services
from groupvisits.groups.forms import (
    MAX_SEGMENTS,
    GroupForm,
    PlanForm,
    ScheduleForm,
    StatusForm,
)
from groupvisits.groups.models import VisitGroup
from groupvisits.messages import flash
from groupvisits.permissions import STAFF, get_group_or_404, roles, signed_in
from groupvisits.roster import services as roster
from groupvisits.roster.attendance import counts_for_sessions
from groupvisits.schedule import census as census_rules
from groupvisits.schedule import recurrence
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

PAST_SESSIONS_SHOWN = 12


@bp.get("/")
@roles(*STAFF)
def list_groups():
    """The groups of the sites the staff member serves, with next session and census."""
    groups = db.session.scalars(
        select(VisitGroup)
        .where(VisitGroup.site_id.in_(current_user.site_ids))
        .options(joinedload(VisitGroup.site, innerjoin=True))
        .order_by(VisitGroup.status == "closed", VisitGroup.name)
    ).all()
    now = utcnow()
    next_sessions = schedule.next_sessions([g.id for g in groups], now)
    censuses = census_rules.census_for(
        list(next_sessions.values()),
        counts_for_sessions([s.id for s in next_sessions.values()]),
        now=now,
    )
    return render_template(
        "groups/list.html", groups=groups, next_sessions=next_sessions, censuses=censuses
    )


@bp.route("/new", methods=["GET", "POST"])
@roles(COORDINATOR)
def new_group():
    """Create a group (in planning, with the default session plan)."""
    form = GroupForm()
    form.site.choices = options((site.id, site.name) for site in current_user.sites)
    if form.validate_on_submit():
        site = db.session.get(Site, form.site.data)
        try:
            group = services.create_group(site, _group_fields(form), actor=current_user)
        except GroupVisitsError as exc:
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{group.name} is created. Now set its schedule.", "success")
            _flash_size_note(form)
            return redirect(url_for("groups.edit_schedule", group_id=group.id))
    return render_template("groups/form.html", form=form, group=None), form_status(form)


@bp.get("/<int:group_id>")
@signed_in
def show_group(group_id):
    """A group: its details, its upcoming and past sessions; a member's unanswered question."""
    group = get_group_or_404(group_id)
    now = utcnow()
    upcoming = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at >= now)
        .order_by(GroupSession.starts_at)
    ).all()
    past = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at < now)
        .order_by(GroupSession.starts_at.desc())
        .limit(PAST_SESSIONS_SHOWN)
    ).all()
    # The census is for staff only: patients' pages neither show nor count it.
    censuses = (
        census_rules.census_for(upcoming, counts_for_sessions([s.id for s in upcoming]), now=now)
        if current_user.is_staff
        else {}
    )
    return render_template(
        "groups/show.html",
        group=group,
        upcoming=upcoming,
        past=past,
        censuses=censuses,
        rule_text=recurrence.describe_rule(group.recurrence_rule),
        status_form=StatusForm(status=group.status),
        share_prompt=(
            roster.unanswered_share_name(group, current_user) if current_user.is_patient else None
        ),
    )


@bp.route("/<int:group_id>/edit", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_group(group_id):
    """Change a group's details and census rules."""
    group = get_group_or_404(group_id, manage=True)
    form = GroupForm(obj=group)
    form.site.choices = options([(group.site.id, group.site.name)])
    form.site.data = group.site_id
    if form.validate_on_submit():
        try:
            changed = services.update_group(group, _group_fields(form), actor=current_user)
        except GroupVisitsError as exc:
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash("Saved.", "success")
            _flash_size_note(form)
            if changed:
                flash(f"{len(changed)} upcoming sessions now have the new length.", "info")
            return redirect(url_for("groups.show_group", group_id=group.id))
    return render_template("groups/form.html", form=form, group=group), form_status(form)


@bp.post("/<int:group_id>/status")
@roles(COORDINATOR)
def change_status(group_id):
    """Activate, pause or close a group."""
    group = get_group_or_404(group_id, manage=True)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            cancelled = services.set_status(
                group, form.status.data, actor=current_user, reason=form.reason.data or ""
            )
            if group.is_open:
                schedule.generate_sessions(group, until=schedule.horizon())
        except GroupVisitsError as exc:
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(f"{group.name} is now {group.status_label.lower()}.", "success")
            if cancelled:
                flash(f"{cancelled} upcoming sessions are cancelled.", "info")
    else:
        flash("Choose a status.", "warning")
    return redirect(url_for("groups.show_group", group_id=group.id))


@bp.route("/<int:group_id>/schedule", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_schedule(group_id):
    """Set or change a group's recurring schedule, in plain words."""
    group = get_group_or_404(group_id, manage=True)
    form = ScheduleForm()
    if request.method == "GET" and group.has_schedule:
        pattern, weekday, nth = recurrence.parse_rule(group.recurrence_rule)
        form.pattern.data, form.weekday.data, form.nth.data = pattern, weekday, str(nth or 2)
        form.start_date.data = group.schedule_start_date
        form.start_time.data = group.schedule_start_time
        form.until.data, form.count.data = group.schedule_until, group.schedule_count
        form.ends.data = (
            "until" if group.schedule_until else "count" if group.schedule_count else "never"
        )
    if form.validate_on_submit():
        try:
            rule = recurrence.build_rule(form.pattern.data, form.weekday.data, int(form.nth.data))
            report = schedule.change_rule(
                group,
                rule=rule,
                start_date=form.start_date.data,
                start_time=form.start_time.data,
                until=form.until.data if form.ends.data == "until" else None,
                count=form.count.data if form.ends.data == "count" else None,
                actor=current_user,
            )
        except (GroupVisitsError, ValueError) as exc:
            form.pattern.errors.append(str(exc))
        else:
            db.session.commit()
            _flash_report(group, report)
            return redirect(url_for("groups.show_group", group_id=group.id))
    return render_template(
        "groups/schedule.html", form=form, group=group, horizon=schedule.horizon()
    ), form_status(form)


@bp.route("/<int:group_id>/plan", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_plan(group_id):
    """The group's default session plan, copied to sessions created from now on."""
    group = get_group_or_404(group_id, manage=True)
    return plan_page(
        group=group,
        owner=group,
        segments=group.plan,
        length=group.length_minutes,
        save=lambda rows: services.set_group_plan(group, rows, actor=current_user),
        saved="The plan is saved. New sessions will follow it.",
        next_url=url_for("groups.show_group", group_id=group.id),
    )


def plan_page(*, group, owner, segments, length, save, saved: str, next_url: str):
    """The plan editor of a group or of one session: show, validate, save once."""
    form = PlanForm()
    if request.method == "GET":
        _fill_plan_form(form, segments)
    if form.validate_on_submit():
        try:
            save(form.rows())
        except GroupVisitsError as exc:
            form.segments.errors.append(str(exc))
        else:
            db.session.commit()
            flash(saved, "success")
            return redirect(next_url)
    return render_template(
        "groups/plan.html", form=form, group=group, length=length, owner=owner
    ), form_status(form)


def _fill_plan_form(form: PlanForm, segments) -> None:
    while len(form.segments):
        form.segments.pop_entry()
    for segment in segments:
        form.segments.append_entry(
            {
                "kind": segment.kind,
                "name": segment.name,
                "minutes": segment.minutes,
                "no_pull_outs": segment.no_pull_outs,
            }
        )
    # Two blank rows to add steps, as far as a plan holds.
    for _ in range(min(2, MAX_SEGMENTS - len(form.segments))):
        form.segments.append_entry({"kind": "other"})


def _flash_report(group: VisitGroup, report: schedule.RuleChangeReport) -> None:
    flash(f"The schedule is saved: {recurrence.describe_rule(group.recurrence_rule)}.", "success")
    for group_session, old_start in report.moved:
        flash(
            f"Moved: {localtime.when(old_start, group.site)} → "
            f"{localtime.when(group_session.starts_at, group.site)}.",
            "info",
        )
    if report.added:
        flash(f"{len(report.added)} sessions added up to {group.generated_until:%d %b %Y}.", "info")
    if report.cancelled:
        flash(f"{len(report.cancelled)} sessions no longer fit the rule and are cancelled.", "info")
    if report.kept:
        flash(f"{len(report.kept)} sessions edited by hand were left as they are.", "info")


def _flash_size_note(form: GroupForm) -> None:
    """The form's note on an unusual census, which a redirect would otherwise hide."""
    note = form.unusual_size_note()
    if note:
        flash(f"This size is unusual. {note}", "info")


def _group_fields(form: GroupForm) -> dict:
    return {
        "name": form.name.data.strip(),
        "calendar_name": (form.calendar_name.data or "").strip() or "Group visit",
        "focus": (form.focus.data or "").strip(),
        "description": (form.description.data or "").strip(),
        "modality": form.modality.data,
        "location": (form.location.data or "").strip(),
        "video_url": (form.video_url.data or "").strip(),
        "length_minutes": form.length_minutes.data,
        "slot_minutes": _or_default(form.slot_minutes.data, 10),
        "min_members": form.min_members.data,
        "target_members": form.target_members.data,
        "max_members": form.max_members.data,
        "census_warning_days": form.census_warning_days.data,
        "rsvp_deadline_days": _or_default(form.rsvp_deadline_days.data, 1),
        "offer_hold_hours": _or_default(form.offer_hold_hours.data, 72),
    }


def _or_default(value, default: int) -> int:
    return default if value is None else value
