"""The clinic locations that groups, staff and patients belong to."""

import re
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from groupvisits import localtime
from groupvisits.extensions import db
from groupvisits.localtime import DEFAULT_LOCALE
from groupvisits.timeutil import UTCDateTime, utcnow

KILOGRAMS, POUNDS = "kg", "lb"
#: How a site's people read weights; weights are stored in kilograms whatever the site shows.
WEIGHT_UNITS = {KILOGRAMS: "Kilograms (kg)", POUNDS: "Pounds (lb)"}

#: A number a phone can dial: digits with spaces, "+", "-", "( )" or dots, then maybe an
#: extension ("ext. 204", "x204", "extension 204").
_PHONE = re.compile(
    r"(?P<number>\+?[0-9(][0-9 ().\-]*?)"
    r"(?:\s*(?:ext\.?|extension|x)\s*(?P<extension>[0-9]{1,6}))?",
    re.IGNORECASE,
)
PHONE_DIGITS = (7, 15)  # E.164 allows at most 15 digits
PHONE_MAX_LENGTH = 40
PHONE_TOO_LONG = f"A phone number has at most {PHONE_MAX_LENGTH} characters."
PHONE_FORMAT_MESSAGE = (
    "Enter a phone number in digits, with spaces, +, -, ( ) or dots if you like, "
    "and an extension such as “ext. 204” if needed. Letters cannot be dialled."
)
PHONE_LENGTH_MESSAGE = (
    f"A phone number has {PHONE_DIGITS[0]} to {PHONE_DIGITS[1]} digits, not counting the extension."
)


def clean_phone(text: str) -> str:
    """A phone number as stored ("(555) 010-0200 ext. 12"); "" for none.

    :raises ValueError: with a message for the person, if it cannot be dialled.
    """
    text = " ".join((text or "").split())
    if not text:
        return ""
    match = _PHONE.fullmatch(text)
    if match is None:
        raise ValueError(PHONE_FORMAT_MESSAGE)
    digits = re.sub(r"\D", "", match["number"])
    if not PHONE_DIGITS[0] <= len(digits) <= PHONE_DIGITS[1]:
        raise ValueError(PHONE_LENGTH_MESSAGE)
    number = match["number"].strip()
    phone = f"{number} ext. {match['extension']}" if match["extension"] else number
    if len(phone) > PHONE_MAX_LENGTH:
        raise ValueError(PHONE_TOO_LONG)
    return phone


def tel_href(phone: str | None) -> str:
    """A phone number as typed ("(555) 010-0177 ext. 12") as a ``tel:`` link (RFC 3966);
    "" if it is not a number a phone can dial."""
    match = _PHONE.fullmatch((phone or "").strip())
    if match is None:
        return ""
    number = re.sub(r"[^0-9+]", "", match["number"])
    if not PHONE_DIGITS[0] <= len(number.lstrip("+")) <= PHONE_DIGITS[1]:
        return ""
    return f"tel:{number}" + (f";ext={match['extension']}" if match["extension"] else "")


class Site(db.Model):
    """A clinic location with its own IANA time zone, phone number, locale and weight unit."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint(f"weight_unit IN {tuple(WEIGHT_UNITS)!r}", name="weight_unit_known"),
        CheckConstraint("supervision_ratio >= 1", name="supervision_ratio_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: IANA name such as ``America/New_York``; sessions are shown in this zone.
    timezone: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(Text, default="")
    #: The number patients call about their group ("" if none given), as :func:`clean_phone`
    #: leaves it.
    phone: Mapped[str] = mapped_column(String(PHONE_MAX_LENGTH), default="", server_default="")
    #: "kg" or "lb": the unit weights are shown and entered in at this site.
    weight_unit: Mapped[str] = mapped_column(String(2), default=KILOGRAMS, server_default=KILOGRAMS)
    #: CLDR locale code ("en_US", "en_GB", "es_US"): the words and clock of dates and times.
    locale: Mapped[str] = mapped_column(
        String(16), default=DEFAULT_LOCALE, server_default=DEFAULT_LOCALE
    )
    #: Residents one precepting attending may supervise at once in a session.
    supervision_ratio: Mapped[int] = mapped_column(Integer, default=4, server_default="4")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def phone_href(self) -> str:
        """The clinic's number as a ``tel:`` link, or "" if there is none."""
        return tel_href(self.phone)

    @property
    def address_line(self) -> str:
        """The street address on one line: "12 Main St, Springfield"."""
        lines = (line.strip().rstrip(",") for line in (self.address or "").splitlines())
        return ", ".join(line for line in lines if line)

    @property
    def weight_unit_label(self) -> str:
        return WEIGHT_UNITS.get(self.weight_unit, WEIGHT_UNITS[KILOGRAMS])

    @property
    def locale_label(self) -> str:
        return localtime.LOCALES.get(self.locale, self.locale)

    @property
    def zone_name(self) -> str:
        """The time zone as people say it ("Eastern Time")."""
        return localtime.zone_name(self)

    def when(self, instant: datetime | None) -> str:
        """An instant in this site's words: "Tue 12 Jan 2027, 5:00 PM"."""
        return localtime.when(instant, self)

    def clock(self, instant: datetime | None) -> str:
        """The time of day here: "5:00 PM" or "17:00"."""
        return localtime.clock(instant, self)

    def day(self, moment: datetime | date | None) -> str:
        """The day here, in words: "Tuesday 12 January"."""
        return localtime.day(moment, self)

    def __repr__(self) -> str:
        return f"<Site {self.id} {self.name!r}>"
