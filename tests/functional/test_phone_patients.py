"""Patients without email, as clinic staff meet them: added with a phone number, phoned, and
answered for; the phone field; dietary needs from a list; a patient's groups on their page."""

import csv
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from groupvisits.accounts import services as accounts
from groupvisits.accounts.models import CLINICIAN, PATIENT, Invitation, SignIn, User
from groupvisits.audit import AuditEvent
from groupvisits.mail.models import OutboxMessage
from groupvisits.roster import attendance as rules
from groupvisits.roster import services as roster
from groupvisits.roster.models import ACTIVE, Attendance, Membership
from groupvisits.schedule import services as schedule
from groupvisits.sites.models import PHONE_FORMAT_MESSAGE
from groupvisits.timeutil import utcnow
from tests.conftest import DEFAULT_PASSWORD

NO_EMAIL = (
    "This patient has no email address: they cannot sign in; "
    "the clinic records their answers by phone."
)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def new_patient_form(site, **changes) -> dict:
    """The coordinator's "Add a patient" form, filled in, with ``changes``."""
    data = {
        "role": PATIENT,
        "given_name": "Rosa",
        "family_name": "Diaz",
        "email": "",
        "phone": "(555) 010-0177",
        "sites": [site.id],
        "date_of_birth": "1958-03-02",
        "preferred_language": "Spanish",
        "accessibility_needs": "",
    }
    data.update(changes)
    return data


def count_users(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(User))


def by_phone(create_user, **fields) -> User:
    """A patient with no email and no password, reached by phone."""
    fields.setdefault("phone", "555-0142")
    return create_user(PATIENT, email=None, password=None, **fields)


def next_session(group):
    return schedule.next_sessions([group.id], utcnow())[group.id]


def section(page: str, heading_id: str) -> str:
    """The HTML of the section labelled by the heading with ``heading_id``."""
    match = re.search(
        rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, flags=re.S
    )
    assert match, f"no section {heading_id!r}"
    return match.group(0)


# Adding a patient who has no email


def test_a_coordinator_adds_a_patient_with_only_a_name_and_a_phone_number(
    coordinator_client, site, db
):
    response = coordinator_client.post_form("/people/new", new_patient_form(site))

    assert response.status_code == 302
    db.session.rollback()
    rosa = db.session.scalar(select(User).where(User.family_name == "Diaz"))
    assert (rosa.email, rosa.phone, rosa.role) == (None, "(555) 010-0177", PATIENT)
    assert db.session.scalars(select(OutboxMessage)).all() == []
    assert db.session.scalars(select(Invitation)).all() == []
    page = text(coordinator_client.get(response.headers["Location"]))
    assert f"Rosa Diaz is added. {NO_EMAIL}" in page
    assert "No email address: cannot sign in." in page
    assert '<a href="tel:5550100177">(555) 010-0177</a>' in page
    assert "Send the invitation" not in page and "Send an invitation" not in page


def test_two_patients_without_email_live_side_by_side(coordinator_client, site, db):
    first = coordinator_client.post_form("/people/new", new_patient_form(site))
    second = coordinator_client.post_form(
        "/people/new", new_patient_form(site, given_name="Luis", phone="555-0143")
    )

    assert (first.status_code, second.status_code) == (302, 302)
    db.session.rollback()
    emails = db.session.scalars(select(User.email).where(User.role == PATIENT)).all()
    assert emails == [None, None]


def test_a_patient_with_neither_email_nor_phone_is_refused_and_nothing_is_saved(
    coordinator_client, site, db
):
    before = count_users(db)

    response = coordinator_client.post_form("/people/new", new_patient_form(site, phone=""))

    assert response.status_code == 422
    assert (
        "Give an email address or a phone number: the clinic needs a way to reach this patient."
        in text(response)
    )
    assert count_users(db) == before


def test_staff_still_need_an_email(coordinator_client, site, db):
    before = count_users(db)

    response = coordinator_client.post_form(
        "/people/new",
        new_patient_form(site, role=CLINICIAN, discipline="registered_nurse", phone="555-0101"),
    )

    assert response.status_code == 422
    assert "Staff sign in with their email address: please give one." in text(response)
    assert count_users(db) == before


