"""Calendar feeds over HTTP: a person's secret subscription, a group's staff feed, one session.

Feeds are read by two independent parsers: icalendar (expanded with
recurring-ical-events) and vobject, which takes offsets from the file's own
VTIMEZONE. Expected instants are spelt out from the clock-change rules.
"""

import hashlib
import html
import re
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import recurring_ical_events
import vobject
from icalendar import Calendar
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.roster import services as roster
from groupvisits.roster.models import Membership
from groupvisits.schedule.models import CalendarFeed, GroupSession

ICS_TYPE = "text/calendar; charset=utf-8"
YEAR = date.today().year + 1
WEEKLY_MONDAY = "FREQ=WEEKLY;BYDAY=MO"
FEED_PATH = re.compile(r'id="feed-url"[^>]*value="https?://[^/"]+(/feeds/[^"/]+\.ics)"')
WEBCAL = re.compile(r'href="(webcal://[^"]+)"')
TOKEN = re.compile(r"/feeds/([^/]+)\.ics$")


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


# Helpers


def subscribe(client) -> str:
    """Create (or, confirmed, replace) the signed-in person's feed; return its path."""
    response = client.post_form("/calendar/feed", {"confirmed": "yes"})
    assert response.status_code == 302
    return feed_path(client)


def turn_off(client):
    """Turn the signed-in person's feed off, as the confirmation page does."""
    return client.post_form("/calendar/feed/revoke", {"confirmed": "yes"})


def feed_path(client) -> str:
    page = client.get("/calendar").get_data(as_text=True)
    match = FEED_PATH.search(page)
    assert match, page
    return match.group(1)


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def fetch(app, path: str):
    """Read a feed as a calendar program would: no cookies, no sign-in."""
    return app.test_client().get(path)


def add_member(db, group, patient, status="active") -> Membership:
    membership = Membership(group=group, patient=patient, status=status)
    db.session.add(membership)
    db.session.commit()
    return membership


def sessions_of(db, group) -> list[GroupSession]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        )
    )


def uid_of(group_session) -> str:
    return f"group-session-{group_session.id}@groupvisits.local"


def by_icalendar(body: bytes) -> dict[str, dict]:
    calendar = Calendar.from_ical(body)
    events = recurring_ical_events.of(calendar).between(datetime(1990, 1, 1), datetime(2100, 1, 1))
    found = {}
    for event in events:
        assert event["DTSTART"].dt.tzinfo is not None
        found[str(event["UID"])] = {
            "start": event["DTSTART"].dt.astimezone(UTC),
            "end": event["DTEND"].dt.astimezone(UTC),
            "sequence": int(event["SEQUENCE"]),
            "status": str(event["STATUS"]),
            "summary": str(event["SUMMARY"]),
            "location": str(event.get("LOCATION", "")),
            "url": str(event.get("URL", "")),
        }
    return found


def by_vobject(body: bytes) -> dict[str, dict]:
    calendar = vobject.readOne(body.decode("utf-8"))
    found = {}
    for event in calendar.contents.get("vevent", []):
        assert event.dtstart.value.tzinfo is not None
        found[event.uid.value] = {
            "start": event.dtstart.value.astimezone(UTC),
            "sequence": int(event.sequence.value),
            "status": event.status.value,
        }
    return found


def weekly_mondays(create_group, site, first: date, last: date, **fields):
    return create_group(site, rule=WEEKLY_MONDAY, start=first, until=last, since=first, **fields)


@pytest.fixture
def london(create_site):
    return create_site(name="Thames Clinic", timezone="Europe/London")


@pytest.fixture
def new_york_group(create_group, site):
    """Mondays at 17:00 New York time, from the week before spring's change to after autumn's."""
    return weekly_mondays(
        create_group, site, US_SPRING - timedelta(days=6), US_AUTUMN + timedelta(days=1)
    )


@pytest.fixture
def london_group(create_group, london):
    return weekly_mondays(
        create_group, london, UK_SPRING - timedelta(days=6), UK_AUTUMN + timedelta(days=1)
    )


@pytest.fixture
def member(db, patient, new_york_group):
    add_member(db, new_york_group, patient)
    return patient


# Times across daylight saving, as two parsers read the feed


