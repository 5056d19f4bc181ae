"""Dates and times as a site's people read them: in its zone, in its locale's words and clock.

Every function takes the ``site`` (anything with ``timezone`` and ``locale``) whose clock
the reader lives by. The formats come from CLDR through Babel: "5:00 PM" in ``en_US``,
"17:00" in ``en_GB``. Patients never see an IANA name such as ``America/New_York``:
:func:`zone_name` gives "Eastern Time".
"""

import functools
from datetime import date, datetime
from datetime import time as dt_time
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_timezone_name

#: The locales a site may choose, with the name a coordinator picks from.
LOCALES = {
    "en_US": "English (United States)",
    "en_GB": "English (United Kingdom)",
    "en_CA": "English (Canada)",
    "es_US": "Spanish (United States)",
    "es_MX": "Spanish (Mexico)",
    "fr_CA": "French (Canada)",
}
DEFAULT_LOCALE = "en_US"

#: "Tue 12 Jan 2027": the same order in every locale, with the locale's own names.
DATE_PATTERN = "EEE d MMM y"
#: "Tuesday 12 January", or the language's own way of saying it.
DAY_PATTERNS = {"es": "EEEE d 'de' MMMM"}
DAY_PATTERN = "EEEE d MMMM"

#: CLDR puts narrow or no-break spaces in times ("5:00\u202fPM"); pages and tests want
#: the plain space a person would type.
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})


def site_locale(site) -> Locale:
    """The Babel locale of a site, or the default one if its code is unknown."""
    return _locale(getattr(site, "locale", None) or DEFAULT_LOCALE)


# Pages show tens of times each: the locale, and the words of each date and clock time,
# are worked out once per process. They are pure functions of a calendar date or a time
# of day and a locale, and hold nothing about anyone.


@functools.lru_cache(maxsize=64)
def _locale(code) -> Locale:
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


@functools.lru_cache(maxsize=4096)
def _date_words(on: date, pattern: str, code: str) -> str:
    return format_date(on, pattern, locale=_locale(code)).translate(_SPACES)


@functools.lru_cache(maxsize=64)
def _clock_pattern(code: str, width: str) -> str | None:
    """The locale's time pattern, if it names no time zone (so only the time of day matters)."""
    pattern = _locale(code).time_formats[width].pattern
    return None if set(pattern) & set("zZvVOXx") else pattern


@functools.lru_cache(maxsize=4096)
def _clock_words(hour: int, minute: int, second: int, width: str, code: str) -> str:
    moment = dt_time(hour, minute, second)
    return format_time(moment, width, locale=_locale(code)).translate(_SPACES)


@functools.lru_cache(maxsize=64)
def _locale_code(code) -> str:
    return str(_locale(code))


def _code(site) -> str:
    """The site's locale code, as Babel names it ("en_US"); the default one if unknown."""
    return _locale_code(getattr(site, "locale", None) or DEFAULT_LOCALE)


def _local(moment: datetime | date, site) -> datetime | date:
    """An aware instant moved to the site's zone; a plain date as it is."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        return moment.astimezone(ZoneInfo(site.timezone))
    return moment


def _clock(local, code: str, width: str) -> str:
    if _clock_pattern(code, width) is None:
        return format_time(local, width, locale=_locale(code)).translate(_SPACES)
    return _clock_words(local.hour, local.minute, local.second, width, code)


def clock(moment: datetime | None, site, *, seconds: bool = False) -> str:
    """The time of day at the site: "5:00 PM" (en_US), "17:00" (en_GB)."""
    if moment is None:
        return ""
    return _clock(_local(moment, site), _code(site), "medium" if seconds else "short")


def when(moment: datetime | None, site, *, seconds: bool = False) -> str:
    """Date and time at the site: "Tue 12 Jan 2027, 5:00 PM" (en_US)."""
    if moment is None:
        return ""
    local, code = _local(moment, site), _code(site)
    on = _date_words(_as_date(local), DATE_PATTERN, code)
    return f"{on}, {_clock(local, code, 'medium' if seconds else 'short')}"


def day(moment: datetime | date | None, site) -> str:
    """The day at the site, in words: "Tuesday 12 January"."""
    if moment is None:
        return ""
    code = _code(site)
    pattern = DAY_PATTERNS.get(_locale(code).language, DAY_PATTERN)
    return _date_words(_as_date(_local(moment, site)), pattern, code)


def _as_date(moment: datetime | date) -> date:
    # Babel formats a datetime's date part alone under a date pattern.
    return moment.date() if isinstance(moment, datetime) else moment


def zone_name(site) -> str:
    """The site's time zone as people say it ("Eastern Time"), never its IANA name."""
    return _zone_words(site.timezone, _code(site))


@functools.lru_cache(maxsize=256)
def _zone_words(timezone: str, code: str) -> str:
    return get_timezone_name(ZoneInfo(timezone), width="long", locale=_locale(code))


#: The Jinja filters, by name: ``{{ instant|when(site) }}``, ``{{ site|zone_name }}``.
FILTERS = {"when": when, "clock": clock, "day": day, "zone_name": zone_name}
