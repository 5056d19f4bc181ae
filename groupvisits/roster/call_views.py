"""Routes for what staff record from a phone call: a member's answer for a session."""

from flask import abort, redirect, url_for
from flask_login import current_user

from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.messages import flash
from groupvisits.permissions import STAFF, get_membership_or_404, get_session_or_404, roles
from groupvisits.roster import attendance as rules
from groupvisits.roster import bp
from groupvisits.roster.forms import RsvpForm
from groupvisits.roster.models import MAYBE, NO, YES

#: What the message after saving says the member told staff.
TOLD = {YES: "will come", MAYBE: "might come", NO: "will not come"}


@bp.post("/sessions/<int:session_id>/members/<int:membership_id>/rsvp")
@roles(*STAFF)
def record_rsvp(session_id, membership_id):
    """Record the answer a member gave on the phone, as done by this staff member for them."""
    group_session = get_session_or_404(session_id)
    membership = get_membership_or_404(membership_id)
    if membership.group_id != group_session.group_id:
        abort(404)
    form = RsvpForm()
    if not form.validate_on_submit():
        abort(400, "Choose whether they will come: yes, maybe or no.")
    patient = membership.patient
    try:
        rules.answer_rsvp(
            group_session,
            patient,
            form.answer.data,
            actor=current_user,
            brings_support_person=form.brings_support_person.data,
        )
    except GroupVisitsError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    else:
        db.session.commit()
        brings = form.brings_support_person.data and form.answer.data != NO
        support = " with a support person" if brings else ""
        flash(f"Saved: {patient.full_name} {TOLD[form.answer.data]}{support}.", "success")
    return redirect(url_for("schedule.show_session", session_id=group_session.id))
