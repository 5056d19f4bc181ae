"""iCalendar files of sessions: times across daylight saving, time zones, UIDs, privacy, format.

Each file is read by two independent parsers: icalendar (with recurring-ical-events
to expand it) and vobject, which takes its offsets from the file's own VTIMEZONE.
The expected instants are written out by hand from the clock-change rules, not
computed with the same zone database the app uses.
"""

from datetime import UTC, date, datetime, time, timedelta

import recurring_ical_events
import vobject
from icalendar import Calendar

from groupvisits.schedule import ical
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession

DOMAIN = "calendar.test.example.org"
STAMP = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
YEAR = date.today().year + 1
WEEKLY_MONDAY = "FREQ=WEEKLY;BYDAY=MO"


def nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def last_sunday(year: int, month: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


#: United States: summer time from the second Sunday of March to the first Sunday of November.
US_SPRING, US_AUTUMN = nth_sunday(YEAR, 3, 2), nth_sunday(YEAR, 11, 1)
#: United Kingdom: from the last Sunday of March to the last Sunday of October.
UK_SPRING, UK_AUTUMN = last_sunday(YEAR, 3), last_sunday(YEAR, 10)
SPRING_MONDAY = US_SPRING + timedelta(days=1)


def sessions_of(db, group) -> list[GroupSession]:
    return list(
        db.session.scalars(
            db.select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        )
    )


def build(sessions, name="Group visits") -> bytes:
    return ical.build_calendar(sessions, name=name, domain=DOMAIN, stamp=STAMP)


def icalendar_events(body: bytes) -> dict[str, dict]:
    """UID → (start, end, status, sequence) as icalendar and recurring-ical-events see them."""
    calendar = Calendar.from_ical(body)
    events = recurring_ical_events.of(calendar).between(datetime(1990, 1, 1), datetime(2100, 1, 1))
    found = {}
    for event in events:
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        assert start.tzinfo is not None and end.tzinfo is not None
        found[str(event["UID"])] = {
            "start": start.astimezone(UTC),
            "end": end.astimezone(UTC),
            "status": str(event.get("STATUS")),
            "sequence": int(event["SEQUENCE"]),
            "summary": str(event["SUMMARY"]),
        }
    return found


def vobject_events(body: bytes) -> dict[str, dict]:
    """UID → start, end, status and location as vobject reads them (with the file's VTIMEZONE)."""
    calendar = vobject.readOne(body.decode("utf-8"))
    found = {}
    for event in calendar.vevent_list:
        start, end = event.dtstart.value, event.dtend.value
        assert start.tzinfo is not None and end.tzinfo is not None
        found[event.uid.value] = {
            "start": start.astimezone(UTC),
            "end": end.astimezone(UTC),
            "status": event.status.value,
            "location": event.location.value if hasattr(event, "location") else None,
            "url": event.url.value if hasattr(event, "url") else None,
        }
    return found


def expected_utc(day: date, local_hour: int, summer: bool, standard_offset: int) -> datetime:
    """The UTC instant of ``local_hour`` on ``day`` in a zone ``standard_offset`` hours from UTC."""
    offset = standard_offset + (1 if summer else 0)
    return datetime.combine(day, time(local_hour), UTC) - timedelta(hours=offset)


def weekly_group(create_group, site, first_monday: date, last_monday: date):
    return create_group(
        site,
        rule=WEEKLY_MONDAY,
        start=first_monday,
        until=last_monday,
        since=first_monday,
        at=time(17, 0),
    )


# Times across daylight saving


def test_new_york_sessions_stay_at_17_local_across_both_clock_changes(db, create_group, site):
    first, last = US_SPRING - timedelta(days=6), US_AUTUMN + timedelta(days=1)
    group = weekly_group(create_group, site, first, last)
    sessions = sessions_of(db, group)
    body = build(sessions)

    expected = {
        ical.session_uid(s, DOMAIN): expected_utc(
            s.local_start.date(), 17, US_SPRING <= s.local_start.date() < US_AUTUMN, -5
        )
        for s in sessions
    }
    assert len(expected) == (last - first).days // 7 + 1
    for parsed in (icalendar_events(body), vobject_events(body)):
        assert {uid: event["start"] for uid, event in parsed.items()} == expected
        assert all(event["end"] - event["start"] == timedelta(hours=2) for event in parsed.values())

    # The four sessions around the changes, spelt out.
    starts = sorted(expected.values())
    assert starts[0] == datetime.combine(first, time(22, 0), UTC)
    assert starts[1] == datetime.combine(first + timedelta(days=7), time(21, 0), UTC)
    assert starts[-2] == datetime.combine(last - timedelta(days=7), time(21, 0), UTC)
    assert starts[-1] == datetime.combine(last, time(22, 0), UTC)


def test_london_sessions_stay_at_17_local_across_both_clock_changes(db, create_group, create_site):
    london = create_site(name="Thames Clinic", timezone="Europe/London")
    first, last = UK_SPRING - timedelta(days=6), UK_AUTUMN + timedelta(days=1)
    group = weekly_group(create_group, london, first, last)
    sessions = sessions_of(db, group)
    body = build(sessions)

    expected = {
        ical.session_uid(s, DOMAIN): expected_utc(
            s.local_start.date(), 17, UK_SPRING <= s.local_start.date() < UK_AUTUMN, 0
        )
        for s in sessions
    }
    for parsed in (icalendar_events(body), vobject_events(body)):
        assert {uid: event["start"] for uid, event in parsed.items()} == expected
    starts = sorted(expected.values())
    assert starts[0] == datetime.combine(first, time(17, 0), UTC)
    assert starts[1] == datetime.combine(first + timedelta(days=7), time(16, 0), UTC)
    assert starts[-2] == datetime.combine(last - timedelta(days=7), time(16, 0), UTC)
    assert starts[-1] == datetime.combine(last, time(17, 0), UTC)


def test_a_file_with_two_zones_has_a_vtimezone_for_each_covering_its_events(
    db, create_group, site, create_site
):
    london = create_site(name="Thames Clinic", timezone="Europe/London")
    new_york = weekly_group(
        create_group, site, US_SPRING - timedelta(days=6), US_AUTUMN + timedelta(days=1)
    )
    thames = weekly_group(
        create_group, london, UK_SPRING - timedelta(days=6), UK_AUTUMN + timedelta(days=1)
    )
    sessions = sessions_of(db, new_york) + sessions_of(db, thames)
    calendar = Calendar.from_ical(build(sessions))

    zones = {str(zone["TZID"]): zone for zone in calendar.walk("VTIMEZONE")}
    assert set(zones) == {"America/New_York", "Europe/London"}
    assert len(calendar.walk("VTIMEZONE")) == 2
    for event in calendar.walk("VEVENT"):
        assert event["DTSTART"].params["TZID"] in zones
        assert event["DTEND"].params["TZID"] in zones
    for tzid, zone_sessions in (
        ("America/New_York", sessions_of(db, new_york)),
        ("Europe/London", sessions_of(db, thames)),
    ):
        transitions = zones[tzid].get_transitions()[0]
        first_event = min(s.starts_at for s in zone_sessions).replace(tzinfo=None)
        last_event = max(s.starts_at for s in zone_sessions).replace(tzinfo=None)
        assert transitions[0] <= first_event
        assert transitions[-1] >= last_event
        # Both clock changes of the events' year are in the zone's rules.
        change_days = {moment.date() for moment in transitions}
        spring, autumn = (
            (US_SPRING, US_AUTUMN)
            if tzid == "America/New_York"
            else (
                UK_SPRING,
                UK_AUTUMN,
            )
        )
        assert {spring, autumn} <= change_days


def test_a_zone_of_a_single_session_still_covers_it_in_vobject(db, create_group, create_site):
    london = create_site(name="Thames Clinic", timezone="Europe/London")
    day = UK_AUTUMN - timedelta(days=6)  # the last Monday of summer time
    group = weekly_group(create_group, london, day, day)
    [only] = sessions_of(db, group)
    body = build([only])
    assert vobject_events(body)[ical.session_uid(only, DOMAIN)]["start"] == datetime.combine(
        day, time(16, 0), UTC
    )


# Identity, changes, status


def test_uid_is_derived_from_the_session_id_and_unique(db, create_group, site):
    group = create_group(
        site, rule=WEEKLY_MONDAY, start=US_SPRING, until=US_SPRING + timedelta(days=28)
    )
    sessions = sessions_of(db, group)
    parsed = vobject_events(build(sessions))
    assert set(parsed) == {f"group-session-{s.id}@{DOMAIN}" for s in sessions}
    assert len(parsed) == len(sessions) == 4


def test_moving_a_session_keeps_its_uid_and_raises_its_sequence(
    db, create_group, site, coordinator
):
    group = create_group(
        site, rule=WEEKLY_MONDAY, start=US_SPRING, until=US_SPRING + timedelta(days=14)
    )
    target = sessions_of(db, group)[1]
    uid = ical.session_uid(target, DOMAIN)
    before = icalendar_events(build(sessions_of(db, group)))[uid]
    assert before["sequence"] == 0

    schedule.move_session(
        target,
        local_start=datetime.combine(target.local_start.date() + timedelta(days=1), time(18, 30)),
        length_minutes=120,
        location="Room 4",
        video_url="",
        theme="",
        notes="",
        actor=coordinator,
    )
    db.session.commit()
    after_body = build(sessions_of(db, group))
    after = icalendar_events(after_body)[uid]
    assert after["sequence"] == 1
    moved_day = target.local_start.date()
    assert after["start"] == datetime.combine(moved_day, time(22, 30), UTC) != before["start"]
    assert vobject_events(after_body)[uid]["location"] == "Room 4, Eastside Clinic"

    schedule.cancel_session(target, "Room unavailable", actor=coordinator)
    db.session.commit()
    cancelled_body = build(sessions_of(db, group))
    assert icalendar_events(cancelled_body)[uid]["sequence"] == 2
    assert icalendar_events(cancelled_body)[uid]["status"] == "CANCELLED"
    assert vobject_events(cancelled_body)[uid]["status"] == "CANCELLED"
    # The others are untouched and confirmed.
    others = [e for u, e in icalendar_events(cancelled_body).items() if u != uid]
    assert others and all(e["status"] == "CONFIRMED" and e["sequence"] == 0 for e in others)


def test_event_has_dtstamp_in_utc_and_the_stamp_given(db, create_group, site):
    group = create_group(site, rule=WEEKLY_MONDAY, start=SPRING_MONDAY, until=SPRING_MONDAY)
    calendar = Calendar.from_ical(build(sessions_of(db, group)))
    [event] = calendar.walk("VEVENT")
    assert event["DTSTAMP"].dt == STAMP
    assert b"DTSTAMP:20261120T093000Z" in build(sessions_of(db, group))


# Place, privacy, format


def test_in_person_sessions_carry_a_location_and_virtual_ones_a_url(db, create_group, site):
    in_person = create_group(site, rule=WEEKLY_MONDAY, start=SPRING_MONDAY, until=SPRING_MONDAY)
    virtual = create_group(
        site,
        rule=WEEKLY_MONDAY,
        start=SPRING_MONDAY,
        until=SPRING_MONDAY,
        modality="virtual",
        location="",
        video_url="https://video.example.org/room/7",
    )
    [room] = sessions_of(db, in_person)
    [online] = sessions_of(db, virtual)
    parsed = vobject_events(build([room, online]))
    assert parsed[ical.session_uid(room, DOMAIN)]["location"] == "Community room, Eastside Clinic"
    assert parsed[ical.session_uid(online, DOMAIN)]["location"] is None
    assert parsed[ical.session_uid(online, DOMAIN)]["url"] == "https://video.example.org/room/7"


RIVERSIDE_ADDRESS = "12 Main St\nSpringfield"
RIVERSIDE_LOCATION = "Community room, Riverside Community Clinic, 12 Main St, Springfield"


def locations(body: bytes) -> dict[str, set]:
    """UID → LOCATION as icalendar reads it and as vobject reads it (each must agree)."""
    by_icalendar = {
        str(event["UID"]): str(event.get("LOCATION")) if "LOCATION" in event else None
        for event in Calendar.from_ical(body).walk("VEVENT")
    }
    by_vobject = {uid: event["location"] for uid, event in vobject_events(body).items()}
    assert by_icalendar == by_vobject
    return by_vobject


def test_location_names_the_room_the_site_and_its_street_address(db, create_group, create_site):
    riverside = create_site(name="Riverside Community Clinic", address=RIVERSIDE_ADDRESS)
    hybrid = create_group(
        riverside,
        rule=WEEKLY_MONDAY,
        start=SPRING_MONDAY,
        until=SPRING_MONDAY,
        modality="hybrid",
        video_url="https://video.example.org/room/8",
    )
    [group_session] = sessions_of(db, hybrid)
    body = build([group_session])
    assert locations(body) == {ical.session_uid(group_session, DOMAIN): RIVERSIDE_LOCATION}
    assert vobject_events(body)[ical.session_uid(group_session, DOMAIN)]["url"] == (
        "https://video.example.org/room/8"
    )


def test_a_virtual_session_gives_no_street_address(db, create_group, create_site):
    riverside = create_site(name="Riverside Community Clinic", address=RIVERSIDE_ADDRESS)
    virtual = create_group(
        riverside,
        rule=WEEKLY_MONDAY,
        start=SPRING_MONDAY,
        until=SPRING_MONDAY,
        modality="virtual",
        location="",
        video_url="https://video.example.org/room/9",
    )
    body = build(sessions_of(db, virtual))
    assert set(locations(body).values()) == {None}
    assert b"Main St" not in body


def test_a_reader_kept_from_the_room_gets_the_site_and_address_but_no_room_or_link(
    db, create_group, create_site
):
    riverside = create_site(name="Riverside Community Clinic", address=RIVERSIDE_ADDRESS)
    hybrid = create_group(
        riverside,
        rule=WEEKLY_MONDAY,
        start=SPRING_MONDAY,
        until=SPRING_MONDAY,
        modality="hybrid",
        location="Room 214, second floor",
        video_url="https://video.example.org/j/secret-room-8812",
    )
    [group_session] = sessions_of(db, hybrid)
    page = "https://gv.example.org/sessions/1"
    body = ical.build_calendar(
        [group_session],
        name="Group visits",
        domain=DOMAIN,
        stamp=STAMP,
        url_for_session=lambda _: page,
        details_withheld={hybrid.id},
    )
    uid = ical.session_uid(group_session, DOMAIN)
    assert locations(body) == {uid: "Riverside Community Clinic, 12 Main St, Springfield"}
    assert vobject_events(body)[uid]["url"] == page
    assert b"Room 214" not in body and b"secret-room" not in body


def test_summary_is_the_neutral_calendar_name_and_no_condition_leaves(db, create_group, site):
    group = create_group(
        site,
        rule=WEEKLY_MONDAY,
        start=SPRING_MONDAY,
        until=SPRING_MONDAY + timedelta(days=7),
        name="Monday diabetes group",
        calendar_name="Monday evening group",
        focus="type 2 diabetes",
        description="For people living with diabetes.",
    )
    sessions = sessions_of(db, group)
    sessions[0].theme, sessions[0].notes = "Diabetes and feet", "Bring the diabetes leaflets"
    db.session.commit()
    body = build(sessions, name=group.calendar_name)
    assert {e["summary"] for e in icalendar_events(body).values()} == {"Monday evening group"}
    assert "diabet" not in body.decode("utf-8").lower()


def test_long_lines_are_folded_at_75_octets_and_end_with_crlf(db, create_group, site):
    place = (
        "Salle de réunion communautaire — bâtiment Émile-Zola, troisième étage, "
        "porte 12, près de l’entrée principale côté jardin"
    )
    group = create_group(
        site, rule=WEEKLY_MONDAY, start=SPRING_MONDAY, until=SPRING_MONDAY, location=place
    )
    body = build(sessions_of(db, group))
    assert len(place.encode("utf-8")) > 75
    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert all(len(line) <= 75 for line in lines), [line for line in lines if len(line) > 75]
    for line in lines:
        line.decode("utf-8")  # no character is cut in two by a fold
    assert any(line.startswith(b" ") for line in lines)
    [event] = vobject_events(body).values()
    assert event["location"] == f"{place}, Eastside Clinic"
    [parsed] = Calendar.from_ical(body).walk("VEVENT")
    assert str(parsed["LOCATION"]) == f"{place}, Eastside Clinic"


def test_an_empty_list_of_sessions_is_still_a_valid_calendar(app):
    body = build([])
    calendar = Calendar.from_ical(body)
    assert calendar.walk("VEVENT") == [] and calendar.walk("VTIMEZONE") == []
    assert str(calendar["VERSION"]) == "2.0"
    assert vobject.readOne(body.decode("utf-8")).name == "VCALENDAR"
