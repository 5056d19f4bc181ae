"""Forms of a staff member's own schedule: record and remove their time off."""

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from groupvisits.formutil import a_calendar_date, an_id


class TimeOffForm(FlaskForm):
    """A span of time off, in the local time of one of the person's sites."""

    site_id = SelectField(
        "Times are in the local time of", coerce=int, validators=[InputRequired()]
    )
    start_date = DateField("First day", validators=[DataRequired(), a_calendar_date])
    start_time = TimeField("From (time)", validators=[DataRequired()])
    end_date = DateField("Last day", validators=[DataRequired(), a_calendar_date])
    end_time = TimeField("Until (time)", validators=[DataRequired()])
    reason = StringField(
        "Reason (optional)",
        description="Seen only by staff, never by patients.",
        validators=[Optional(), Length(max=200)],
    )
    submit = SubmitField("Add time off")

    def validate_end_time(self, field) -> None:
        """Time off ends after it starts (compared on the same site's clock)."""
        parts = (self.start_date.data, self.start_time.data, self.end_date.data, field.data)
        if None in parts:
            return
        if (self.end_date.data, field.data) <= (self.start_date.data, self.start_time.data):
            raise ValidationError("Time off must end after it starts.")


class RemoveTimeOffForm(FlaskForm):
    """Which span of time off to remove."""

    time_off_id = IntegerField(validators=[InputRequired(), an_id()])