def test_patient_feed_gives_new_york_sessions_at_21z_in_summer_and_22z_in_winter(
    app, db, member, patient_client, new_york_group
):
    response = fetch(app, subscribe(patient_client))
    assert response.status_code == 200
    body = response.data

    expected = {}
    for group_session in sessions_of(db, new_york_group):
        day = group_session.local_start.date()
        summer = US_SPRING <= day < US_AUTUMN
        expected[uid_of(group_session)] = datetime.combine(day, time(21 if summer else 22, 0), UTC)
    assert len(expected) >= 30
    for parsed in (by_icalendar(body), by_vobject(body)):
        assert {uid: event["start"] for uid, event in parsed.items()} == expected

    monday_before_spring = US_SPRING - timedelta(days=6)
    around_changes = {
        monday_before_spring: time(22),
        US_SPRING + timedelta(days=1): time(21),
        US_AUTUMN - timedelta(days=6): time(21),
        US_AUTUMN + timedelta(days=1): time(22),
    }
    starts = set(by_vobject(body)[uid]["start"] for uid in expected)
    for day, utc_time in around_changes.items():
        assert datetime.combine(day, utc_time, UTC) in starts
    assert all(e["end"] - e["start"] == timedelta(hours=2) for e in by_icalendar(body).values())


def test_patient_feed_gives_london_sessions_at_16z_in_summer_and_17z_in_winter(
    app, db, patient, patient_client, london_group
):
    add_member(db, london_group, patient)
    body = fetch(app, subscribe(patient_client)).data

    expected = {
        uid_of(s): datetime.combine(
            s.local_start.date(),
            time(16 if UK_SPRING <= s.local_start.date() < UK_AUTUMN else 17),
            UTC,
        )
        for s in sessions_of(db, london_group)
    }
    for parsed in (by_icalendar(body), by_vobject(body)):
        assert {uid: event["start"] for uid, event in parsed.items()} == expected
    assert datetime.combine(UK_SPRING - timedelta(days=6), time(17), UTC) in expected.values()
    assert datetime.combine(UK_SPRING + timedelta(days=1), time(16), UTC) in expected.values()
    assert datetime.combine(UK_AUTUMN - timedelta(days=6), time(16), UTC) in expected.values()
    assert datetime.combine(UK_AUTUMN + timedelta(days=1), time(17), UTC) in expected.values()


def test_feed_has_a_vtimezone_for_each_tzid_whose_transitions_cover_the_events(
    app, db, patient, patient_client, new_york_group, london_group
):
    add_member(db, new_york_group, patient)
    add_member(db, london_group, patient)
    calendar = Calendar.from_ical(fetch(app, subscribe(patient_client)).data)

    zones = {str(zone["TZID"]): zone for zone in calendar.walk("VTIMEZONE")}
    events = calendar.walk("VEVENT")
    used = {event["DTSTART"].params["TZID"] for event in events}
    used |= {event["DTEND"].params["TZID"] for event in events}
    assert used == set(zones) == {"America/New_York", "Europe/London"}
    for tzid, group in (("America/New_York", new_york_group), ("Europe/London", london_group)):
        starts = [s.starts_at.replace(tzinfo=None) for s in sessions_of(db, group)]
        transitions = zones[tzid].get_transitions()[0]
        assert transitions[0] <= min(starts)
        assert transitions[-1] >= max(starts)


def test_feed_is_calendar_typed_folded_at_75_octets_with_crlf(
    app, db, patient, patient_client, create_group, site
):
    place = (
        "Salle communautaire — bâtiment Émile-Zola, troisième étage, porte 12, "
        "près de l’entrée côté jardin"
    )
    group = weekly_mondays(
        create_group,
        site,
        US_SPRING + timedelta(days=1),
        US_SPRING + timedelta(days=8),
        location=place,
    )
    add_member(db, group, patient)
    response = fetch(app, subscribe(patient_client))
    assert response.headers["Content-Type"] == ICS_TYPE
    body = response.data
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert not any(b"\n" in line or b"\r" in line for line in lines)
    assert all(len(line) <= 75 for line in lines), [line for line in lines if len(line) > 75]
    for line in lines:
        line.decode("utf-8")
    assert any(line.startswith(b" ") for line in lines)
    assert {e["location"] for e in by_icalendar(body).values()} == {f"{place}, Eastside Clinic"}
    assert len(by_vobject(body)) == 2


# Identity and changes made through the pages


