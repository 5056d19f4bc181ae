"""Forms of the records pages: the session's group note and a patient's progress on a goal."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SubmitField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from groupvisits.encounters.group_notes import GROUP_MINUTES
from groupvisits.encounters.models import PROGRESS
from groupvisits.encounters.my_records import PROGRESS_COMMENT_MAX
from groupvisits.formutil import options

#: Free text of a group note: a few paragraphs, not a book.
GROUP_NOTE_TEXT_MAX = 5000


class GroupNoteForm(FlaskForm):
    """The group part of a session: topics, education and minutes; saved or signed."""

    topics = TextAreaField(
        "Topics discussed",
        validators=[
            DataRequired("Write the topics discussed."),
            Length(max=GROUP_NOTE_TEXT_MAX),
        ],
        description="What the group talked about, including topics members asked for.",
    )
    education = TextAreaField(
        "Education given",
        validators=[Optional(), Length(max=GROUP_NOTE_TEXT_MAX)],
        description="Teaching, demonstrations and handouts.",
    )
    minutes = IntegerField(
        "Minutes of group time",
        validators=[
            Optional(),
            NumberRange(
                min=GROUP_MINUTES[0],
                max=GROUP_MINUTES[1],
                message=f"Give a number of minutes from {GROUP_MINUTES[0]} to {GROUP_MINUTES[1]}.",
            ),
        ],
        description="Needed to sign.",
    )
    save = SubmitField("Save draft")
    sign = SubmitField("Sign the group note")


class GoalProgressForm(FlaskForm):
    """A patient's word on how a goal is going, with an optional comment."""

    state = RadioField(
        "How is it going?",
        choices=options(PROGRESS.items()),
        validators=[
            InputRequired("Choose how it is going."),
            AnyOf(PROGRESS, message="Choose how it is going."),
        ],
        validate_choice=False,
    )
    comment = TextAreaField(
        "Anything to add? (you can leave this empty)",
        validators=[
            Optional(),
            Length(
                max=PROGRESS_COMMENT_MAX,
                message=f"Keep it to {PROGRESS_COMMENT_MAX} characters or fewer.",
            ),
        ],
    )
    save = SubmitField("Save")
    #: Pressed instead of Save: the goal is stopped (its progress is still kept).
    stop = SubmitField("Stop working on this goal")
