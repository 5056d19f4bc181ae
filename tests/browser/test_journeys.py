"""Journeys through a real Chromium: what coordinators, patients and clinicians see and do.

Each journey checks the words on the screen (headings, counts, messages,
badges) and runs axe on every distinct page it reaches.
"""

import re
import urllib.request
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, PATIENT
from groupvisits.roster import services as roster
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow
from tests.conftest import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser

AGREEMENT = "What is said in the group stays in the group."
SHARE_NAME_QUESTION = "Fellow members may see my first name and last initial"
MAX_TABS = 80


def _flash(page):
    return page.locator(".flashes")


def _sessions_of(db, group) -> list[GroupSession]:
    return list(
        db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        )
    )


def _upcoming_rows(page):
    return page.locator("h2:has-text('Upcoming sessions') + .table-wrap tbody tr")


def _share_name_answer(page, answer: str):
    """The radio button of one answer to the agreement's share-name question."""
    question = page.get_by_role("group", name=SHARE_NAME_QUESTION)
    return question.get_by_role("radio", name=answer, exact=True)


def _day_and_time(local: datetime) -> str:
    """A start as an en_US site shows it: "Tue 9 Jun 2026, 5:00 PM"."""
    hour = local.hour % 12 or 12
    noon = "AM" if local.hour < 12 else "PM"
    return f"{local:%a} {local.day} {local:%b %Y}, {hour}:{local:%M} {noon}"


@pytest.fixture
def member(app, db, create_user, create_group, coordinator):
    """A patient holding a place in a group whose agreement they have not accepted yet."""
    patient = create_user(PATIENT, given_name="Rosa", family_name="Member")
    # The first session is a week away, well before the answers close.
    group = create_group(
        name="Thursday diabetes group",
        calendar_name="Group visit",
        rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
        start=date.today() + timedelta(days=7),
    )
    roster.enrol(group, patient, actor=coordinator)
    roster.publish_agreement(group, AGREEMENT, actor=coordinator)
    db.session.commit()
    return patient, group


