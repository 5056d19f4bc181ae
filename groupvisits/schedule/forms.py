"""Forms for one session: move, cancel, add an extra one."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional

from groupvisits.formutil import a_calendar_date, a_secure_link


class SessionForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired(), a_calendar_date])
    start_time = TimeField("Start time (local)", validators=[DataRequired()])
    length_minutes = IntegerField(
        "Length (minutes)", validators=[DataRequired(), NumberRange(min=30, max=240)]
    )
    location = StringField(
        "Room or place",
        validators=[Optional(), Length(max=200)],
        description="Leave empty to use the group's usual place.",
    )
    video_url = StringField(
        "Video link",
        validators=[Optional(), Length(max=500), a_secure_link, URL(require_tld=False)],
        description="Starting with https://. Leave empty to use the group's usual link.",
    )
    theme = StringField("Theme", validators=[Optional(), Length(max=200)])
    notes = TextAreaField("Notes for the team", validators=[Optional(), Length(max=4000)])
    submit = SubmitField("Save session")


class ExtraSessionForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired(), a_calendar_date])
    start_time = TimeField("Start time (local)", validators=[DataRequired()])
    length_minutes = IntegerField(
        "Length (minutes)", validators=[DataRequired(), NumberRange(min=30, max=240)]
    )
    theme = StringField("Theme", validators=[Optional(), Length(max=200)])
    record_past = BooleanField(
        "Record a past session",
        description="Only for a meeting that already took place, so that who came can be "
        "recorded. Otherwise a day before today is refused.",
    )
    submit = SubmitField("Add session")


class CancelForm(FlaskForm):
    reason = StringField(
        "Reason",
        validators=[DataRequired("Give a reason: members and staff will see it."), Length(max=300)],
        description="Members and staff see this, e.g. “Clinic closed for the holiday”.",
    )
    submit = SubmitField("Cancel this session")
