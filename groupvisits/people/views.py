"""Routes for coordinators: list, add, edit, invite and deactivate people."""

import functools

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, case, func, or_, select
from sqlalchemy.orm import contains_eager

from groupvisits import audit, searches
from groupvisits.accounts import services
from groupvisits.accounts.forms import ConfirmForm, UserForm, diet_data
from groupvisits.accounts.models import (
    COORDINATOR,
    PATIENT,
    ROLE_LABELS,
    PlainPerson,
    User,
    user_sites,
)
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import form_status, options, page_count, page_number
from groupvisits.groups.models import VisitGroup
from groupvisits.mail import services as mail
from groupvisits.messages import flash
from groupvisits.people import bp
from groupvisits.permissions import get_user_or_404, roles
from groupvisits.roster.models import ACTIVE, OFFERED, REQUESTED, WAITLISTED, Membership
from groupvisits.sites.models import Site

PAGE_SIZE = 50
PEOPLE_SEARCH = "people"


def _site_choices():
    return options((site.id, site.name) for site in current_user.sites)


@bp.get("/")
@roles(COORDINATOR)
def list_people():
    """Everyone at the coordinator's sites, filtered by role and a search."""
    role = request.args.get("role", "")
    search = searches.kept(PEOPLE_SEARCH)
    page = page_number(request.args.get("page", 1, type=int))
    if page is None:
        abort(404)
    params = {
        "site_ids": sorted(current_user.site_ids),
        "limit": PAGE_SIZE,
        "offset": (page - 1) * PAGE_SIZE,
    }
    if role in ROLE_LABELS:
        params["role"] = role
    if search:
        params["pattern"] = f"%{search.lower()}%"
    # The page and the total in one query; past the last page there is no row to carry it.
    rows = db.session.execute(_people_query("role" in params, bool(search)), params).all()
    people = _listed(rows)
    if rows:
        total = rows[0][-1]
    elif page == 1:
        total = 0
    else:
        total = db.session.scalar(_people_count_query("role" in params, bool(search)), params)
    # Patients' names and addresses on the list are patient data: one audit row each.
    audit.record_many(current_user, "view", [p.id for p in people if p.is_patient], "people list")
    listing = render_template(
        "people/list.html",
        people=people,
        role=role,
        search=search,
        page=page,
        total=total,
        pages=page_count(total, PAGE_SIZE),
        role_labels=ROLE_LABELS,
    )
    db.session.commit()
    return listing


def _people_filter(by_role: bool, by_search: bool):
    """Who the list may show: people of the coordinator's sites, by role and search words."""
    in_my_sites = select(user_sites.c.user_id).where(
        user_sites.c.site_id.in_(bindparam("site_ids", expanding=True))
    )
    conditions = [User.id.in_(in_my_sites)]
    if by_role:
        conditions.append(User.role == bindparam("role"))
    if by_search:
        pattern = bindparam("pattern")
        conditions.append(
            or_(
                func.lower(User.given_name).like(pattern),
                func.lower(User.family_name).like(pattern),
                func.lower(User.preferred_name).like(pattern),
                User.email.like(pattern),
                User.phone.like(pattern),
            )
        )
    return conditions


class Listed(PlainPerson):
    """A person on the list, from the columns it shows, with their sites' names."""

    __slots__ = (
        "id",
        "role",
        "given_name",
        "family_name",
        "preferred_name",
        "discipline",
        "training_year",
        "email",
        "phone",
        "active",
        "has_password",
        "invited_at",
        "site_names",
    )


def _listed(rows) -> list[Listed]:
    """The rows of :func:`_people_query` as :class:`Listed`, each with their sites' names."""
    names: dict[int, list[str]] = {row[0]: [] for row in rows}
    if names:
        for user_id, name in db.session.execute(_sites_query(), {"user_ids": list(names)}):
            names[user_id].append(name)
    return [Listed(*row[:-1], names[row[0]]) for row in rows]


