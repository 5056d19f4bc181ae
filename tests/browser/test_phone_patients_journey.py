"""Patients without email, in a real Chromium at phone and desktop widths.

A coordinator adds a patient with only a name and a phone number (the phone keypad,
words refused), ticks their dietary needs, enrols them, and records their answer from
the session's "to call" list; the patient's page lists their group; the meal counts
"low salt" as low sodium. A patient on a phone keeps their own number and needs.
Each page is checked with axe and kept as a screenshot in ``test-results/screenshots``.
"""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT, User
from groupvisits.audit import AuditEvent
from groupvisits.roster import attendance as rules
from groupvisits.roster import services as roster
from groupvisits.roster.models import Attendance
from groupvisits.schedule import services as schedule
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS

pytestmark = pytest.mark.browser

NO_EMAIL = (
    "This patient has no email address: they cannot sign in; "
    "the clinic records their answers by phone."
)
WIDTHS = {"phone": PHONE, "desktop": DESKTOP}


@pytest.fixture(params=list(WIDTHS))
def sized_page(request, new_page):
    """A page at 390 px (a touch phone) or 1280 px, with a name for its screenshots."""
    width = request.param
    if width == "phone":
        page = new_page(viewport=PHONE, is_mobile=True, has_touch=True)
    else:
        page = new_page(viewport=DESKTOP)
    page.shot_prefix = f"{request.node.originalname}-{request.node.callspec.id}"
    return page


