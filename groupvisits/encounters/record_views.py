"""Routes of the records: a session's group note and note tracker, a patient's record,
patients' after-visit summaries and goals, and clinicians' encounter logs."""

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from groupvisits import audit
from groupvisits.accounts.models import CLINICIAN, PATIENT
from groupvisits.csvutil import csv_text
from groupvisits.encounters import bp, encounter_log, group_notes, my_records, staff_records
from groupvisits.encounters.models import PROGRESS
from groupvisits.encounters.record_forms import GoalProgressForm, GroupNoteForm
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.extensions import db
from groupvisits.formutil import form_status, page_number
from groupvisits.messages import flash
from groupvisits.permissions import (
    STAFF,
    can_write_group_note,
    get_own_goal_or_404,
    get_session_or_404,
    get_user_or_404,
    roles,
)
from groupvisits.timeutil import to_local, utcnow


def note_href(note_id: int) -> str:
    """The address of an encounter note's page (the notes' own module serves it)."""
    if "encounters.show_note" in current_app.view_functions:
        return url_for("encounters.show_note", note_id=note_id)
    return f"/notes/{note_id}"


def _show_error(form, exc: ValidationFailed) -> str | None:
    """Put a service's message under its field; return it if it belongs to no field."""
    if exc.field and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        return None
    return str(exc)


# The group note


@bp.get("/sessions/<int:session_id>/group-note")
@roles(*STAFF)
def show_group_note(session_id):
    """The session's group note: a form for its facilitator and coordinators, else to read."""
    group_session = get_session_or_404(session_id)
    note = group_notes.group_note_of(group_session)
    return _group_note_page(group_session, note, GroupNoteForm(formdata=None, obj=note))


@bp.post("/sessions/<int:session_id>/group-note")
@roles(*STAFF)
def save_group_note(session_id):
    """Save the group note as a draft."""
    return _write_group_note(session_id, sign=False)


@bp.post("/sessions/<int:session_id>/group-note/sign")
@roles(*STAFF)
def sign_group_note(session_id):
    """Save what the form holds and sign the group note: it is read-only from then on."""
    return _write_group_note(session_id, sign=True)


def _write_group_note(session_id: int, *, sign: bool):
    """Save the form as the draft and, with ``sign``, sign it, in one transaction."""
    group_session = get_session_or_404(session_id)
    # Refused (403) or too late (409) before anything typed is looked at.
    note = group_notes.check_group_note_open(group_session, current_user)
    form = GroupNoteForm()
    if not form.validate_on_submit():
        return _group_note_page(group_session, note, form)
    try:
        group_notes.save_group_note(
            group_session,
            topics=form.topics.data,
            education=form.education.data or "",
            minutes=form.minutes.data,
            actor=current_user,
        )
        if sign:
            group_notes.sign_group_note(group_session, actor=current_user)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        problem = _show_error(form, exc) if isinstance(exc, ValidationFailed) else str(exc)
        return _group_note_page(
            group_session,
            group_notes.group_note_of(group_session),
            form,
            problem=problem,
            status=exc.status_code,
        )
    db.session.commit()
    if sign:
        flash("The group note is signed. It is now part of each attendee's record.", "success")
    else:
        flash("The group note is saved as a draft.", "success")
    return redirect(url_for("encounters.show_group_note", session_id=session_id))


def _group_note_page(group_session, note, form, *, problem=None, status=None):
    """The group note page, with the people who attended (each showing audited)."""
    may_write = (
        can_write_group_note(current_user, group_session)
        and not group_session.is_cancelled
        and (note is None or note.signed_at is None)
    )
    people = group_notes.attendees(group_session)
    audit.record_many(
        current_user, "view", [p.id for p in people], "group note", note.id if note else None
    )
    page = render_template(
        "encounters/group_note.html",
        group_session=group_session,
        group=group_session.group,
        note=note,
        form=form,
        may_write=may_write,
        attendees=people,
        problem=problem,
    )
    db.session.commit()
    return page, status or form_status(form)


# The note tracker


@bp.get("/sessions/<int:session_id>/tracker")
@roles(*STAFF)
def show_tracker(session_id):
    """Where each patient's note stands, and whether their visit is billed: work to do first."""
    group_session = get_session_or_404(session_id)
    tracker = staff_records.session_tracker(group_session)
    audit.record_many(
        current_user, "view", [r.patient.id for r in tracker.rows], "note tracker", session_id
    )
    page = render_template(
        "encounters/tracker.html",
        tracker=tracker,
        group_session=group_session,
        group=group_session.group,
        states=staff_records.NOTE_STATES,
        begun=utcnow() >= group_session.starts_at,
        note_href=note_href,
    )
    db.session.commit()
    return page


# A patient's record


@bp.get("/patients/<int:user_id>/record")
@roles(CLINICIAN)
def show_patient_record(user_id):
    """A patient's encounters and group notes at the reader's sites, newest first, by pages."""
    patient = get_user_or_404(user_id)
    if not patient.is_patient:
        abort(404)
    page = page_number(request.args.get("page", 1, type=int))
    if page is None:
        abort(404)
    record = staff_records.patient_record(patient, site_ids=current_user.site_ids, page=page)
    if not record.entries and page > 1:
        abort(404)
    audit.record_each(current_user, "view", "record", [(patient.id, None)])
    listing = render_template(
        "encounters/patient_record.html",
        patient=patient,
        profile=patient.patient_profile,
        record=record,
        note_href=note_href,
    )
    db.session.commit()
    return listing


