"""Journeys through a real Chromium about session teams: coverage, assignments and time off.

A coordinator mends a session the coverage page flags (a clinician away, a resident provider
with no precepting attending, filled from the page's own form) and meets a clash with another
group; a resident on a phone finds their coming session and records time off over it.
"""

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import PRECEPTOR, PROVIDER, TEAM_ROLES, StaffAssignment

pytestmark = pytest.mark.browser

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _flash(page):
    return page.locator(".flashes")


def _one_session_group(create_group, site, db, name: str, day: date) -> GroupSession:
    """A group whose only session is on ``day`` at 5:00 PM local time."""
    group = create_group(
        site, name=name, rule=f"FREQ=WEEKLY;BYDAY={WEEKDAYS[day.weekday()]}", start=day, until=day
    )
    sessions = db.session.scalars(
        select(GroupSession).where(GroupSession.group_id == group.id)
    ).all()
    assert len(sessions) == 1, sessions
    return sessions[0]


def _person_option(user) -> str:
    """The label of a person in the session page's person select."""
    return f"{user.full_name}, {user.discipline_label}"


def _assignments_of(db, user) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(StaffAssignment.id)).where(StaffAssignment.user_id == user.id)
    )


def test_coordinator_mends_a_flagged_session_from_the_coverage_page(
    page, axe_check, sign_in_page, coordinator, create_user, create_group, site, db
):
    day = date.today() + timedelta(days=4)
    flagged = _one_session_group(create_group, site, db, "Thursday heart failure group", day)
    other = _one_session_group(create_group, site, db, "Evening weight group", day)
    group = flagged.group
    resident = create_user(
        CLINICIAN, given_name="Ravi", family_name="Resident", discipline="resident", training_year=2
    )
    nurse = create_user(
        CLINICIAN, given_name="Nora", family_name="Away", discipline="registered_nurse"
    )
    busy = create_user(CLINICIAN, given_name="Bea", family_name="Busy", discipline="attending")
    free = create_user(CLINICIAN, given_name="Faye", family_name="Free", discipline="attending")
    team.set_staffing_rule(group, PROVIDER, actor=coordinator)
    team.assign_staff(flagged, resident, PROVIDER, actor=coordinator)
    team.assign_staff(flagged, nurse, "support", actor=coordinator)
    # Nora is on the session, then records time off over it.
    team.add_time_off(
        nurse,
        flagged.starts_at - timedelta(hours=1),
        flagged.ends_at + timedelta(hours=1),
        "Family matter",
        actor=nurse,
    )
    # Bea is the provider of another group's session at the same time.
    team.assign_staff(other, busy, PROVIDER, actor=coordinator)
    db.session.commit()
    flagged_id, other_id = flagged.id, other.id
    when = site.when(flagged.starts_at)

    sign_in_page(page, coordinator)
    page.goto(f"/sites/{site.id}")
    page.get_by_role("link", name="Team coverage").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team coverage at Eastside Clinic")
    expect(page.get_by_role("status").filter(has_text="need")).to_have_text(
        "1 session of 2 needs attention."
    )
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    # The flagged session comes first, with both problems and no time-off reason.
    row = page.locator(f"#session-{flagged_id}")
    expect(rows.first).to_have_id(f"session-{flagged_id}")
    expect(row).to_contain_text("Thursday heart failure group")
    expect(row.locator(".badge--warn")).to_have_text("2 problems")
    expect(row).to_contain_text("A resident is a provider, so a precepting attending is needed.")
    expect(row).to_contain_text("Nora Away is on time off during this session.")
    expect(row).not_to_contain_text("Family matter")
    expect(page.locator(f"#session-{other_id} .badge--ok")).to_have_text("Covered")
    # The missing precepting attending comes with who is free then: Faye, not Bea (busy).
    preceptor = row.get_by_label(f"{TEAM_ROLES[PRECEPTOR]}: who is free")
    expect(preceptor.locator("option")).to_have_text(["Choose a person", _person_option(free)])
    axe_check(page)

    # To the session's team, to take Nora off.
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/sessions/{flagged_id}#team-heading$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Thursday heart failure group")
    team_section = page.locator("section[aria-labelledby='team-heading']")
    expect(team_section.locator(".alert--warning")).to_contain_text(
        "Nora Away is on time off during this session."
    )
    axe_check(page)

    # Bea is busy with the other group at that time: refused, nobody added.
    team_section.get_by_label("Person").select_option(label=_person_option(busy))
    team_section.get_by_label("Role").select_option(label=TEAM_ROLES[PRECEPTOR])
    team_section.get_by_role("button", name="Add to the team").click()
    expect(_flash(page)).to_contain_text(
        "Bea Busy is already on the team of Evening weight group on "
    )
    expect(_flash(page)).to_contain_text("which overlaps this session.")
    expect(team_section.locator("tbody")).not_to_contain_text("Bea Busy")
    assert _assignments_of(db, busy) == 1
    axe_check(page)

    # Nora is away: off the team.
    team_section.get_by_role("button", name="Remove Nora Away as support").click()
    expect(_flash(page)).to_have_text("Nora Away is off the team (support).")
    expect(team_section.locator("tbody")).not_to_contain_text("Nora Away")
    expect(team_section.locator(".alert--warning")).to_contain_text(
        "A resident is a provider, so a precepting attending is needed."
    )
    expect(team_section.locator(".alert--warning")).not_to_contain_text("time off")

    # Back on the coverage page, the one gap left is filled from its form.
    page.goto(f"/sites/{site.id}/coverage")
    row = page.locator(f"#session-{flagged_id}")
    expect(row.locator(".badge--warn")).to_have_text("1 problem")
    row.get_by_label(f"{TEAM_ROLES[PRECEPTOR]}: who is free").select_option(
        label=_person_option(free)
    )
    row.get_by_role("button", name=f"Assign as precepting attending on {when}").click()
    expect(page).to_have_url(re.compile(rf"/sites/{site.id}/coverage#session-{flagged_id}$"))
    expect(_flash(page)).to_have_text(
        f"Faye Free is on the team of Thursday heart failure group on {when} "
        "as precepting attending."
    )
    expect(page.get_by_text("All 2 sessions are covered.")).to_be_visible()
    expect(row.locator(".badge--ok")).to_have_text("Covered")
    expect(row).to_contain_text("Precepting attending: Faye Free")
    expect(row.locator("form")).to_have_count(0)
    expect(page.locator(".badge--warn")).to_have_count(0)
    assert _assignments_of(db, free) == 1
    axe_check(page)


