"""Routes for the group roster: enrolment, requests, waitlist, agreements, CSV export.

Session attendance and check-in live in ``session_views``, patients' own
pages in ``my_views``; both attach to the same blueprint.
"""

import csv
import functools
import io

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.utils import secure_filename

from groupvisits import audit, searches
from groupvisits.accounts import services as accounts
from groupvisits.accounts.forms import ConfirmForm
from groupvisits.accounts.models import COORDINATOR, PATIENT, User
from groupvisits.accounts.views import safe_next_url
from groupvisits.csvutil import BOM, safe_cell
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import form_status, page_count, page_number
from groupvisits.messages import flash
from groupvisits.permissions import (
    STAFF,
    can_manage_group,
    get_group_or_404,
    get_membership_or_404,
    roles,
    signed_in,
)
from groupvisits.roster import attendance as attendance_rules
from groupvisits.roster import bp, services
from groupvisits.roster.forms import (
    AcceptAgreementForm,
    AgreementForm,
    EnrolForm,
    MessageForm,
    PaperAgreementForm,
    ReasonForm,
    WaitlistMoveForm,
)
from groupvisits.roster.models import (
    ACTIVE,
    CURRENT,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    Membership,
    MembershipEvent,
)
from groupvisits.sites.models import tel_href
from groupvisits.timeutil import to_local, utcnow

#: Past members and requests shown on the roster, newest first; the rest are a link away.
RECENT_PAST = 5
PAST_PAGE_SIZE = 50


def _current_memberships(group) -> list[Membership]:
    """Members, the waitlist, offers and requests, with their patients' profiles."""
    return list(db.session.scalars(_roster_queries()[0], {"group_id": group.id}))


def _past_memberships(group, *, limit: int, offset: int = 0) -> tuple[list[Membership], int]:
    """One page of ended, withdrawn and declined memberships, newest first, and their total.

    Years of turnover stay out of the roster: it shows the latest few.
    """
    rows = db.session.execute(
        _roster_queries()[1], {"group_id": group.id, "limit": limit, "offset": offset}
    ).all()
    return [membership for membership, _ in rows], (rows[0][1] if rows else 0)