# Patients' own pages


@bp.get("/my/visits")
@roles(PATIENT)
def my_visits():
    """My after-visit summaries: the plan, goals and what happens next, newest first."""
    summaries = my_records.my_summaries(current_user)
    audit.record_each(
        current_user,
        "view",
        "after-visit summary",
        [(current_user.id, s.note_id) for s in summaries] or [(current_user.id, None)],
    )
    # Each group's next session once, at the top: the first thing a patient wants to know.
    upcoming = {s.next_session.id: s for s in reversed(summaries) if s.next_session}
    page = render_template(
        "encounters/my_summaries.html",
        summaries=summaries,
        upcoming=list(upcoming.values()),
        in_review=my_records.summaries_in_review(current_user),
    )
    db.session.commit()
    return page


@bp.get("/my/goals")
@roles(PATIENT)
def my_goals():
    """My open goals, each with how I last said it was going and a form to say how it is now."""
    return _goals_page()


@bp.post("/my/goals/<int:goal_id>/progress")
@roles(PATIENT)
def record_goal_progress(goal_id):
    """Say how one of my goals is going; "Done" finishes it, "Stop" stops it."""
    goal = get_own_goal_or_404(goal_id)
    form = GoalProgressForm()
    if not form.validate_on_submit():
        return _goals_page(goal.id, form)
    try:
        my_records.record_progress(
            goal, form.state.data, form.comment.data or "", actor=current_user, stop=form.stop.data
        )
    except ValidationFailed as exc:
        db.session.rollback()
        problem = _show_error(form, exc)
        return _goals_page(goal.id, form, problem=problem)
    except Conflict as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("encounters.my_goals"))
    db.session.commit()
    if form.stop.data:
        flash("Thanks for telling us. This goal is stopped.", "success")
    elif form.state.data == "done":
        flash("Well done! This goal is marked done.", "success")
    else:
        flash("Thanks, your progress is saved.", "success")
    return redirect(url_for("encounters.my_goals"))


def _goals_page(failed_goal_id: int | None = None, form=None, *, problem=None):
    """My goals; with ``form``, the one that failed for ``failed_goal_id`` (a 422)."""
    goals = my_records.my_goals(current_user)
    audit.record_each(
        current_user,
        "view",
        "goal",
        [(current_user.id, g.goal.id) for g in goals] or [(current_user.id, None)],
    )
    page = render_template(
        "encounters/my_goals.html",
        goals=goals,
        progress_choices=PROGRESS,
        failed_goal_id=failed_goal_id,
        failed_form=form,
        blank_form=GoalProgressForm(formdata=None),
        problem=problem,
    )
    db.session.commit()
    return page, 422 if form is not None else 200


# Clinicians' encounter log


def _log_year(clinician) -> encounter_log.AcademicYear | None:
    """The academic year asked for (``?year=2025``: July 2025 to June 2026); None for the
    current one. A year that is not a number, or is out of reach, is not found."""
    asked = request.args.get("year")
    if asked is None:
        return None
    if not (len(asked) == 4 and asked.isascii() and asked.isdigit()):
        abort(404)
    year = encounter_log.AcademicYear(int(asked))
    if not encounter_log.EARLIEST_YEAR <= year.first <= encounter_log.current_year(clinician).first:
        abort(404)
    return year


@bp.get("/my/encounters/log")
@roles(CLINICIAN)
def my_encounter_log():
    """My signed notes of one academic year (the current one unless asked), counted by
    month, group and preceptor, with the latest ones."""
    log = encounter_log.encounter_log(current_user, _log_year(current_user))
    audit.record_each(
        current_user, "view", "encounter log", [(e.patient_id, e.note_id) for e in log.entries]
    )
    page = render_template(
        "encounters/encounter_log.html", log=log, no_preceptor=encounter_log.NO_PRECEPTOR
    )
    db.session.commit()
    return page


@bp.get("/my/encounters/log.csv")
@roles(CLINICIAN)
def export_encounter_log():
    """My signed notes of one academic year as CSV, for a residency training record (an
    audited export)."""
    year = _log_year(current_user) or encounter_log.current_year(current_user)
    export = encounter_log.export_year(current_user, year)
    body = csv_text(encounter_log.EXPORT_COLUMNS, export.rows)
    file_name = _log_file_name(year)  # before the commit expires the user's sites
    audit.record_each(current_user, "export", "encounter log", export.shown)
    db.session.commit()
    return Response(
        body,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )


def _log_file_name(year) -> str:
    """``encounter-log-2026-2027-as-of-2027-01-12.csv``: which year, as of which day at the
    clinician's first site."""
    today = to_local(utcnow(), encounter_log.home_zone(current_user)).date()
    return f"encounter-log-{year.first}-{year.first + 1}-as-of-{today.isoformat()}.csv"
