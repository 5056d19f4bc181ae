"""Journeys through a real Chromium: a patient's calendar on a phone, a coordinator's site settings.

Each journey checks what the person sees and taps (buttons, messages, what lands on
the clipboard) and runs axe on every distinct page it reaches.
"""

import re
import urllib.error
import urllib.request
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from groupvisits.accounts.models import PATIENT
from groupvisits.roster import services as roster
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.browser

ADDRESS_LABEL = "Or copy this address into your calendar program"
NEW_ADDRESS = "Yes, make a new address — the old one stops working"
TURN_OFF = "Yes, turn the address off — calendars stop updating"


def _flash(page):
    return page.locator(".flashes")


def _status_of(url: str) -> int:
    """The HTTP status a calendar program gets for ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def member(db, create_user, create_group, coordinator):
    """A patient holding a place in a group that meets next week."""
    patient = create_user(PATIENT, given_name="Rosa", family_name="Member")
    group = create_group(
        rule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", start=date.today() + timedelta(days=7)
    )
    roster.enrol(group, patient, actor=coordinator)
    db.session.commit()
    return patient


def test_patient_on_a_phone_copies_the_address_and_confirms_before_replacing_it(
    new_page, axe_check, sign_in_page, member
):
    page = new_page(
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        permissions=["clipboard-read", "clipboard-write"],
    )
    sign_in_page(page, member)
    page.get_by_role("link", name="My calendar").tap()
    page.get_by_role("button", name="Create my calendar address").tap()
    expect(_flash(page)).to_contain_text("Your calendar address is ready.")
    field = page.get_by_label(ADDRESS_LABEL)
    expect(field).to_have_attribute("readonly", "")
    first = field.input_value()
    assert _status_of(first) == 200

    # Google Calendar subscribes to the webcal:// address given whole, percent-encoded.
    webcal = page.get_by_role("link", name="Subscribe in my calendar app").get_attribute("href")
    assert webcal == "webcal://" + first.split("://", 1)[1]
    expect(page.get_by_role("link", name="Add to Google Calendar")).to_have_attribute(
        "href", "https://calendar.google.com/calendar/render?cid=" + quote(webcal, safe="")
    )

    # Copy: the address lands on the clipboard and the page says so, where a reader hears it.
    status = page.locator("#feed-url-status")
    expect(status).to_have_attribute("role", "status")
    expect(status).to_have_text("")
    page.get_by_role("button", name="Copy address").tap()
    expect(status).to_have_text("Copied")
    expect(status).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == first
    axe_check(page)

    # A new address is asked about first; "No" keeps the address working.
    page.get_by_role("link", name="Make a new address").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a new calendar address?")
    expect(page.get_by_text("Your current address stops working at once.")).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="No, keep my address").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("My calendar")
    expect(page.get_by_label(ADDRESS_LABEL)).to_have_value(first)
    assert _status_of(first) == 200

    page.get_by_role("link", name="Make a new address").tap()
    page.get_by_role("button", name=NEW_ADDRESS).tap()
    expect(_flash(page)).to_contain_text("Any older address no longer works.")
    second = page.get_by_label(ADDRESS_LABEL).input_value()
    assert second != first
    assert (_status_of(first), _status_of(second)) == (404, 200)

    # Turning the address off is asked about too.
    page.get_by_role("link", name="Turn the address off").tap()
    expect(page.get_by_role("heading", level=1)).to_have_text("Turn your calendar address off?")
    axe_check(page)
    page.get_by_role("button", name=TURN_OFF).tap()
    expect(_flash(page)).to_have_text("Your calendar address is turned off.")
    expect(page.get_by_role("button", name="Create my calendar address")).to_be_visible()
    assert _status_of(second) == 404
    axe_check(page)


def test_without_javascript_the_address_is_selectable_and_no_copy_button_shows(
    new_page, sign_in_page, member
):
    page = new_page(viewport=PHONE, java_script_enabled=False)
    sign_in_page(page, member)
    page.goto("/calendar")
    page.get_by_role("button", name="Create my calendar address").click()
    field = page.get_by_label(ADDRESS_LABEL)
    expect(field).to_be_visible()
    expect(field).to_have_attribute("readonly", "")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/feeds/[\w-]+\.ics", field.input_value())
    expect(page.get_by_role("button", name="Copy address")).to_be_hidden()
    expect(page.get_by_role("link", name="Add to Google Calendar")).to_be_visible()


def test_coordinator_gives_the_site_a_phone_number_a_locale_and_a_weight_unit(
    page, axe_check, sign_in_page, coordinator, site
):
    sign_in_page(page, coordinator)
    page.get_by_role("link", name="Sites").click()
    expect(page.get_by_text("Eastern Time")).to_be_visible()
    expect(page.get_by_text("America/New_York")).to_have_count(0)
    page.get_by_role("link", name=site.name).click()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit {site.name}")
    phone = page.get_by_label("Phone number")
    expect(phone).to_have_attribute("type", "tel")
    expect(page.get_by_label("Dates and times")).to_have_value("en_US")
    axe_check(page)

    # Words for a phone number: a message by the field and in the summary; nothing saved.
    phone.fill("call the front desk")
    with page.expect_response(re.compile(r"/edit$")) as answer:
        page.get_by_role("button", name="Save site").click()
    assert answer.value.status == 422
    expect(page.locator("#phone-error")).to_contain_text("Letters cannot be dialled.")
    expect(page.get_by_role("alert")).to_contain_text("Phone number:")
    expect(page.get_by_label("Phone number")).to_have_attribute("aria-invalid", "true")
    axe_check(page)

    page.get_by_label("Phone number").fill("(555) 010-0200 x204")
    page.get_by_label("Dates and times").select_option("en_GB")
    page.get_by_label("Show weights in").select_option("lb")
    page.get_by_role("button", name="Save site").click()
    expect(_flash(page)).to_have_text("Saved.")
    expect(page.get_by_role("link", name="(555) 010-0200 ext. 204")).to_have_attribute(
        "href", "tel:5550100200;ext=204"
    )
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Eastern Time")
    expect(facts).to_contain_text("Pounds (lb)")
    # British English: a 24-hour clock ("it is now Mon 30 Nov 2026, 17:05"), no AM or PM.
    expect(facts).to_contain_text(
        re.compile(r"English \(United Kingdom\) \(it is now \w{3} \d+ \w{3} \d{4}, \d{2}:\d{2}\)")
    )
    expect(facts).not_to_contain_text(re.compile(r"\d [AP]M"))
    axe_check(page)
