"""iCalendar (RFC 5545) files of sessions, as pure functions of their data.

Events carry no condition or diagnosis: their summary is the group's neutral
calendar name. Every TZID used has a VTIMEZONE whose rules cover the dates of
the file's events (a zone built for 1970–2038 is misread by some parsers).
The LOCATION of a session that meets at the clinic is the room, the site and its
street address, so that a phone's map finds it; a reader who may not see the room
(see ``permissions.can_see_meeting_details``) gets the site and its address only.

The VTIMEZONEs come from the icalendar library. The events, a dozen plain properties
each, are written here: a feed holds hundreds of them, and building each as an
icalendar ``Event`` cost about 0.3 ms, most of a feed's time. They are written the
way icalendar writes them (same property order, TEXT escaping and line folding), and
the tests read every file back with two independent parsers.
"""

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Timezone, vDatetime

from groupvisits.groups.models import VIRTUAL
from groupvisits.schedule.models import CANCELLED, GroupSession

PRODID = "-//GroupVisits//Group visit calendar//EN"
#: RFC 5545 §3.1: content lines SHOULD NOT be longer than 75 octets; folded before that.
FOLD_LIMIT = 75
CRLF = "\r\n"


def session_uid(group_session: GroupSession, domain: str) -> str:
    """A UID that never changes for the life of the session."""
    return f"group-session-{group_session.id}@{domain}"


def session_location(group_session: GroupSession, *, with_room: bool = True) -> str:
    """Where a session meets: "Community room, Riverside Clinic, 12 Main St, Springfield".

    A virtual group's sessions meet at no street address ("" unless a room is given).
    """
    group = group_session.group
    room = group_session.place if with_room else ""
    if group.modality == VIRTUAL:
        return room
    site = group.site
    return ", ".join(part for part in (room, site.name, site.address_line) if part)


def escape_text(text: str) -> str:
    """A TEXT value escaped as RFC 5545 §3.3.11 says (and as icalendar escapes it)."""
    return (
        text.replace(r"\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", r"\;")
        .replace(",", r"\,")
        .replace("\r\n", r"\n")
        .replace("\n", r"\n")
        .replace("\r", r"\n")
    )


def fold(line: str) -> str:
    """A content line folded before 75 octets, never inside a UTF-8 character or an escape."""
    if len(line) < FOLD_LIMIT and (line.isascii() or len(line.encode()) < FOLD_LIMIT):
        return line
    if line.isascii():
        return _fold_ascii(line)
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = 1 if char < "\x80" else len(char.encode())
        if current and size + width >= FOLD_LIMIT:
            # Keep a backslash (TEXT) or caret (RFC 6868) escape whole on the next line.
            carried = current.pop() if len(current) > 1 and current[-1] in "\\^" else ""
            parts.append("".join(current))
            current = [carried] if carried else []
            size = len(carried)
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def _fold_ascii(line: str) -> str:
    """:func:`fold` for a line of one-octet characters: slices of 74, by the same rules."""
    width = FOLD_LIMIT - 1
    parts, start = [], 0
    while len(line) - start > width:
        cut = start + width
        if line[cut - 1] in "\\^":
            cut -= 1  # the escape starts the next line
        parts.append(line[start:cut])
        start = cut
    parts.append(line[start:])
    return "\r\n ".join(parts)


def _stamp(moment: datetime) -> str:
    """A DATE-TIME value in UTC: ``20270112T170000Z``."""
    return f"{moment:%Y%m%dT%H%M%S}Z"


@functools.lru_cache(maxsize=64)
def _written_in_utc(tzid: str) -> bool:
    """Whether icalendar writes this zone's times in UTC ("...Z", no TZID), as for "UTC"."""
    return vDatetime(datetime(2000, 1, 1, tzinfo=ZoneInfo(tzid))).to_ical().endswith(b"Z")


def _local_time(name: str, instant: datetime, tzid: str) -> str:
    """``DTSTART;TZID=America/New_York:20270112T170000`` (or in UTC for a UTC zone)."""
    if _written_in_utc(tzid):
        return f"{name}:{_stamp(instant.astimezone(ZoneInfo(tzid)))}"
    local = instant.astimezone(ZoneInfo(tzid))
    quoted = f'"{tzid}"' if any(c in tzid for c in ':;,"') else tzid
    return f"{name};TZID={quoted}:{local:%Y%m%dT%H%M%S}"


