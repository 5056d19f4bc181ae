"""Routes of encounter notes: open, write and sign, add to, attest or return; the queues.

Every page showing a note (or a list of notes) writes audit rows for what it showed;
every change is audited by the service that makes it.
"""

from collections.abc import Callable

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from groupvisits import audit
from groupvisits.encounters import bp, note_fields, note_reading, note_workflow, pre_visit
from groupvisits.encounters.models import (
    BILLING_LEVELS,
    RETURNED,
    SIGNED,
    EncounterNote,
)
from groupvisits.encounters.note_forms import (
    AddendumForm,
    AttestForm,
    NoteForm,
    OpenNoteForm,
    ResignForm,
    ReturnForm,
)
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.messages import flash
from groupvisits.permissions import (
    CLINICIAN,
    can_attest_note,
    can_read_note,
    can_write_note,
    roles,
    serves_site,
)


def get_note_or_404(note_id: int) -> EncounterNote:
    """A note the current user may read, with what its page shows; 404 otherwise.

    Coordinators and patients never reach this: the routes are for clinicians only.
    """
    note = note_reading.load_note(note_id)
    if note is None or not can_read_note(current_user, note):
        abort(404)
    return note


def _note_page(note: EncounterNote, *, status: int = 200, **forms):
    """The note's page: what to read before the visit, then the draft or the signed note.

    ``forms`` are forms coming back with errors; the others start empty.
    """
    version = note_fields.note_version(note)
    writer, returned = can_write_note(current_user, note), note.status == RETURNED
    allowed = {
        "form": note.is_draft and writer,
        "addendum_form": not note.is_draft and writer,
        "resign_form": writer and returned and note_workflow.answered_since_return(note),
        "attest_form": note.status == SIGNED and can_attest_note(current_user, note),
    }
    allowed["return_form"] = allowed["attest_form"]
    for name in [name for name in forms if not allowed[name]]:
        # A form this reader cannot use here came back with errors: say them, show the rest.
        for errors in forms.pop(name).errors.values():
            flash(" ".join(errors), "warning")
    if allowed["form"] and "form" not in forms:
        # formdata=None: after a refused POST, a fresh form shows the note, not what was posted.
        forms["form"] = NoteForm(formdata=None, data=note_fields.draft_values(note))
    empty = {
        "addendum_form": AddendumForm,
        "resign_form": ResignForm,
        "attest_form": AttestForm,
        "return_form": ReturnForm,
    }
    for name, form_class in empty.items():
        if allowed[name] and name not in forms:
            forms[name] = form_class(formdata=None, data={"version": version})
    page = render_template(
        "encounters/note.html",
        note=note,
        site=note.group_session.group.site,
        group_session=note.group_session,
        pre=pre_visit.pre_visit(note),
        events=note_reading.note_history(note),
        event_labels=note_workflow.EVENT_LABELS,
        weight=note_fields.weight_words(note),
        billing_levels=BILLING_LEVELS,
        resident=note.author.discipline == note_workflow.RESIDENT,
        **forms,
    )
    # One row, written without the ORM's unit of work (as the lists write theirs).
    audit.record_each(current_user, "view", "encounter_note", [(note.patient_id, note.id)])
    db.session.commit()
    return page, status


def _refused(note_id: int, exc: GroupVisitsError, form_name: str, form=None):
    """The note's page again, saying why nothing was saved, with the refusal's 4xx status.

    The form keeps what was typed. If the note changed meanwhile, the form takes the new
    version: the person has been told, and may now save over it knowingly.
    """
    db.session.rollback()
    note = get_note_or_404(note_id)
    if form is not None and isinstance(exc, note_workflow.NoteChanged):
        form.version.data = note_fields.note_version(note)
    if form is not None and exc.field in form:
        form[exc.field].errors = [*form[exc.field].errors, str(exc)]
    else:
        flash(str(exc), "warning")
    forms = {} if form is None else {form_name: form}
    return _note_page(note, status=exc.status_code, **forms)


@bp.post("/slots/<int:slot_id>/note")
@roles(CLINICIAN)
def open_note(slot_id):
    """Open the note of a one-on-one visit: its provider starts (or gets back) the draft;
    a colleague who may read the note is taken to it."""
    slot = note_reading.load_slot(slot_id)
    if slot is None or not serves_site(current_user, slot.group_session.group.site_id):
        abort(404)
    if not OpenNoteForm().validate_on_submit():
        abort(400)
    existing = note_reading.note_of_slot(slot)
    if existing is not None and existing.author_id != current_user.id:
        if can_read_note(current_user, existing):
            return redirect(url_for("encounters.show_note", note_id=existing.id))
    try:
        note = note_workflow.start_note(slot, current_user)
    except GroupVisitsError:
        db.session.rollback()
        raise
    db.session.commit()
    return redirect(url_for("encounters.show_note", note_id=note.id))


@bp.get("/notes/<int:note_id>")
@roles(CLINICIAN)
def show_note(note_id):
    """A note: the patient's last measures, goals and follow-up, then the draft or the
    signed note with its addenda and history, and what the reader may do next."""
    return _note_page(get_note_or_404(note_id))