def test_the_database_refuses_staff_without_email_and_an_empty_address(db, coordinator, patient):
    with pytest.raises(IntegrityError):
        db.session.execute(update(User).where(User.id == coordinator.id).values(email=None))
    db.session.rollback()
    with pytest.raises(IntegrityError):
        db.session.execute(update(User).where(User.id == patient.id).values(email=""))
    db.session.rollback()
    with pytest.raises(IntegrityError):  # no email and no phone: nobody could reach them
        db.session.execute(update(User).where(User.id == patient.id).values(email=None, phone=""))
    db.session.rollback()


def test_inviting_a_patient_without_email_is_refused_with_the_reason(
    coordinator_client, create_user, db
):
    rosa = by_phone(create_user)

    response = coordinator_client.post_form(f"/people/{rosa.id}/invite", follow_redirects=True)

    assert NO_EMAIL in text(response)
    db.session.rollback()
    assert db.session.scalars(select(Invitation)).all() == []
    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_a_patient_without_email_cannot_sign_in(app, create_user, db):
    rosa = create_user(PATIENT, email=None, phone="555-0142")  # even with a password
    client = app.test_client()

    response = client.post_form("/login", {"email": "", "password": DEFAULT_PASSWORD})

    assert response.status_code == 422
    with pytest.raises(accounts.SignInFailed):
        accounts.authenticate("", DEFAULT_PASSWORD)
    assert accounts.find_user_by_email(None) is None
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SignIn)) == 0
    assert rosa.email is None


def test_taking_a_patients_email_away_ends_their_sign_ins_and_tells_the_old_address(
    coordinator_client, sign_in_as, patient, site, db
):
    patient_client = sign_in_as(patient)
    old_address = patient.email
    profile = patient.patient_profile
    form = {
        "role": PATIENT,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "email": "",
        "phone": "555-0199",
        "sites": [site.id],
        "date_of_birth": profile.date_of_birth.isoformat(),
        "preferred_language": profile.preferred_language,
        "dietary_needs": ["vegetarian"],
        "accessibility_needs": "",
    }

    response = coordinator_client.post_form(f"/people/{patient.id}/edit", form)

    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, patient.id).email is None
    assert patient_client.get("/profile").status_code == 302  # signed out
    [told] = db.session.scalars(select(OutboxMessage)).all()
    assert told.to_address == old_address
    assert "was removed by Cora Ordinator" in told.body


def test_the_people_list_says_who_has_no_email_and_finds_them_by_phone(
    coordinator_client, create_user
):
    by_phone(create_user, given_name="Rosa", family_name="Diaz", phone="(555) 010-0177")
    create_user(PATIENT, given_name="Ana", family_name="Moreno")

    page = text(coordinator_client.get("/people/?role=patient"))
    rosa_row = next(row for row in re.findall(r"<tr>.*?</tr>", page, re.S) if "Diaz" in row)
    assert "No email" in rosa_row and "By phone" in rosa_row and "None" not in rosa_row

    coordinator_client.post_form("/people/find", {"q": "010-0177", "role": "patient"})
    found = text(coordinator_client.get("/people/?role=patient"))
    assert "Diaz, Rosa" in found and "Moreno" not in found


def test_the_roster_and_its_csv_show_no_email_as_empty_not_none(
    coordinator_client, coordinator, create_user, create_group, site, db
):
    group = create_group(site)
    rosa = by_phone(create_user, given_name="Rosa", family_name="Diaz")
    roster.enrol(group, rosa, actor=coordinator)
    db.session.commit()

    page = text(coordinator_client.get(f"/groups/{group.id}/roster"))
    assert "No email: phone them" in page and ">None<" not in page
    exported = coordinator_client.get(f"/groups/{group.id}/roster.csv").get_data(as_text=True)
    [row] = csv.DictReader(io.StringIO(exported))
    assert (row["email"], row["phone"]) == ("", "555-0142")


