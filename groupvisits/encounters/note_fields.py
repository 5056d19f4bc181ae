"""What an encounter note holds, checked: its fields and their limits, the measures' ranges
(the database's own checks, said in words), the goals it names, and its draft as a form
shows it, with the version that tells a page the note changed.
"""

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from groupvisits.encounters.models import BILLING_LEVELS, EncounterNote
from groupvisits.errors import ValidationFailed
from groupvisits.roster import history
from groupvisits.sites.models import KILOGRAMS, POUNDS, WEIGHT_UNITS

TEXT_FIELDS = ("concerns", "assessment", "plan", "goals", "action_plan", "follow_up")
NUMBER_FIELDS = ("systolic", "diastolic", "weight", "hba1c", "glucose", "minutes")
#: What ``save_draft`` accepts; ``weight`` is given in ``weight_unit`` (default kg).
DRAFT_FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS, "billing_level", "weight_unit")
#: The longest text of one field, addendum or comment, in characters.
TEXT_MAX = 10_000
#: A goal is one line of ``goals``; each becomes a PatientGoal (its text holds 300).
GOAL_MAX, GOALS_MAX = 300, 10

#: The measures a note holds: how to say them, their unit, and the range the database
#: allows (its CHECK constraints), so that the person reads the rule instead of a 500.
MEASURES = {
    "systolic": ("A systolic pressure", "mmHg", 50, 300),
    "diastolic": ("A diastolic pressure", "mmHg", 20, 200),
    "hba1c": ("An HbA1c", "%", 3, 20),
    "glucose": ("A glucose level", "mg/dL", 20, 1000),
    "minutes": ("A visit", "minutes", 1, 240),
}
WHOLE_NUMBERS = {"systolic", "diastolic", "glucose", "minutes"}
#: Weights in each unit; inside the database's 20-400 kg once converted (45 lb = 20.4 kg,
#: 880 lb = 399.2 kg).
WEIGHT_RANGES = {KILOGRAMS: (20, 400), POUNDS: (45, 880)}


# Checking what was entered


def measure_problem(name: str, value, weight_unit: str = KILOGRAMS) -> str | None:
    """Why ``value`` cannot be a note's ``name`` measure, in words; None if it can.

    The weight is given in ``weight_unit``. The ranges are the database's own checks.
    """
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return "Give a number."
    if not number.is_finite():
        return "Give a number."
    if name == "weight":
        if weight_unit not in WEIGHT_UNITS:
            return "Give the weight in kilograms or pounds."
        low, high = WEIGHT_RANGES[weight_unit]
        if not low <= number <= high:
            return f"A weight of {value} {weight_unit} is not possible; enter {low}–{high}."
        return None
    what, unit, low, high = MEASURES[name]
    if name in WHOLE_NUMBERS and number != number.to_integral_value():
        return f"Give a whole number of {unit}."
    if not low <= number <= high:
        space = "" if unit == "%" else " "
        if name == "minutes":
            return f"A visit of {value} minutes cannot be billed as one visit; enter {low}–{high}."
        return f"{what} of {value}{space}{unit} is not possible; enter {low}–{high}."
    return None


def goal_lines(goals: str) -> list[str]:
    """The goals written in a note, one per non-empty line, each once."""
    lines = []
    for line in (goals or "").splitlines():
        line = " ".join(line.split())
        if line and line.casefold() not in {seen.casefold() for seen in lines}:
            lines.append(line)
    return lines


def clean_draft(fields: Mapping[str, object]) -> dict[str, object]:
    """The columns to set from ``fields``, checked.

    :raises ValidationFailed: a value the note cannot hold, with the field it belongs to.
    """
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise ValueError(f"save_draft() got unknown fields: {sorted(unknown)}")
    unit = fields.get("weight_unit") or KILOGRAMS
    values: dict[str, object] = {}
    for name in TEXT_FIELDS:
        if name in fields:
            text = str(fields[name] or "").replace("\r\n", "\n").strip()
            if len(text) > TEXT_MAX:
                raise ValidationFailed(
                    f"Keep this under {TEXT_MAX:,} characters (it has {len(text):,}).", field=name
                )
            values[name] = text
    if "goals" in values:
        lines = goal_lines(values["goals"])
        if len(lines) > GOALS_MAX:
            raise ValidationFailed(
                f"Keep to {GOALS_MAX} goals or fewer, one per line.", field="goals"
            )
        for number, line in enumerate(lines, start=1):
            if len(line) > GOAL_MAX:
                raise ValidationFailed(
                    f"Goal {number} has {len(line)} characters; keep each goal under "
                    f"{GOAL_MAX}, one per line.",
                    field="goals",
                )
    for name in NUMBER_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        value = None if value in (None, "") else value
        problem = measure_problem(name, value, unit)
        if problem:
            raise ValidationFailed(problem, field=name)
        if value is None:
            values["weight_kg" if name == "weight" else name] = None
        elif name == "weight":
            values["weight_kg"] = history.to_kilograms(value, unit)
        elif name == "hba1c":
            values[name] = Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        else:
            values[name] = int(Decimal(str(value)))
    if "billing_level" in fields:
        level = fields["billing_level"] or "none"
        if level not in BILLING_LEVELS:
            raise ValidationFailed("Choose a billing level from the list.", field="billing_level")
        values["billing_level"] = level
    return values


def check_blood_pressure(systolic: int | None, diastolic: int | None) -> None:
    """:raises ValidationFailed: half a blood pressure, or its numbers the wrong way round."""
    if (systolic is None) != (diastolic is None):
        missing = "diastolic" if diastolic is None else "systolic"
        raise ValidationFailed(
            "A blood pressure needs both numbers, e.g. 128 over 82.", field=missing
        )
    if systolic is not None and diastolic >= systolic:
        raise ValidationFailed(
            f"The systolic pressure is the larger number: {diastolic} mmHg cannot be the "
            f"diastolic under a systolic of {systolic} mmHg.",
            field="diastolic",
        )


def clean_text(text: str | None, *, missing: str, field: str) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationFailed(missing, field=field)
    if len(text) > TEXT_MAX:
        raise ValidationFailed(f"Keep this under {TEXT_MAX:,} characters.", field=field)
    return text


# What a page shows of a note


def note_version(note: EncounterNote) -> str:
    """What a page showed of the note: a change of any kind (an addendum too) changes it."""
    return note.updated_at.isoformat()


def draft_values(note: EncounterNote) -> dict[str, object]:
    """A draft's fields as its form shows them: the weight in the site's unit, the version."""
    unit = note.group_session.group.site.weight_unit
    values = {name: getattr(note, name) for name in TEXT_FIELDS}
    values.update(
        systolic=note.systolic,
        diastolic=note.diastolic,
        weight=history.in_unit(note.weight_kg, unit),
        weight_unit=unit,
        hba1c=note.hba1c,
        glucose=note.glucose,
        billing_level=note.billing_level,
        minutes=note.minutes,
        version=note_version(note),
    )
    return values


def weight_words(note: EncounterNote) -> str:
    """The note's weight in the site's unit ("181.9 lb"); "" if none was taken."""
    return history.weight_words(note.weight_kg, note.group_session.group.site.weight_unit)