def test_moving_and_cancelling_through_the_pages_keep_the_uid_and_raise_sequence(
    app, db, member, patient_client, coordinator_client, new_york_group
):
    path = subscribe(patient_client)
    first_read = by_icalendar(fetch(app, path).data)
    sessions = sessions_of(db, new_york_group)
    moved, cancelled = sessions[2], sessions[3]
    assert len(set(first_read)) == len(sessions)
    assert first_read[uid_of(moved)]["sequence"] == 0
    assert first_read[uid_of(cancelled)]["status"] == "CONFIRMED"

    new_day = moved.local_start.date() + timedelta(days=1)
    response = coordinator_client.post_form(
        f"/sessions/{moved.id}/edit",
        {
            "date": new_day.isoformat(),
            "start_time": "18:00",
            "length_minutes": "120",
            "location": "Room 5",
            "video_url": "",
            "theme": "",
            "notes": "",
        },
    )
    assert response.status_code == 302
    response = coordinator_client.post_form(
        f"/sessions/{cancelled.id}/cancel", {"reason": "Clinic closed"}
    )
    assert response.status_code == 302

    body = fetch(app, path).data
    for parsed in (by_icalendar(body), by_vobject(body)):
        assert set(parsed) == set(first_read)
        assert parsed[uid_of(moved)]["sequence"] == 1
        assert parsed[uid_of(moved)]["start"] == datetime.combine(new_day, time(22), UTC)
        assert parsed[uid_of(cancelled)]["sequence"] == 1
        assert parsed[uid_of(cancelled)]["status"] == "CANCELLED"
        untouched = set(parsed) - {uid_of(moved), uid_of(cancelled)}
        assert all(parsed[uid]["sequence"] == 0 for uid in untouched)
        assert all(parsed[uid]["status"] == "CONFIRMED" for uid in untouched)
    assert by_icalendar(body)[uid_of(moved)]["location"] == "Room 5, Eastside Clinic"

    restore = coordinator_client.post_form(f"/sessions/{cancelled.id}/restore")
    assert restore.status_code == 302
    again = by_vobject(fetch(app, path).data)
    assert again[uid_of(cancelled)] == {
        "start": first_read[uid_of(cancelled)]["start"],
        "sequence": 2,
        "status": "CONFIRMED",
    }


def test_changing_the_groups_place_raises_the_sequence_of_its_sessions(
    app, db, member, patient_client, coordinator_client, new_york_group
):
    path = subscribe(patient_client)
    before = by_icalendar(fetch(app, path).data)
    group = new_york_group
    response = coordinator_client.post_form(
        f"/groups/{group.id}/edit",
        {
            "site": group.site_id,
            "name": group.name,
            "calendar_name": group.calendar_name,
            "focus": group.focus,
            "description": "",
            "modality": "in_person",
            "location": "Health education room, 2nd floor",
            "video_url": "",
            "length_minutes": "120",
            "min_members": "8",
            "target_members": "12",
            "max_members": "15",
            "census_warning_days": "14",
        },
    )
    assert response.status_code == 302
    after = by_icalendar(fetch(app, path).data)
    assert set(after) == set(before)
    for uid, event in after.items():
        assert event["location"] == "Health education room, 2nd floor, Eastside Clinic"
        assert event["sequence"] > before[uid]["sequence"], uid


def test_closing_the_group_keeps_its_sessions_in_the_feed_as_cancelled(
    app, db, member, patient_client, coordinator_client, new_york_group
):
    path = subscribe(patient_client)
    response = coordinator_client.post_form(
        f"/groups/{new_york_group.id}/status", {"status": "closed", "reason": "Funding ended"}
    )
    assert response.status_code == 302
    parsed = by_vobject(fetch(app, path).data)
    assert len(parsed) == len(sessions_of(db, new_york_group))
    assert {event["status"] for event in parsed.values()} == {"CANCELLED"}
    assert {event["sequence"] for event in parsed.values()} == {1}


# Privacy


def test_feed_summary_is_the_neutral_calendar_name_and_never_the_condition(
    app, db, patient, patient_client, create_group, site
):
    group = weekly_mondays(
        create_group,
        site,
        US_SPRING + timedelta(days=1),
        US_SPRING + timedelta(days=22),
        name="Monday diabetes group",
        calendar_name="Monday evening group",
        focus="type 2 diabetes",
        description="Living well with diabetes.",
    )
    first = sessions_of(db, group)[0]
    first.theme, first.notes = "Diabetes and feet", "Diabetes leaflets"
    db.session.commit()
    add_member(db, group, patient)
    path = subscribe(patient_client)
    body = fetch(app, path).data
    assert {e["summary"] for e in by_icalendar(body).values()} == {"Monday evening group"}
    assert "diabet" not in body.decode("utf-8").lower()
    assert "diabet" not in path.lower()

    download = patient_client.get(f"/sessions/{first.id}/calendar.ics")
    assert download.status_code == 200
    assert "diabet" not in download.get_data(as_text=True).lower()


