"""A patient's side of the roster: answering in two taps, agreements, offers, requests, privacy.

Also the demo clinic that ``flask groupvisits seed-demo`` loads.
"""

import html
import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from groupvisits import localtime
from groupvisits.accounts.models import COORDINATOR, PATIENT, User
from groupvisits.demo import DEMO_DOMAIN
from groupvisits.groups.models import VisitGroup
from groupvisits.roster import attendance as rules
from groupvisits.roster import services
from groupvisits.roster.models import (
    ACTIVE,
    ARRIVED,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    WITHDRAWN,
    AgreementAcceptance,
    Attendance,
    Membership,
)
from groupvisits.schedule import services as schedule
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import utcnow

DEMO_PASSWORD = "demo-password-1"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def enrol(db, group, patient, coordinator) -> Membership:
    membership = services.enrol(group, patient, actor=coordinator)
    db.session.commit()
    return membership


def fresh(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def upcoming_group(create_group, site, **fields):
    """A group whose sessions all lie three days or more ahead, so answers are open."""
    return create_group(site, start=date.today() + timedelta(days=3), **fields)


def first_session(db, group) -> GroupSession:
    return db.session.scalars(
        select(GroupSession)
        .where(GroupSession.group_id == group.id, GroupSession.starts_at > utcnow())
        .order_by(GroupSession.starts_at)
    ).first()


def rsvp_form(page: str, session_id: int) -> str:
    """The RSVP ``<form>`` of one session on a page."""
    match = re.search(
        rf'<form method="post" action="/sessions/{session_id}/rsvp".*?</form>', page, re.S
    )
    assert match, "no RSVP form for this session"
    return match.group(0)


def hidden_fields(form: str) -> dict[str, str]:
    """The hidden inputs of a form, as a browser would send them."""
    fields = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        attributes = dict(re.findall(r'(\w+)="([^"]*)"', tag))
        if attributes.get("type") == "hidden":
            fields[attributes["name"]] = attributes.get("value", "")
    return fields


def attendance_of(db, group_session_id: int, patient) -> Attendance | None:
    db.session.expire_all()
    return db.session.scalar(
        select(Attendance).where(
            Attendance.session_id == group_session_id, Attendance.patient_id == patient.id
        )
    )


# Answering in two taps


def test_patient_answers_yes_in_two_taps_from_the_dashboard(
    db, client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    group_session = first_session(db, group)
    session_id = group_session.id
    start = group_session.starts_at
    heading = f"{localtime.day(start, site)}, {localtime.clock(start, site)}"

    # Tap one: sign in, and the dashboard opens on the next session.
    signed_in = client.post_form(
        "/login",
        {"email": patient.email, "password": "correct horse battery"},
        follow_redirects=True,
    )
    page = text(signed_in)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Hello, Pat" in page
    assert heading in page
    assert "Your answer: <strong>not given yet</strong>" in page
    form = rsvp_form(page, session_id)
    assert re.search(r'<button type="submit" name="answer" value="yes"[^>]*>Yes', form)

    # Tap two: "Yes", with exactly what the form on the page sends.
    response = client.post(
        f"/sessions/{session_id}/rsvp", data={**hidden_fields(form), "answer": "yes"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = text(client.get("/"))
    assert "Thanks, see you there!" in home
    assert "Your answer: <strong>Yes, I'll come</strong>" in home
    answered = rsvp_form(home, session_id)
    assert re.search(r'value="yes" class="button rsvp__answer" aria-pressed="true">.*✓', answered)
    assert 'value="no" class="button rsvp__answer button--secondary" aria-pressed="false"' in (
        answered
    )
    attendance = attendance_of(db, session_id, patient)
    assert attendance.rsvp == "yes" and attendance.answered_at is not None
    mine = text(client.get("/my/sessions"))
    assert heading in mine and "Your answer: <strong>Yes, I'll come</strong>" in mine


def test_patient_changes_the_answer_and_brings_a_support_person(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id
    patient_client.post_form(f"/sessions/{session_id}/rsvp", {"answer": "no"})

    response = patient_client.post_form(
        f"/sessions/{session_id}/rsvp",
        {"answer": "yes", "brings_support_person": "y"},
        follow_redirects=True,
    )

    page = text(response)
    assert "Your answer: <strong>Yes, I'll come</strong>" in page
    assert re.search(r'name="brings_support_person" value="y"[^>]* checked>', page)
    attendance = attendance_of(db, session_id, patient)
    assert attendance.rsvp == "yes" and attendance.brings_support_person


def test_yes_is_refused_until_the_agreement_is_accepted(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    services.publish_agreement(group, "What is said here stays here.", actor=coordinator)
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id
    agreement_link = (
        f'<a href="/groups/{group.id}/agreement">read and accept the group agreement</a>'
    )

    home = text(patient_client.get("/"))
    assert agreement_link in home

    refused = patient_client.post_form(
        f"/sessions/{session_id}/rsvp", {"answer": "yes", "next": "/"}, follow_redirects=True
    )
    page = text(refused)
    assert "Please read and accept the group's confidentiality agreement first." in page
    assert agreement_link in page
    assert "Your answer: <strong>not given yet</strong>" in page
    assert attendance_of(db, session_id, patient) is None

    agreement_page = text(patient_client.get(f"/groups/{group.id}/agreement"))
    assert "What is said here stays here." in agreement_page
    assert f'action="/groups/{group.id}/agreement/accept"' in agreement_page
    assert "I agree" in agreement_page

    accepted = patient_client.post_form(
        f"/groups/{group.id}/agreement/accept",
        {"next": "/", "share_name": "yes"},
        follow_redirects=True,
    )
    page = text(accepted)
    assert "Thank you. You have accepted the group agreement." in page
    assert agreement_link not in page
    db.session.expire_all()
    acceptance = db.session.scalar(
        select(AgreementAcceptance).where(AgreementAcceptance.patient_id == patient.id)
    )
    assert acceptance.method == "app" and acceptance.accepted_on == date.today()
    again = text(patient_client.get(f"/groups/{group.id}/agreement"))
    assert f"You accepted this version on {date.today():%d %B %Y}." in again

    answered = patient_client.post_form(
        f"/sessions/{session_id}/rsvp", {"answer": "yes", "next": "/"}, follow_redirects=True
    )
    assert "Your answer: <strong>Yes, I'll come</strong>" in text(answered)
    assert attendance_of(db, session_id, patient).rsvp == "yes"


def test_after_the_deadline_the_buttons_are_gone_and_an_answer_is_refused(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    group.rsvp_deadline_days = 200
    db.session.commit()
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id

    home = text(patient_client.get("/"))
    assert "Answers are closed. Please call the clinic if your plans changed." in home
    assert f'action="/sessions/{session_id}/rsvp"' not in home
    assert 'name="answer"' not in text(patient_client.get("/my/sessions"))

    response = patient_client.post_form(
        f"/sessions/{session_id}/rsvp", {"answer": "yes"}, follow_redirects=True
    )

    assert response.status_code == 200
    assert "Answers for this session are closed. Please call the clinic if your plans changed." in (
        text(response)
    )
    assert attendance_of(db, session_id, patient) is None


# Waitlist, offers, requests to join, leaving


def test_my_groups_shows_the_waitlist_position(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    enrol(db, group, create_user(PATIENT, password=None), coordinator)
    enrol(db, group, create_user(PATIENT, password=None), coordinator)
    enrol(db, group, patient, coordinator)

    page = text(patient_client.get("/my/groups"))

    assert group.name in page
    assert "You are waiting for a place</strong>: you are number 2 on the waitlist." in page
    assert "When a place frees up, we will offer it to you here and by email." in page
    assert "Leave the waitlist" in page


def test_patient_accepts_an_offered_place(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    leaving = enrol(db, group, create_user(PATIENT, password=None), coordinator)
    membership_id = enrol(db, group, patient, coordinator).id
    services.end_membership(leaving, "Moved away", actor=coordinator)
    db.session.commit()

    page = text(patient_client.get("/my/groups"))
    assert "A place is open for you." in page and "We are holding the place for you until" in page
    assert f'action="/memberships/{membership_id}/offer/accept"' in page
    assert f'action="/memberships/{membership_id}/offer/decline"' in page
    assert "Yes, I take the place" in page and "No, thank you" in page

    response = patient_client.post_form(
        f"/memberships/{membership_id}/offer/accept", follow_redirects=True
    )

    page = text(response)
    assert "Welcome to the group! Your place is confirmed." in page
    assert "<strong>Member</strong>" in page and "Yes, I take the place" not in page
    membership = fresh(db, Membership, membership_id)
    assert membership.status == ACTIVE and membership.joined_at is not None


def test_an_expired_offer_shows_an_error_and_the_place_moves_on(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    leaving = enrol(db, group, create_user(PATIENT, password=None), coordinator)
    membership_id = enrol(db, group, patient, coordinator).id
    next_in_line = enrol(db, group, create_user(PATIENT, password=None), coordinator)
    next_id = next_in_line.id
    services.end_membership(leaving, "Moved away", actor=coordinator)
    db.session.commit()
    offered = fresh(db, Membership, membership_id)
    assert offered.status == OFFERED
    offered.offer_expires_at = utcnow() - timedelta(minutes=5)
    db.session.commit()

    response = patient_client.post_form(
        f"/memberships/{membership_id}/offer/accept", follow_redirects=True
    )

    page = text(response)
    assert "Sorry, this offer has expired and the place was offered on." in page
    assert "Welcome to the group" not in page
    assert "you are number 1 on the waitlist." in page
    assert "Yes, I take the place" not in page
    mine = fresh(db, Membership, membership_id)
    assert mine.status == WAITLISTED and mine.waitlist_position == 1
    assert db.session.get(Membership, next_id).status == OFFERED


def test_patient_asks_to_join_and_the_coordinator_sees_the_request(
    db, patient_client, coordinator_client, create_group, site, patient
):
    group = create_group(site, name="Thursday heart group")

    page = text(patient_client.get("/my/groups"))
    assert "You are not in a group yet." in page
    assert "Thursday heart group" in page and f'action="/groups/{group.id}/join"' in page

    response = patient_client.post_form(
        f"/groups/{group.id}/join",
        {"message": "My nurse said it would help."},
        follow_redirects=True,
    )

    page = text(response)
    assert "Your request is sent. The coordinator will answer you here." in page
    assert "Asked to join</strong>" in page and "The coordinator will answer you here." in page
    membership = db.session.scalar(select(Membership).where(Membership.patient_id == patient.id))
    assert membership.status == REQUESTED
    roster = text(coordinator_client.get(f"/groups/{group.id}/roster"))
    assert "Asking to join (1)" in roster
    assert "Ient, Pat: “My nurse said it would help.”" in roster

    twice = patient_client.post_form(f"/groups/{group.id}/join", {}, follow_redirects=True)
    assert "Thursday heart group" in text(twice)
    count = db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.patient_id == patient.id)
    )
    assert count == 1


def test_patient_withdraws_from_a_group(
    db, patient_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    membership_id = enrol(db, group, patient, coordinator).id

    response = patient_client.post_form(
        f"/memberships/{membership_id}/withdraw", follow_redirects=True
    )

    page = text(response)
    assert "You have left. You are welcome back any time." in page
    assert f"{group.name}: Withdrew" in page
    membership = fresh(db, Membership, membership_id)
    assert membership.status == WITHDRAWN and membership.ended_at is not None
    assert f'action="/sessions/{first_session(db, group).id}/rsvp"' not in text(
        patient_client.get("/")
    )


# Offers and waiting, on the patient's home page


def section(page: str, heading_id: str) -> str:
    """The ``<section>`` labelled by the heading with this id."""
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    assert match, f"no section {heading_id!r}"
    return match.group(0)


def offer_for(db, create_group, site, coordinator, patient, create_user, **fields) -> Membership:
    """``patient`` waits for the one place of a group, then the member leaves: an offer."""
    group = create_group(site, min_members=1, target_members=1, max_members=1, **fields)
    leaving = enrol(db, group, create_user(PATIENT, password=None), coordinator)
    membership = enrol(db, group, patient, coordinator)
    services.end_membership(leaving, "Moved away", actor=coordinator)
    db.session.commit()
    return fresh(db, Membership, membership.id)


def test_a_waiting_patients_home_says_they_wait_and_does_not_list_the_group_as_theirs(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = create_group(site, name="Tuesday group", min_members=1, target_members=1, max_members=1)
    enrol(db, group, create_user(PATIENT, password=None), coordinator)
    enrol(db, group, patient, coordinator)

    groups = section(text(patient_client.get("/")), "my-groups")

    assert "Tuesday group: you are waiting for a place." in groups
    assert "You are number 1 on the waitlist." in groups
    assert "When a place frees up, we will offer it to you here and by email." in groups
    assert f'href="/groups/{group.id}"' not in groups
    assert "Your sessions appear here once you have a place in the group." in text(
        patient_client.get("/")
    )


def test_an_offer_comes_first_on_home_with_its_local_expiry_and_is_taken_there(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    offer = offer_for(db, create_group, site, coordinator, patient, create_user, name="Heart group")
    held_until = offer.offer_expires_at.astimezone(ZoneInfo(site.timezone))

    page = text(patient_client.get("/"))

    offer_card = section(page, f"offer-{offer.id}")
    assert page.index(offer_card) < page.index('aria-labelledby="my-groups"')
    assert "A place is open for you in Heart group" in offer_card
    until = f"{localtime.day(held_until, site)}, {localtime.clock(held_until, site)}"
    assert f"until <strong>{until}</strong>" in offer_card
    assert f'action="/memberships/{offer.id}/offer/accept"' in offer_card
    assert f'action="/memberships/{offer.id}/offer/decline"' in offer_card
    assert ">Yes, I take the place</button>" in offer_card
    assert ">No, thank you</button>" in offer_card
    assert "Heart group:</strong> a place is open for you" in section(page, "my-groups")

    response = patient_client.post_form(f"/memberships/{offer.id}/offer/accept", {"next": "/"})

    assert response.headers["Location"] == "/"
    home = text(patient_client.get("/"))
    assert "Welcome to the group! Your place is confirmed." in home
    assert f'<a href="/groups/{offer.group_id}">Heart group</a>' in section(home, "my-groups")
    assert "A place is open for you" not in home
    assert fresh(db, Membership, offer.id).status == ACTIVE


def test_no_thank_you_on_home_turns_the_place_down(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    offer = offer_for(db, create_group, site, coordinator, patient, create_user)

    response = patient_client.post_form(
        f"/memberships/{offer.id}/offer/decline", {"next": "/"}, follow_redirects=True
    )

    assert "The place is passed on. Thank you for letting us know." in text(response)
    assert fresh(db, Membership, offer.id).status == WITHDRAWN


# Offers answered by phone, on the roster


def test_staff_see_the_offered_persons_phone_and_a_coordinator_records_yes_by_phone(
    db, coordinator_client, clinician_client, create_group, site, coordinator, create_user
):
    patient = create_user(PATIENT, given_name="Mei", family_name="Wang", phone="(555) 010-0177")
    offer = offer_for(db, create_group, site, coordinator, patient, create_user)

    roster = text(coordinator_client.get(f"/groups/{offer.group_id}/roster"))
    assert "Offered a place (1)" in roster
    assert '<a href="tel:5550100177">(555) 010-0177</a>' in roster
    assert f'action="/memberships/{offer.id}/offer/accept-by-phone"' in roster
    assert f'action="/memberships/{offer.id}/offer/decline-by-phone"' in roster
    seen_by_clinician = text(clinician_client.get(f"/groups/{offer.group_id}/roster"))
    assert '<a href="tel:5550100177">(555) 010-0177</a>' in seen_by_clinician
    assert "accept-by-phone" not in seen_by_clinician

    response = coordinator_client.post_form(
        f"/memberships/{offer.id}/offer/accept-by-phone", follow_redirects=True
    )

    assert "Mei Wang has the place (accepted by phone)." in text(response)
    assert fresh(db, Membership, offer.id).status == ACTIVE
    history = text(coordinator_client.get(f"/memberships/{offer.id}/history"))
    assert "by phone, recorded by Cora Ordinator" in history
    again = coordinator_client.post_form(
        f"/memberships/{offer.id}/offer/decline-by-phone", follow_redirects=True
    )
    assert "This offer is no longer open." in text(again)
    assert fresh(db, Membership, offer.id).status == ACTIVE


def test_a_coordinator_records_no_by_phone_and_the_place_goes_to_the_next_person(
    db, coordinator_client, create_group, site, coordinator, patient, create_user
):
    offer = offer_for(db, create_group, site, coordinator, patient, create_user)
    next_in_line = enrol(db, offer.group, create_user(PATIENT, password=None), coordinator)

    response = coordinator_client.post_form(
        f"/memberships/{offer.id}/offer/decline-by-phone", follow_redirects=True
    )

    assert "declined the place (by phone)" in text(response)
    declined = fresh(db, Membership, offer.id)
    assert declined.status == WITHDRAWN
    assert declined.end_reason == "declined the offered place by phone, recorded by Cora Ordinator"
    assert fresh(db, Membership, next_in_line.id).status == OFFERED


def test_a_decision_on_someone_elses_offer_is_refused_and_nothing_is_saved(
    db, sign_in_as, create_group, site, other_site, coordinator, clinician, patient, create_user
):
    offer = offer_for(db, create_group, site, coordinator, patient, create_user)
    other_patient = create_user(PATIENT)
    other_coordinator = create_user(COORDINATOR, sites=[other_site])
    attempts = [
        (other_patient, "offer/accept", 404),
        (other_patient, "offer/decline", 404),
        (other_patient, "offer/accept-by-phone", 403),
        (patient, "offer/accept-by-phone", 403),
        (clinician, "offer/accept-by-phone", 403),
        (clinician, "offer/decline-by-phone", 403),
        (other_coordinator, "offer/accept-by-phone", 404),
        (other_coordinator, "offer/decline-by-phone", 404),
    ]

    for person, action, status in attempts:
        response = sign_in_as(person).post_form(f"/memberships/{offer.id}/{action}")
        assert response.status_code == status, (person.role, action)
        assert "<h1" in response.get_data(as_text=True)  # the error page says what happened

    after = fresh(db, Membership, offer.id)
    assert (after.status, after.offer_expires_at) == (OFFERED, offer.offer_expires_at)


# The support-person choice, saved on its own


def test_the_support_person_is_saved_alone_with_the_save_button_and_shown_ticked(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id
    form = rsvp_form(text(patient_client.get("/")), session_id)
    save = re.search(r'<button type="submit" formaction="([^"]+)"[^>]*>Save', form)
    assert save and save.group(1) == f"/sessions/{session_id}/rsvp/support-person"

    response = patient_client.post(
        save.group(1), data={**hidden_fields(form), "brings_support_person": "y"}
    )

    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = text(patient_client.get("/"))
    assert "Saved: you are bringing a family member or carer." in home
    assert re.search(r'id="guest-\d+" name="brings_support_person" value="y"[^>]* checked>', home)
    assert "Your answer: <strong>not given yet</strong>" in home
    attendance = attendance_of(db, session_id, patient)
    assert (attendance.rsvp, attendance.brings_support_person) == (None, True)

    patient_client.post(save.group(1), data=hidden_fields(form))
    assert attendance_of(db, session_id, patient).brings_support_person is False


def test_rsvp_js_gets_saved_or_the_reason_as_json(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = upcoming_group(create_group, site, min_members=1, target_members=2, max_members=2)
    enrol(db, group, patient, coordinator)
    other = create_user(PATIENT, password=None)
    enrol(db, group, other, coordinator)
    group_session = first_session(db, group)
    rules.answer_rsvp(group_session, other, "yes", actor=other)
    rules.answer_rsvp(group_session, patient, "yes", actor=patient)
    db.session.commit()
    url = f"/sessions/{group_session.id}/rsvp/support-person"
    json = {"Accept": "application/json"}

    full = patient_client.post_form(url, {"brings_support_person": "y"}, headers=json)

    assert full.status_code == 409
    assert full.get_json() == {
        "message": "Sorry, no seat is left for a support person at this session. "
        "Your own place is kept.",
        "saved": False,
    }
    assert attendance_of(db, group_session.id, patient).brings_support_person is False
    # Without the form's CSRF token nothing is saved (rsvp.js says to reload the page).
    expired = patient_client.post(url, data={"brings_support_person": "y"}, headers=json)
    assert expired.status_code == 400
    assert attendance_of(db, group_session.id, patient).brings_support_person is False

    rules.answer_rsvp(group_session, other, "no", actor=other)
    db.session.commit()
    saved = patient_client.post_form(url, {"brings_support_person": "y"}, headers=json)
    assert (saved.status_code, saved.get_json()) == (200, {"message": "Saved", "saved": True})
    assert attendance_of(db, group_session.id, patient).brings_support_person is True


def test_the_answer_buttons_look_unanswered_until_one_is_chosen(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id

    unanswered = rsvp_form(text(patient_client.get("/my/sessions")), session_id)
    patient_client.post_form(f"/sessions/{session_id}/rsvp", {"answer": "maybe"})
    answered = rsvp_form(text(patient_client.get("/my/sessions")), session_id)

    answers = re.compile(
        r'<button type="submit" name="answer" value="(\w+)" class="([^"]+)"'
        r' aria-pressed="(\w+)">(<span class="rsvp__tick" aria-hidden="true">✓</span> )?'
    )
    assert answers.findall(unanswered) == [
        (value, "button rsvp__answer button--secondary", "false", "")
        for value in ("yes", "maybe", "no")
    ]
    assert answers.findall(answered) == [
        ("yes", "button rsvp__answer button--secondary", "false", ""),
        (
            "maybe",
            "button rsvp__answer",
            "true",
            '<span class="rsvp__tick" aria-hidden="true">✓</span> ',
        ),
        ("no", "button rsvp__answer button--secondary", "false", ""),
    ]


# Census: for staff only


def test_patients_never_see_the_census_of_their_groups_sessions(
    db, patient_client, coordinator_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id

    for url in (f"/groups/{group.id}", f"/sessions/{session_id}"):
        page = text(patient_client.get(url))
        for word in ("Census", "Expected", "minimum", "Below", "said yes", "waitlist"):
            assert word not in page, (url, word)
    staff = text(coordinator_client.get(f"/groups/{group.id}"))
    assert "Expected 0 of minimum 8" in staff
    assert "Expected: members who said yes" in staff


# Changes reach patients: moved and cancelled sessions


def test_a_moved_session_says_where_it_was_on_home_and_my_sessions(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    group_session = first_session(db, group)
    was = group_session.local_start
    assert was.time() == time(17, 0)  # shown as 5:00 PM at a US site
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

    for url in ("/", "/my/sessions"):
        card = section(text(patient_client.get(url)), f"s{group_session.id}")
        assert f"Moved from {was:%a} {was.day} {was:%b %Y}, 5:00 PM." in card, url
        moved_to = was + timedelta(days=1)
        assert f"{moved_to:%A} {moved_to.day} {moved_to:%B}, 6:30 PM" in card


def test_a_cancelled_session_stays_on_the_cards_with_its_reason_until_its_end(
    db, patient_client, create_group, site, coordinator, patient
):
    group = upcoming_group(create_group, site)
    enrol(db, group, patient, coordinator)
    group_session = first_session(db, group)
    schedule.cancel_session(group_session, "The room is flooded, sorry.", actor=coordinator)
    db.session.commit()

    for url in ("/", "/my/sessions"):
        card = section(text(patient_client.get(url)), f"s{group_session.id}")
        assert "<strong>Cancelled.</strong> The room is flooded, sorry." in card
        assert 'name="answer"' not in card

    group_session.starts_at = utcnow() - timedelta(minutes=90)
    group_session.ends_at = utcnow() + timedelta(minutes=30)
    db.session.commit()
    assert "The room is flooded, sorry." in text(patient_client.get("/my/sessions"))
    group_session.ends_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "The room is flooded, sorry." not in text(patient_client.get("/my/sessions"))


# Privacy among members


def fellows_of(page: str) -> str:
    match = re.search(r"<h3>Who else is in the group</h3>\s*(<p.*?</p>)", page, re.S)
    assert match, "no list of fellow members"
    return match.group(1)


def test_fellow_members_appear_only_as_first_name_and_initial(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = create_group(site)
    rosa = create_user(
        PATIENT,
        given_name="Rosa",
        family_name="Lopez",
        phone="555-0177",
        dietary_needs="halal",
        password=None,
    )
    harold = create_user(
        PATIENT,
        given_name="Harold",
        family_name="Davis",
        phone="555-0188",
        dietary_needs="low sodium",
        password=None,
    )
    waiting_room = create_user(PATIENT, given_name="Beatrice", family_name="Thompson")
    for person in (patient, rosa, harold):
        enrol(db, group, person, coordinator)
    services.request_to_join(group, waiting_room, "")
    shown = db.session.scalar(select(Membership).where(Membership.patient_id == rosa.id))
    services.set_share_name(shown, True, actor=rosa)
    hidden = db.session.scalar(select(Membership).where(Membership.patient_id == harold.id))
    services.set_share_name(hidden, False, actor=harold)
    db.session.commit()

    page = text(patient_client.get("/my/groups"))

    assert fellows_of(page) == "<p>Rosa L.</p>"
    for secret in (
        "Lopez",
        rosa.email,
        "555-0177",
        "halal",
        "Harold",
        "Davis",
        harold.email,
        "555-0188",
        "low sodium",
        "Beatrice",
        "Thompson",
    ):
        assert secret not in page, secret


def test_turning_off_share_name_hides_the_member_from_others(
    db, sign_in_as, create_group, site, coordinator, patient, create_user
):
    group = create_group(site)
    rosa = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    enrol(db, group, patient, coordinator)
    rosa_membership = enrol(db, group, rosa, coordinator)
    rosa_membership_id = rosa_membership.id
    services.set_share_name(rosa_membership, True, actor=rosa)
    db.session.commit()
    viewer, rosa_client = sign_in_as(patient), sign_in_as(rosa)
    assert fellows_of(text(viewer.get("/my/groups"))) == "<p>Rosa L.</p>"
    assert 'name="share_name" value="yes" required checked' in text(rosa_client.get("/my/groups"))

    response = rosa_client.post_form(
        f"/memberships/{rosa_membership_id}/share-name", {"share_name": "no"}, follow_redirects=True
    )

    page = text(response)
    assert "Saved." in page
    assert 'name="share_name" value="no" required checked' in page
    assert fresh(db, Membership, rosa_membership_id).share_name is False
    page = text(viewer.get("/my/groups"))
    assert "Rosa" not in page
    assert "No one has chosen to show their name yet." in page

    rosa_client.post_form(f"/memberships/{rosa_membership_id}/share-name", {"share_name": "yes"})
    assert fellows_of(text(viewer.get("/my/groups"))) == "<p>Rosa L.</p>"


def test_a_patient_cannot_act_on_another_patients_membership(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)
    other = create_user(PATIENT, password=None)
    other_id = enrol(db, group, other, coordinator).id

    for action in ("withdraw", "offer/accept", "offer/decline", "share-name"):
        response = patient_client.post_form(f"/memberships/{other_id}/{action}")
        assert response.status_code == 404, action

    membership = fresh(db, Membership, other_id)
    assert membership.status == ACTIVE and membership.share_name is None


def test_a_patient_cannot_open_staff_pages_of_their_own_group(
    db, patient_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)
    session_id = first_session(db, group).id

    for url in (
        f"/groups/{group.id}/roster",
        f"/groups/{group.id}/roster.csv",
        f"/sessions/{session_id}/attendance",
        f"/sessions/{session_id}/check-in",
        f"/sessions/{session_id}/sign-in-sheet",
    ):
        response = patient_client.get(url)
        assert response.status_code == 403, url
        assert "Roster" not in text(response) and "Check-in" not in text(response)
    response = patient_client.post_form(
        f"/sessions/{session_id}/check-in", {"patient_id": patient.id, "status": "arrived"}
    )
    assert response.status_code == 403
    assert attendance_of(db, session_id, patient) is None


def test_a_patient_cannot_see_a_group_they_are_not_in(
    db, patient_client, create_group, site, coordinator, patient, create_user
):
    theirs = create_group(site)
    enrol(db, theirs, create_user(PATIENT, password=None), coordinator)
    session_id = first_session(db, theirs).id

    for url in (
        f"/groups/{theirs.id}",
        f"/groups/{theirs.id}/agreement",
    ):
        assert patient_client.get(url).status_code == 404, url
    assert patient_client.post_form(f"/groups/{theirs.id}/agreement/accept").status_code == 404
    response = patient_client.post_form(f"/sessions/{session_id}/rsvp", {"answer": "yes"})
    assert response.status_code == 404
    assert attendance_of(db, session_id, patient) is None


# The demo clinic


def test_seed_demo_fills_three_groups_with_members_answers_and_past_check_ins(
    db, runner, sign_in_as
):
    result = runner.invoke(args=["groupvisits", "seed-demo"])

    assert result.exit_code == 0, result.output
    assert "Demo data loaded" in result.output
    db.session.expire_all()
    groups = db.session.scalars(select(VisitGroup).order_by(VisitGroup.id)).all()
    assert len(groups) == 3
    now = utcnow()
    active_counts = []
    for group in groups:
        memberships = db.session.scalars(
            select(Membership).where(Membership.group_id == group.id)
        ).all()
        active = [m for m in memberships if m.status == ACTIVE]
        waiting = [m for m in memberships if m.status == WAITLISTED]
        active_counts.append((len(active), len(waiting)))
        agreement = services.current_agreement(group)
        assert agreement is not None
        accepted = services.accepted_current(group, [m.patient_id for m in active])
        assert set(accepted) == {m.patient_id for m in active}, group.name
        sessions = db.session.scalars(
            select(GroupSession)
            .where(GroupSession.group_id == group.id)
            .order_by(GroupSession.starts_at)
        ).all()
        upcoming = next(s for s in sessions if s.starts_at >= now)
        answers = db.session.scalars(
            select(Attendance.rsvp).where(Attendance.session_id == upcoming.id)
        ).all()
        assert answers and set(answers) <= {"yes", "maybe"}, group.name
        past_ids = [s.id for s in sessions if s.starts_at < now]
        assert past_ids, group.name
        arrived = db.session.scalar(
            select(func.count())
            .select_from(Attendance)
            .where(Attendance.session_id.in_(past_ids), Attendance.check_in == ARRIVED)
        )
        assert arrived > 0, group.name
    assert sorted(active_counts) == [(10, 0), (10, 0), (15, 2)]

    full = groups[[count for count, _ in active_counts].index(15)]
    coordinator = db.session.scalar(
        select(User).where(User.email == f"coordinator@{DEMO_DOMAIN}", User.role == COORDINATOR)
    )
    roster = text(sign_in_as(coordinator, DEMO_PASSWORD).get(f"/groups/{full.id}/roster"))
    assert "15 of 15 places taken" in roster
    assert "Members (15)" in roster and "Waitlist (2)" in roster
    assert "Not yet" not in roster
