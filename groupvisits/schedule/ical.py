"""iCalendar (RFC 5545) files of sessions, as pure functions of their data.

Events carry no condition or diagnosis: their summary is the group's neutral
calendar name. Every TZID used has a VTIMEZONE whose rules cover the dates of
the file's events (a zone built for 1970–2038 is misread by some parsers).
The LOCATION of a session that meets at the clinic is the room, the site and its
street address, so that a phone's map finds it; a reader who may not see the room
(see ``permissions.can_see_meeting_details``) gets the site and its address only.
"""

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event, Timezone

from groupvisits.groups.models import VIRTUAL
from groupvisits.schedule.models import GroupSession

PRODID = "-//GroupVisits//Group visit calendar//EN"


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


def session_event(
    group_session: GroupSession,
    *,
    domain: str,
    stamp: datetime,
    url: str | None = None,
    with_details: bool = True,
    roles: Sequence[str] = (),
) -> Event:
    """The VEVENT of one session, in its site's time zone.

    :param with_details: the reader may see the room and the video link; without them
        the event still says at which site the group meets, and links to its page.
    :param roles: the reader's team roles in the session (labels), named in the description.
    """
    group = group_session.group
    event = Event()
    event.add("uid", session_uid(group_session, domain))
    event.add("dtstamp", stamp)
    event.add("last-modified", group_session.updated_at)
    event.add("dtstart", group_session.local_start)
    event.add("dtend", group_session.local_end)
    event.add("summary", group.calendar_name or "Group visit")
    event.add("sequence", group_session.sequence)
    if group_session.is_cancelled:
        event.add("status", "CANCELLED")
        description = "This group visit is cancelled."
    else:
        event.add("status", "CONFIRMED")
        description = "Group visit at your clinic. Details are in GroupVisits."
    if roles:
        description += "\nYour role: " + ", ".join(roles)
    event.add("description", description)
    location = session_location(group_session, with_room=with_details)
    if location:
        event.add("location", location)
    if with_details and group_session.link:
        event.add("url", group_session.link)
    elif url:
        event.add("url", url)
    event.add("transp", "OPAQUE")
    return event


def build_calendar(
    sessions: Iterable[GroupSession],
    *,
    name: str,
    domain: str,
    stamp: datetime,
    url_for_session=None,
    details_withheld: Collection[int] = (),
    roles_by_session: Mapping[int, Sequence[str]] | None = None,
) -> bytes:
    """A complete VCALENDAR of ``sessions`` with one VTIMEZONE per time zone used.

    :param details_withheld: ids of groups whose room and video link the reader may not see.
    :param roles_by_session: the reader's team roles (labels) by session id.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
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
            )
        )
        first, last = spans.get(tzid, (None, None))
        day = group_session.local_start.date()
        spans[tzid] = (min(first or day, day), max(last or day, day))
    for tzid, (first, last) in sorted(spans.items()):
        calendar.add_component(timezone_component(tzid, first, last))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def timezone_component(tzid: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE for ``tzid`` whose rules span the events, with a year to spare."""
    return Timezone.from_tzid(
        tzid,
        first_date=first - timedelta(days=366),
        last_date=last + timedelta(days=366),
    )
