"""Forms of a session's agenda: adding topics with time boxes, ordering, curating topics,
publishing, and recording what was talked about."""

from flask_wtf import FlaskForm
from wtforms import IntegerField, TextAreaField
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)

from groupvisits.agenda.agenda_building import REASON_MAX
from groupvisits.agenda.agenda_outcomes import LINK_LENGTH_MAX, LINKS_MAX, SUMMARY_MAX, check_links
from groupvisits.agenda.agenda_rules import MINUTES_MAX, MINUTES_MIN
from groupvisits.errors import ValidationFailed
from groupvisits.formutil import an_id

MINUTES_MESSAGE = f"Give the topic from {MINUTES_MIN} to {MINUTES_MAX} minutes."
#: Positions on an agenda: far more than a session's conversation could hold.
POSITION_MAX = 999


class WholeNumberField(IntegerField):
    """An integer field whose "not a number" message is the field's own, not WTForms'."""

    def __init__(self, label=None, validators=None, *, message: str, **kwargs) -> None:
        super().__init__(label, validators, **kwargs)
        self.not_a_number = message

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.not_a_number) from exc


def _minutes_field(label: str = "Minutes") -> IntegerField:
    return WholeNumberField(
        label,
        message=MINUTES_MESSAGE,
        validators=[
            InputRequired(MINUTES_MESSAGE),
            NumberRange(min=MINUTES_MIN, max=MINUTES_MAX, message=MINUTES_MESSAGE),
        ],
    )


def _secure_links(form, field) -> None:
    """Each line an https:// address with a host (the service's own check)."""
    try:
        check_links(field.data or "")
    except ValidationFailed as exc:
        raise StopValidation(str(exc)) from exc


class ReturnForm(FlaskForm):
    """A button that only posts; for topic actions, the agenda page to come back to."""

    session_id = IntegerField(validators=[Optional(), an_id()])


class AddToAgendaForm(FlaskForm):
    """One topic onto the agenda, with its time box (and, optionally, its place)."""

    topic_id = IntegerField(
        validators=[
            InputRequired("Choose a topic to add."),
            an_id("That topic does not exist."),
        ]
    )
    minutes = _minutes_field()
    position = IntegerField(
        "Place on the agenda",
        validators=[
            Optional(),
            NumberRange(min=1, max=POSITION_MAX, message="Give a place from 1 up."),
        ],
    )


class TimeBoxForm(FlaskForm):
    """A planned item's minutes."""

    minutes = _minutes_field()


class PositionForm(FlaskForm):
    """Where an item goes on its agenda (1 = first)."""

    position = WholeNumberField(
        "Place on the agenda",
        message="Give a place on the agenda as a number from 1 up.",
        validators=[
            InputRequired("Give a place on the agenda."),
            NumberRange(min=1, max=POSITION_MAX, message="Give a place from 1 up."),
        ],
    )


class MergeForm(ReturnForm):
    """The topic a duplicate merges into."""

    into = IntegerField(
        "Merge into",
        validators=[
            InputRequired("Choose the topic to merge this one into."),
            an_id("Choose the topic to merge this one into."),
        ],
    )


class DeclineForm(ReturnForm):
    """Why a topic is declined, in words its proposer and the group will read."""

    reason = TextAreaField(
        "Why (members read this)",
        validators=[
            InputRequired("Write a kind reason: members read it next to their topic."),
            Length(max=REASON_MAX, message=f"Keep the reason to {REASON_MAX} characters or fewer."),
        ],
        description="Say it kindly, and where else they can raise it if it fits elsewhere.",
    )


class DiscussedForm(FlaskForm):
    """What the group said about a topic: a short public summary and optional links."""

    summary = TextAreaField(
        "Summary for members",
        validators=[
            Optional(),
            Length(
                max=SUMMARY_MAX,
                message=f"Keep the summary to {SUMMARY_MAX} characters or fewer.",
            ),
        ],
        description="A few lines everyone in the group may read. No names, no health details.",
    )
    links = TextAreaField(
        "Links (optional)",
        validators=[
            Optional(),
            Length(
                max=LINKS_MAX * (LINK_LENGTH_MAX + 2), message=f"Give at most {LINKS_MAX} links."
            ),
            _secure_links,
        ],
        description=f"Up to {LINKS_MAX}, one per line, each starting with https://.",
    )
