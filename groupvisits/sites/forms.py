"""Forms for clinic sites and the audit trail filter."""

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from groupvisits.audit import ACTIONS
from groupvisits.formutil import a_calendar_date, an_id, options
from groupvisits.localtime import DEFAULT_LOCALE, LOCALES, clock
from groupvisits.sites.models import (
    KILOGRAMS,
    PHONE_MAX_LENGTH,
    PHONE_TOO_LONG,
    WEIGHT_UNITS,
    clean_phone,
)
from groupvisits.timeutil import is_valid_timezone

#: A moment to show each locale's clock: 17:00 on a winter Tuesday in London.
_SAMPLE = datetime(2027, 1, 12, 17, 0, tzinfo=UTC)


def _locale_options() -> list:
    """Each locale with a time of day written its way ("5:00 PM", "17:00"): the choice's effect."""
    return options(
        (code, f"{name}: {clock(_SAMPLE, _Sample(code))}") for code, name in LOCALES.items()
    )


class _Sample:
    """A stand-in site for the samples: a zone where the sample is 17:00, and a locale."""

    timezone = "Europe/London"

    def __init__(self, locale: str) -> None:
        self.locale = locale


class SiteForm(FlaskForm):
    """A site's name, zone, address, phone number, weight unit and locale."""

    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = StringField(
        "Time zone",
        validators=[DataRequired(), Length(max=64)],
        description="An IANA time zone name, such as America/New_York or Europe/London.",
    )
    address = TextAreaField(
        "Address",
        validators=[Optional(), Length(max=500)],
        description="Street, town and postcode. Calendar events give it as the place to go.",
    )
    phone = TelField(
        "Phone number",
        # Generous for spaces the cleaning removes; clean_phone holds the stored length.
        validators=[Optional(), Length(max=2 * PHONE_MAX_LENGTH, message=PHONE_TOO_LONG)],
        description="The number patients call, such as (555) 010-0200 ext. 204.",
    )
    weight_unit = SelectField(
        "Show weights in",
        choices=options(WEIGHT_UNITS.items()),
        validate_choice=False,
        default=KILOGRAMS,
        description="Weights are kept in kilograms; this is how people here read them.",
    )
    locale = SelectField(
        "Dates and times",
        choices=_locale_options(),
        validate_choice=False,
        default=DEFAULT_LOCALE,
        description="The language and clock of dates and times at this site.",
    )
    submit = SubmitField("Save site")

    def validate_phone(self, field):
        try:
            field.data = clean_phone(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_weight_unit(self, field):
        if field.data not in WEIGHT_UNITS:
            raise ValidationError("Choose kilograms or pounds.")

    def validate_locale(self, field):
        if field.data not in LOCALES:
            raise ValidationError("Choose a language and region from the list.")

    def validate_timezone(self, field):
        field.data = (field.data or "").strip()
        if not is_valid_timezone(field.data):
            raise ValidationError(
                "Unknown time zone. Use a name such as America/Chicago or Europe/London."
            )


class AuditFilterForm(FlaskForm):
    """Filters for the audit trail, read from the query string."""

    class Meta:
        csrf = False

    #: Set from a patient's page ("who saw this patient's data"), not chosen from a list:
    #: a list of every patient of a site would grow with the site.
    patient = IntegerField(
        "Patient", widget=HiddenInput(), validators=[Optional(), an_id("No such patient.")]
    )
    actor = SelectField("Done by (staff)", coerce=int, validators=[Optional()])
    action = SelectField(
        "Action", choices=options([("", "Any")] + list(ACTIONS.items())), validators=[Optional()]
    )
    since = DateField("From (date)", validators=[Optional(), a_calendar_date])
    until = DateField("To (date, inclusive)", validators=[Optional(), a_calendar_date])
    submit = SubmitField("Filter")
