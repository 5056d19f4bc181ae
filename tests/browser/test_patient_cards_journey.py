"""Journeys through a real Chromium: offers, waiting, answers that stick, moves and the census.

What a patient sees on a phone (an offer first, "waiting" said plainly, a support person
saved on its own, the chosen answer marked, a moved session), what a coordinator taps on
the roster (an offer accepted by phone), and a census only staff see.
"""

import re
from datetime import date, datetime, time, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from groupvisits.accounts.models import PATIENT
from groupvisits.roster import attendance as rules
from groupvisits.roster import services as roster
from groupvisits.roster.models import ACTIVE, Membership
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession

pytestmark = pytest.mark.browser

SUPPORT = "I'm bringing a family member or carer"
BRAND = "rgb(29, 92, 99)"  # --brand: a filled button
PAPER = "rgb(255, 255, 255)"  # --paper: an outlined button


def _flash(page):
    return page.locator(".flashes")


def _background(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).backgroundColor")


def _answer(card, word: str):
    return card.get_by_role("button", name=re.compile(rf"^{word}\b"))


def _first_session(db, group) -> GroupSession:
    return db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id)
        .order_by(GroupSession.starts_at)
        .limit(1)
    ).one()


@pytest.fixture
def weekly_group(create_group):
    """A weekly group whose first session is a week away, answers open; no agreement yet."""
    weekday = "MO TU WE TH FR SA SU".split()[date.today().weekday()]
    return create_group(
        name="Thursday diabetes group",
        rule=f"FREQ=WEEKLY;BYDAY={weekday}",
        start=date.today() + timedelta(days=7),
        min_members=2,
        target_members=2,
        max_members=3,
    )


@pytest.fixture
def rosa(db, create_user, weekly_group, coordinator):
    patient = create_user(PATIENT, given_name="Rosa", family_name="Member")
    roster.enrol(weekly_group, patient, actor=coordinator)
    db.session.commit()
    return patient


def test_on_a_phone_the_support_person_sticks_and_the_chosen_answer_is_marked(
    phone_page, axe_check, sign_in_page, rosa
):
    page = phone_page
    sign_in_page(page, rosa)
    card = page.locator(".rsvp").first
    expect(card).to_contain_text("Your answer: not given yet.")
    # Unanswered: no answer looks chosen.
    for word in ("Yes", "Maybe", "No"):
        expect(_answer(card, word)).to_have_attribute("aria-pressed", "false")
        assert _background(_answer(card, word)) == PAPER, word
    # With JavaScript the box saves itself: its Save button is not needed.
    expect(card.get_by_role("button", name=re.compile("^Save"))).to_be_hidden()
    axe_check(page)

    card.get_by_label(SUPPORT).tap()
    expect(card.get_by_role("status")).to_have_text("Saved")
    page.reload()
    card = page.locator(".rsvp").first
    expect(card.get_by_label(SUPPORT)).to_be_checked()
    expect(card).to_contain_text("Your answer: not given yet.")

    _answer(card, "Yes").tap()
    expect(_flash(page)).to_have_text("Thanks, see you there!")
    card = page.locator(".rsvp").first
    yes = _answer(card, "Yes")
    expect(yes).to_have_attribute("aria-pressed", "true")
    expect(yes).to_contain_text("✓")
    assert _background(yes) == BRAND
    for word in ("Maybe", "No"):
        expect(_answer(card, word)).to_have_attribute("aria-pressed", "false")
        expect(_answer(card, word)).not_to_contain_text("✓")
        assert _background(_answer(card, word)) == PAPER, word
    expect(card.get_by_label(SUPPORT)).to_be_checked()
    axe_check(page)

    # Unticked on My sessions, and still unticked after a reload there.
    page.get_by_role("link", name="My sessions", exact=True).tap()
    card = page.locator(".rsvp").first
    card.get_by_label(SUPPORT).tap()
    expect(card.get_by_role("status")).to_have_text("Saved")
    page.reload()
    expect(page.locator(".rsvp").first.get_by_label(SUPPORT)).not_to_be_checked()
    axe_check(page)


def test_on_a_phone_a_support_person_without_a_seat_is_refused_with_the_reason(
    db, phone_page, sign_in_page, rosa, weekly_group, create_user, coordinator
):
    group_session = _first_session(db, weekly_group)
    for _ in range(2):
        other = create_user(PATIENT)
        roster.enrol(weekly_group, other, actor=coordinator)
        rules.answer_rsvp(group_session, other, "yes", actor=other)
    rules.answer_rsvp(group_session, rosa, "yes", actor=rosa)
    db.session.commit()
    page = phone_page
    sign_in_page(page, rosa)

    card = page.locator(".rsvp").first
    card.get_by_label(SUPPORT).tap()

    expect(card.get_by_role("status")).to_have_text(
        "Sorry, no seat is left for a support person at this session. Your own place is kept."
    )
    expect(card.get_by_label(SUPPORT)).not_to_be_checked()
    page.reload()
    expect(page.locator(".rsvp").first.get_by_label(SUPPORT)).not_to_be_checked()


