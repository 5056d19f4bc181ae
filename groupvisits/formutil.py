"""Small helpers shared by the forms of every area."""

from collections.abc import Iterable
from datetime import date

from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, StopValidation, ValidationError

from groupvisits.neutral import VIDEO_LINK_MESSAGE, is_secure_link

#: The largest id a table holds (PostgreSQL's integer); beyond it nothing can be found.
MAX_ID = 2**31 - 1
#: Pages of a list are numbered from 1 up to this.
MAX_PAGE = 10**6


def an_id(message: str = "That record does not exist.") -> NumberRange:
    """A validator for a field naming a row by its id."""
    return NumberRange(min=1, max=MAX_ID, message=message)


def page_count(total: int, size: int) -> int:
    """Pages of ``size`` rows needed for ``total`` rows (an empty list still has one page)."""
    return max((total + size - 1) // size, 1)


def page_number(value: int | None) -> int | None:
    """A list's page number from the query string, or None if there is no such page."""
    return value if value is not None and 1 <= value <= MAX_PAGE else None


def options(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select or radio options from ``(value, label)`` pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def form_status(form) -> int:
    """The status of a page showing ``form``: 422 when it came back with errors."""
    return 422 if form.errors else 200


#: Dates a clinic's calendar holds: a session, a schedule's bounds, an audit filter.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2099, 12, 31)


def a_calendar_date(form, field) -> None:
    """A validator: the date falls within the years a clinic's calendar holds."""
    if field.data is not None and not FIRST_DATE <= field.data <= LAST_DATE:
        raise ValidationError(f"Choose a date between {FIRST_DATE.year} and {LAST_DATE.year}.")


def a_finite_number(form, field) -> None:
    """A validator for decimal fields: NaN and infinities are not measurements."""
    if field.data is not None and not field.data.is_finite():
        raise StopValidation("Give a number.")


def a_secure_link(form, field) -> None:
    """A validator for video links: https:// with a host, as calendars and phones will open it."""
    if field.data and not is_secure_link(field.data.strip()):
        raise StopValidation(VIDEO_LINK_MESSAGE)