def test_coordinator_sets_up_a_group_enrols_and_checks_people_in(
    page, axe_check, sign_in_page, coordinator, create_user, site
):
    patients = [
        create_user(PATIENT, given_name=f"Pat{n:02d}", family_name=f"Member{n:02d}")
        for n in range(1, 11)
    ]
    page.goto("/login")
    axe_check(page)
    sign_in_page(page, coordinator)
    expect(page.get_by_role("heading", level=1)).to_have_text("Good to see you, Cora")
    axe_check(page)

    # Create the group.
    page.get_by_role("link", name="Groups", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Groups")
    axe_check(page)
    page.get_by_role("link", name="Create a group").click()
    expect(page).to_have_url(re.compile(r"/groups/new$"))
    expect(page.get_by_text("Group visits work best with 8 to 15 members")).to_be_visible()
    axe_check(page)
    page.get_by_label("Name", exact=True).fill("Tuesday evening diabetes group")
    page.get_by_label("Location").fill("Community room")
    page.get_by_label("Minimum members").fill("8")
    page.get_by_label("Target members").fill("9")
    page.get_by_label("Maximum members").fill("9")
    page.get_by_role("button", name="Save group").click()
    expect(page).to_have_url(re.compile(r"/groups/\d+/schedule$"))
    expect(_flash(page)).to_contain_text(
        "Tuesday evening diabetes group is created. Now set its schedule."
    )
    axe_check(page)

    # A monthly schedule: about six months of sessions.
    page.get_by_label("Repeats").select_option("monthly")
    page.get_by_label("Which week of the month").select_option("2")
    page.get_by_label("Day of the week").select_option("TU")
    page.get_by_label("First possible date").fill(date.today().isoformat())
    page.get_by_label("Start time (local)").fill("17:00")
    page.get_by_role("button", name="Save schedule").click()
    expect(page).to_have_url(re.compile(r"/groups/\d+$"))
    expect(_flash(page)).to_contain_text(
        "The schedule is saved: Every month on the second Tuesday."
    )
    expect(_flash(page)).to_contain_text(re.compile(r"\d sessions added up to"))
    expect(
        page.get_by_text("Every month on the second Tuesday, 5:00 PM (Eastern Time), 120 minutes")
    ).to_be_visible()
    sessions = _upcoming_rows(page)
    assert 5 <= sessions.count() <= 7, sessions.all_inner_texts()
    days = [
        datetime.strptime(re.match(r"\w{3} \d{1,2} \w{3} \d{4}", text)[0], "%a %d %b %Y").date()
        for text in sessions.all_inner_texts()
    ]
    assert all(day.weekday() == 1 and 8 <= day.day <= 14 for day in days), days
    assert (days[-1] - date.today()).days > 140, days
    assert all(", 5:00 PM–7:00 PM" in text for text in sessions.all_inner_texts())
    expect(page.get_by_text("minimum 8, target 9, maximum 9")).to_be_visible()
    axe_check(page)

    # An extra session today that started an hour ago.
    started = datetime.now(ZoneInfo(site.timezone)) - timedelta(hours=1)
    page.get_by_role("link", name="Add a session").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Add a session")
    axe_check(page)
    page.get_by_label("Date").fill(started.date().isoformat())
    page.get_by_label("Start time (local)").fill(started.strftime("%H:%M"))
    page.get_by_role("button", name="Add session").click()
    expect(_flash(page)).to_contain_text("The extra session is added.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(started.strftime("%A %d %B %Y"))
    session_url = page.url
    axe_check(page)

    # Ten patients for nine places: the tenth waits.
    page.get_by_role("link", name="All sessions of Tuesday evening diabetes group").click()
    page.get_by_role("link", name="Roster").click()
    expect(page.get_by_text("0 of 9 places taken")).to_be_visible()
    axe_check(page)
    for patient in patients[:9]:
        page.get_by_label("Name, email or record number").fill(patient.family_name)
        page.get_by_role("button", name="Find", exact=True).click()
        page.get_by_role(
            "button", name=f"Enrol {patient.given_name} {patient.family_name}", exact=True
        ).click()
        expect(_flash(page)).to_have_text(f"{patient.full_name} is now a member.")
    last = patients[9]
    page.get_by_label("Name, email or record number").fill(last.family_name)
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role(
        "button", name=f"Enrol on the waitlist {last.given_name} {last.family_name}", exact=True
    ).click()
    expect(_flash(page)).to_have_text(
        f"The group is full: {last.full_name} is number 1 on the waitlist."
    )
    expect(page.get_by_text("9 of 9 places taken")).to_be_visible()
    expect(page.get_by_text("1 waiting.")).to_be_visible()
    expect(page.get_by_role("heading", name="Members (9)")).to_be_visible()
    expect(page.get_by_role("heading", name="Waitlist (1)")).to_be_visible()
    waitlist = page.locator("h2:has-text('Waitlist') + ol li")
    expect(waitlist).to_have_count(1)
    expect(waitlist).to_contain_text(f"{last.family_name}, {last.given_name}")
    axe_check(page)

    # Check-in on the day: the session started an hour ago, so an arrival is late.
    page.goto(session_url)
    page.get_by_role("link", name="Check-in").click()
    expect(page.get_by_text("The session has started:")).to_be_visible()
    people = page.locator(".check-in__person")
    expect(people).to_have_count(9)
    axe_check(page)
    first, second = patients[0], patients[1]
    page.get_by_role("button", name=re.compile(rf"^Arrived\W+{first.full_name}$")).click()
    expect(_flash(page)).to_have_text(f"{first.group_name}: Late.")
    second_row = page.locator(f"#p{second.id}")
    expect(second_row.locator(".badge--ok")).to_have_count(0)
    page.get_by_role("button", name=re.compile(rf"^No-show\W+{second.full_name}$")).click()
    expect(_flash(page)).to_have_text(f"{second.group_name}: No-show.")
    expect(page.locator(f"#p{first.id} .badge--ok").first).to_have_text("Late, in person")
    expect(second_row.locator(".badge--ok").first).to_have_text("No-show")
    axe_check(page)


def test_patient_on_a_phone_accepts_the_agreement_answers_and_subscribes(
    phone_page, axe_check, sign_in_page, member, live_server, db
):
    page = phone_page
    patient, group = member
    page.goto("/login")
    axe_check(page)
    sign_in_page(page, patient)
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Rosa")
    next_session = page.locator(".rsvp").first
    expect(next_session).to_contain_text("Before you can say yes, please")
    expect(next_session).to_contain_text("Your answer: not given yet.")
    # The room is for members who accepted the agreement.
    expect(next_session).not_to_contain_text("Community room")
    axe_check(page)

    next_session.get_by_role("link", name="read and accept the group agreement").tap()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Group agreement")
    expect(page.get_by_text(AGREEMENT)).to_be_visible()
    # Nobody's answer is chosen for them; agreeing without one is refused.
    expect(_share_name_answer(page, "Yes")).not_to_be_checked()
    expect(_share_name_answer(page, "No")).not_to_be_checked()
    axe_check(page)
    page.get_by_role("button", name="I agree").tap()
    expect(
        page.get_by_text(
            "Choose whether fellow members may see your first name and last initial."
        ).first
    ).to_be_visible()
    expect(_flash(page)).to_have_count(0)
    axe_check(page)
    _share_name_answer(page, "Yes").tap()
    expect(_share_name_answer(page, "Yes")).to_be_checked()
    page.get_by_role("button", name="I agree").tap()
    expect(_flash(page)).to_have_text("Thank you. You have accepted the group agreement.")
    axe_check(page)

    page.get_by_role("link", name="Home").tap()
    next_session = page.locator(".rsvp").first
    expect(next_session).not_to_contain_text("Before you can say yes")
    expect(next_session).to_contain_text("Community room")
    next_session.get_by_role("button", name=re.compile(r"\bYes\b")).tap()
    expect(_flash(page)).to_have_text("Thanks, see you there!")
    next_session = page.locator(".rsvp").first
    expect(next_session).to_contain_text("Your answer: Yes, I'll come.")
    yes = next_session.get_by_role("button", name=re.compile(r"\bYes\b"))
    expect(yes).to_have_attribute("aria-pressed", "true")
    expect(yes).to_contain_text("✓")
    for other in ("Maybe", "No"):
        button = next_session.get_by_role("button", name=re.compile(rf"^{other}\b"))
        expect(button).to_have_attribute("aria-pressed", "false")
        expect(button).not_to_contain_text("✓")
    axe_check(page)

    page.get_by_role("link", name="My calendar").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("My calendar")
    axe_check(page)
    page.get_by_role("button", name="Create my calendar address").tap()
    expect(_flash(page)).to_contain_text("Your calendar address is ready.")
    address = page.get_by_label("Or copy this address into your calendar program").input_value()
    assert address.startswith(live_server + "/feeds/") and address.endswith(".ics")
    axe_check(page)

    with urllib.request.urlopen(address, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/calendar")
        body = response.read()
    calendar = icalendar.Calendar.from_ical(body)
    events = calendar.walk("VEVENT")
    sessions = _sessions_of(db, group)
    assert {e.decoded("DTSTART").astimezone(ZoneInfo("UTC")) for e in events} == {
        s.starts_at.astimezone(ZoneInfo("UTC")) for s in sessions
    }
    assert {str(e["SUMMARY"]) for e in events} == {"Group visit"}
    assert b"diabetes" not in body.lower()


def _tab_to(page, wanted: str, *, tag: str) -> None:
    """Press Tab until the focused ``tag`` element's text starts with ``wanted``.

    For form fields, ``wanted`` is the text of the field's label.
    """
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement;
                const label = el.labels && el.labels.length ? el.labels[0] : el;
                return {tag: el.tagName.toLowerCase(),
                        text: label.textContent.replace(/\\s+/g, ' ').trim()};
            }"""
        )
        if focused["tag"] == tag and focused["text"].startswith(wanted):
            return
    raise AssertionError(f"{wanted!r} was not reached with {MAX_TABS} presses of Tab")


def test_patient_accepts_the_agreement_and_answers_with_the_keyboard_alone(page, axe_check, member):
    patient, group = member
    page.goto("/login")
    _tab_to(page, "Skip to main content", tag="a")
    _tab_to(page, "Email", tag="input")
    page.keyboard.type(patient.email)
    _tab_to(page, "Password", tag="input")
    page.keyboard.type(DEFAULT_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Rosa")
    axe_check(page)

    _tab_to(page, "read and accept the group agreement", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Group agreement")
    axe_check(page)
    _tab_to(page, "Yes", tag="input")
    page.keyboard.press("Space")
    expect(_share_name_answer(page, "Yes")).to_be_checked()
    _tab_to(page, "I agree", tag="button")
    page.keyboard.press("Space")
    expect(_flash(page)).to_have_text("Thank you. You have accepted the group agreement.")
    axe_check(page)

    _tab_to(page, "Home", tag="a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Rosa")
    _tab_to(page, "Yes, I'll come on", tag="button")
    page.keyboard.press("Enter")
    expect(_flash(page)).to_have_text("Thanks, see you there!")
    expect(page.locator(".rsvp").first).to_contain_text("Your answer: Yes, I'll come.")
    axe_check(page)


def test_clinician_sees_their_upcoming_work_in_local_time(
    page, axe_check, sign_in_page, clinician, create_group, db
):
    group = create_group(name="Monday heart health group", rule="FREQ=WEEKLY;BYDAY=MO")
    sign_in_page(page, clinician)
    expect(page.get_by_role("heading", level=1)).to_have_text("Good to see you, Clara")
    work = page.locator("section", has=page.get_by_role("heading", name="Sessions at my clinics"))
    items = work.locator("li")
    now = utcnow()
    expected = [
        s
        for s in _sessions_of(db, group)
        if s.ends_at >= now and s.starts_at < now + timedelta(days=92)
    ][:10]
    expect(items).to_have_count(len(expected))
    for item, group_session in zip(items.all(), expected, strict=True):
        expect(item).to_contain_text(_day_and_time(group_session.local_start))
        expect(item).to_contain_text("Monday heart health group")
    axe_check(page)

    items.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Monday heart health group")
    expect(page.get_by_text("5:00 PM–7:00 PM (Eastern Time)")).to_be_visible()
    axe_check(page)


def test_coordinator_finds_a_patient_and_sees_who_saw_their_data(
    phone_page, axe_check, sign_in_page, coordinator, create_user, db
):
    page = phone_page
    create_user(PATIENT, given_name="Ines", family_name="Quarshie")
    create_user(PATIENT, given_name="Otto", family_name="Other")
    page.goto("/login")
    sign_in_page(page, coordinator)

    page.get_by_role("link", name="People").tap()
    page.get_by_label("Name or email").fill("quarsh")
    page.get_by_role("button", name="Find", exact=True).tap()
    expect(page.get_by_text("1 person matching “quarsh”.")).to_be_visible()
    expect(page.get_by_role("link", name="Quarshie, Ines")).to_be_visible()
    expect(page.get_by_role("link", name="Other, Otto")).to_have_count(0)
    assert "quarsh" not in page.url.lower()  # the words stay out of the address
    axe_check(page)

    page.get_by_role("link", name="Quarshie, Ines").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ines Quarshie")
    axe_check(page)
    page.get_by_role("link", name="Who saw or changed this patient's data").tap()
    expect(page.get_by_text("Only the data of Quarshie, Ines.")).to_be_visible()
    rows = page.locator("table tbody tr")
    # Listed twice: on the whole list, then among the search's results; then opened once.
    expect(rows.filter(has_text="people list")).to_have_count(2)
    expect(rows.filter(has_text=re.compile(r"Viewed.*patient #", re.S))).to_have_count(1)
    assert "quarsh" not in page.url.lower()
    axe_check(page)

    page.get_by_role("link", name="People").tap()
    page.get_by_role("button", name="Clear the search").tap()
    expect(page.get_by_role("link", name="Other, Otto")).to_be_visible()
    expect(page.get_by_text("matching")).to_have_count(0)
    axe_check(page)


def test_coordinator_follows_a_groups_turnover_and_a_colleague_of_two_sites(
    page, axe_check, sign_in_page, coordinator, create_user, create_group, site, other_site, db
):
    group = create_group(site)
    for day, name in enumerate("Ada Ben Cai Dov Eli Fay Gus".split()):
        leaver = create_user(PATIENT, given_name=name, family_name="Left")
        membership = roster.enrol(group, leaver, actor=coordinator)
        roster.end_membership(membership, "Moved away", actor=coordinator)
        membership.ended_at = utcnow() - timedelta(days=30 - day)
    roaming = create_user(
        CLINICIAN, given_name="Rita", family_name="Roamer", sites=[site, other_site]
    )
    db.session.commit()
    sign_in_page(page, coordinator)

    page.goto(f"/groups/{group.id}/roster")
    expect(page.get_by_text("The latest 5 of 7.")).to_be_visible()
    expect(page.get_by_text("Left, Gus: Ended")).to_be_visible()
    expect(page.get_by_text("Left, Ada: Ended")).to_have_count(0)
    axe_check(page)
    page.get_by_role("link", name="All 7 past members and requests").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Past members and requests")
    expect(page.get_by_text("7 in all, newest first.")).to_be_visible()
    expect(page.get_by_text("Left, Ada: Ended")).to_be_visible()
    axe_check(page)

    page.goto(f"/people/{roaming.id}")
    expect(page.get_by_text("Only a coordinator of all their sites can change")).to_be_visible()
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    axe_check(page)

    page.goto("/invitation/not-a-real-link")
    expect(page.get_by_text("Sign out first, then open the link again.")).to_be_visible()
    axe_check(page)
    page.locator("main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