@functools.cache
def _roster_queries():
    """A group's current memberships; one page of its past ones with their total (built once).

    Built once, not per request: building a select with its loader options costs about as
    much as running it.
    """
    current = (
        select(Membership)
        .where(Membership.group_id == bindparam("group_id"), Membership.status.in_(CURRENT))
        # One query: each membership has one patient, each patient at most one profile.
        .options(joinedload(Membership.patient, innerjoin=True).joinedload(User.patient_profile))
        .order_by(Membership.created_at, Membership.id)
    )
    past = (
        select(Membership, func.count().over())
        .where(Membership.group_id == bindparam("group_id"), Membership.status.not_in(CURRENT))
        .options(joinedload(Membership.patient))
        .order_by(
            func.coalesce(Membership.ended_at, Membership.created_at).desc(),
            Membership.id.desc(),
        )
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return current, past


bp.add_app_template_filter(attendance_rules.percent, "percent")


# One rule for every tel: link (people, roster, the call list): the site's phone rule.
bp.add_app_template_filter(tel_href, "tel_href")


#: A stand-in id: see :func:`id_url`.
_STAND_IN_ID = 987654321


def id_url(endpoint: str, **values) -> str:
    """``url_for(endpoint, name=id)``, for the rows of long lists (people, roster, week).

    ``url_for`` costs several microseconds a call from a template: the list of fifty
    people spent about a twentieth of its time building their links. The address of each
    endpoint is built once per request, with a stand-in id, and each row puts its own id
    in its place. Anything but one whole-number value goes to ``url_for`` as it is.
    """
    if len(values) != 1:
        return url_for(endpoint, **values)
    ((name, value),) = values.items()
    if type(value) is not int:
        return url_for(endpoint, **values)
    shapes = g.setdefault("id_url_shapes", {})
    shape = shapes.get((endpoint, name))
    if shape is None:
        sample, stand_in = url_for(endpoint, **{name: _STAND_IN_ID}), str(_STAND_IN_ID)
        shape = tuple(sample.split(stand_in)) if sample.count(stand_in) == 1 else ()
        shapes[endpoint, name] = shape
    if not shape:
        return url_for(endpoint, **values)
    return f"{shape[0]}{value}{shape[1]}"


# Every list of rows uses it: the people list, the roster, the coordinator's week.
bp.add_app_template_global(id_url, "id_url")


@bp.get("/groups/<int:group_id>/roster")
@roles(*STAFF)
def show_roster(group_id):
    """Members, agreement status, waitlist, requests, history and attendance per member."""
    group = get_group_or_404(group_id)
    if services.expire_offers(group=group):
        db.session.commit()
    memberships = _current_memberships(group)
    by_status = {}
    for membership in memberships:
        by_status.setdefault(membership.status, []).append(membership)
    members = by_status.get(ACTIVE, [])
    patient_ids = [m.patient_id for m in memberships]
    past, past_total = _past_memberships(group, limit=RECENT_PAST)
    agreement, agreements = services.current_agreement_and_acceptances(group, patient_ids)
    stats = attendance_rules.member_show_rates(group.id, patient_ids)
    find = searches.take(_roster_search(group))
    found = (
        accounts.find_patients(group.site_id, find, exclude=set(patient_ids))
        if find and can_manage_group(current_user, group)
        else []
    )
    shown = patient_ids + [m.patient_id for m in past] + [p.id for p in found]
    audit.record_many(current_user, "view", shown, "roster")
    # Render before committing: a commit expires the preloaded rows, and the
    # template would then load each member again (one query per row).
    page = render_template(
        "roster/roster.html",
        group=group,
        members=members,
        waitlist=sorted(by_status.get(WAITLISTED, []), key=lambda m: m.waitlist_position),
        offered=by_status.get(OFFERED, []),
        requests=by_status.get(REQUESTED, []),
        past=past,
        past_total=past_total,
        agreement=agreement,
        agreements=agreements,
        stats=stats,
        find=find,
        found=found,
        places_taken=len(members) + len(by_status.get(OFFERED, [])),
    )
    db.session.commit()
    return page


@bp.get("/groups/<int:group_id>/roster.csv")
@roles(COORDINATOR)
def export_roster(group_id):
    """The current roster as CSV, with contact details and needs (audited export)."""
    group = get_group_or_404(group_id, manage=True)
    memberships = _current_memberships(group)
    agreements = services.accepted_current(group, [m.patient_id for m in memberships])
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(
        [
            "medical_record_number",
            "family_name",
            "given_name",
            "preferred_name",
            "status",
            "waitlist_position",
            "email",
            "phone",
            "preferred_language",
            "dietary_needs",
            "accessibility_needs",
            "agreement_accepted_on",
        ]
    )
    for m in memberships:
        p, profile = m.patient, m.patient.patient_profile
        accepted = agreements.get(m.patient_id)
        writer.writerow(
            [
                safe_cell(profile.medical_record_number if profile else ""),
                safe_cell(p.family_name),
                safe_cell(p.given_name),
                safe_cell(p.preferred_name),
                m.status,
                m.waitlist_position or "",
                safe_cell(p.email),
                safe_cell(p.phone),
                safe_cell(profile.preferred_language if profile else ""),
                safe_cell(profile.dietary_summary if profile else ""),
                safe_cell(profile.accessibility_needs if profile else ""),
                accepted.accepted_on.isoformat() if accepted else "",
            ]
        )
    audit.record_many(current_user, "export", [m.patient_id for m in memberships], "roster")
    db.session.commit()
    return Response(
        out.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_export_name(group)}"'},
    )


def _export_name(group) -> str:
    """``roster-tuesday-evening-group-2026-11-30.csv``: which group, and as of which day."""
    today = to_local(utcnow(), group.site.timezone).date()
    name = secure_filename(group.name.lower().replace(" ", "-")) or f"group-{group.id}"
    return f"roster-{name[:60]}-{today.isoformat()}.csv"