def test_patient_feed_has_only_their_groups_and_nothing_about_other_members(
    app, db, create_user, create_group, site, member, patient_client, new_york_group
):
    other_group = weekly_mondays(
        create_group, site, US_SPRING + timedelta(days=1), US_SPRING + timedelta(days=29)
    )
    fellow = create_user(
        PATIENT, given_name="Wilhelmina", family_name="Quartermaine", email="wq@home.example.org"
    )
    add_member(db, new_york_group, fellow)
    outsider = create_user(PATIENT, given_name="Bartholomew", family_name="Zanzibar")
    add_member(db, other_group, outsider)

    body = fetch(app, subscribe(patient_client)).data
    assert set(by_icalendar(body)) == {uid_of(s) for s in sessions_of(db, new_york_group)}
    assert not {uid_of(s) for s in sessions_of(db, other_group)} & set(by_vobject(body))
    text = body.decode("utf-8")
    for word in ("Wilhelmina", "Quartermaine", "wq@home", "Bartholomew", "Zanzibar", "Pat", "Ient"):
        assert word not in text
    assert member.email not in text


# Where: the room, the site and its street address


RIVERSIDE_ADDRESS = "12 Main St\nSpringfield"
ROOM = "Room 214, second floor"
VIDEO = "https://video.example.org/j/secret-room-8812"


@pytest.fixture
def riverside_hybrid(db, create_site, create_group, coordinator):
    """A hybrid group at a site with a street address, its agreement published."""
    riverside = create_site(name="Riverside Community Clinic", address=RIVERSIDE_ADDRESS)
    coordinator.sites.append(riverside)
    group = weekly_mondays(
        create_group,
        riverside,
        US_SPRING + timedelta(days=1),
        US_SPRING + timedelta(days=15),
        modality="hybrid",
        location=ROOM,
        video_url=VIDEO,
    )
    roster.publish_agreement(group, "Stays in the group.", actor=coordinator)
    db.session.commit()
    return group


def locations_in(body: bytes) -> set:
    """Every event's LOCATION, as icalendar and vobject both read it."""
    by_icalendar_ = {e["location"] for e in by_icalendar(body).values()}
    calendar = vobject.readOne(body.decode("utf-8"))
    by_vobject_ = {e.location.value for e in calendar.contents.get("vevent", [])}
    assert by_icalendar_ == by_vobject_
    return by_icalendar_


def test_feed_location_gives_the_room_the_site_and_its_street_address(
    app, db, patient, patient_client, riverside_hybrid
):
    add_member(db, riverside_hybrid, patient)
    agreement = roster.current_agreement(riverside_hybrid)
    roster.accept_agreement(agreement, patient, actor=patient)
    db.session.commit()

    body = fetch(app, subscribe(patient_client)).data

    assert locations_in(body) == {f"{ROOM}, Riverside Community Clinic, 12 Main St, Springfield"}
    assert {e["url"] for e in by_icalendar(body).values()} == {VIDEO}


def test_a_member_yet_to_accept_the_agreement_gets_the_site_address_but_no_room_or_link(
    app, db, patient, patient_client, riverside_hybrid
):
    add_member(db, riverside_hybrid, patient)

    body = fetch(app, subscribe(patient_client)).data

    assert len(by_icalendar(body)) == 3
    assert locations_in(body) == {"Riverside Community Clinic, 12 Main St, Springfield"}
    assert ROOM.encode() not in body and b"secret-room" not in body
    assert all("/sessions/" in e["url"] for e in by_icalendar(body).values())


@pytest.mark.parametrize("status", ["waitlisted", "offered"])
def test_a_patient_waiting_or_offered_a_place_gets_no_sessions_of_the_group(
    app, db, patient, patient_client, riverside_hybrid, status
):
    add_member(db, riverside_hybrid, patient, status=status)
    body = fetch(app, subscribe(patient_client)).data
    assert by_icalendar(body) == {}
    assert ROOM.encode() not in body and b"Main St" not in body


def test_staff_feeds_give_the_room_the_site_and_its_address(
    app, db, coordinator, sign_in_as, riverside_hybrid
):
    client = sign_in_as(coordinator)
    token = TOKEN.search(subscribe(client)).group(1)
    expected = {f"{ROOM}, Riverside Community Clinic, 12 Main St, Springfield"}
    own = fetch(app, f"/feeds/{token}.ics").data
    group = fetch(app, f"/feeds/{token}/groups/{riverside_hybrid.id}.ics").data
    assert {e["location"] for e in by_icalendar(own).values() if ROOM in e["location"]} == expected
    assert locations_in(group) == expected


