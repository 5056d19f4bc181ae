"""Forms for groups, their schedule rule and their session plan."""

from flask import request
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    URL,
    DataRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from groupvisits.formutil import a_calendar_date, a_secure_link, options
from groupvisits.groups.models import MODALITIES, SEGMENT_KINDS
from groupvisits.schedule.recurrence import ORDINALS, PATTERNS, WEEKDAYS

CENSUS_HINT = (
    "Group visits work best with 8 to 15 members: fewer and the conversation thins when "
    "a few are absent; more and not everyone gets a turn or a one-on-one visit."
)


class GroupForm(FlaskForm):
    site = SelectField("Site", coerce=int, validators=[DataRequired()])
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=120)],
        description="Used inside GroupVisits, e.g. “Tuesday evening diabetes group”.",
    )
    calendar_name = StringField(
        "Name in calendars",
        default="Group visit",
        validators=[Optional(), Length(max=120)],
        description="Shown in calendar feeds and on phones: keep it neutral, no condition.",
    )
    focus = StringField(
        "Focus", validators=[Optional(), Length(max=200)], description="E.g. type 2 diabetes."
    )
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    modality = SelectField("How the group meets", choices=options(MODALITIES.items()))
    location = StringField(
        "Location", validators=[Optional(), Length(max=200)], description="Room and building."
    )
    video_url = StringField(
        "Video link",
        validators=[Optional(), Length(max=500), a_secure_link, URL(require_tld=False)],
        description="For virtual and hybrid groups: a secure address starting with https://.",
    )
    length_minutes = IntegerField(
        "Length of a session (minutes)",
        default=120,
        validators=[DataRequired(), NumberRange(min=60, max=180)],
    )
    slot_minutes = IntegerField(
        "Length of a one-on-one visit (minutes)",
        default=10,
        validators=[DataRequired(), NumberRange(min=5, max=30)],
        description="Each patient's private visit with a provider during the session.",
    )
    min_members = IntegerField(
        "Minimum members", default=8, validators=[DataRequired(), NumberRange(min=1, max=40)]
    )
    target_members = IntegerField(
        "Target members", default=12, validators=[DataRequired(), NumberRange(min=1, max=40)]
    )
    max_members = IntegerField(
        "Maximum members",
        default=15,
        validators=[DataRequired(), NumberRange(min=1, max=40)],
        description=CENSUS_HINT,
    )
    census_warning_days = IntegerField(
        "Warn about low census this many days ahead",
        default=14,
        validators=[DataRequired(), NumberRange(min=1, max=60)],
    )
    rsvp_deadline_days = IntegerField(
        "Answers close this many days before a session",
        default=1,
        validators=[Optional(), NumberRange(min=0, max=14)],
        description="1 = members can answer until the end of the day before; 0 = until it starts.",
    )
    offer_hold_hours = IntegerField(
        "Hold a place offered to the waitlist for (hours)",
        default=72,
        validators=[Optional(), NumberRange(min=1, max=336)],
    )
    submit = SubmitField("Save group")

    def validate_target_members(self, field):
        low, high = self.min_members.data, self.max_members.data
        if None not in (low, field.data, high) and not (low <= field.data <= high):
            raise ValidationError("The minimum, target and maximum must go up in that order.")

    def unusual_size_note(self) -> str | None:
        """A gentle note when the census falls outside the usual 8–15."""
        low, high = self.min_members.data, self.max_members.data
        if low is not None and high is not None and (low < 8 or high > 15):
            return CENSUS_HINT
        return None


class ScheduleForm(FlaskForm):
    pattern = SelectField("Repeats", choices=options(PATTERNS.items()), default="monthly")
    nth = SelectField(
        "Which week of the month (monthly)",
        choices=options((str(k), v.title()) for k, v in ORDINALS.items()),
        default="2",
    )
    weekday = SelectField("Day of the week", choices=options(WEEKDAYS.items()), default="TU")
    start_date = DateField("First possible date", validators=[DataRequired(), a_calendar_date])
    start_time = TimeField(
        "Start time (local)", validators=[DataRequired()], description="In the site's time zone."
    )
    ends = RadioField(
        "Ends",
        choices=options(
            [
                ("never", "No end date (sessions are created 6 months ahead)"),
                ("until", "On a date"),
                ("count", "After a number of sessions"),
            ]
        ),
        default="never",
    )
    until = DateField("End date", validators=[Optional(), a_calendar_date])
    count = IntegerField("Number of sessions", validators=[Optional(), NumberRange(min=1, max=500)])
    submit = SubmitField("Save schedule")

    def validate_until(self, field):
        if self.ends.data == "until":
            if not field.data:
                raise ValidationError("Give the end date.")
            if self.start_date.data and field.data < self.start_date.data:
                raise ValidationError("The end date is before the first date.")

    def validate_count(self, field):
        if self.ends.data == "count" and not field.data:
            raise ValidationError("Give the number of sessions.")


#: Steps in one plan.
MAX_SEGMENTS = 12


class SegmentForm(FlaskForm):
    """One row of a plan; a row with no name is ignored."""

    class Meta:
        csrf = False

    kind = SelectField("Kind", choices=options(SEGMENT_KINDS.items()))
    name = StringField("Name", validators=[Optional(), Length(max=80)])
    minutes = IntegerField("Minutes", validators=[Optional(), NumberRange(min=1, max=180)])
    no_pull_outs = BooleanField("No pull-outs")


class PlanForm(FlaskForm):
    segments = FieldList(FormField(SegmentForm), min_entries=1, max_entries=MAX_SEGMENTS)
    submit = SubmitField("Save plan")

    def validate_segments(self, field):
        # FieldList quietly drops rows beyond max_entries: say so rather than lose them.
        posted = {key.split("-")[1] for key in request.form if key.startswith("segments-")}
        if len(posted) > MAX_SEGMENTS:
            raise ValidationError(f"A plan holds at most {MAX_SEGMENTS} steps.")

    def rows(self) -> list[tuple[str, str, int, bool]]:
        """The filled-in rows as (kind, name, minutes, no pull-outs)."""
        return [
            (
                row.kind.data,
                (row.form.name.data or "").strip(),
                row.minutes.data or 0,
                bool(row.no_pull_outs.data),
            )
            for row in self.segments
            if (row.form.name.data or "").strip()
        ]


class StatusForm(FlaskForm):
    status = SelectField(
        "Status",
        choices=options([("active", "Active"), ("paused", "Paused"), ("closed", "Closed")]),
    )
    reason = StringField("Reason (shown on cancelled sessions)", validators=[Length(max=200)])
    submit = SubmitField("Change status")