@bp.post("/groups/<int:group_id>/enrol")
@roles(COORDINATOR)
def enrol(group_id):
    """Enrol a patient of the site: a place if one is free, else the waitlist."""
    group = get_group_or_404(group_id, manage=True)
    form = EnrolForm()
    valid = form.validate_on_submit()
    patient = db.session.get(User, form.patient_id.data) if valid else None
    if patient is not None:
        try:
            membership = services.enrol(group, patient, actor=current_user)
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            if membership.status == ACTIVE:
                flash(f"{patient.full_name} is now a member.", "success")
            else:
                flash(
                    f"The group is full: {patient.full_name} is number "
                    f"{membership.waitlist_position} on the waitlist.",
                    "info",
                )
    else:
        flash("Choose a patient to enrol.", "warning")
    # The search the coordinator was on (posted along) shows its results again.
    searches.keep(_roster_search(group), request.form.get("find"))
    db.session.commit()
    return redirect(url_for("roster.show_roster", group_id=group.id) + "#enrol-h")


@bp.post("/groups/<int:group_id>/roster/find")
@roles(COORDINATOR)
def find_to_enrol(group_id):
    """Keep the words of a search for patients to enrol (on the server), then show them."""
    group = get_group_or_404(group_id, manage=True)
    searches.keep(_roster_search(group), request.form.get("find"))
    db.session.commit()
    return redirect(url_for("roster.show_roster", group_id=group.id) + "#enrol-h")


def _roster_search(group) -> str:
    return f"roster-{group.id}"


def _membership_action(membership_id, action, success: str, form_class=None):
    membership = get_membership_or_404(membership_id, manage=True)
    form = (form_class or MessageForm)()
    if form.validate_on_submit():
        try:
            action(membership, form)
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(success.format(name=membership.patient.full_name), "success")
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "warning")
    return redirect(url_for("roster.show_roster", group_id=membership.group_id))


@bp.post("/memberships/<int:membership_id>/approve")
@roles(COORDINATOR)
def approve_request(membership_id):
    """Accept a patient's request to join."""
    return _membership_action(
        membership_id,
        lambda m, f: services.approve_request(m, actor=current_user, message=f.message.data or ""),
        "{name}'s request is accepted.",
    )


@bp.post("/memberships/<int:membership_id>/decline")
@roles(COORDINATOR)
def decline_request(membership_id):
    """Decline a patient's request to join, with a message."""
    return _membership_action(
        membership_id,
        lambda m, f: services.decline_request(m, actor=current_user, message=f.message.data or ""),
        "{name}'s request is declined.",
    )


@bp.post("/memberships/<int:membership_id>/end")
@roles(COORDINATOR)
def end_membership(membership_id):
    """End a membership with a reason; a freed place is offered to the waitlist."""
    return _membership_action(
        membership_id,
        lambda m, f: services.end_membership(m, f.reason.data, actor=current_user),
        "{name}'s membership has ended.",
        ReasonForm,
    )


@bp.post("/memberships/<int:membership_id>/waitlist-position")
@roles(COORDINATOR)
def move_on_waitlist(membership_id):
    """Move someone on the waitlist, with a reason."""
    return _membership_action(
        membership_id,
        lambda m, f: services.move_on_waitlist(
            m, f.position.data, f.reason.data, actor=current_user
        ),
        "{name} is moved on the waitlist.",
        WaitlistMoveForm,
    )


@bp.post("/memberships/<int:membership_id>/offer/accept-by-phone")
@roles(COORDINATOR)
def accept_offer_by_phone(membership_id):
    """Record that the patient took the place offered, as they said on the phone."""
    return _membership_action(
        membership_id,
        lambda m, f: services.accept_offer(m, actor=current_user),
        "{name} has the place (accepted by phone).",
        ConfirmForm,
    )


@bp.post("/memberships/<int:membership_id>/offer/decline-by-phone")
@roles(COORDINATOR)
def decline_offer_by_phone(membership_id):
    """Record that the patient turned the place down on the phone; it goes to the next person."""
    return _membership_action(
        membership_id,
        lambda m, f: services.decline_offer(m, actor=current_user),
        "{name} declined the place (by phone). It is offered to the next person waiting.",
        ConfirmForm,
    )


@bp.post("/memberships/<int:membership_id>/paper-agreement")
@roles(*STAFF)
def record_paper_agreement(membership_id):
    """Record the member's paper agreement, with their answer to sharing their name."""
    membership = get_membership_or_404(membership_id)
    form = PaperAgreementForm()
    agreement = services.current_agreement(membership.group)
    if agreement is None:
        flash("This group has no agreement to sign yet.", "warning")
    elif form.validate_on_submit():
        try:
            services.accept_agreement(
                agreement,
                membership.patient,
                actor=current_user,
                share_name=form.shares_name,
                method="paper",
                accepted_on=form.accepted_on.data,
            )
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(f"Paper agreement recorded for {membership.patient.full_name}.", "success")
    else:
        flash(" ".join(e for errors in form.errors.values() for e in errors), "warning")
    return redirect(url_for("roster.show_roster", group_id=membership.group_id))


