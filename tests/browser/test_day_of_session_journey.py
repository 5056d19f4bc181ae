"""Journeys through a real Chromium on the day of a session, as clinic staff found the pages.

Check-in waits for the day; the one-on-one wish sticks whatever else is tapped; weights
are entered and shown in the site's unit; the sign-in sheet on the table names only
members who agreed; coordinators cannot put a session on a day that has passed.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT
from groupvisits.roster import services as roster
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

pytestmark = pytest.mark.browser


def _flash(page):
    return page.locator(".flashes")


def _card(page, person):
    return page.locator(f"#p{person.id}")


@pytest.fixture
def day_of(db, site, create_group, create_user, coordinator):
    """A group with two members; one session three days ahead, one that began 20 minutes ago.

    Rosa lets fellow members see her name; Omar does not.
    """
    group = create_group(site, name="Tuesday evening diabetes group", rule="FREQ=WEEKLY;BYDAY=TU")
    rosa = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    omar = create_user(PATIENT, given_name="Omar", family_name="Haddad")
    for person, share in ((rosa, True), (omar, False)):
        roster.enrol(group, person, actor=coordinator)
        roster.set_share_name(roster.current_membership(group, person), share, actor=person)
    sessions = db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
    ).all()
    today, ahead = sessions[0], sessions[1]
    today.starts_at = utcnow() - timedelta(minutes=20)
    today.ends_at = today.starts_at + timedelta(hours=2)
    ahead.starts_at = utcnow() + timedelta(days=3)
    ahead.ends_at = ahead.starts_at + timedelta(hours=2)
    db.session.commit()
    return {"group": group, "today": today, "ahead": ahead, "rosa": rosa, "omar": omar}


def _wish(db, session_id, person):
    db.session.expire_all()
    return db.session.scalar(
        select(Attendance.wants_one_on_one).where(
            Attendance.session_id == session_id, Attendance.patient_id == person.id
        )
    )


def test_check_in_before_the_day_says_when_and_offers_nothing_to_tap(
    page, axe_check, sign_in_page, clinician, day_of
):
    sign_in_page(page, clinician)
    page.goto(f"/sessions/{day_of['ahead'].id}/check-in")

    closed = page.locator("#check-in-closed")
    expect(closed).to_contain_text("This session starts ")
    expect(closed).to_contain_text("Check-in opens 60 minutes before")
    expect(page.locator(".check-in__person")).to_have_count(2)
    for word in ("Arrived", "Late", "No-show", "Excused", "Save vitals"):
        expect(page.get_by_role("button", name=re.compile(rf"^{word}"))).to_have_count(0)
    expect(page.get_by_label("One-on-one today?")).to_have_count(0)
    axe_check(page)


def test_the_one_on_one_wish_sticks_whatever_else_is_tapped(
    phone_page, axe_check, sign_in_page, clinician, day_of, db
):
    page = phone_page
    rosa, omar, session_id = day_of["rosa"], day_of["omar"], day_of["today"].id
    sign_in_page(page, clinician)
    page.goto(f"/sessions/{session_id}/check-in")
    expect(page.get_by_text("The session has started:")).to_be_visible()
    rosa_card = _card(page, rosa)
    # With the script, the answer saves itself: no Save button to forget.
    expect(rosa_card.get_by_role("button", name=re.compile(r"^Save\b"))).to_be_hidden()
    axe_check(page)

    # Changed, then nothing else tapped: kept after a reload.
    rosa_card.get_by_label("One-on-one today?").select_option("yes")
    expect(rosa_card.locator("[data-checkin-status]")).to_have_text("Saved")
    page.reload()
    expect(_card(page, rosa).get_by_label("One-on-one today?")).to_have_value("yes")
    assert _wish(db, session_id, rosa) is True

    # Changed, then another person's button tapped: kept too.
    _card(page, omar).get_by_label("One-on-one today?").select_option("no")
    expect(_card(page, omar).locator("[data-checkin-status]")).to_have_text("Saved")
    _card(page, rosa).get_by_role("button", name=re.compile(r"^Arrived\b")).tap()
    expect(_flash(page)).to_have_text("Rosa L.: Late.")
    expect(_card(page, omar).get_by_label("One-on-one today?")).to_have_value("no")
    expect(_card(page, rosa).get_by_label("One-on-one today?")).to_have_value("yes")
    expect(_card(page, rosa).locator(".badge--ok").first).to_have_text("Late, in person")
    assert (_wish(db, session_id, rosa), _wish(db, session_id, omar)) == (True, False)
    axe_check(page)


def test_the_one_on_one_wish_saves_with_its_button_when_scripts_are_off(
    new_page, axe_check, sign_in_page, clinician, day_of, db
):
    page = new_page(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    rosa, session_id = day_of["rosa"], day_of["today"].id
    sign_in_page(page, clinician)
    page.goto(f"/sessions/{session_id}/check-in")

    card = _card(page, rosa)
    card.get_by_label("One-on-one today?").select_option("no")
    card.get_by_role("button", name=re.compile(r"^Save\b")).click()

    expect(_flash(page)).to_have_text("Saved: Rosa L., one-on-one today: no.")
    expect(_card(page, rosa).get_by_label("One-on-one today?")).to_have_value("no")
    assert _wish(db, session_id, rosa) is False


def test_a_pounds_site_weighs_in_pounds_and_the_sheet_keeps_names_private(
    page, axe_check, sign_in_page, clinician, day_of, site, db
):
    site.weight_unit = "lb"
    db.session.commit()
    rosa, omar, session_id = day_of["rosa"], day_of["omar"], day_of["today"].id
    sign_in_page(page, clinician)
    page.goto(f"/sessions/{session_id}/check-in")

    card = _card(page, rosa)
    card.get_by_text("Weight and blood pressure").click()
    card.get_by_label("Weight (lb)").fill("180")
    card.get_by_label("Entered by").select_option("staff")
    card.get_by_role("button", name="Save vitals").click()
    expect(_flash(page)).to_have_text("Vitals saved for Rosa L.")
    card = _card(page, rosa)
    expect(card.get_by_text("Vitals taken")).to_be_visible()
    card.get_by_text("Weight and blood pressure").click()
    expect(card.get_by_label("Weight (lb)")).to_have_value("180.0")
    card.get_by_text("Check-in and vitals history").click()
    expect(
        card.get_by_text(re.compile(r"Vitals: 180\.0 lb \(staff\) by Clara N\."))
    ).to_be_visible()
    rosa_line = card.locator(".badge", has_text="Sheet line").inner_text()
    omar_line = _card(page, omar).locator(".badge", has_text="Sheet line").inner_text()
    axe_check(page)

    page.get_by_role("link", name="Printable sign-in sheet").click()
    sheet = page.locator("table.sign-in-sheet")
    expect(sheet).to_contain_text("Rosa L.")
    expect(sheet).not_to_contain_text("Lopez")
    expect(sheet).not_to_contain_text("Omar")
    expect(sheet).not_to_contain_text("180")
    expect(sheet.locator("th")).to_have_text(["No.", "Name", "Signature"])
    rows = sheet.locator("tbody tr")
    rosa_number = rosa_line.removeprefix("Sheet line ")
    omar_number = omar_line.removeprefix("Sheet line ")
    expect(rows.nth(int(rosa_number) - 1)).to_contain_text("Rosa L.")
    expect(rows.nth(int(omar_number) - 1).locator("td").nth(1)).to_have_text("Name not shown")
    axe_check(page)


def test_a_coordinator_cannot_add_a_session_on_a_past_day_by_mistake(
    page, axe_check, sign_in_page, coordinator, day_of, db
):
    group = day_of["group"]
    sign_in_page(page, coordinator)
    page.goto(f"/groups/{group.id}/sessions/new")
    last_week = (utcnow() - timedelta(days=7)).astimezone(day_of["today"].timezone)

    page.get_by_label("Date").fill(last_week.date().isoformat())
    page.get_by_label("Start time (local)").fill("10:00")
    page.get_by_role("button", name="Add session").click()
    expect(page.locator("#date-error")).to_contain_text(
        "has passed. Choose today or a later day, or tick “Record a past session”"
    )
    axe_check(page)

    page.get_by_label("Record a past session").check()
    page.get_by_role("button", name="Add session").click()
    expect(_flash(page)).to_contain_text("The extra session is added.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(last_week.strftime("%A %d %B %Y"))
