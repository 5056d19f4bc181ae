"""Forms of the one-on-one planner: plan, move, swap, seen or missed, hours and needs.

The planner page writes its many small forms by hand (one per visit); these classes read
and check what they post.
"""

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SubmitField, TimeField
from wtforms.validators import InputRequired, Optional

from groupvisits.accounts.models import DISCIPLINES
from groupvisits.formutil import an_id, options

#: Times as a browser's time input sends them (with seconds when its step is under a minute).
TIME_FORMATS = ["%H:%M", "%H:%M:%S"]


class IdField(IntegerField):
    """A row's id posted by a form; anything but a whole number gets the field's message."""

    def __init__(self, label: str, message: str, **kwargs) -> None:
        super().__init__(label, validators=[InputRequired(message), an_id(message)], **kwargs)
        self.message = message

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(self.message) from exc


class ClockField(TimeField):
    """A time of day in the site's clock, as a browser's time input sends it."""

    def __init__(self, label: str, validators=None, **kwargs) -> None:
        super().__init__(label, validators=validators, format=TIME_FORMATS, **kwargs)

    def process_formdata(self, valuelist) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError("Give a time of day, such as 17:30.") from exc


class PlanForm(FlaskForm):
    """Plan every one-on-one visit (or again, from now): nothing to fill in."""

    submit = SubmitField("Plan every one-on-one")


class SlotStatusForm(FlaskForm):
    """Mark one visit seen or missed: nothing to fill in."""

    submit = SubmitField("Save")


class MoveSlotForm(FlaskForm):
    """Move one visit to a provider and a start time (any minute, in the site's clock)."""

    provider_id = IdField("Provider", "Choose a provider on this session's team.")
    start_time = ClockField("Starts at", validators=[InputRequired("Give the start time.")])
    submit = SubmitField("Move")


class SwapSlotsForm(FlaskForm):
    """Swap one visit with another patient's."""

    other_slot_id = IdField("Swap with", "Choose the visit to swap with.")
    submit = SubmitField("Swap")


class AvailabilityForm(FlaskForm):
    """A provider's hours for one-on-ones at this session; empty means no limit."""

    provider_id = IdField("Provider", "Choose a provider on this session's team.")
    available_from = ClockField("Free from", validators=[Optional()])
    available_until = ClockField("Free until", validators=[Optional()])
    submit = SubmitField("Save hours")


class NeedForm(FlaskForm):
    """The discipline one patient's visit must be with today ("" for any provider)."""

    patient_id = IdField("Patient", "That patient is not on this session's list.")
    discipline = SelectField(
        "Visit must be with",
        choices=options([("", "Any provider"), *DISCIPLINES.items()]),
        validators=[Optional()],
    )
    submit = SubmitField("Save")


def first_problem(form: FlaskForm) -> str:
    """The first error of a form that did not validate, as one sentence for the page."""
    for name, errors in form.errors.items():
        if name == "csrf_token":
            return "Your form expired. Please reload the page and try again."
        label = form[name].label.text
        return f"{label}: {errors[0]}"
    return "That change could not be read. Please reload the page and try again."