@bp.get("/groups/<int:group_id>/agreement")
@signed_in
def agreement(group_id):
    """Read the group's confidentiality agreement (and, for coordinators, revise it)."""
    group = get_group_or_404(group_id)
    return agreement_page(group, services.current_agreement(group))


@bp.post("/groups/<int:group_id>/agreement")
@roles(COORDINATOR)
def publish_agreement(group_id):
    """Publish a new version; every member is asked to accept it again."""
    group = get_group_or_404(group_id, manage=True)
    form = AgreementForm()
    if form.validate_on_submit():
        services.publish_agreement(group, form.text.data, actor=current_user)
        db.session.commit()
        flash("The new version is published. Members will be asked to accept it.", "success")
        return redirect(url_for("roster.agreement", group_id=group.id))
    return agreement_page(group, services.current_agreement(group), form=form)


@bp.post("/groups/<int:group_id>/agreement/accept")
@roles(PATIENT)
def accept_agreement(group_id):
    """Accept the current version of the group's agreement, answering the share-name question."""
    group = get_group_or_404(group_id)
    agreement = services.current_agreement(group)
    if agreement is None:
        return redirect(url_for("roster.agreement", group_id=group.id))
    form = AcceptAgreementForm()
    if not form.validate_on_submit():
        # Nothing is saved: the agreement again, with the question to answer.
        return agreement_page(group, agreement, accept_form=form)
    services.accept_agreement(
        agreement, current_user, actor=current_user, share_name=form.shares_name
    )
    db.session.commit()
    flash("Thank you. You have accepted the group agreement.", "success")
    return redirect(safe_next_url(request.form.get("next")) or url_for("roster.my_groups"))


def agreement_page(group, current, *, form=None, accept_form=None):
    """The agreement with, for a patient, its acceptance form; for coordinators, a new version.

    A form that came back with errors makes the page a 422.
    """
    form = form or AgreementForm(
        formdata=None, text=current.text if current else services.DEFAULT_AGREEMENT
    )
    accept_form = accept_form or AcceptAgreementForm(formdata=None)
    accepted = (
        services.accepted_current(group, [current_user.id]).get(current_user.id)
        if current_user.is_patient
        else None
    )
    page = render_template(
        "roster/agreement.html",
        group=group,
        agreement=current,
        form=form,
        accept_form=accept_form,
        accepted=accepted,
    )
    return page, max(form_status(form), form_status(accept_form))


@bp.get("/groups/<int:group_id>/roster/past")
@roles(*STAFF)
def past_members(group_id):
    """Every ended, withdrawn and declined membership of a group, newest first, by pages."""
    group = get_group_or_404(group_id)
    page = page_number(request.args.get("page", 1, type=int))
    if page is None:
        abort(404)
    past, total = _past_memberships(group, limit=PAST_PAGE_SIZE, offset=(page - 1) * PAST_PAGE_SIZE)
    if not past and page > 1:
        abort(404)
    audit.record_many(current_user, "view", [m.patient_id for m in past], "roster")
    listing = render_template(
        "roster/past.html",
        group=group,
        past=past,
        total=total,
        page=page,
        pages=page_count(total, PAST_PAGE_SIZE),
    )
    db.session.commit()
    return listing


@bp.get("/memberships/<int:membership_id>/history")
@roles(*STAFF)
def membership_history(membership_id):
    """Every step of one membership, oldest first."""
    membership = get_membership_or_404(membership_id)
    events = db.session.scalars(
        select(MembershipEvent)
        .where(MembershipEvent.membership_id == membership.id)
        .options(selectinload(MembershipEvent.actor))
        .order_by(MembershipEvent.occurred_at, MembershipEvent.id)
    ).all()
    audit.record(current_user, "view", membership.patient, "membership", membership.id)
    db.session.commit()
    return render_template("roster/history.html", membership=membership, events=events)


from groupvisits.roster import call_views, my_views, session_views  # noqa: E402,F401 (routes)
