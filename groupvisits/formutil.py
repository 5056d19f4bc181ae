"""Small helpers shared by the forms of every area."""

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice


def options(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select or radio options from ``(value, label)`` pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def form_status(form) -> int:
    """The status of a page showing ``form``: 422 when it came back with errors."""
    return 422 if form.errors else 200