def session_event(
    group_session: GroupSession,
    *,
    domain: str,
    stamp: datetime,
    url: str | None = None,
    with_details: bool = True,
    roles: Sequence[str] = (),
    agenda: Sequence[str] = (),
) -> str:
    """The VEVENT of one session, in its site's time zone, as folded content lines.

    :param with_details: the reader may see the room and the video link; without them
        the event still says at which site the group meets, and links to its page.
    :param roles: the reader's team roles in the session (labels), named in the description.
    :param agenda: the titles of the session's published agenda, listed in the description
        (titles only: never who put a topic forward, nor what anyone wrote about it).
    """
    group = group_session.group
    tzid = group.site.timezone
    cancelled = group_session.status == CANCELLED
    if cancelled:
        description = "This group visit is cancelled."
    else:
        description = "Group visit at your clinic. Details are in GroupVisits."
    if roles:
        description += "\nYour role: " + ", ".join(roles)
    if agenda and not cancelled:
        description += "\nAgenda:\n" + "\n".join(f"- {title}" for title in agenda)
    # icalendar's order: its canonical properties first, then the others alphabetically.
    lines = [
        "BEGIN:VEVENT",
        "SUMMARY:" + escape_text(group.calendar_name or "Group visit"),
        _local_time("DTSTART", group_session.starts_at, tzid),
        _local_time("DTEND", group_session.ends_at, tzid),
        "DTSTAMP:" + _stamp(stamp),
        "UID:" + escape_text(session_uid(group_session, domain)),
        f"SEQUENCE:{group_session.sequence}",
        "DESCRIPTION:" + escape_text(description),
    ]
    if group_session.updated_at is not None:
        lines.append("LAST-MODIFIED:" + _stamp(group_session.updated_at))
    location = session_location(group_session, with_room=with_details)
    if location:
        lines.append("LOCATION:" + escape_text(location))
    lines.append("STATUS:" + ("CANCELLED" if cancelled else "CONFIRMED"))
    lines.append("TRANSP:OPAQUE")
    link = group_session.link if with_details else None
    if link or url:
        lines.append("URL:" + (link or url))
    lines.append("END:VEVENT")
    return CRLF.join(fold(line) for line in lines) + CRLF


def build_calendar(
    sessions: Iterable[GroupSession],
    *,
    name: str,
    domain: str,
    stamp: datetime,
    url_for_session=None,
    details_withheld: Collection[int] = (),
    roles_by_session: Mapping[int, Sequence[str]] | None = None,
    agenda_by_session: Mapping[int, Sequence[str]] | None = None,
) -> bytes:
    """A complete VCALENDAR of ``sessions`` with one VTIMEZONE per time zone used.

    :param details_withheld: ids of groups whose room and video link the reader may not see.
    :param roles_by_session: the reader's team roles (labels) by session id.
    :param agenda_by_session: published agenda titles by session id (see ``session_event``).
    """
    events, spans = [], {}
    for group_session in sessions:
        tzid = group_session.group.site.timezone
        events.append(
            session_event(
                group_session,
                domain=domain,
                stamp=stamp,
                url=url_for_session(group_session) if url_for_session else None,
                with_details=group_session.group_id not in details_withheld,
                roles=(roles_by_session or {}).get(group_session.id, ()),
                agenda=(agenda_by_session or {}).get(group_session.id, ()),
            )
        )
        day = group_session.starts_at.astimezone(ZoneInfo(tzid)).date()
        first, last = spans.get(tzid, (day, day))
        spans[tzid] = (min(first, day), max(last, day))
    header = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:" + escape_text(PRODID),
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        # An X- property is written as it is (as icalendar does), on one line.
        "X-WR-CALNAME:" + " ".join(name.splitlines()),
    ]
    parts = [CRLF.join(fold(line) for line in header) + CRLF]
    parts += [_timezone_text(tzid, first, last) for tzid, (first, last) in sorted(spans.items())]
    parts += events
    parts.append("END:VCALENDAR" + CRLF)
    return "".join(parts).encode()


def timezone_component(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE for ``tzid`` whose rules span the events, with a year to spare."""
    return Timezone.from_tzid(
        tzid,
        first_date=first - timedelta(days=366),
        last_date=last + timedelta(days=366),
    )


@functools.lru_cache(maxsize=128)
def _timezone_text(tzid: str, first: date, last: date) -> str:
    """:func:`timezone_component` written out; the same for every feed of the same span."""
    return timezone_component(tzid, first, last).to_ical().decode()