# The phone field


def test_the_phone_fields_open_the_phone_keypad(patient_client, coordinator_client):
    profile = text(patient_client.get("/profile"))
    assert re.search(r'<input[^>]*autocomplete="tel"[^>]*id="phone"[^>]*type="tel"', profile)
    people_form = text(coordinator_client.get("/people/new?role=patient"))
    assert re.search(r'<input[^>]*id="phone"[^>]*type="tel"', people_form)


@pytest.mark.parametrize("words", ["call my daughter", "555-CLINIC", "ask for Rosa 5550100"])
def test_a_phone_number_in_words_is_refused_on_the_profile_and_nothing_is_saved(
    patient_client, patient, db, words
):
    response = patient_client.post_form(
        "/profile", {"preferred_name": "Patty", "phone": words, "dietary_needs": ["halal"]}
    )

    assert response.status_code == 422
    assert PHONE_FORMAT_MESSAGE in text(response)
    db.session.rollback()
    saved = db.session.get(User, patient.id)
    assert (saved.phone, saved.preferred_name) == ("", "")
    assert saved.patient_profile.dietary_needs == "vegetarian"


def test_a_phone_number_in_words_is_refused_on_the_people_form(coordinator_client, site, db):
    before = count_users(db)

    response = coordinator_client.post_form(
        "/people/new", new_patient_form(site, phone="phone the neighbour")
    )

    assert response.status_code == 422
    assert PHONE_FORMAT_MESSAGE in text(response)
    assert count_users(db) == before


def test_a_phone_number_with_an_extension_is_kept_in_one_tidy_form(patient_client, patient, db):
    response = patient_client.post_form("/profile", {"phone": " 555 010  0177 x12 "})

    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, patient.id).phone == "555 010 0177 ext. 12"


# Dietary needs from a list


def test_the_coordinator_ticks_dietary_needs_and_says_what_other_means(
    coordinator_client, site, db
):
    form = new_patient_form(
        site, dietary_needs=["low_sodium", "halal", "other"], dietary_other="no nuts"
    )

    response = coordinator_client.post_form("/people/new", form)

    assert response.status_code == 302
    db.session.rollback()
    profile = db.session.scalar(select(User).where(User.family_name == "Diaz")).patient_profile
    assert (profile.dietary_needs, profile.dietary_other) == ("low_sodium,halal", "no nuts")
    page = text(coordinator_client.get(response.headers["Location"]))
    assert "low sodium, halal, no nuts" in page
    edit = text(coordinator_client.get(response.headers["Location"] + "/edit"))
    for code in ("low_sodium", "halal", "other"):
        assert re.search(rf'<input checked[^>]*value="{code}"', edit), code
    assert not re.search(r'<input checked[^>]*value="vegetarian"', edit)
    assert 'value="no nuts"' in edit


def test_ticking_other_without_saying_what_is_refused_and_nothing_is_saved(
    patient_client, patient, db
):
    response = patient_client.post_form(
        "/profile", {"dietary_needs": ["kosher", "other"], "dietary_other": "  "}
    )

    assert response.status_code == 422
    assert "Say what the other dietary need is, or untick “Other”." in text(response)
    db.session.rollback()
    assert db.session.get(User, patient.id).patient_profile.dietary_needs == "vegetarian"


def test_the_patients_profile_offers_the_list_of_needs(patient_client):
    page = text(patient_client.get("/profile"))

    for label in ("Low sodium", "Diabetic-friendly", "Vegetarian", "Gluten free", "Halal"):
        assert re.search(rf'type="checkbox"[^>]*>\s*<label[^>]*>{label}</label>', page), label
    assert re.search(r'<input checked[^>]*value="vegetarian"', page)
    assert '<label for="dietary_other">Other dietary need</label>' in page


