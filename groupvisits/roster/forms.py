"""Forms of the roster: enrolment, requests, waitlist, agreements, RSVP, check-in, vitals."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from groupvisits.formutil import a_calendar_date, a_finite_number, an_id, options
from groupvisits.roster.models import ANSWERS, CHECK_INS
from groupvisits.sites.models import KILOGRAMS, WEIGHT_UNITS


class EnrolForm(FlaskForm):
    #: Any patient id; the service checks site, role and duplicates.
    patient_id = SelectField(
        "Patient", coerce=int, validators=[InputRequired(), an_id()], validate_choice=False
    )
    submit = SubmitField("Enrol")


class MessageForm(FlaskForm):
    message = TextAreaField("Message to the patient", validators=[Optional(), Length(max=1000)])
    submit = SubmitField("Send")


class ReasonForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired("Give a reason."), Length(max=300)])
    submit = SubmitField("Confirm")


class WaitlistMoveForm(FlaskForm):
    position = IntegerField(
        "New position", validators=[InputRequired(), NumberRange(min=1, max=1000)]
    )
    reason = StringField(
        "Reason",
        validators=[DataRequired("Give a reason, e.g. clinical priority."), Length(max=300)],
    )
    submit = SubmitField("Move")


#: The question asked with the agreement; fellow members see nothing of a member until answered.
SHARE_NAME_QUESTION = "Fellow members may see my first name and last initial"
SHARE_NAME_ANSWERS = {"yes": "Yes", "no": "No"}


def share_name_field(label: str, missing: str) -> RadioField:
    """A required yes / no answer to the share-name question (no answer is chosen for anyone)."""
    return RadioField(
        label,
        choices=options(SHARE_NAME_ANSWERS.items()),
        validators=[InputRequired(missing), AnyOf(SHARE_NAME_ANSWERS, message=missing)],
        validate_choice=False,
    )


class ShareNameAnswer:
    """The answer of a form's ``share_name`` field, as the service takes it."""

    @property
    def shares_name(self) -> bool:
        return self.share_name.data == "yes"


class PaperAgreementForm(ShareNameAnswer, FlaskForm):
    accepted_on = DateField(
        "Date signed on paper",
        validators=[DataRequired("Give the date the agreement was signed."), a_calendar_date],
    )
    share_name = share_name_field(
        "Fellow members may see their first name and last initial (as answered on the form)",
        "Give the answer on the paper form: may fellow members see their first name and last "
        "initial?",
    )
    submit = SubmitField("Record paper agreement")


class AcceptAgreementForm(ShareNameAnswer, FlaskForm):
    share_name = share_name_field(
        SHARE_NAME_QUESTION,
        "Choose whether fellow members may see your first name and last initial.",
    )
    submit = SubmitField("I agree")


class AgreementForm(FlaskForm):
    text = TextAreaField(
        "Agreement text",
        validators=[DataRequired(), Length(max=6000)],
        description="Publishing a new version asks every member to accept it again.",
    )
    submit = SubmitField("Publish new version")


class JoinForm(FlaskForm):
    message = TextAreaField(
        "Anything the coordinator should know? (optional)",
        validators=[Optional(), Length(max=1000)],
    )
    submit = SubmitField("Ask to join")


class ShareNameForm(ShareNameAnswer, FlaskForm):
    share_name = share_name_field(
        SHARE_NAME_QUESTION,
        "Choose yes or no: may fellow members see your first name and last initial?",
    )
    submit = SubmitField("Save")


class RsvpForm(FlaskForm):
    answer = SelectField("Will you come?", choices=options(ANSWERS.items()))
    brings_support_person = BooleanField("I'm bringing a family member or carer")
    submit = SubmitField("Send my answer")


class DropInForm(FlaskForm):
    patient_id = SelectField(
        "Patient", coerce=int, validators=[InputRequired(), an_id()], validate_choice=False
    )
    submit = SubmitField("Add drop-in")


class CheckInForm(FlaskForm):
    patient_id = HiddenField(validators=[InputRequired()])
    status = SelectField("Check-in", choices=options(CHECK_INS.items()))
    mode = SelectField(
        "Joined",
        choices=options([("", "—"), ("in_person", "In person"), ("virtual", "By video")]),
        validators=[Optional()],
    )
    wants_one_on_one = SelectField(
        "One-on-one visit today?",
        choices=options([("", "Not asked"), ("yes", "Yes"), ("no", "No")]),
        validators=[Optional()],
    )
    #: Needed only to change a check-in already recorded (the service says so).
    reason = StringField("Reason for the correction", validators=[Optional(), Length(max=300)])
    submit = SubmitField("Save")


#: The one-on-one question's answers as posted: "" is "not asked".
ONE_ON_ONE_ANSWERS = {"": None, "yes": True, "no": False}


class OneOnOneForm(FlaskForm):
    """The one-on-one question of one check-in card, saved on its own."""

    patient_id = HiddenField(validators=[InputRequired()])
    wants_one_on_one = SelectField(
        "One-on-one today?",
        choices=options([("", "Not asked"), ("yes", "Yes"), ("no", "No")]),
        validators=[Optional()],
    )
    submit = SubmitField("Save")

    @property
    def wish(self) -> bool | None:
        return ONE_ON_ONE_ANSWERS.get(self.wants_one_on_one.data or "")


class VitalsForm(FlaskForm):
    patient_id = HiddenField(validators=[InputRequired()])
    #: In the unit posted with it (the site's, as the form showed it); the service checks
    #: the range in that unit's words.
    weight = DecimalField("Weight", validators=[Optional(), a_finite_number])
    weight_unit = HiddenField(
        default=KILOGRAMS,
        validators=[AnyOf(tuple(WEIGHT_UNITS), message="Give the weight in kilograms or pounds.")],
    )
    systolic = IntegerField(
        "Blood pressure, top number", validators=[Optional(), NumberRange(min=60, max=260)]
    )
    diastolic = IntegerField(
        "Blood pressure, bottom number", validators=[Optional(), NumberRange(min=30, max=160)]
    )
    source = SelectField(
        "Entered by",
        choices=options([("patient", "The patient (self-care station)"), ("staff", "Staff")]),
    )
    #: Needed only to change vitals already recorded (the service says so).
    reason = StringField("Reason for the correction", validators=[Optional(), Length(max=300)])
    submit = SubmitField("Save vitals")
