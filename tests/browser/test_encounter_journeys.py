"""Journeys through a real Chromium about one-on-one visits and their encounter notes.

A resident on a tablet plans a session's one-on-one visits, reads the run sheet and writes,
saves and signs a note; the precepting attending attests one note and returns another, which
the resident answers with an addendum and signs again; a patient on a phone reads the plan
and goals of an attested note (never its assessment) and says how a goal is going; the
coordinator follows where each note stands on the tracker without reading a word of them.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, PATIENT, User
from groupvisits.encounters import note_workflow, slot_plans
from groupvisits.encounters.models import EncounterNote, OneOnOneSlot
from groupvisits.groups.models import VisitGroup
from groupvisits.roster import attendance as rsvp
from groupvisits.roster import services as roster
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import PRECEPTOR, PROVIDER
from groupvisits.timeutil import utcnow

pytestmark = pytest.mark.browser

#: A tablet held upright (an iPad's 768×1024), with touch.
TABLET = {"viewport": {"width": 768, "height": 1024}, "is_mobile": True, "has_touch": True}
#: Arrival, then an hour of one-on-one visits (6 ten-minute visits a provider), then wrap-up.
PLAN = [
    ("arrival", "Arrival and vitals", 15),
    ("one_on_one", "One-on-one visits", 60),
    ("wrap_up", "Wrap-up", 15),
]
PATIENTS = [
    ("Ana", "Alvarez"),
    ("Ben", "Brooks"),
    ("Chloe", "Chen"),
    ("Dev", "Desai"),
    ("Ella", "Evans"),
    ("Femi", "Falola"),
    ("Gia", "Greco"),
    ("Hugo", "Hart"),
    ("Ines", "Ibarra"),
    ("Jon", "Jensen"),
    ("Kira", "Kowalski"),
    ("Luis", "Lopez"),
]
#: Words that appear only in what a note says for the care team: no patient or coordinator
#: page may show them.
ASSESSMENT_MARKER = "Zephyrine-assessment-7Q"
CONCERNS_MARKER = "Zephyrine-concerns-4K"
RETURN_MARKER = "Zephyrine-return-9T"


@dataclass
class Clinic:
    """A session that starts in half an hour, its team and its twelve confirmed patients."""

    group: VisitGroup
    group_session: GroupSession
    residents: list[User]
    attending: User
    patients: list[User]
    coordinator: User


@pytest.fixture
def clinic(db, site, create_group, create_user, coordinator) -> Clinic:
    """Three residents provide and an attending precepts; twelve members said yes.

    The session starts in 30 minutes (check-in is open), so its one-on-one time, 15 minutes
    after the start, has not begun: the planner offers "Plan every one-on-one".
    """
    group = create_group(site, rule=None, name="Tuesday diabetes group", length_minutes=120)
    soon = (utcnow() + timedelta(minutes=30)).astimezone(ZoneInfo(site.timezone))
    group_session = schedule.add_extra_session(
        group,
        local_start=soon.replace(second=0, microsecond=0, tzinfo=None),
        length_minutes=120,
        actor=coordinator,
    )
    schedule.set_session_plan(group_session, PLAN, actor=coordinator)
    residents = [
        create_user(
            CLINICIAN, given_name=given, family_name=family, discipline="resident", training_year=2
        )
        for given, family in (("Rhea", "Patel"), ("Sam", "Okafor"), ("Lena", "Brandt"))
    ]
    attending = create_user(
        CLINICIAN, given_name="Alma", family_name="Reyes", discipline="attending"
    )
    for resident in residents:
        team.assign_staff(group_session, resident, PROVIDER, actor=coordinator)
    team.assign_staff(group_session, attending, PRECEPTOR, actor=coordinator)
    patients = [
        create_user(PATIENT, given_name=given, family_name=family) for given, family in PATIENTS
    ]
    for patient in patients:
        roster.enrol(group, patient, actor=coordinator)
        rsvp.answer_rsvp(group_session, patient, "yes", actor=coordinator)
    db.session.commit()
    return Clinic(group, group_session, residents, attending, patients, coordinator)


def _flash(page):
    return page.locator(".flashes")


def _nav(page, name: str) -> None:
    """Follow a link of the main navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def _plan(db, clinic: Clinic) -> dict[int, list[OneOnOneSlot]]:
    """Plan every visit through the service; each provider's slots in time order."""
    slot_plans.plan_session(clinic.group_session, actor=clinic.coordinator, now=utcnow())
    db.session.commit()
    planned = db.session.scalars(
        select(OneOnOneSlot)
        .where(OneOnOneSlot.session_id == clinic.group_session.id)
        .order_by(OneOnOneSlot.starts_at)
    ).all()
    by_provider: dict[int, list[OneOnOneSlot]] = {}
    for slot in planned:
        by_provider.setdefault(slot.provider_id, []).append(slot)
    return by_provider