def test_on_a_phone_a_waiting_patient_sees_they_wait_then_takes_the_offered_place(
    db, phone_page, axe_check, sign_in_page, create_group, create_user, coordinator
):
    group = create_group(name="Heart group", min_members=1, target_members=1, max_members=1)
    member = roster.enrol(group, create_user(PATIENT), actor=coordinator)
    waiting = create_user(PATIENT, given_name="Ines", family_name="Waiting")
    roster.enrol(group, waiting, actor=coordinator)
    db.session.commit()
    page = phone_page
    sign_in_page(page, waiting)

    groups = page.locator("section", has=page.get_by_role("heading", name="My groups"))
    expect(groups).to_contain_text("Heart group: you are waiting for a place.")
    expect(groups).to_contain_text("You are number 1 on the waitlist.")
    expect(groups).to_contain_text("When a place frees up, we will offer it to you")
    expect(groups.get_by_role("link", name="Heart group")).to_have_count(0)
    axe_check(page)
    page.get_by_role("link", name="My groups", exact=True).first.tap()
    expect(page.get_by_text("You are waiting for a place")).to_be_visible()
    axe_check(page)

    roster.end_membership(member, "Moved away", actor=coordinator)
    db.session.commit()
    page.get_by_role("link", name="Home").tap()
    offer = page.locator("section.offer")
    expect(offer.get_by_role("heading", level=2)).to_have_text(
        "A place is open for you in Heart group"
    )
    assert page.locator("main section").first.get_attribute("class") == "card offer"
    expect(offer).to_contain_text("We are holding it for you until")
    expect(offer.get_by_role("button", name="No, thank you")).to_be_visible()
    axe_check(page)

    offer.get_by_role("button", name="Yes, I take the place").tap()
    expect(_flash(page)).to_have_text("Welcome to the group! Your place is confirmed.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Ines")
    expect(groups.get_by_role("link", name="Heart group")).to_be_visible()
    expect(page.locator("section.offer")).to_have_count(0)


def test_a_coordinator_calls_the_offered_patient_and_records_yes_by_phone(
    db, page, axe_check, sign_in_page, create_group, create_user, coordinator
):
    group = create_group(min_members=1, target_members=1, max_members=1)
    member = roster.enrol(group, create_user(PATIENT), actor=coordinator)
    mei = create_user(PATIENT, given_name="Mei", family_name="Wang", phone="(555) 010-0177")
    offer = roster.enrol(group, mei, actor=coordinator)
    roster.end_membership(member, "Moved away", actor=coordinator)
    db.session.commit()
    offer_id = offer.id
    sign_in_page(page, coordinator)

    page.goto(f"/groups/{group.id}/roster")
    offered = page.locator("li.offer")
    expect(offered).to_contain_text("Wang, Mei: held until")
    expect(offered.get_by_role("link", name="(555) 010-0177")).to_have_attribute(
        "href", "tel:5550100177"
    )
    axe_check(page)
    offered.get_by_role("button", name="Accepted by phone for Mei Wang").click()

    expect(_flash(page)).to_have_text("Mei Wang has the place (accepted by phone).")
    expect(page.get_by_role("heading", name="Members (1)")).to_be_visible()
    expect(page.locator("li.offer")).to_have_count(0)
    db.session.expire_all()
    assert db.session.get(Membership, offer_id).status == ACTIVE
    page.goto(f"/memberships/{offer_id}/history")
    expect(page.get_by_text("by phone, recorded by Cora Ordinator")).to_be_visible()
    axe_check(page)


def test_the_census_is_worded_for_staff_and_never_shown_to_patients(
    db, page, new_page, axe_check, sign_in_page, rosa, weekly_group, coordinator
):
    rules.answer_rsvp(_first_session(db, weekly_group), rosa, "yes", actor=rosa)
    db.session.commit()
    sign_in_page(page, coordinator)

    expect(page.get_by_role("heading", name="Coming up at your sites")).to_be_visible()
    expect(page.get_by_text("Expected 1 of minimum 2").first).to_be_visible()
    axe_check(page)
    page.goto(f"/groups/{weekly_group.id}")
    rows = page.locator("h2:has-text('Upcoming sessions') + .table-wrap tbody tr")
    expect(rows.first).to_contain_text("Below minimum")
    expect(rows.first).to_contain_text("Expected 1 of minimum 2")
    expect(rows.first).to_contain_text("1 said yes")
    # Weeks ahead, nobody has answered yet: not at risk.
    expect(rows.last).to_contain_text("No answers yet")
    expect(rows.last).not_to_contain_text("Below")
    expect(page.get_by_text("Expected: members who said yes (no recent sessions")).to_be_visible()
    axe_check(page)

    patient_page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in_page(patient_page, rosa)
    patient_page.goto(f"/groups/{weekly_group.id}")
    expect(patient_page.get_by_role("heading", level=1)).to_contain_text("Thursday diabetes")
    for word in ("Census", "Expected", "minimum", "said yes", "No answers yet"):
        expect(patient_page.get_by_text(word)).to_have_count(0)
    axe_check(patient_page)


def test_on_a_phone_a_moved_session_says_where_it_was(
    db, phone_page, axe_check, sign_in_page, rosa, weekly_group, coordinator
):
    group_session = _first_session(db, weekly_group)
    was = group_session.local_start
    schedule.move_session(
        group_session,
        local_start=datetime.combine(was.date() + timedelta(days=1), time(18, 30)),
        length_minutes=120,
        location="",
        video_url="",
        theme="",
        notes="",
        actor=coordinator,
    )
    db.session.commit()
    page = phone_page
    sign_in_page(page, rosa)

    card = page.locator(".rsvp").first
    moved_to = was + timedelta(days=1)
    # A US site reads its days without a leading zero and its clock in 12 hours.
    expect(card.get_by_role("heading", level=2)).to_have_text(
        f"{moved_to:%A} {moved_to.day} {moved_to:%B}, 6:30 PM"
    )
    clock = f"{was:%I:%M %p}".lstrip("0")
    moved_from = f"Moved from {was:%a} {was.day} {was:%b %Y}, {clock}."
    expect(card).to_contain_text(moved_from)
    axe_check(page)
    page.get_by_role("link", name="My sessions", exact=True).tap()
    expect(page.locator(".rsvp").first).to_contain_text(moved_from)