def test_the_meal_counts_each_need_once_whatever_words_were_typed(
    coordinator_client, coordinator, create_user, create_group, site, db
):
    group = create_group(site)
    group_session = next_session(group)
    typed = ["low salt", "Low sodium; veggie", "low-sodium diet, no nuts", "coeliac", "no gluten"]
    people = []
    for number, words in enumerate(typed):
        person = create_user(PATIENT, family_name=f"Diner{number}", password=None)
        # As the free text typed before the list, still in the column until migrated.
        person.patient_profile.dietary_needs = words
        roster.enrol(group, person, actor=coordinator)
        people.append(person)
    db.session.commit()
    for person in people:
        rules.answer_rsvp(group_session, person, "yes", actor=coordinator)
    db.session.commit()

    page = text(coordinator_client.get(f"/sessions/{group_session.id}/attendance"))

    meal = section(page, "meal-h")
    needs = dict(re.findall(r"<li>([^<:]+): (\d+)</li>", meal))
    assert needs == {"low sodium": "3", "gluten free": "2", "vegetarian": "1", "no nuts": "1"}


# A patient's page: their groups


def test_a_patients_page_lists_their_groups_and_statuses_with_links(
    coordinator_client, coordinator, create_user, create_group, site, db
):
    rosa = by_phone(create_user, given_name="Rosa", family_name="Diaz")
    member = create_group(site, name="Tuesday group")
    full = create_group(site, name="Thursday group", min_members=1, target_members=1, max_members=1)
    offering = create_group(
        site, name="Wednesday group", min_members=1, target_members=1, max_members=1
    )
    asking = create_group(site, name="Friday group")
    left = create_group(site, name="Monday group")
    others = [create_user(PATIENT, password=None) for _ in range(2)]
    roster.enrol(member, rosa, actor=coordinator)
    roster.enrol(full, others[0], actor=coordinator)
    roster.enrol(full, rosa, actor=coordinator)
    roster.enrol(offering, others[1], actor=coordinator)
    waiting = roster.enrol(offering, rosa, actor=coordinator)
    roster.request_to_join(asking, rosa, "")
    gone = roster.enrol(left, rosa, actor=coordinator)
    db.session.commit()
    roster.end_membership(gone, "moved away", actor=coordinator)
    first = db.session.scalar(
        select(Membership).where(Membership.group_id == offering.id, Membership.status == ACTIVE)
    )
    roster.end_membership(first, "moved away", actor=coordinator)  # the place goes to Rosa
    db.session.commit()
    assert db.session.get(Membership, waiting.id).status == "offered"

    page = text(coordinator_client.get(f"/people/{rosa.id}"))

    groups = section(page, "groups-h")
    rows = re.findall(r"<tr>.*?</tr>", groups, re.S)[1:]
    lines = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows]
    assert [line.split(" ")[0] for line in lines] == [
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Monday",
    ]
    assert "Member since" in lines[0]
    assert "Offered a place held until" in lines[1]
    assert "On the waitlist number 1" in lines[2]
    assert "Asked to join on" in lines[3]
    assert "Past: ended on" in lines[4] and "(moved away)" in lines[4]
    assert f'href="/groups/{member.id}"' in groups
    assert f'href="/groups/{member.id}/roster"' in groups


def test_a_patients_page_runs_the_same_queries_for_one_group_and_six(
    coordinator_client, coordinator, create_user, create_group, site, db, count_queries
):
    rosa = create_user(PATIENT, password=None)
    groups = [create_group(site, rule=None) for _ in range(6)]

    def queries_with(number: int) -> int:
        for group in groups[:number]:
            if roster.current_membership(group, rosa) is None:
                roster.enrol(group, rosa, actor=coordinator)
        db.session.commit()
        coordinator_client.get(f"/people/{rosa.id}")
        with count_queries() as counter:
            assert coordinator_client.get(f"/people/{rosa.id}").status_code == 200
        return counter.count

    assert queries_with(1) == queries_with(6)