def _change_note(note_id: int, form_class, form_name: str, act: Callable, next_url: str = ""):
    """Check the form, run ``act(note, form)`` (which returns the message to show), then
    commit once and go on to ``next_url`` (default: the note). A form with errors, or a
    change the service refuses, shows the note's page again, with nothing saved.
    """
    note = get_note_or_404(note_id)
    form = form_class()
    if not form.validate_on_submit():
        return _note_page(note, status=422, **{form_name: form})
    try:
        message = act(note, form)
    except GroupVisitsError as exc:
        return _refused(note_id, exc, form_name, form)
    db.session.commit()
    flash(message, "success")
    return redirect(next_url or url_for("encounters.show_note", note_id=note_id))


@bp.post("/notes/<int:note_id>")
@roles(CLINICIAN)
def save_note(note_id):
    """Save the draft as it is."""

    def act(note, form) -> str:
        note_workflow.save_draft(
            note, form.fields_for_service(), current_user, seen_version=form.version.data
        )
        return "Draft saved."

    return _change_note(note_id, NoteForm, "form", act)


@bp.post("/notes/<int:note_id>/sign")
@roles(CLINICIAN)
def sign_note(note_id):
    """Save the draft, then sign it. A signature refused (no precepting attending, say)
    leaves the draft saved."""
    note = get_note_or_404(note_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _note_page(note, status=422, form=form)
    saved = note.is_draft
    if saved:
        try:
            note_workflow.save_draft(
                note, form.fields_for_service(), current_user, seen_version=form.version.data
            )
        except GroupVisitsError as exc:
            return _refused(note_id, exc, "form", form)
        db.session.commit()
    try:
        note_workflow.sign(note, current_user)
    except GroupVisitsError as exc:
        if saved:
            exc = type(exc)(f"Your draft is saved, but not signed. {exc}")
        return _refused(note_id, exc, "form", None)
    db.session.commit()
    if note.status == SIGNED:
        flash(
            f"Signed. The note now waits for {note.preceptor.full_name}'s attestation.", "success"
        )
    else:
        flash("Signed. To change the note now, add an addendum.", "success")
    return redirect(url_for("encounters.show_note", note_id=note_id))


@bp.post("/notes/<int:note_id>/addenda")
@roles(CLINICIAN)
def add_addendum(note_id):
    """Add a signed addendum to a signed note."""

    def act(note, form) -> str:
        note_workflow.add_addendum(
            note, form.text.data, current_user, seen_version=form.version.data
        )
        if note.status == RETURNED:
            return "Addendum added. Sign the note again to send it back for attestation."
        return "Addendum signed and added to the note."

    return _change_note(note_id, AddendumForm, "addendum_form", act)


@bp.post("/notes/<int:note_id>/resign")
@roles(CLINICIAN)
def resign_note(note_id):
    """Sign a returned note again, once an addendum answers the comment."""

    def act(note, form) -> str:
        note_workflow.resign(note, current_user, seen_version=form.version.data)
        return f"Signed again. The note waits for {note.preceptor.full_name}'s attestation."

    return _change_note(note_id, ResignForm, "resign_form", act)


@bp.post("/notes/<int:note_id>/attest")
@roles(CLINICIAN)
def attest_note(note_id):
    """The precepting attending attests the note; back to the queue for the next one."""

    def act(note, form) -> str:
        note_workflow.attest(
            note, current_user, comment=form.comment.data or "", seen_version=form.version.data
        )
        return f"Attested the note of {note.patient.full_name}."

    return _change_note(
        note_id, AttestForm, "attest_form", act, url_for("encounters.show_attestations")
    )


@bp.post("/notes/<int:note_id>/return")
@roles(CLINICIAN)
def return_note(note_id):
    """The precepting attending returns the note to the resident with a comment."""

    def act(note, form) -> str:
        note_workflow.return_note(
            note, form.comment.data, current_user, seen_version=form.version.data
        )
        return f"Returned the note of {note.patient.full_name} to {note.author.full_name}."

    return _change_note(
        note_id, ReturnForm, "return_form", act, url_for("encounters.show_attestations")
    )


def _listed(notes_shown) -> None:
    """One audit row per note a list shows (who, whose, which note), in one INSERT."""
    audit.record_each(
        current_user, "view", "encounter_list", [(n.patient_id, n.id) for n in notes_shown]
    )


@bp.get("/attestations")
@roles(CLINICIAN)
def show_attestations():
    """The notes waiting for my attestation, oldest signature first."""
    queue = note_reading.attestation_queue(current_user)
    page = render_template("encounters/attestations.html", queue=queue)
    _listed(queue)
    db.session.commit()
    return page


@bp.get("/my/encounters")
@roles(CLINICIAN)
def show_my_encounters():
    """My notes by status: returned ones first, with the attending's comment, then drafts."""
    notes = note_reading.my_encounters(current_user)
    page = render_template(
        "encounters/my_encounters.html", notes=notes, shown=note_reading.FINISHED_SHOWN
    )
    _listed(notes.listed)
    db.session.commit()
    return page