def _note_text(patient: User) -> dict:
    """What a provider writes about ``patient``: the markers only where the team reads them."""
    return {
        "concerns": f"{CONCERNS_MARKER}: tired after lunch.",
        "systolic": 132,
        "diastolic": 84,
        "weight": "81.5",
        "weight_unit": "kg",
        "assessment": f"{ASSESSMENT_MARKER}: post-prandial dips, {patient.given_name}.",
        "plan": "Eat a smaller lunch and walk after meals.",
        "goals": "Walk 10 minutes after dinner\nPack a smaller lunch",
        "billing_level": "99213",
        "minutes": 15,
    }


def _write(db, slot: OneOnOneSlot, *, sign_at: datetime | None = None) -> EncounterNote:
    """The slot's provider writes the note as a draft, and signs it at ``sign_at`` if given."""
    author = slot.provider
    note = note_workflow.start_note(slot, author)
    note_workflow.save_draft(note, _note_text(slot.patient), author)
    if sign_at is not None:
        note_workflow.sign(note, author, now=sign_at)
    db.session.commit()
    return note


def test_a_resident_on_a_tablet_plans_the_visits_then_writes_and_signs_a_note(
    new_page, axe_check, sign_in_page, clinic, db
):
    page = new_page(**TABLET)
    rhea, session_id = clinic.residents[0], clinic.group_session.id
    attending = clinic.attending

    sign_in_page(page, rhea)
    page.goto(f"/sessions/{session_id}/one-on-ones")
    expect(page.get_by_role("heading", level=1)).to_contain_text("One-on-one visits")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tuesday diabetes group")
    attention = page.locator("#attention")
    waiting = attention.locator("h3:text-is('Patients without a visit yet') + ul li")
    expect(waiting).to_have_count(12)
    expect(page.get_by_text(f"Precepting: {attending.full_name}.")).to_be_visible()
    axe_check(page)

    page.get_by_role("button", name="Plan every one-on-one").click()
    expect(_flash(page)).to_have_text("Planned: 12 visits placed.")
    expect(page.locator("#attention")).to_have_text(
        "Nothing: every patient expected has a visit, and every provider sees someone."
    )
    # Every patient has a visit: none is left out, none says "None".
    patient_rows = page.locator("#patients-h + .table-wrap tbody tr")
    expect(patient_rows).to_have_count(12)
    expect(patient_rows.get_by_text("None", exact=True)).to_have_count(0)
    expect(page.get_by_text("Not placed:")).to_have_count(0)
    expect(page.locator("section.provider tbody tr")).to_have_count(12)
    for resident in clinic.residents:
        expect(page.locator(f"#provider-{resident.id} tbody tr").first).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Run sheet to print").click()
    expect(page).to_have_url(re.compile(rf"/sessions/{session_id}/run-sheet$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run sheet")
    expect(page.get_by_text(f"Precepting: {attending.full_name}.")).to_be_visible()
    expect(page.locator("table.run-sheet tbody tr")).to_have_count(12)
    mine = page.get_by_role("region", name=re.compile(rf"^{rhea.full_name}"))
    rheas_slots = db.session.scalars(
        select(OneOnOneSlot)
        .where(OneOnOneSlot.session_id == session_id, OneOnOneSlot.provider_id == rhea.id)
        .order_by(OneOnOneSlot.starts_at)
    ).all()
    expect(mine.locator("tbody tr")).to_have_count(len(rheas_slots))
    first_patient_name = mine.locator("tbody tr").first.locator("td").nth(1).inner_text()
    axe_check(page)

    # Rhea's first visit of the sheet: back on the planner, she writes its note.
    slot = rheas_slots[0]
    assert slot.patient.full_name == first_patient_name
    page.goto(f"/sessions/{session_id}/one-on-ones")
    page.locator(f"#slot-{slot.id}").get_by_role(
        "button", name=re.compile(rf"^Write note\W+{re.escape(first_patient_name)}$")
    ).click()
    expect(page).to_have_url(re.compile(r"/notes/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Visit note: {first_patient_name}")
    expect(page.locator(".page-head .badge")).to_have_text("Draft")
    expect(page.get_by_role("heading", name="Before the visit")).to_be_visible()
    expect(page.get_by_text(f"Signing sends the note to {attending.full_name}")).to_be_visible()
    axe_check(page)

    form = page.locator("#note-form")
    form.get_by_label("Concerns", exact=True).fill(f"{CONCERNS_MARKER}: tired after lunch.")
    # Each measure says its unit in its label.
    form.get_by_label("Systolic pressure (mmHg)", exact=True).fill("132")
    form.get_by_label("Diastolic pressure (mmHg)", exact=True).fill("84")
    form.get_by_label("Weight (kg)", exact=True).fill("81.5")
    form.get_by_label("HbA1c (%)", exact=True).fill("7.4")
    form.get_by_label("Glucose (mg/dL)", exact=True).fill("150")
    form.get_by_label("Assessment", exact=True).fill(f"{ASSESSMENT_MARKER}: post-prandial dips.")
    form.get_by_label("Plan", exact=True).fill("Eat a smaller lunch and walk after meals.")
    form.get_by_label("Goals", exact=True).fill(
        "Walk 10 minutes after dinner\nPack a smaller lunch"
    )
    form.get_by_label("Billing level", exact=True).select_option(label="99213 (low)")
    form.get_by_label("Time spent (minutes)", exact=True).fill("15")
    form.get_by_role("button", name="Save draft").click()
    expect(_flash(page)).to_have_text("Draft saved.")
    form = page.locator("#note-form")
    expect(form.get_by_label("Systolic pressure (mmHg)", exact=True)).to_have_value("132")
    expect(form.get_by_label("Weight (kg)", exact=True)).to_have_value("81.5")
    expect(form.get_by_label("Billing level", exact=True)).to_have_value("99213")
    axe_check(page)

    form.get_by_role("button", name="Sign note").click()
    expect(_flash(page)).to_have_text(
        f"Signed. The note now waits for {attending.full_name}'s attestation."
    )
    expect(page.locator(".page-head .badge")).to_have_text("Awaiting attestation")
    expect(page.locator("#note-form")).to_have_count(0)
    written = page.get_by_role("region", name="The note")
    expect(written).to_contain_text("132/84 mmHg")
    expect(written).to_contain_text("81.5 kg")
    expect(written).to_contain_text("7.4%")
    expect(written).to_contain_text("150 mg/dL")
    expect(written).to_contain_text("99213 (low)")
    expect(written).to_contain_text("15 minutes")
    expect(page.get_by_role("heading", name="Add an addendum")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="My encounter notes").click()
    expect(page).to_have_url(re.compile(r"/my/encounters$"))
    awaiting = page.get_by_role("region", name=re.compile(r"^Awaiting attestation"))
    expect(awaiting.locator("tbody tr")).to_have_count(1)
    expect(awaiting.locator("tbody tr")).to_contain_text(first_patient_name)
    expect(awaiting.locator("tbody tr")).to_contain_text(attending.full_name)
    expect(page.get_by_role("region", name=re.compile(r"^Returned to you"))).to_have_count(0)
    axe_check(page)


def test_the_attending_attests_one_note_and_returns_another_the_resident_answers(
    page, new_page, axe_check, sign_in_page, clinic, db
):
    rhea, sam = clinic.residents[0], clinic.residents[1]
    attending = clinic.attending
    by_provider = _plan(db, clinic)
    now = utcnow()
    # Rhea signed first; Sam's note came twenty minutes later.
    older = _write(db, by_provider[rhea.id][0], sign_at=now - timedelta(minutes=30))
    newer = _write(db, by_provider[sam.id][0], sign_at=now - timedelta(minutes=10))
    older_patient, newer_patient = older.patient.full_name, newer.patient.full_name
    newer_patient_id = newer.patient_id

    sign_in_page(page, attending)
    _nav(page, "To attest")
    expect(page).to_have_url(re.compile(r"/attestations$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Notes to attest")
    expect(page.get_by_text("2 notes wait for you, the longest-waiting first.")).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(older_patient)
    expect(rows.nth(0)).to_contain_text(rhea.full_name)
    expect(rows.nth(1)).to_contain_text(newer_patient)
    expect(rows.nth(1)).to_contain_text(sam.full_name)
    axe_check(page)

    # The longest-waiting note: read, then attested.
    page.get_by_role("link", name=f"Review the note of {older_patient} by {rhea.full_name}").click()
    expect(page).to_have_url(re.compile(rf"/notes/{older.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Visit note: {older_patient}")
    expect(page.get_by_role("region", name="The note")).to_contain_text(ASSESSMENT_MARKER)
    expect(page.get_by_role("heading", name="Your attestation")).to_be_visible()
    axe_check(page)
    page.get_by_label("Comment for the resident (optional)").fill("Good plan.")
    page.get_by_role("button", name="Attest note").click()
    expect(page).to_have_url(re.compile(r"/attestations$"))
    expect(_flash(page)).to_have_text(f"Attested the note of {older_patient}.")
    expect(page.get_by_text("1 note waits for you, the longest-waiting first.")).to_be_visible()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(newer_patient)
    axe_check(page)

    # The other goes back to Sam, saying what to change.
    comment = f"{RETURN_MARKER}: say which lunch you agreed on."
    page.get_by_role("link", name=f"Review the note of {newer_patient} by {sam.full_name}").click()
    page.get_by_label("What should the resident change?").fill(comment)
    page.get_by_role("button", name="Return to the resident").click()
    expect(_flash(page)).to_have_text(f"Returned the note of {newer_patient} to {sam.full_name}.")
    expect(page.get_by_text("No notes wait for your attestation.")).to_be_visible()
    axe_check(page)

    # Sam, on a tablet, finds it returned with the comment.
    tablet = new_page(**TABLET)
    sign_in_page(tablet, sam)
    _nav(tablet, "My notes")
    expect(tablet).to_have_url(re.compile(r"/my/encounters$"))
    returned = tablet.get_by_role("region", name=re.compile(r"^Returned to you"))
    expect(returned.locator("tbody tr")).to_have_count(1)
    expect(returned).to_contain_text(newer_patient)
    expect(returned).to_contain_text(comment)
    expect(returned).to_contain_text(attending.full_name)
    axe_check(tablet)

    returned.get_by_role("link", name=re.compile(rf"^Open the note of {newer_patient}")).click()
    expect(tablet).to_have_url(re.compile(rf"/notes/{newer.id}$"))
    expect(tablet.locator(".page-head .badge")).to_have_text("Returned")
    expect(tablet.get_by_role("note")).to_contain_text(f"Returned by {attending.full_name}")
    expect(tablet.get_by_role("note")).to_contain_text(comment)
    expect(tablet.get_by_role("button", name="Sign again")).to_have_count(0)
    axe_check(tablet)

    tablet.get_by_label("Addendum", exact=True).fill(
        "The smaller lunch is a sandwich and fruit, not soup."
    )
    tablet.get_by_role("button", name="Sign and add addendum").click()
    expect(_flash(tablet)).to_have_text(
        "Addendum added. Sign the note again to send it back for attestation."
    )
    expect(tablet.get_by_role("region", name="Addenda")).to_contain_text("sandwich and fruit")
    axe_check(tablet)
    tablet.get_by_role("button", name="Sign again").click()
    expect(_flash(tablet)).to_have_text(
        f"Signed again. The note waits for {attending.full_name}'s attestation."
    )
    expect(tablet.locator(".page-head .badge")).to_have_text("Awaiting attestation")
    history = tablet.get_by_role("region", name="History")
    expect(history.locator("li strong")).to_have_text(["Signed", "Returned", "Signed again"])
    axe_check(tablet)

    # Back with the attending, who attests it.
    _nav(page, "To attest")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(newer_patient)
    expect(rows.first.locator(".badge")).to_have_text("Signed again")
    axe_check(page)
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("region", name="Addenda")).to_contain_text("sandwich and fruit")
    axe_check(page)
    page.get_by_role("button", name="Attest note").click()
    expect(_flash(page)).to_have_text(f"Attested the note of {newer_patient}.")
    expect(page.get_by_text("No notes wait for your attestation.")).to_be_visible()
    axe_check(page)

    _nav(tablet, "My notes")
    attested = tablet.get_by_role("region", name=re.compile(r"^Attested"))
    expect(attested.locator("tbody tr")).to_have_count(1)
    expect(attested).to_contain_text(newer_patient)
    expect(tablet.get_by_role("region", name=re.compile(r"^Returned to you"))).to_have_count(0)
    axe_check(tablet)

    # Sam's training record: this academic year's signed notes, counted, ready to download.
    tablet.get_by_role("link", name="My encounter log (training record)").click()
    expect(tablet).to_have_url(re.compile(r"/my/encounters/log$"))
    expect(tablet.get_by_role("heading", level=1)).to_contain_text("My encounter log")
    expect(
        tablet.get_by_role("link", name=re.compile(r"^Download .* \(1\) as CSV$"))
    ).to_be_visible()
    expect(
        tablet.get_by_role("table", name=re.compile("^The latest|^All of them"))
    ).to_contain_text("Attested")
    axe_check(tablet)

    # The attending opens the patient's record: the latest visits first.
    page.goto(f"/patients/{newer_patient_id}/record")
    expect(page.get_by_role("heading", level=1)).to_contain_text(newer_patient)
    expect(page.get_by_role("link", name=re.compile(r"^Read the note"))).to_have_count(1)
    axe_check(page)


def test_a_patient_on_a_phone_reads_the_plan_never_the_assessment_and_marks_a_goal(
    phone_page, axe_check, sign_in_page, clinic, db
):
    page = phone_page
    rhea = clinic.residents[0]
    slot = _plan(db, clinic)[rhea.id][0]
    note = _write(db, slot, sign_at=utcnow() - timedelta(minutes=5))
    note_workflow.attest(note, clinic.attending)
    db.session.commit()
    patient = slot.patient

    sign_in_page(page, patient)
    _nav(page, "My visits")
    expect(page).to_have_url(re.compile(r"/my/visits$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My visit summaries")
    summary = page.locator("section.card")
    expect(summary).to_have_count(1)
    expect(summary).to_contain_text(
        f"Your one-on-one visit with {rhea.full_name}, Tuesday diabetes group."
    )
    expect(summary.get_by_role("heading", name="Your plan")).to_be_visible()
    expect(summary).to_contain_text("Eat a smaller lunch and walk after meals.")
    expect(summary.get_by_role("heading", name="Your goals")).to_be_visible()
    expect(summary.locator("li")).to_have_text(
        ["Walk 10 minutes after dinner", "Pack a smaller lunch"]
    )
    content = page.content()
    assert ASSESSMENT_MARKER not in content
    assert "Assessment" not in content
    axe_check(page)

    page.get_by_role("main").get_by_role("link", name="my goals", exact=True).click()
    expect(page).to_have_url(re.compile(r"/my/goals$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My goals")
    walk = page.get_by_role("region", name="Walk 10 minutes after dinner")
    expect(walk).to_contain_text("You have not said how it is going yet.")
    expect(page.get_by_role("region", name="Pack a smaller lunch")).to_be_visible()
    assert ASSESSMENT_MARKER not in page.content()
    axe_check(page)

    walk.get_by_label("Some progress").check()
    walk.get_by_label("Anything to add?").fill("Three evenings this week.")
    walk.get_by_role("button", name=re.compile(r"^Save")).tap()
    expect(_flash(page)).to_have_text("Thanks, your progress is saved.")
    walk = page.get_by_role("region", name="Walk 10 minutes after dinner")
    expect(walk).to_contain_text("Last time you said: Some progress")
    expect(walk).to_contain_text("Three evenings this week.")
    axe_check(page)


def test_the_coordinator_follows_the_notes_on_the_tracker_without_reading_them(
    page, axe_check, sign_in_page, clinic, db
):
    rhea, sam, lena = clinic.residents
    by_provider = _plan(db, clinic)
    now = utcnow()
    complete = _write(db, by_provider[rhea.id][0], sign_at=now - timedelta(minutes=20))
    note_workflow.attest(complete, clinic.attending)
    awaiting = _write(db, by_provider[sam.id][0], sign_at=now - timedelta(minutes=15))
    returned = _write(db, by_provider[lena.id][0], sign_at=now - timedelta(minutes=10))
    note_workflow.return_note(returned, f"{RETURN_MARKER}: say more.", clinic.attending)
    draft = _write(db, by_provider[rhea.id][1])
    db.session.commit()

    sign_in_page(page, clinic.coordinator)
    page.goto(f"/sessions/{clinic.group_session.id}/tracker")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Note tracker")
    expect(page.get_by_role("heading", name="2 notes need work")).to_be_visible()
    expect(
        page.get_by_text("You see where each note stands. What a note says is for clinicians only.")
    ).to_be_visible()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(12)
    for note, state in (
        (returned, "Returned for changes"),
        (draft, "Draft, not signed"),
        (awaiting, "Signed, awaiting attestation"),
        (complete, "Complete"),
    ):
        row = rows.filter(has_text=note.patient.full_name)
        expect(row.locator("td[data-label='Note'] .badge")).to_have_text(state)
        expect(row.locator("td[data-label='One-on-one']")).to_contain_text(note.author.full_name)
    expect(rows.locator(".badge", has_text="No one-on-one visit")).to_have_count(8)
    # Statuses only: no way into a note, and none of what one says.
    expect(page.get_by_role("link", name=re.compile(r"^Open"))).to_have_count(0)
    content = page.content()
    for marker in (ASSESSMENT_MARKER, CONCERNS_MARKER, RETURN_MARKER, "smaller lunch"):
        assert marker not in content, marker
    axe_check(page)