def test_moving_the_site_raises_the_sequence_and_changes_the_location(
    app, db, coordinator, sign_in_as, riverside_hybrid
):
    client = sign_in_as(coordinator)
    token = TOKEN.search(subscribe(client)).group(1)
    path = f"/feeds/{token}/groups/{riverside_hybrid.id}.ics"
    before = by_icalendar(fetch(app, path).data)
    site = riverside_hybrid.site
    response = client.post_form(
        f"/sites/{site.id}/edit",
        {
            "name": site.name,
            "timezone": site.timezone,
            "address": "40 Bridge Rd\nSpringfield",
            "phone": "",
            "weight_unit": "kg",
            "locale": "en_US",
        },
    )
    assert response.status_code == 302
    after = by_icalendar(fetch(app, path).data)
    assert set(after) == set(before)
    for uid, event in after.items():
        assert event["location"] == f"{ROOM}, Riverside Community Clinic, 40 Bridge Rd, Springfield"
        assert event["sequence"] == before[uid]["sequence"] + 1, uid


def test_a_patient_in_no_group_gets_an_empty_feed(app, patient_client, new_york_group):
    body = fetch(app, subscribe(patient_client)).data
    assert by_icalendar(body) == {} and by_vobject(body) == {}


def test_a_patients_feed_read_writes_one_calendar_audit_row(app, db, member, patient_client):
    path = subscribe(patient_client)
    db.session.rollback()
    before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    assert fetch(app, path).status_code == 200
    db.session.rollback()
    rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))[before:]
    assert len(rows) == 1
    [row] = rows
    assert (row.action, row.patient_id, row.object_type) == ("calendar", member.id, "calendar_feed")
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == member.id))
    assert row.object_id == feed.id
    assert feed.last_used_at is not None


def test_feed_reads_older_than_a_year_are_left_out(app, db, patient, patient_client, create_group):
    today = date.today()
    group = create_group(
        rule="FREQ=WEEKLY;BYDAY=WE",
        start=today - timedelta(days=420),
        since=today - timedelta(days=420),
        until=today + timedelta(days=14),
    )
    add_member(db, group, patient)
    parsed = by_icalendar(fetch(app, subscribe(patient_client)).data)
    sessions = sessions_of(db, group)
    year_ago = datetime.now(UTC) - timedelta(days=366)
    recent = {uid_of(s) for s in sessions if s.starts_at >= year_ago + timedelta(days=1)}
    old = {uid_of(s) for s in sessions if s.starts_at < year_ago - timedelta(days=1)}
    assert old and recent
    assert recent <= set(parsed)
    assert not old & set(parsed)


# The address: secret, revocable, renewable


def test_calendar_page_shows_https_and_webcal_addresses_of_one_token(
    app, db, patient, patient_client
):
    page = patient_client.get("/calendar").get_data(as_text=True)
    assert FEED_PATH.search(page) is None  # no address until asked for
    path = subscribe(patient_client)
    page = html.unescape(patient_client.get("/calendar").get_data(as_text=True))
    [webcal] = WEBCAL.findall(page)
    assert webcal.startswith("webcal://") and webcal.endswith(path)
    token = TOKEN.search(path).group(1)
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == patient.id))
    assert feed.token_hash == sha256_hex(token) and feed.revoked_at is None


def test_the_database_holds_no_usable_feed_token(app, db, member, patient_client):
    path = subscribe(patient_client)
    token = TOKEN.search(path).group(1)
    db.session.rollback()
    with db.engine.connect() as connection:
        values = [
            value
            for table in db.metadata.sorted_tables
            for row in connection.execute(table.select())
            for value in row
        ]
        [feed_row] = connection.execute(CalendarFeed.__table__.select()).mappings()
    assert not [value for value in values if token in str(value)]
    for value in feed_row.values():
        if isinstance(value, str):
            assert fetch(app, f"/feeds/{value}.ics").status_code == 404, value
    assert feed_row["token_hash"] == sha256_hex(token)
    assert fetch(app, path).status_code == 200


def test_the_address_is_shown_again_the_same_on_a_later_visit(
    app, db, member, patient_client, sign_in_as
):
    path = subscribe(patient_client)
    db.session.remove()
    assert feed_path(sign_in_as(member)) == path
    assert fetch(app, path).status_code == 200


def test_a_token_differing_only_at_its_end_gets_404(app, member, patient_client):
    path = subscribe(patient_client)
    token = TOKEN.search(path).group(1)
    other_end = "A" if token[-1] != "A" else "B"
    for wrong in (token[:-1] + other_end, token[:-1], token + "A", token.upper()):
        if wrong != token:
            assert fetch(app, f"/feeds/{wrong}.ics").status_code == 404, wrong
    assert fetch(app, path).status_code == 200


def legacy_feed(db, user, token: str) -> CalendarFeed:
    """A feed as the migration leaves one made before tokens were hashed: a hash, no nonce."""
    feed = CalendarFeed(user=user, token_hash=sha256_hex(token), nonce=None)
    db.session.add(feed)
    db.session.commit()
    return feed