@functools.cache
def _sites_query():
    """The names of the listed people's sites, in name order (built once)."""
    return (
        select(user_sites.c.user_id, Site.name)
        .join(Site, Site.id == user_sites.c.site_id)
        .where(user_sites.c.user_id.in_(bindparam("user_ids", expanding=True)))
        .order_by(Site.name, Site.id)
    )


@functools.cache
def _people_query(by_role: bool, by_search: bool):
    """One page of the list, and how many match in all (built once)."""
    return (
        select(
            User.id,
            User.role,
            User.given_name,
            User.family_name,
            User.preferred_name,
            User.discipline,
            User.training_year,
            User.email,
            User.phone,
            User.active,
            User.password_hash.is_not(None),
            User.invited_at,
            # The count stands alone (not correlated to the listed person): all who match.
            _people_count_query(by_role, by_search).correlate(None).scalar_subquery(),
        )
        .where(*_people_filter(by_role, by_search))
        .order_by(User.family_name, User.given_name, User.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )


@functools.cache
def _people_count_query(by_role: bool, by_search: bool):
    return select(func.count()).select_from(User).where(*_people_filter(by_role, by_search))


@bp.post("/find")
@roles(COORDINATOR)
def find_people():
    """Keep the words of a search of the people list (on the server), then show it."""
    searches.keep(PEOPLE_SEARCH, request.form.get("q"))
    db.session.commit()
    role = request.form.get("role", "")
    return redirect(url_for("people.list_people", role=role if role in ROLE_LABELS else None))


@bp.route("/new", methods=["GET", "POST"])
@roles(COORDINATOR)
def new_person():
    """Add a person and, if asked, send their invitation."""
    form = UserForm()
    form.sites.choices = _site_choices()
    if request.method == "GET":
        requested = request.args.get("role", PATIENT)
        form.role.data = requested if requested in ROLE_LABELS else PATIENT
        form.sites.data = [choice.value for choice in form.sites.choices[:1]]
    if form.validate_on_submit():
        try:
            user = services.create_user(actor=current_user, **_user_fields(form))
            link = services.invite(user, actor=current_user) if user.email else None
        except GroupVisitsError as exc:
            db.session.rollback()  # none of a refused person is kept
            getattr(form, exc.field or "email").errors.append(str(exc))
        else:
            db.session.commit()
            if link is None:
                flash(f"{user.full_name} is added. {services.NO_EMAIL}", "success")
            else:
                _after_invitation(user, link)
            return redirect(url_for("people.show_person", user_id=user.id))
    return render_template("people/form.html", form=form, person=None), form_status(form)


#: Current places first (member, offered, waiting, asking), then the past, newest first.
STATUS_ORDER = {ACTIVE: 0, OFFERED: 1, WAITLISTED: 2, REQUESTED: 3}


def _memberships_of(person: User) -> list[Membership]:
    """The patient's memberships in groups of the coordinator's sites, with group and site,
    in one query."""
    return list(
        db.session.scalars(
            select(Membership)
            .join(Membership.group)
            .join(VisitGroup.site)
            .where(
                Membership.patient_id == person.id,
                VisitGroup.site_id.in_(sorted(current_user.site_ids)),
            )
            .options(contains_eager(Membership.group).contains_eager(VisitGroup.site))
            .order_by(
                case(STATUS_ORDER, value=Membership.status, else_=len(STATUS_ORDER)),
                func.coalesce(Membership.ended_at, Membership.created_at).desc(),
                Membership.id.desc(),
            )
        )
    )


@bp.get("/<int:user_id>")
@roles(COORDINATOR)
def show_person(user_id):
    """One person's account, with invitation and sign-in status; a patient's groups."""
    person = get_user_or_404(user_id)
    memberships = _memberships_of(person) if person.is_patient else []
    if person.is_patient:
        audit.record(current_user, "view", person, "patient", person.id)
    page = render_template(
        "people/show.html",
        person=person,
        memberships=memberships,
        open_sign_ins=services.count_open_sign_ins(person),
        mail_configured=bool(current_app.config["MAIL_SERVER"]),
    )
    # Render before committing: a commit expires the preloaded groups (a query per row).
    db.session.commit()
    return page


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@roles(COORDINATOR)
def edit_person(user_id):
    """Change a person's account details."""
    person = get_user_or_404(user_id, manage=True)
    profile = person.patient_profile
    form = UserForm(obj=person)
    form.sites.choices = _site_choices()
    if request.method == "GET":
        form.sites.data = [site.id for site in person.sites if site.id in current_user.site_ids]
        if profile is not None:
            for name in services.PROFILE_COLUMNS:
                if name not in services.DIET_FIELDS:
                    getattr(form, name).data = getattr(profile, name)
            for name, value in diet_data(profile).items():
                getattr(form, name).data = value
    form.role.data = person.role  # the role of an account never changes
    if form.validate_on_submit():
        fields = _user_fields(form)
        fields.pop("role")
        try:
            services.update_user(person, fields, actor=current_user)
        except GroupVisitsError as exc:
            db.session.rollback()  # none of a refused edit is kept
            getattr(form, exc.field or "email").errors.append(str(exc))
        else:
            db.session.commit()
            flash("Saved.", "success")
            return redirect(url_for("people.show_person", user_id=person.id))
    if person.is_patient:  # the form shows the patient's data again, errors and all
        audit.record(current_user, "view", person, "patient", person.id)
        db.session.commit()
    return render_template("people/form.html", form=form, person=person), form_status(form)


@bp.post("/<int:user_id>/invite")
@roles(COORDINATOR)
def invite_person(user_id):
    """Send (again) the invitation to set a password."""
    person = get_user_or_404(user_id, manage=True)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            link = services.invite(person, actor=current_user)
        except GroupVisitsError as exc:
            flash(str(exc), "warning")
        else:
            db.session.commit()
            _after_invitation(person, link)
    return redirect(url_for("people.show_person", user_id=person.id))


@bp.post("/<int:user_id>/active")
@roles(COORDINATOR)
def set_person_active(user_id):
    """Deactivate or reactivate an account (``active`` = 1 or 0 in the form)."""
    person = get_user_or_404(user_id, manage=True)
    form = ConfirmForm()
    if request.form.get("active") not in ("0", "1"):
        abort(400, "Say whether the account should be active (1) or not (0).")
    if form.validate_on_submit():
        active = request.form["active"] == "1"
        try:
            services.set_active(person, active, actor=current_user)
        except GroupVisitsError as exc:
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(
                f"{person.full_name} can sign in again."
                if active
                else f"{person.full_name} can no longer sign in.",
                "success",
            )
    return redirect(url_for("people.show_person", user_id=person.id))


def _user_fields(form: UserForm) -> dict:
    sites = db.session.scalars(select(Site).where(Site.id.in_(form.sites.data or []))).all()
    return {
        "email": form.email.data,
        "role": form.role.data,
        "given_name": form.given_name.data,
        "family_name": form.family_name.data,
        "preferred_name": form.preferred_name.data or "",
        "phone": form.phone.data or "",
        "sites": list(sites),
        "discipline": form.discipline.data or None,
        "training_year": form.training_year.data,
        "date_of_birth": form.date_of_birth.data,
        "preferred_language": form.preferred_language.data or "English",
        **form.diet,
        "accessibility_needs": form.accessibility_needs.data or "",
        "medical_record_number": form.medical_record_number.data or None,
    }


def _after_invitation(person: User, link: str) -> None:
    # Only this person's mail: what others queued (resets asked for by anyone) waits for
    # `flask groupvisits send-mail`, not for the coordinator.
    sent, _failed = mail.deliver_pending(to_address=person.email)
    if sent:
        flash(f"Invitation sent to {person.email}.", "success")
    elif current_app.config["MAIL_SERVER"]:
        flash("The invitation is queued; the mail server did not answer yet.", "warning")
    else:
        flash(
            "Mail is not set up on this server, so the invitation is queued. "
            "Give this link to the person in a private way; it works once: " + link,
            "info",
        )
