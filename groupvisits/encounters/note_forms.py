"""Forms of encounter notes: the draft, addenda, signing again, attestation and return.

Every form that changes a note carries the note's version as the page showed it
(:func:`groupvisits.encounters.note_fields.note_version`): a note changed meanwhile, in another
window or by someone else, is refused rather than overwritten or signed unseen.
"""

from flask_wtf import FlaskForm
from wtforms import DecimalField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional, StopValidation

from groupvisits.encounters.models import BILLING_LEVELS
from groupvisits.encounters.note_fields import TEXT_MAX, measure_problem
from groupvisits.formutil import a_finite_number, options
from groupvisits.sites.models import KILOGRAMS, WEIGHT_UNITS

STALE_PAGE = "This page is out of date: reload the note and try again."
TOO_LONG = f"Keep this under {TEXT_MAX:,} characters."


def plausible(name: str):
    """A validator: the measure ``name`` is one a person can have (the service's own rule)."""

    def check(form, field) -> None:
        unit = form.weight_unit.data if hasattr(form, "weight_unit") else KILOGRAMS
        problem = measure_problem(name, field.data, unit or KILOGRAMS)
        if problem:
            raise StopValidation(problem)

    return check


def _text(label: str, description: str = "") -> TextAreaField:
    return TextAreaField(
        label,
        description=description,
        validators=[Optional(), Length(max=TEXT_MAX, message=TOO_LONG)],
    )


class VersionedForm(FlaskForm):
    """A form acting on a note as its page showed it."""

    version = HiddenField("Note version", validators=[InputRequired(STALE_PAGE)])


class NoteForm(VersionedForm):
    """The draft of an encounter note, saved or signed from the same form."""

    concerns = _text("Concerns", "What the patient wants to talk about today.")
    systolic = IntegerField("Systolic pressure", validators=[Optional(), plausible("systolic")])
    diastolic = IntegerField("Diastolic pressure", validators=[Optional(), plausible("diastolic")])
    weight = DecimalField(
        "Weight", places=1, validators=[Optional(), a_finite_number, plausible("weight")]
    )
    #: The unit the form showed (the site's); the weight is stored in kilograms.
    weight_unit = HiddenField(
        default=KILOGRAMS,
        validators=[AnyOf(tuple(WEIGHT_UNITS), message="Give the weight in kilograms or pounds.")],
    )
    hba1c = DecimalField(
        "HbA1c", places=1, validators=[Optional(), a_finite_number, plausible("hba1c")]
    )
    glucose = IntegerField("Glucose", validators=[Optional(), plausible("glucose")])
    assessment = _text("Assessment", "For the care team only: never shown to the patient.")
    plan = _text("Plan", "In plain words: the patient reads it in their after-visit summary.")
    goals = _text("Goals", "In the patient's own words, one goal per line.")
    action_plan = _text("Action plan", "What the patient will do, when and how often.")
    follow_up = _text("Follow-up", "Tests, referrals or things to check next time.")
    billing_level = SelectField(
        "Billing level", choices=options(BILLING_LEVELS.items()), default="none"
    )
    minutes = IntegerField("Time spent", validators=[Optional(), plausible("minutes")])

    def fields_for_service(self) -> dict:
        """What :func:`~groupvisits.encounters.note_workflow.save_draft` takes, from this form."""
        names = (
            "concerns", "systolic", "diastolic", "weight", "weight_unit", "hba1c", "glucose",
            "assessment", "plan", "goals", "action_plan", "follow_up", "billing_level", "minutes",
        )  # fmt: skip
        return {name: self[name].data for name in names}


class AddendumForm(VersionedForm):
    """A signed addition to a signed note."""

    text = TextAreaField(
        "Addendum",
        description="Signed as soon as you add it; it cannot be changed afterwards.",
        validators=[
            InputRequired("Write the addendum first."),
            Length(max=TEXT_MAX, message=TOO_LONG),
        ],
    )


class ResignForm(VersionedForm):
    """Sign a returned note again, once an addendum answers the attending's comment."""


class AttestForm(VersionedForm):
    """The precepting attending's attestation, with an optional comment."""

    # Its own id: the return form beside it has a comment too.
    comment = TextAreaField(
        "Comment for the resident (optional)",
        id="attest-comment",
        validators=[Optional(), Length(max=TEXT_MAX, message=TOO_LONG)],
    )


class ReturnForm(VersionedForm):
    """The precepting attending sends the note back, saying what to change."""

    comment = TextAreaField(
        "What should the resident change?",
        id="return-comment",
        description="The resident reads this, answers with an addendum and signs again.",
        validators=[
            InputRequired("Say what the resident should change: they read your comment."),
            Length(max=TEXT_MAX, message=TOO_LONG),
        ],
    )


class OpenNoteForm(FlaskForm):
    """Open (or go back to) the note of a one-on-one visit: nothing but the CSRF token."""