def test_resident_on_a_phone_records_time_off_over_their_session(
    phone_page, axe_check, sign_in_page, coordinator, create_user, create_group, site, db
):
    page = phone_page
    day = date.today() + timedelta(days=5)
    group_session = _one_session_group(create_group, site, db, "Monday asthma group", day)
    resident = create_user(
        CLINICIAN, given_name="Rhea", family_name="Patel", discipline="resident", training_year=1
    )
    team.assign_staff(group_session, resident, PROVIDER, actor=coordinator)
    db.session.commit()
    when = site.when(group_session.starts_at)
    local_day = group_session.local_start.date()

    sign_in_page(page, resident)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My schedule").click()
    expect(page).to_have_url(re.compile(r"/my/schedule$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("My schedule")
    rows = page.locator("section[aria-labelledby='my-sessions'] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(when)
    expect(rows.first).to_contain_text("Monday asthma group")
    expect(rows.first).to_contain_text("Provider (one-on-one visits)")
    expect(page.get_by_text("No time off recorded.")).to_be_visible()
    axe_check(page)

    # Time off over the whole evening of the session.
    form = page.locator("section[aria-labelledby='add-time-off']")
    form.get_by_label("First day").fill(local_day.isoformat())
    form.get_by_label("From (time)").fill("12:00")
    form.get_by_label("Last day").fill(local_day.isoformat())
    form.get_by_label("Until (time)").fill("22:00")
    form.get_by_label("Reason (optional)").fill("Conference")
    form.get_by_role("button", name="Add time off").click()
    expect(_flash(page)).to_have_text("Your time off is saved.")
    time_off = page.locator("section[aria-labelledby='my-time-off']")
    expect(time_off).to_contain_text("Conference")
    expect(time_off.locator(".alert--warning")).to_have_text(
        f"You are on Monday asthma group on {when} during this time off: tell the coordinator."
    )
    # Still on the session: the coordinator decides.
    expect(rows).to_have_count(1)
    axe_check(page)