def test_a_patients_page_shows_no_group_of_a_site_the_coordinator_does_not_serve(
    coordinator_client, coordinator, create_user, create_group, site, other_site, db
):
    rosa = create_user(PATIENT, sites=[site, other_site], password=None)
    elsewhere = create_group(other_site, name="Westside group", rule=None)
    roster.enrol(elsewhere, rosa, actor=None)
    db.session.commit()

    page = text(coordinator_client.get(f"/people/{rosa.id}"))

    assert "Westside group" not in page
    assert "Not in any group at your sites yet." in page


# The session's "to call" list


@pytest.fixture
def calling(db, site, coordinator, create_user, create_group):
    """A group with its next session: members by phone, by app, one already answered."""
    group = create_group(site)
    group_session = next_session(group)
    rosa = by_phone(create_user, given_name="Rosa", family_name="Diaz", phone="(555) 010-0177")
    luis = by_phone(create_user, given_name="Luis", family_name="Rivera", phone="555-0143")
    invited = create_user(PATIENT, given_name="Ines", family_name="Invited", password=None)
    online = create_user(PATIENT, given_name="Olga", family_name="Online")
    for person in (rosa, luis, invited, online):
        roster.enrol(group, person, actor=coordinator)
    db.session.commit()
    rules.answer_rsvp(group_session, luis, "no", actor=coordinator)
    db.session.commit()
    return {
        "group": group,
        "group_session": group_session,
        "rosa": rosa,
        "luis": luis,
        "invited": invited,
        "online": online,
    }


def test_the_session_page_lists_whom_to_call_with_a_phone_link(coordinator_client, calling):
    page = text(coordinator_client.get(f"/sessions/{calling['group_session'].id}"))

    calls = section(page, "to-call-h")
    assert "To call (2)" in calls
    assert "Diaz, Rosa" in calls and "No email address" in calls
    assert '<a href="tel:5550100177">(555) 010-0177</a>' in calls
    assert "Invited, Ines" in calls and "Has not set a password yet" in calls
    assert "Rivera" not in calls  # answered already
    assert "Online" not in calls  # answers in the app


def test_patients_never_see_the_call_list(sign_in_as, calling):
    client = sign_in_as(calling["online"])

    page = text(client.get(f"/sessions/{calling['group_session'].id}"))

    assert "To call" not in page and "Diaz" not in page


def test_staff_record_a_members_answer_given_on_the_phone(clinician_client, clinician, calling, db):
    group_session, rosa = calling["group_session"], calling["rosa"]
    membership = roster.current_membership(calling["group"], rosa)

    response = clinician_client.post_form(
        f"/sessions/{group_session.id}/members/{membership.id}/rsvp",
        {"answer": "yes", "brings_support_person": "y"},
    )

    assert response.status_code == 302
    db.session.rollback()
    attendance = db.session.scalar(select(Attendance).where(Attendance.patient_id == rosa.id))
    assert (attendance.rsvp, attendance.brings_support_person) == ("yes", True)
    rows = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update", AuditEvent.patient_id == rosa.id)
    ).all()
    assert [(r.actor_id, r.patient_id, r.object_type) for r in rows] == [
        (clinician.id, rosa.id, "attendance")
    ]
    page = text(clinician_client.get(response.headers["Location"]))
    assert "Saved: Rosa Diaz will come with a support person." in page
    assert "Diaz" not in section(page, "to-call-h")


def test_a_yes_before_the_agreement_sends_staff_to_the_paper_form(
    coordinator_client, coordinator, calling, db
):
    group, group_session, rosa = calling["group"], calling["group_session"], calling["rosa"]
    roster.publish_agreement(group, "What is said here stays here.", actor=coordinator)
    db.session.commit()
    membership = roster.current_membership(group, rosa)

    page = text(coordinator_client.get(f"/sessions/{group_session.id}"))
    assert f'href="/groups/{group.id}/roster#member-{membership.id}"' in section(page, "to-call-h")
    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/members/{membership.id}/rsvp",
        {"answer": "yes"},
        follow_redirects=True,
    )

    assert (
        "Rosa Diaz has not accepted the group's confidentiality agreement yet: "
        "record their paper agreement on the roster first." in text(response)
    )
    db.session.rollback()
    assert db.session.scalar(select(Attendance).where(Attendance.patient_id == rosa.id)) is None


