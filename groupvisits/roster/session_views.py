"""Routes for one session's attendance: lists, drop-ins, sign-in sheet, check-in, vitals."""

from flask import jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from groupvisits import audit, searches
from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import User
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import MAX_ID
from groupvisits.messages import flash
from groupvisits.permissions import STAFF, get_session_or_404, roles
from groupvisits.roster import attendance as rules
from groupvisits.roster import bp, history, services
from groupvisits.roster.attendance import counts_for_sessions
from groupvisits.roster.forms import CheckInForm, DropInForm, OneOnOneForm, VitalsForm
from groupvisits.roster.models import ANSWERS, CHECK_INS
from groupvisits.schedule import census as census_rules
from groupvisits.timeutil import utcnow


def _session_list(group_session):
    listing = rules.session_list(group_session)
    rows = _rows(listing)
    members = [row for row in rows if row.membership is not None]
    accepted = services.accepted_current(group_session.group, [r.patient.id for r in members])
    for row in members:
        row.agreement_ok = row.patient.id in accepted
    audit.record_many(current_user, "view", [row.patient.id for row in rows], "attendance")
    return listing


def _rows(listing):
    return (
        listing.confirmed + listing.maybe + listing.no_answer + listing.declined + listing.drop_ins
    )


@bp.get("/sessions/<int:session_id>/attendance")
@roles(*STAFF)
def show_attendance(session_id):
    """Who comes: confirmed, maybe, declined, no answer, drop-ins; the meal headcount."""
    group_session = get_session_or_404(session_id)
    listing = _session_list(group_session)
    census = census_rules.census_for(
        [group_session], counts_for_sessions([group_session.id]), now=utcnow()
    )[group_session.id]
    form = DropInForm()
    on_list = {row.patient.id for row in _rows(listing)}
    find = searches.take(_drop_in_search(group_session))
    found = accounts.find_patients(group_session.group.site_id, find, exclude=on_list)
    audit.record_many(current_user, "view", [p.id for p in found], "search")
    # Render before committing: a commit expires the loaded rows (one query per row after).
    page = render_template(
        "roster/attendance.html",
        group_session=group_session,
        group=group_session.group,
        listing=listing,
        census=census,
        form=form,
        find=find,
        found=found,
        answers=ANSWERS,
        deadline_words=rules.describe_deadline(group_session),
    )
    db.session.commit()
    return page


@bp.post("/sessions/<int:session_id>/attendance/find")
@roles(*STAFF)
def find_drop_in(session_id):
    """Keep the words of a search for a drop-in (on the server), then show the results."""
    group_session = get_session_or_404(session_id)
    searches.keep(_drop_in_search(group_session), request.form.get("find"))
    db.session.commit()
    return redirect(url_for("roster.show_attendance", session_id=session_id) + "#drop-in-h")


def _drop_in_search(group_session) -> str:
    return f"drop-in-{group_session.id}"


@bp.post("/sessions/<int:session_id>/drop-ins")
@roles(*STAFF)
def add_drop_in(session_id):
    """Add a patient who is not a member to this one session."""
    group_session = get_session_or_404(session_id)
    form = DropInForm()
    patient = db.session.get(User, form.patient_id.data) if form.validate_on_submit() else None
    if patient is None:
        flash("Choose a patient.", "warning")
    else:
        try:
            rules.add_drop_in(group_session, patient, actor=current_user)
        except GroupVisitsError as exc:
            db.session.rollback()
            flash(str(exc), "warning")
        else:
            db.session.commit()
            flash(f"{patient.full_name} is added as a drop-in.", "success")
    return redirect(url_for("roster.show_attendance", session_id=session_id))


@bp.get("/sessions/<int:session_id>/sign-in-sheet")
@roles(*STAFF)
def sign_in_sheet(session_id):
    """A printable sheet to sign: numbered lines, names only as fellow members may see them."""
    group_session = get_session_or_404(session_id)
    listing = _session_list(group_session)
    page = render_template(
        "roster/sign_in_sheet.html",
        group_session=group_session,
        group=group_session.group,
        lines=rules.sheet_lines(listing),
    )
    db.session.commit()
    return page


@bp.get("/sessions/<int:session_id>/check-in")
@roles(*STAFF)
def check_in_page(session_id):
    """The check-in tablet: one tap per person, vitals at the self-care station, the history."""
    page = _check_in_page(get_session_or_404(session_id))
    db.session.commit()
    return page


def _check_in_page(group_session, *, problem_for: int | None = None, problem: str = "") -> str:
    """The check-in page; ``problem`` is said on the card of person ``problem_for``."""
    listing = _session_list(group_session)
    site = group_session.group.site
    # Render before committing: a commit expires the loaded rows (one query per row after).
    return render_template(
        "roster/check_in.html",
        group_session=group_session,
        group=group_session.group,
        rows=listing.confirmed
        + listing.maybe
        + listing.drop_ins
        + listing.no_answer
        + listing.declined,
        sheet_line={line.patient_id: line.number for line in rules.sheet_lines(listing)},
        check_ins=CHECK_INS,
        closed=rules.why_no_check_in(group_session),
        late=utcnow() > group_session.starts_at + rules.LATE_AFTER,
        history=history.session_history(group_session),
        weight_unit=site.weight_unit,
        weight_limits=history.WEIGHT_LIMITS[site.weight_unit],
        in_unit=history.in_unit,
        problem_for=problem_for,
        problem=problem,
    )


