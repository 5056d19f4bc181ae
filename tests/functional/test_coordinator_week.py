"""A coordinator's week at a glance: what needs them first, then their sites' next 14 days."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from groupvisits.accounts.models import PATIENT
from groupvisits.dashboard.services import coordinator_week
from groupvisits.roster import attendance as rules
from groupvisits.roster import services as roster
from groupvisits.schedule import services as schedule
from groupvisits.timeutil import utcnow


def _section(page: str, heading_id: str) -> str:
    """The HTML of the card whose heading has this id."""
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    assert match, f"no section {heading_id}"
    return match.group(0)


def _sessions_of(group):
    return schedule.upcoming_sessions({group.id}, now=utcnow(), days=92)


def _offer(create_group, create_user, coordinator, db, **fields):
    """A group of one place, freed so that the next on its waitlist is offered it."""
    group = create_group(rule=None, min_members=1, target_members=1, max_members=1, **fields)
    leaving = roster.enrol(group, create_user(PATIENT), actor=coordinator)
    roster.enrol(group, create_user(PATIENT), actor=coordinator)
    roster.end_membership(leaving, "Moved away", actor=coordinator)
    db.session.commit()
    return group


def test_the_week_lists_the_next_14_days_with_census_and_rsvps_still_missing(
    db, create_group, create_user, coordinator, coordinator_client
):
    group = create_group(
        start=date.today() + timedelta(days=2),
        rule="FREQ=WEEKLY",
        name="Tuesday group",
        min_members=1,
        target_members=2,
        max_members=2,
    )
    answered, silent, waiting = (create_user(PATIENT) for _ in range(3))
    for patient in (answered, silent):
        roster.enrol(group, patient, actor=coordinator)
    roster.enrol(group, waiting, actor=coordinator)  # on the waitlist: owes no answer
    first, second, third, *_ = _sessions_of(group)
    rules.answer_rsvp(first, answered, "no", actor=answered)
    db.session.commit()

    page = coordinator_client.get("/").get_data(as_text=True)
    week = _section(page, "coming-up")

    assert f'href="/sessions/{first.id}"' in week
    assert f'href="/sessions/{second.id}"' in week
    assert f'href="/sessions/{third.id}"' not in week  # 16 days ahead
    assert f'<a href="/sessions/{first.id}/attendance">1 member still to answer</a>' in week
    assert f'<a href="/sessions/{second.id}/attendance">2 members still to answer</a>' in week
    assert "Expected 0 of minimum 1" in week


def test_other_sites_stay_off_the_week(
    db, create_group, create_user, coordinator, coordinator_client, other_site
):
    create_group(other_site, start=date.today() + timedelta(days=2), name="Elsewhere group")
    theirs = create_group(other_site, rule=None, name="Elsewhere waiting")
    roster.request_to_join(theirs, create_user(PATIENT, sites=[other_site]))
    db.session.commit()

    page = coordinator_client.get("/").get_data(as_text=True)

    assert "Elsewhere" not in page
    assert "Nothing needs you right now" in page
    assert "Nothing is scheduled at your sites in the next 14 days." in page


def test_what_needs_the_coordinator_comes_first(
    db, create_group, create_user, coordinator, coordinator_client
):
    low = create_group(start=date.today() + timedelta(days=3), rule="FREQ=MONTHLY", name="Low")
    member = create_user(PATIENT)
    roster.enrol(low, member, actor=coordinator)
    low_session = _sessions_of(low)[0]
    rules.answer_rsvp(low_session, member, "yes", actor=member)
    asked = create_group(rule=None, name="Asked group")
    for _ in range(2):
        roster.request_to_join(asked, create_user(PATIENT))
    soon = _offer(create_group, create_user, coordinator, db, name="Soon", offer_hold_hours=12)
    later = _offer(create_group, create_user, coordinator, db, name="Later", offer_hold_hours=72)
    db.session.commit()

    page = coordinator_client.get("/").get_data(as_text=True)
    needs = _section(page, "needs-you")

    assert page.index('id="needs-you"') < page.index('id="coming-up"') < page.index("Your sites")
    assert "Below minimum" in needs and f'href="/sessions/{low_session.id}"' in needs
    assert "expected 1 of minimum 8" in needs
    assert f'href="/sessions/{low_session.id}/attendance"' in needs
    assert f'<a href="/groups/{asked.id}/roster">2 people ask to join Asked group</a>' in needs
    assert f'href="/groups/{soon.id}/roster#offered-h">A place offered in Soon lapses' in needs
    assert "Later" not in needs
    offers = _section(page, "offers-out")
    assert f'href="/groups/{later.id}/roster#offered-h">Later</a>: held until' in offers
    assert offers.count("Lapses within a day") == 1


def test_offer_lapse_times_are_the_sites_local_time(
    db, create_group, create_user, coordinator, coordinator_client
):
    group = _offer(create_group, create_user, coordinator, db, name="Hold", offer_hold_hours=12)
    week = coordinator_week(coordinator, now=utcnow())
    (offer,) = week.offers
    local = offer.expires_at.astimezone(ZoneInfo(group.site.timezone))

    page = coordinator_client.get("/").get_data(as_text=True)

    assert f"{local:%-I:%M %p}" in _section(page, "offers-out")


def test_the_14_days_are_the_sites_own_days(
    db, create_group, create_site, create_user, coordinator
):
    """Today and the 13 days after it, in the site's zone, whatever the server's day."""
    far_east = create_site("Harbour clinic", timezone="Pacific/Auckland")
    coordinator.sites.append(far_east)
    db.session.commit()
    today = date(2031, 3, 3)
    until = today + timedelta(days=20)
    create_group(far_east, rule="FREQ=DAILY", start=today, at=time(9, 0), until=until)
    # 08:00 on 3 March in Auckland is still 2 March in UTC.
    now = datetime.combine(today, time(8, 0), ZoneInfo("Pacific/Auckland")).astimezone(UTC)

    week = coordinator_week(coordinator, now=now)

    days = [d.day for d in week.days]
    assert now.date() == today - timedelta(days=1)
    assert days[0] == today
    assert days[-1] == today + timedelta(days=13)
    assert len(days) == 14
