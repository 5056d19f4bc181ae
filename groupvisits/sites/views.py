"""Routes for clinic sites and their audit trail."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from groupvisits import audit, localtime
from groupvisits.accounts.models import COORDINATOR, PATIENT, User, user_sites
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import form_status, options
from groupvisits.messages import flash
from groupvisits.permissions import STAFF, get_site_or_404, roles
from groupvisits.sites import bp, services
from groupvisits.sites.forms import AuditFilterForm, SiteForm
from groupvisits.sites.models import Site
from groupvisits.timeutil import utcnow

AUDIT_PAGE_SIZE = 100
#: The actor filter's choice for "any patient" (patients act on their own data, and see
#: fellow members' first names).
ANY_PATIENT = -1


@bp.get("/")
@roles(*STAFF)
def list_sites():
    """The sites the signed-in staff member serves, with head counts."""
    counts = dict(
        db.session.execute(
            select(user_sites.c.site_id, func.count())
            .join(User, User.id == user_sites.c.user_id)
            .where(user_sites.c.site_id.in_(current_user.site_ids), User.role == PATIENT)
            .group_by(user_sites.c.site_id)
        ).all()
    )
    return render_template("sites/list.html", sites=current_user.sites, patient_counts=counts)


@bp.route("/new", methods=["GET", "POST"])
@roles(COORDINATOR)
def new_site():
    """Add a clinic site."""
    form = SiteForm()
    if form.validate_on_submit():
        try:
            site = services.create_site(
                form.name.data,
                form.timezone.data,
                form.address.data or "",
                phone=form.phone.data or "",
                weight_unit=form.weight_unit.data,
                locale=form.locale.data,
                actor=current_user,
            )
        except GroupVisitsError as exc:
            _field_of(form, exc).errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"{site.name} is added.", "success")
            return redirect(url_for("sites.show_site", site_id=site.id))
    return render_template("sites/form.html", form=form, site=None), form_status(form)


def _field_of(form: SiteForm, exc: GroupVisitsError):
    """The form field a refusal is about (the name, if it names none)."""
    return form[exc.field] if exc.field and exc.field in form else form.name


@bp.get("/<int:site_id>")
@roles(*STAFF)
def show_site(site_id):
    """One site: its details and its staff."""
    site = get_site_or_404(site_id)
    staff = db.session.scalars(
        select(User)
        .join(user_sites, user_sites.c.user_id == User.id)
        .where(user_sites.c.site_id == site.id, User.role != PATIENT)
        .order_by(User.role, User.family_name, User.given_name)
    ).all()
    return render_template("sites/show.html", site=site, staff=staff, now=utcnow())


@bp.route("/<int:site_id>/edit", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_site(site_id):
    """Change a site's name, time zone, address, phone number, weight unit or locale."""
    site = get_site_or_404(site_id, manage=True)
    form = SiteForm(obj=site)
    if form.validate_on_submit():
        try:
            services.update_site(
                site,
                name=form.name.data,
                timezone=form.timezone.data,
                address=form.address.data or "",
                phone=form.phone.data or "",
                weight_unit=form.weight_unit.data,
                locale=form.locale.data,
                actor=current_user,
            )
        except GroupVisitsError as exc:
            _field_of(form, exc).errors.append(str(exc))
        else:
            db.session.commit()
            flash("Saved.", "success")
            return redirect(url_for("sites.show_site", site_id=site.id))
    return render_template("sites/form.html", form=form, site=site), form_status(form)


@bp.get("/<int:site_id>/audit")
@roles(COORDINATOR)
def show_audit(site_id):
    """The audit trail of access to the site's patients' data, filterable."""
    site = get_site_or_404(site_id, manage=True)
    staff = db.session.scalars(
        select(User)
        .join(user_sites, user_sites.c.user_id == User.id)
        .where(user_sites.c.site_id == site.id, User.role.in_(STAFF))
        .order_by(User.family_name, User.given_name, User.id)
    ).all()
    form = AuditFilterForm(request.args)
    form.actor.choices = options(
        [(0, "Anyone")]
        + [(p.id, f"{p.family_name}, {p.given_name}") for p in staff]
        + [(ANY_PATIENT, "A patient (their own or fellow members' data)")]
    )
    events, patient = [], None
    if form.validate() and form.patient.data:
        patient = db.session.get(User, form.patient.data)
        if patient is None or not patient.is_patient or site.id not in patient.site_ids:
            form.patient.errors.append("That person is not a patient of this site.")
            patient = None
    if not form.errors:
        zone = ZoneInfo(site.timezone)
        since = until = None
        if form.since.data:
            since = datetime.combine(form.since.data, time(0), zone).astimezone(UTC)
        if form.until.data:
            until = datetime.combine(form.until.data + timedelta(days=1), time(0), zone)
            until = until.astimezone(UTC)
        query = audit.events_for_sites(
            {site.id},
            patient_id=form.patient.data or None,
            actor_id=form.actor.data if (form.actor.data or 0) > 0 else None,
            actor_role=PATIENT if form.actor.data == ANY_PATIENT else None,
            action=form.action.data or None,
            since=since,
            until=until,
        )
        events = db.session.scalars(
            query.options(
                selectinload(audit.AuditEvent.actor), selectinload(audit.AuditEvent.patient)
            ).limit(AUDIT_PAGE_SIZE)
        ).all()
    # The trail names patients: reading it is recorded like any other read.
    # Patients named on the page: whose data it was, and patients who did the reading.
    shown = [e.patient_id for e in events] + ([patient.id] if patient else [])
    shown += [e.actor_id for e in events if e.actor is not None and e.actor.is_patient]
    audit.record_many(current_user, audit.TRAIL_READ, shown, "audit trail", site.id)
    page = render_template(
        "sites/audit.html",
        site=site,
        form=form,
        patient=patient,
        events=events,
        limit=AUDIT_PAGE_SIZE,
    )
    db.session.commit()
    return page, (400 if form.errors else 200)


for _name, _filter in localtime.FILTERS.items():
    bp.add_app_template_filter(_filter, _name)


@bp.app_template_filter("site_time")
def site_time(instant, site: Site, fmt: str | None = None):
    """Show a UTC instant in a site's local time: in its locale's words, or in ``fmt``."""
    if instant is None:
        return ""
    if fmt is None:
        return localtime.when(instant, site)
    return instant.astimezone(ZoneInfo(site.timezone)).strftime(fmt)