def _patient_from_form(form) -> User | None:
    try:
        patient_id = int(form.patient_id.data)
    except (TypeError, ValueError):
        return None
    return db.session.get(User, patient_id) if 1 <= patient_id <= MAX_ID else None


def _at_the_tablet(session_id: int, form, unreadable: str, record) -> object:
    """Run one tablet action for the person named in ``form``, then back to the tablet.

    A refusal shows the check-in page again with the message and a 4xx status;
    nothing is saved.

    :param record: ``record(group_session, attendance) -> str`` saves and returns the message.
    """
    group_session = get_session_or_404(session_id)
    patient = _patient_from_form(form) if form.validate_on_submit() else None
    if patient is None:
        message = " ".join(e for errors in form.errors.values() for e in errors) or unreadable
        return _refused(group_session, _named_patient_id(form), message, 422)
    try:
        attendance = rules.attendance_for_check_in(group_session, patient, actor=current_user)
        message = record(group_session, attendance)
    except GroupVisitsError as exc:
        db.session.rollback()
        return _refused(group_session, patient.id, str(exc), exc.status_code)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("roster.check_in_page", session_id=session_id) + f"#p{patient.id}")


def _named_patient_id(form) -> int | None:
    try:
        return int(form.patient_id.data)
    except (TypeError, ValueError):
        return None


def _refused(group_session, patient_id: int | None, message: str, status: int):
    """The check-in page again, saying why nothing was saved, with a 4xx status."""
    flash(message, "warning")
    page = _check_in_page(group_session, problem_for=patient_id, problem=message)
    db.session.commit()
    return page, status


@bp.post("/sessions/<int:session_id>/check-in")
@roles(*STAFF)
def check_in(session_id):
    """Record one person's check-in from the tablet."""
    form = CheckInForm()

    def record(group_session, attendance) -> str:
        rules.check_in(
            attendance,
            form.status.data,
            actor=current_user,
            group_session=group_session,
            mode=form.mode.data or None,
            wants_one_on_one={"yes": True, "no": False}.get(form.wants_one_on_one.data or ""),
            reason=form.reason.data,
        )
        return f"{attendance.patient.group_name}: {CHECK_INS[attendance.check_in]}."

    return _at_the_tablet(
        session_id, form, "That check-in could not be read; please try again.", record
    )


@bp.post("/sessions/<int:session_id>/one-on-one")
@roles(*STAFF)
def save_one_on_one(session_id):
    """Save whether one person wants a one-on-one visit today, on its own.

    The page's script sends it as soon as it changes and reads a JSON answer;
    without the script, the card's Save button posts it and comes back to the tablet.
    """
    form = OneOnOneForm()
    if not _wants_json():

        def record(group_session, attendance) -> str:
            rules.set_wants_one_on_one(
                attendance, form.wish, actor=current_user, group_session=group_session
            )
            return f"Saved: {attendance.patient.group_name}, one-on-one today: {_wish(form.wish)}."

        return _at_the_tablet(session_id, form, "That answer could not be read.", record)
    group_session = get_session_or_404(session_id)
    patient = _patient_from_form(form) if form.validate_on_submit() else None
    if patient is None:
        return jsonify(message="That answer could not be read; please reload the page."), 422
    try:
        attendance = rules.attendance_for_check_in(group_session, patient, actor=current_user)
        rules.set_wants_one_on_one(
            attendance, form.wish, actor=current_user, group_session=group_session
        )
    except GroupVisitsError as exc:
        db.session.rollback()
        return jsonify(message=str(exc)), exc.status_code
    db.session.commit()
    return jsonify(message="Saved", wants_one_on_one=form.wish)


def _wants_json() -> bool:
    """The page's script asked (it sends ``Accept: application/json``)."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


def _wish(wish: bool | None) -> str:
    return {True: "yes", False: "no"}.get(wish, "not asked")


@bp.post("/sessions/<int:session_id>/vitals")
@roles(*STAFF)
def record_vitals(session_id):
    """Weight (in the unit the form showed) and blood pressure, from the station or staff."""
    form = VitalsForm()

    def record(group_session, attendance) -> str:
        rules.record_vitals(
            attendance,
            weight=form.weight.data,
            weight_unit=form.weight_unit.data,
            systolic=form.systolic.data,
            diastolic=form.diastolic.data,
            source=form.source.data,
            actor=current_user,
            reason=form.reason.data,
        )
        return f"Vitals saved for {attendance.patient.group_name}"

    return _at_the_tablet(
        session_id, form, "Those vitals could not be read; please check them.", record
    )
