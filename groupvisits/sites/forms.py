"""Forms for clinic sites and the audit trail filter."""

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import HiddenInput

from groupvisits.audit import ACTIONS
from groupvisits.formutil import a_calendar_date, an_id, options
from groupvisits.timeutil import is_valid_timezone


class SiteForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = StringField(
        "Time zone",
        validators=[DataRequired(), Length(max=64)],
        description="An IANA time zone name, such as America/New_York or Europe/London.",
    )
    address = TextAreaField("Address", validators=[Optional(), Length(max=500)])
    submit = SubmitField("Save site")

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