CANNOT_SHOW = "cannot be shown again"


def test_a_feed_made_before_tokens_were_hashed_answers_and_its_page_offers_a_new_address(
    app, db, member, patient_client
):
    old_token = "Legacy-token-of-256-random-bits-0123456789ab"
    legacy_feed(db, member, old_token)
    old_path = f"/feeds/{old_token}.ics"
    assert fetch(app, old_path).status_code == 200
    assert fetch(app, f"/feeds/{old_token[:-1]}c.ics").status_code == 404

    page = html.unescape(patient_client.get("/calendar").get_data(as_text=True))
    assert CANNOT_SHOW in page and "Make a new address" in page
    assert FEED_PATH.search(page) is None and "/feeds/" not in page

    new_path = subscribe(patient_client)
    assert new_path != old_path
    assert fetch(app, new_path).status_code == 200
    assert fetch(app, old_path).status_code == 404
    assert CANNOT_SHOW not in patient_client.get("/calendar").get_data(as_text=True)


def test_a_legacy_feed_can_be_turned_off(app, db, member, patient_client):
    old_token = "Another-legacy-token-0123456789abcdefghijkl"
    legacy_feed(db, member, old_token)
    assert turn_off(patient_client).status_code == 302
    assert fetch(app, f"/feeds/{old_token}.ics").status_code == 404


def test_a_legacy_staff_feed_shows_no_group_addresses_until_renewed(
    app, db, clinician, clinician_client, new_york_group
):
    old_token = "Staff-legacy-token-0123456789abcdefghijklmn"
    legacy_feed(db, clinician, old_token)
    group_path = f"/feeds/{old_token}/groups/{new_york_group.id}.ics"
    assert fetch(app, group_path).status_code == 200
    page = clinician_client.get("/calendar").get_data(as_text=True)
    assert CANNOT_SHOW in page and "/feeds/" not in page

    token = TOKEN.search(subscribe(clinician_client)).group(1)
    page = clinician_client.get("/calendar").get_data(as_text=True)
    assert f"/feeds/{token}/groups/{new_york_group.id}.ics" in page
    assert fetch(app, group_path).status_code == 404


def test_after_a_secret_key_change_the_feed_answers_and_the_page_offers_a_new_address(
    app, db, member, patient_client, sign_in_as
):
    path = subscribe(patient_client)
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-new-testing-secret-key-not-for-production"
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert fetch(app, path).status_code == 200
    client = sign_in_as(member)  # the old sign-in cookie went with the old key
    page = client.get("/calendar").get_data(as_text=True)
    assert CANNOT_SHOW in page and FEED_PATH.search(page) is None

    app.config["SECRET_KEY_FALLBACKS"] = [old_key]  # the old key, kept while rotating
    assert feed_path(client) == path


def test_token_has_at_least_128_random_bits_in_url_safe_characters(app, patient_client, db):
    tokens = set()
    for _ in range(3):
        path = subscribe(patient_client)
        token = TOKEN.search(path).group(1)
        assert re.fullmatch(r"[A-Za-z0-9_-]{22,}", token), token
        tokens.add(token)
    assert len(tokens) == 3


def test_revoking_turns_the_old_address_off(app, db, member, patient_client):
    path = subscribe(patient_client)
    assert fetch(app, path).status_code == 200
    assert turn_off(patient_client).status_code == 302
    assert fetch(app, path).status_code == 404
    assert FEED_PATH.search(patient_client.get("/calendar").get_data(as_text=True)) is None


def test_regenerating_gives_a_new_token_and_the_old_one_stops(app, member, patient_client):
    old = subscribe(patient_client)
    new = subscribe(patient_client)
    assert new != old
    assert fetch(app, old).status_code == 404
    assert fetch(app, new).status_code == 200


def test_renewing_or_revoking_without_csrf_is_refused(app, member, patient_client):
    path = subscribe(patient_client)
    assert patient_client.post("/calendar/feed/revoke").status_code == 400
    assert patient_client.post("/calendar/feed").status_code == 400
    assert fetch(app, path).status_code == 200


def test_making_a_new_address_asks_first_and_the_old_one_works_until_confirmed(
    app, member, patient_client
):
    old = subscribe(patient_client)
    page = patient_client.get("/calendar").get_data(as_text=True)
    assert 'href="/calendar/feed/new"' in page and 'href="/calendar/feed/revoke"' in page

    unconfirmed = patient_client.post_form("/calendar/feed")
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["Location"].endswith("/calendar/feed/new")
    assert fetch(app, old).status_code == 200 and feed_path(patient_client) == old

    question = html.unescape(patient_client.get("/calendar/feed/new").get_data(as_text=True))
    assert "Yes, make a new address — the old one stops working" in question
    assert 'name="confirmed" value="yes"' in question
    assert 'action="/calendar/feed"' in question

    new = subscribe(patient_client)
    assert new != old
    assert fetch(app, old).status_code == 404 and fetch(app, new).status_code == 200


