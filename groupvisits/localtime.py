"""Dates and times as a site's people read them: in its zone, in its locale's words and clock.

Every function takes the ``site`` (anything with ``timezone`` and ``locale``) whose clock
the reader lives by. The formats come from CLDR through Babel: "5:00 PM" in ``en_US``,
"17:00" in ``en_GB``. Patients never see an IANA name such as ``America/New_York``:
:func:`zone_name` gives "Eastern Time".
"""

from datetime import date, datetime
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
    try:
        return Locale.parse(getattr(site, "locale", None) or DEFAULT_LOCALE)
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def _local(moment: datetime | date, site) -> datetime | date:
    """An aware instant moved to the site's zone; a plain date as it is."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime given where an instant is required")
        return moment.astimezone(ZoneInfo(site.timezone))
    return moment


def clock(moment: datetime | None, site, *, seconds: bool = False) -> str:
    """The time of day at the site: "5:00 PM" (en_US), "17:00" (en_GB)."""
    if moment is None:
        return ""
    width = "medium" if seconds else "short"
    return format_time(_local(moment, site), width, locale=site_locale(site)).translate(_SPACES)


def when(moment: datetime | None, site, *, seconds: bool = False) -> str:
    """Date and time at the site: "Tue 12 Jan 2027, 5:00 PM" (en_US)."""
    if moment is None:
        return ""
    local = _local(moment, site)
    on = format_date(local, DATE_PATTERN, locale=site_locale(site))
    return f"{on}, {clock(local, site, seconds=seconds)}".translate(_SPACES)


def day(moment: datetime | date | None, site) -> str:
    """The day at the site, in words: "Tuesday 12 January"."""
    if moment is None:
        return ""
    locale = site_locale(site)
    pattern = DAY_PATTERNS.get(locale.language, DAY_PATTERN)
    return format_date(_local(moment, site), pattern, locale=locale).translate(_SPACES)


def zone_name(site) -> str:
    """The site's time zone as people say it ("Eastern Time"), never its IANA name."""
    return get_timezone_name(ZoneInfo(site.timezone), width="long", locale=site_locale(site))


#: The Jinja filters, by name: ``{{ instant|when(site) }}``, ``{{ site|zone_name }}``.
FILTERS = {"when": when, "clock": clock, "day": day, "zone_name": zone_name}