def shot(page, name: str) -> None:
    """Keep a full-page screenshot of what the person sees now."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{page.shot_prefix}-{name}.png", full_page=True)


def flash(page):
    return page.locator(".flashes")


def test_coordinator_adds_a_patient_by_phone_and_records_their_answer_from_the_call_list(
    sized_page, axe_check, sign_in_page, coordinator, create_user, create_group, site, db
):
    page = sized_page
    group = create_group(
        name="Thursday evening group", rule="FREQ=WEEKLY;BYDAY=TH", start=date.today()
    )
    group_session = schedule.next_sessions([group.id], schedule.utcnow())[group.id]
    # A member who typed "low salt" before the list existed, coming to the session.
    earlier = create_user(PATIENT, given_name="Ana", family_name="Moreno", password=None)
    earlier.patient_profile.dietary_needs = "low salt"
    roster.enrol(group, earlier, actor=coordinator)
    db.session.commit()
    rules.answer_rsvp(group_session, earlier, "yes", actor=coordinator)
    db.session.commit()
    sign_in_page(page, coordinator)

    # Add Rosa: a name and a phone number, no email.
    page.get_by_role("link", name="People").click()
    page.get_by_role("link", name="Add a patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a patient")
    phone = page.get_by_label("Phone")
    expect(phone).to_have_attribute("type", "tel")
    page.get_by_label("Given name").fill("Rosa")
    page.get_by_label("Family name").fill("Diaz")
    phone.fill("call her daughter")
    page.get_by_label("Low sodium").check()
    page.get_by_label("Other", exact=True).check()
    page.get_by_label("Other dietary need").fill("no nuts")
    page.get_by_role("button", name="Add the patient").click()
    expect(page.locator(".error").filter(has_text="Letters cannot be dialled")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Phone:")
    expect(page.get_by_label("Low sodium")).to_be_checked()  # nothing ticked is lost
    assert db.session.scalar(select(User).where(User.family_name == "Diaz")) is None
    axe_check(page)
    shot(page, "1-phone-refused")

    page.get_by_label("Phone").fill("(555) 010-0177")
    page.get_by_role("button", name="Add the patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rosa Diaz")
    expect(flash(page)).to_have_text(f"Rosa Diaz is added. {NO_EMAIL}")
    expect(page.get_by_text("No email address: cannot sign in.")).to_be_visible()
    expect(page.get_by_role("link", name="(555) 010-0177")).to_have_attribute(
        "href", "tel:5550100177"
    )
    expect(page.get_by_text("low sodium, no nuts")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("invitation"))).to_have_count(0)
    axe_check(page)
    shot(page, "2-person-added")

    # Enrol her, then phone her from the session page.
    page.goto(f"/groups/{group.id}/roster")
    page.get_by_label("Name, email or record number").fill("Diaz")
    page.get_by_role("button", name="Find", exact=True).click()
    page.get_by_role("button", name="Enrol Rosa Diaz", exact=True).click()
    expect(flash(page)).to_have_text("Rosa Diaz is now a member.")
    expect(page.get_by_text("No email: phone them")).to_be_visible()
    axe_check(page)
    shot(page, "3-roster")
    page.goto("/people/?role=patient")
    rosa_row = page.get_by_role("row", name=re.compile("Diaz, Rosa"))
    expect(rosa_row).to_contain_text("No email")
    expect(rosa_row).to_contain_text("By phone")
    axe_check(page)
    shot(page, "3-people")

    page.goto(f"/sessions/{group_session.id}")
    calls = page.locator("section", has=page.get_by_role("heading", name=re.compile("To call")))
    expect(calls.get_by_role("heading", level=2)).to_have_text("To call (1)")
    expect(calls).to_contain_text("Diaz, Rosa")
    expect(calls).to_contain_text("No email address")
    expect(calls.get_by_role("link", name="(555) 010-0177")).to_have_attribute(
        "href", "tel:5550100177"
    )
    axe_check(page)
    shot(page, "3-to-call")
    calls.get_by_label("Bringing a family member or carer").check()
    calls.get_by_role("button", name="Yes, Rosa Diaz will come").click()
    expect(flash(page)).to_have_text("Saved: Rosa Diaz will come with a support person.")
    expect(calls).to_contain_text("Nobody to call")
    axe_check(page)
    shot(page, "4-answer-saved")

    rosa = db.session.scalar(select(User).where(User.family_name == "Diaz"))
    db.session.expire_all()
    attendance = db.session.scalar(select(Attendance).where(Attendance.patient_id == rosa.id))
    assert (attendance.rsvp, attendance.brings_support_person) == ("yes", True)
    recorded = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.object_type == "attendance", AuditEvent.patient_id == rosa.id
        )
    )
    assert (recorded.actor_id, recorded.action) == (coordinator.id, "update")

    # Her page lists her group; the meal counts "low salt" with her low sodium.
    page.goto(f"/people/{rosa.id}")
    groups = page.locator("section", has=page.get_by_role("heading", name="Groups"))
    expect(groups.get_by_role("link", name="Thursday evening group", exact=True)).to_be_visible()
    expect(groups).to_contain_text("Member since")
    axe_check(page)
    shot(page, "5-person-groups")

    page.goto(f"/sessions/{group_session.id}/attendance")
    meal = page.locator("section", has=page.get_by_role("heading", name="Meal"))
    expect(meal.locator("li")).to_have_text(["low sodium: 2", "no nuts: 1"])
    axe_check(page)
    shot(page, "6-meal")


def test_patient_on_a_phone_keeps_their_number_and_ticks_their_needs(
    sized_page, axe_check, sign_in_page, patient, db
):
    page = sized_page
    sign_in_page(page, patient)
    page.goto("/profile")
    phone = page.get_by_label("Phone")
    expect(phone).to_have_attribute("type", "tel")
    expect(phone).to_have_attribute("autocomplete", "tel")
    expect(page.get_by_label("Vegetarian")).to_be_checked()
    axe_check(page)
    shot(page, "1-profile")

    phone.fill("ring my son")
    page.get_by_label("Gluten free").check()
    page.get_by_role("button", name="Save my details").click()
    expect(page.locator(".error").filter(has_text="Letters cannot be dialled")).to_be_visible()
    axe_check(page)
    shot(page, "2-phone-refused")
    db.session.expire_all()
    assert db.session.get(User, patient.id).patient_profile.dietary_needs == "vegetarian"

    page.get_by_label("Phone").fill("555 010 0199 ext. 4")
    page.get_by_label("Other", exact=True).check()
    page.get_by_role("button", name="Save my details").click()
    expect(
        page.locator(".error").filter(has_text="Say what the other dietary need is")
    ).to_be_visible()
    page.get_by_label("Other dietary need").fill("no shellfish")
    page.get_by_role("button", name="Save my details").click()
    expect(flash(page)).to_have_text("Your details are saved.")
    expect(page.get_by_label("Phone")).to_have_value("555 010 0199 ext. 4")
    for need in ("Vegetarian", "Gluten free", "Other"):
        expect(page.get_by_label(need, exact=True)).to_be_checked()
    axe_check(page)
    shot(page, "3-saved")
    db.session.expire_all()
    profile = db.session.get(User, patient.id).patient_profile
    assert (profile.dietary_needs, profile.dietary_other) == (
        "vegetarian,gluten_free",
        "no shellfish",
    )


def test_the_session_page_has_no_call_list_for_a_past_session(
    page, sign_in_page, coordinator, create_group, db
):
    group = create_group(start=date.today() - timedelta(days=40), rule="FREQ=WEEKLY;BYDAY=MO")
    past = db.session.scalars(
        schedule.sessions_between(
            [group.id], schedule.utcnow() - timedelta(days=30), schedule.utcnow()
        )
    ).first()
    sign_in_page(page, coordinator)
    page.goto(f"/sessions/{past.id}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("To call"))).to_have_count(0)