def test_turning_the_address_off_asks_first_and_it_works_until_confirmed(
    app, member, patient_client
):
    path = subscribe(patient_client)

    unconfirmed = patient_client.post_form("/calendar/feed/revoke")
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["Location"].endswith("/calendar/feed/revoke")
    assert fetch(app, path).status_code == 200

    question = html.unescape(patient_client.get("/calendar/feed/revoke").get_data(as_text=True))
    assert "Yes, turn the address off — calendars stop updating" in question
    assert "No, keep my address" in question

    assert turn_off(patient_client).status_code == 302
    assert fetch(app, path).status_code == 404


def test_the_first_address_needs_no_confirmation_and_the_questions_need_an_address(
    app, member, patient_client
):
    assert patient_client.get("/calendar/feed/new").headers["Location"].endswith("/calendar")
    assert patient_client.get("/calendar/feed/revoke").headers["Location"].endswith("/calendar")
    response = patient_client.post_form("/calendar/feed")
    assert response.status_code == 302
    assert fetch(app, feed_path(patient_client)).status_code == 200


def test_calendar_page_links_to_google_calendar_with_the_webcal_address_encoded(
    app, member, patient_client
):
    path = subscribe(patient_client)
    page = html.unescape(patient_client.get("/calendar").get_data(as_text=True))
    [webcal] = WEBCAL.findall(page)
    [google] = re.findall(r'href="(https://calendar\.google\.com/[^"]+)"', page)
    assert ">Add to Google Calendar</a>" in page
    address = urlsplit(google)
    assert (address.netloc, address.path) == ("calendar.google.com", "/calendar/render")
    assert parse_qs(address.query) == {"cid": [webcal]}
    assert "cid=webcal%3A%2F%2F" in google and google.endswith(quote(path, safe=""))


def test_the_address_is_in_a_labelled_read_only_field_with_a_copy_button_for_scripts(
    app, member, patient_client
):
    subscribe(patient_client)
    response = patient_client.get("/calendar")
    page = response.get_data(as_text=True)
    assert re.search(r'<label for="feed-url">[^<]+</label>', page)
    assert re.search(r'<input id="feed-url" type="text" readonly value="http', page)
    # Without JavaScript the button stays hidden: copy.js shows it and says "Copied".
    assert re.search(r'<button type="button"[^>]*data-copy="feed-url"[^>]*hidden>Copy', page)
    assert 'id="feed-url-status" role="status"' in page
    assert '<script src="/static/copy.js" defer></script>' in page
    assert "<script>" not in page  # the Content-Security-Policy allows no inline script
    script = patient_client.get("/static/copy.js")
    assert script.status_code == 200 and b"navigator.clipboard" in script.data


def test_the_page_tells_when_a_calendar_last_fetched_the_feed_in_site_time(
    app, db, member, patient_client, site
):
    site.locale = "en_US"
    db.session.commit()
    path = subscribe(patient_client)
    assert "No calendar has fetched your visits yet." in patient_client.get("/calendar").text
    fetch(app, path)
    page = patient_client.get("/calendar").get_data(as_text=True)
    assert re.search(
        r"A calendar last fetched your visits on \w{3} \d{1,2} \w{3} \d{4}, \d{1,2}:\d{2} [AP]M "
        r"\(Eastern Time\)",
        page,
    )
    assert "America/New_York" not in page


def test_unknown_tokens_and_deactivated_owners_get_404(app, db, member, patient_client):
    path = subscribe(patient_client)
    assert fetch(app, "/feeds/not-a-real-token-at-all-0000000000.ics").status_code == 404
    assert fetch(app, "/feeds/" + "a" * 200 + ".ics").status_code == 404
    member.active = False
    db.session.commit()
    assert fetch(app, path).status_code == 404


def test_feeds_are_read_only(app, member, patient_client):
    path = subscribe(patient_client)
    client = app.test_client()
    for method in (client.post, client.put, client.delete):
        assert method(path).status_code == 405
    assert fetch(app, path).status_code == 200


# Staff: their own feed and the per-group feeds