def test_an_answer_that_is_not_yes_maybe_or_no_is_refused(coordinator_client, calling, db):
    membership = roster.current_membership(calling["group"], calling["rosa"])
    url = f"/sessions/{calling['group_session'].id}/members/{membership.id}/rsvp"

    response = coordinator_client.post_form(url, {"answer": "perhaps"})

    assert response.status_code == 400
    assert "Choose whether they will come: yes, maybe or no." in text(response)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1  # Luis's no


def test_an_answer_for_a_member_of_another_group_is_not_found(
    coordinator_client, coordinator, calling, create_group, site, db
):
    other = create_group(site, rule=None)
    elsewhere = roster.enrol(other, calling["rosa"], actor=coordinator)
    db.session.commit()
    url = f"/sessions/{calling['group_session'].id}/members/{elsewhere.id}/rsvp"

    assert coordinator_client.post_form(url, {"answer": "yes"}).status_code == 404


def test_a_place_offered_to_a_patient_without_email_queues_no_mail_and_is_on_the_call_list(
    coordinator_client, coordinator, create_user, create_group, site, db
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    group_session = next_session(group)
    holder = create_user(PATIENT, given_name="Hal", family_name="Holder")
    rosa = by_phone(create_user, given_name="Rosa", family_name="Diaz", phone="(555) 010-0177")
    first = roster.enrol(group, holder, actor=coordinator)
    roster.enrol(group, rosa, actor=coordinator)
    db.session.commit()

    roster.end_membership(first, "moved away", actor=coordinator)
    db.session.commit()

    assert roster.current_membership(group, rosa).status == "offered"
    assert db.session.scalars(select(OutboxMessage)).all() == []
    calls = section(text(coordinator_client.get(f"/sessions/{group_session.id}")), "to-call-h")
    assert "A place is offered to them" in calls
    assert "Diaz, Rosa" in calls and "The place is held until" in calls
    assert f'href="/groups/{group.id}/roster#offered-h"' in calls


def test_showing_the_call_list_is_audited_for_each_patient_shown(
    coordinator_client, coordinator, calling, db
):
    coordinator_client.get(f"/sessions/{calling['group_session'].id}")

    db.session.rollback()
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "call list")).all()
    assert sorted(r.patient_id for r in rows) == sorted([calling["rosa"].id, calling["invited"].id])
    assert {(r.actor_id, r.action) for r in rows} == {(coordinator.id, "view")}


def test_the_session_page_runs_the_same_queries_for_one_and_six_people_to_call(
    coordinator_client, coordinator, create_user, create_group, site, db, count_queries
):
    group = create_group(site)
    group_session = next_session(group)
    roster.publish_agreement(group, "What is said here stays here.", actor=coordinator)
    db.session.commit()

    def queries_with(number: int) -> int:
        while (
            db.session.scalar(
                select(func.count()).select_from(Membership).where(Membership.group_id == group.id)
            )
            < number
        ):
            roster.enrol(group, by_phone(create_user), actor=coordinator)
        db.session.commit()
        coordinator_client.get(f"/sessions/{group_session.id}")
        with count_queries() as counter:
            page = text(coordinator_client.get(f"/sessions/{group_session.id}"))
        assert f"To call ({number})" in page
        return counter.count

    assert queries_with(1) == queries_with(6)


def test_nobody_is_listed_to_call_once_the_session_has_begun(
    coordinator_client, coordinator, create_user, create_group, site, db
):
    group = create_group(site, start=(utcnow() - timedelta(days=60)).date())
    past = schedule.sessions_between([group.id], utcnow() - timedelta(days=59), utcnow())
    group_session = db.session.scalars(past).first()
    roster.enrol(group, by_phone(create_user), actor=coordinator)
    db.session.commit()

    page = text(coordinator_client.get(f"/sessions/{group_session.id}"))

    assert "To call" not in page
