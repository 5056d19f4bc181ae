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
    TelField,
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

from groupvisits.accounts.diets import (
    DIETARY_NEEDS,
    OTHER,
    OTHER_MAX_LENGTH,
    normalise_dietary_text,
)
from groupvisits.accounts.models import DISCIPLINES, ROLE_LABELS
from groupvisits.formutil import options
from groupvisits.sites.models import PHONE_MAX_LENGTH, PHONE_TOO_LONG, clean_phone


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes, easier on a phone than a multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


#: The dietary checkboxes: the list, then "Other" (said in the text field that follows).
DIETARY_CHOICES = options(
    [(code, label[:1].upper() + label[1:]) for code, label in DIETARY_NEEDS.items()]
    + [(OTHER, "Other")]
)
OTHER_NEEDS_MISSING = "Say what the other dietary need is, or untick “Other”."


def phone_field(description: str = "") -> TelField:
    """A phone number: the phone keypad on phones, and only what can be dialled."""
    return TelField(
        "Phone",
        # Generous for spaces the cleaning removes; clean_phone holds the stored length.
        validators=[Optional(), Length(max=2 * PHONE_MAX_LENGTH, message=PHONE_TOO_LONG)],
        description=description,
    )


def dietary_fields(who: str) -> tuple[MultiCheckboxField, StringField]:
    """The dietary checkboxes and the "other" text, worded for ``who`` fills them in."""
    return (
        MultiCheckboxField(
            "Dietary needs" + (" (patients)" if who == "staff" else ""),
            choices=DIETARY_CHOICES,
            # Text from a page opened before the list existed is read through the synonyms.
            validate_choice=False,
            description=(
                "Used when we plan the shared meal. Tick all that apply."
                if who == "patient"
                else "Used to plan the shared meal. Tick all that apply."
            ),
        ),
        StringField(
            "Other dietary need",
            # No Optional(): an empty text must still be checked against a ticked "Other".
            validators=[Length(max=OTHER_MAX_LENGTH)],
            description="If you ticked “Other”: for example no nuts, no pork.",
        ),
    )


class PhoneAndDiet:
    """Checks shared by the forms that take a phone number and dietary needs."""

    def validate_phone(self, field):
        try:
            field.data = clean_phone(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_dietary_needs(self, field):
        ticked = [value for value in field.data or [] if value in DIETARY_NEEDS or value == OTHER]
        typed = ", ".join(value for value in field.data or [] if value not in ticked)
        codes, other = normalise_dietary_text(typed)
        field.data = ticked + [code for code in codes if code not in ticked]
        if other:
            known = (self.dietary_other.data or "").strip()
            self.dietary_other.data = ", ".join(part for part in (other, known) if part)
            field.data.append(OTHER)

    def validate_dietary_other(self, field):
        field.data = " ".join((field.data or "").split())
        if OTHER in (self.dietary_needs.data or []) and not field.data:
            raise ValidationError(OTHER_NEEDS_MISSING)

    @property
    def diet(self) -> dict:
        """The ticked codes and the other text, as the account services take them."""
        return {
            "dietary_needs": [code for code in self.dietary_needs.data or [] if code != OTHER],
            "dietary_other": self.dietary_other.data or "",
        }


def diet_data(profile) -> dict:
    """A profile's dietary needs as the form shows them: codes, "Other" if any, its text."""
    codes, other = profile.diet
    return {"dietary_needs": codes + ([OTHER] if other else []), "dietary_other": other}


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


class UserForm(PhoneAndDiet, FlaskForm):
    """A coordinator creates or edits an account."""

    role = SelectField("Role", choices=options(ROLE_LABELS.items()), validators=[InputRequired()])
    given_name = StringField("Given name", validators=[DataRequired(), Length(max=80)])
    family_name = StringField("Family name", validators=[DataRequired(), Length(max=80)])
    preferred_name = StringField(
        "Preferred first name",
        validators=[Optional(), Length(max=80)],
        description="What the person likes to be called. Group members see this name.",
    )
    #: Staff need one (the service says so); a patient may have none.
    email = EmailField("Email", validators=[Optional(), Email(), Length(max=254)])
    phone = phone_field()
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
    dietary_needs, dietary_other = dietary_fields("staff")
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


class ProfileForm(PhoneAndDiet, FlaskForm):
    """What a patient may change about themself."""

    preferred_name = StringField(
        "Preferred first name",
        validators=[Optional(), Length(max=80)],
        description="Your group sees this name and the first letter of your family name.",
    )
    phone = phone_field("For example (555) 010-0199, or (555) 010-0199 ext. 204.")
    preferred_language = StringField("Preferred language", validators=[Optional(), Length(max=60)])
    dietary_needs, dietary_other = dietary_fields("patient")
    accessibility_needs = TextAreaField(
        "Accessibility needs",
        validators=[Length(max=1000)],
        description="For example wheelchair access, large print, an interpreter.",
    )
    submit = SubmitField("Save my details")


class ConfirmForm(FlaskForm):
    """An empty form: a button that posts with a CSRF token."""

    submit = SubmitField("Confirm")