def test_staff_feed_has_the_sessions_of_their_sites(
    app, db, clinician_client, new_york_group, create_group, other_site
):
    elsewhere = weekly_mondays(
        create_group, other_site, US_SPRING + timedelta(days=1), US_SPRING + timedelta(days=15)
    )
    body = fetch(app, subscribe(clinician_client)).data
    assert set(by_vobject(body)) == {uid_of(s) for s in sessions_of(db, new_york_group)}
    assert not {uid_of(s) for s in sessions_of(db, elsewhere)} & set(by_icalendar(body))


def test_group_feed_works_for_staff_of_the_site(
    app, db, clinician_client, new_york_group, create_group, site
):
    sibling = weekly_mondays(
        create_group, site, US_SPRING + timedelta(days=1), US_SPRING + timedelta(days=15)
    )
    token = TOKEN.search(subscribe(clinician_client)).group(1)
    page = clinician_client.get("/calendar").get_data(as_text=True)
    group_path = f"/feeds/{token}/groups/{new_york_group.id}.ics"
    assert group_path in page

    response = fetch(app, group_path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == ICS_TYPE
    parsed = by_vobject(response.data)
    assert set(parsed) == {uid_of(s) for s in sessions_of(db, new_york_group)}
    assert not {uid_of(s) for s in sessions_of(db, sibling)} & set(parsed)
    calendar = Calendar.from_ical(response.data)
    assert str(calendar["X-WR-CALNAME"]) == new_york_group.calendar_name


def test_group_feed_is_404_for_staff_of_another_site(
    app, create_user, sign_in_as, other_site, new_york_group
):
    stranger = create_user(COORDINATOR, sites=[other_site])
    token = TOKEN.search(subscribe(sign_in_as(stranger))).group(1)
    assert fetch(app, f"/feeds/{token}/groups/{new_york_group.id}.ics").status_code == 404
    nurse = create_user(CLINICIAN, sites=[other_site], discipline="registered_nurse")
    token = TOKEN.search(subscribe(sign_in_as(nurse))).group(1)
    assert fetch(app, f"/feeds/{token}/groups/{new_york_group.id}.ics").status_code == 404


def test_group_feed_is_404_for_a_patients_token_even_a_members(
    app, member, patient_client, new_york_group
):
    token = TOKEN.search(subscribe(patient_client)).group(1)
    assert fetch(app, f"/feeds/{token}/groups/{new_york_group.id}.ics").status_code == 404


def test_group_feed_is_404_for_a_revoked_staff_token_and_an_unknown_group(
    app, clinician_client, new_york_group
):
    token = TOKEN.search(subscribe(clinician_client)).group(1)
    assert fetch(app, f"/feeds/{token}/groups/999999.ics").status_code == 404
    turn_off(clinician_client)
    assert fetch(app, f"/feeds/{token}/groups/{new_york_group.id}.ics").status_code == 404


# One session as a file


def test_session_download_works_for_staff_and_member_patients(
    app, db, member, patient_client, coordinator_client, clinician_client, new_york_group
):
    group_session = sessions_of(db, new_york_group)[1]
    expected_start = datetime.combine(group_session.local_start.date(), time(21), UTC)
    for client in (coordinator_client, clinician_client, patient_client):
        response = client.get(f"/sessions/{group_session.id}/calendar.ics")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == ICS_TYPE
        assert "attachment" in response.headers["Content-Disposition"]
        for parsed in (by_icalendar(response.data), by_vobject(response.data)):
            assert {uid: e["start"] for uid, e in parsed.items()} == {
                uid_of(group_session): expected_start
            }
        assert len(Calendar.from_ical(response.data).walk("VTIMEZONE")) == 1


def test_session_download_is_404_for_a_patient_outside_the_group(
    app, db, create_user, sign_in_as, new_york_group, create_site
):
    outsider = create_user(PATIENT)
    group_session = sessions_of(db, new_york_group)[0]
    assert sign_in_as(outsider).get(f"/sessions/{group_session.id}/calendar.ics").status_code == 404
    far_coordinator = create_user(COORDINATOR, sites=[create_site(name="Far away")])
    response = sign_in_as(far_coordinator).get(f"/sessions/{group_session.id}/calendar.ics")
    assert response.status_code == 404


def test_session_download_by_a_patient_is_audited(app, db, member, patient_client, new_york_group):
    group_session = sessions_of(db, new_york_group)[0]
    db.session.rollback()
    before = db.session.scalar(select(db.func.count()).select_from(AuditEvent))
    assert patient_client.get(f"/sessions/{group_session.id}/calendar.ics").status_code == 200
    db.session.rollback()
    rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))[before:]
    assert [(r.action, r.patient_id, r.object_id) for r in rows] == [
        ("calendar", member.id, group_session.id)
    ]
