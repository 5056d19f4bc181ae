"""Forms for signing in, passwords, user administration and the patient profile."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from groupvisits.accounts.models import DISCIPLINES, ROLE_LABELS
from groupvisits.formutil import options


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes, easier on a phone than a multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Sign in")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField("Send me a link")


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=12, max=200)],
        description="At least 12 characters. A short sentence is easy to remember.",
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )
    submit = SubmitField("Save password")


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])


class UserForm(FlaskForm):
    """A coordinator creates or edits an account."""

    role = SelectField("Role", choices=options(ROLE_LABELS.items()), validators=[InputRequired()])
    given_name = StringField("Given name", validators=[DataRequired(), Length(max=80)])
    family_name = StringField("Family name", validators=[DataRequired(), Length(max=80)])
    preferred_name = StringField(
        "Preferred first name",
        validators=[Optional(), Length(max=80)],
        description="What the person likes to be called. Group members see this name.",
    )
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    sites = MultiCheckboxField("Sites", coerce=int, validators=[DataRequired("Choose a site.")])
    discipline = SelectField(
        "Discipline (clinicians)",
        choices=options([("", "—")] + list(DISCIPLINES.items())),
        validators=[Optional()],
    )
    training_year = IntegerField(
        "Training year (residents, PGY)",
        validators=[Optional(), NumberRange(min=1, max=8)],
    )
    date_of_birth = DateField("Date of birth (patients)", validators=[Optional()])
    preferred_language = StringField(
        "Preferred language (patients)", validators=[Optional(), Length(max=60)]
    )
    dietary_needs = TextAreaField("Dietary needs (patients)", validators=[Length(max=1000)])
    accessibility_needs = TextAreaField(
        "Accessibility needs (patients)", validators=[Length(max=1000)]
    )
    medical_record_number = StringField(
        "Medical record number (patients, optional)", validators=[Optional(), Length(max=40)]
    )
    submit = SubmitField("Save")

    def validate_discipline(self, field):
        if self.role.data == "clinician" and not field.data:
            raise ValidationError("Choose the clinician's discipline.")

    def validate_training_year(self, field):
        if self.role.data == "clinician" and self.discipline.data == "resident" and not field.data:
            raise ValidationError("Give the resident's training year.")


class ProfileForm(FlaskForm):
    """What a patient may change about themself."""

    preferred_name = StringField(
        "Preferred first name",
        validators=[Optional(), Length(max=80)],
        description="Your group sees this name and the first letter of your family name.",
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=40)])
    preferred_language = StringField("Preferred language", validators=[Optional(), Length(max=60)])
    dietary_needs = TextAreaField(
        "Dietary needs",
        validators=[Length(max=1000)],
        description="For example vegetarian, no nuts. Used when we plan the shared meal.",
    )
    accessibility_needs = TextAreaField(
        "Accessibility needs",
        validators=[Length(max=1000)],
        description="For example wheelchair access, large print, an interpreter.",
    )
    submit = SubmitField("Save my details")


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    submit = SubmitField("Confirm")
