"""Small helpers shared by the forms of every area."""

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice


def options(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select or radio options from ``(value, label)`` pairs."""
    return [SelectChoice(value, label) for value, label in pairs]
