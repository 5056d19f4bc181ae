"""Coordinators find patients to enrol or add as drop-ins by name, email or record number."""

import re

from sqlalchemy import select

from groupvisits.accounts.models import PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.roster import services as roster
from groupvisits.schedule import services as schedule
from groupvisits.timeutil import utcnow


def text(response) -> str:
    """The page as a reader hears it: tags removed, spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)).split())


def search_roster(client, group, words: str):
    """Post a search on the roster, as the Find button does, and follow it to the page."""
    response = client.post_form(f"/groups/{group.id}/roster/find", {"find": words})
    assert response.status_code == 302
    assert not words or words not in response.headers["Location"]
    return client.get(response.headers["Location"])


def search_drop_ins(client, group_session, words: str):
    response = client.post_form(f"/sessions/{group_session.id}/attendance/find", {"find": words})
    assert response.status_code == 302
    assert not words or words not in response.headers["Location"]
    return client.get(response.headers["Location"])


def test_roster_search_finds_patients_of_the_site_outside_the_group(
    coordinator_client, db, site, other_site, create_user, create_group
):
    group = create_group(site)
    member = create_user(PATIENT, given_name="Ada", family_name="Quintero")
    outside = create_user(
        PATIENT, given_name="Bea", family_name="Quintana", medical_record_number="MRN-77123"
    )
    elsewhere = create_user(PATIENT, sites=[other_site], given_name="Cy", family_name="Quinn")
    roster.enrol(group, member, actor=None)
    db.session.commit()

    page = text(search_roster(coordinator_client, group, "quin"))
    assert "Enrol Bea Quintana" in page
    assert "Enrol Ada Quintero" not in page  # already a member
    assert "Quinn" not in page  # a patient of another site
    by_record = search_roster(coordinator_client, group, "77123")
    assert "Enrol Bea Quintana" in text(by_record)
    shown = set(
        db.session.scalars(
            select(AuditEvent.patient_id).where(
                AuditEvent.object_type == "roster", AuditEvent.action == "view"
            )
        )
    )
    assert outside.id in shown  # seeing a patient in the results is audited
    assert elsewhere.id not in shown


def test_enrolling_from_the_search_keeps_the_search_and_makes_a_member(
    coordinator_client, db, site, create_user, create_group
):
    group = create_group(site)
    patient = create_user(PATIENT, given_name="Dina", family_name="Okonkwo")
    response = coordinator_client.post_form(
        f"/groups/{group.id}/enrol", {"patient_id": str(patient.id), "find": "okon"}
    )
    assert response.status_code == 302
    assert "okon" not in response.headers["Location"]
    page = text(coordinator_client.get(response.headers["Location"]))
    assert "Dina Okonkwo is now a member." in page
    assert "No patient of" in page  # the only match is now in the group


def test_a_one_letter_search_lists_nobody(coordinator_client, site, create_user, create_group):
    group = create_group(site)
    create_user(PATIENT, given_name="Eve", family_name="Adams")
    page = text(search_roster(coordinator_client, group, "a"))
    assert "Enrol Eve Adams" not in page


def test_drop_in_search_on_the_attendance_page(
    coordinator_client, db, site, create_user, create_group
):
    group = create_group(site)
    visitor = create_user(PATIENT, given_name="Finn", family_name="Halvorsen")
    group_session = schedule.next_sessions([group.id], utcnow())[group.id]
    page = text(search_drop_ins(coordinator_client, group_session, "halvor"))
    assert "Add drop-in Finn Halvorsen" in page
    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/drop-ins", {"patient_id": str(visitor.id)}
    )
    page = text(coordinator_client.get(response.headers["Location"]))
    assert "Finn Halvorsen is added as a drop-in." in page


# Search words are patient data: they stay out of addresses


def test_search_words_appear_in_no_address_of_the_page(
    coordinator_client, db, site, create_user, create_group
):
    group = create_group(site)
    create_user(PATIENT, given_name="Gaia", family_name="Zabaleta")
    page = search_roster(coordinator_client, group, "zabaleta").get_data(as_text=True)
    assert "Enrol" in page and "Zabaleta" in page
    addresses = re.findall(r'(?:href|action|src)="([^"]*)"', page)
    assert addresses and not [a for a in addresses if "zabaleta" in a.lower()]


def test_a_search_to_act_on_shows_once_then_the_page_is_plain_again(
    coordinator_client, db, site, create_user, create_group
):
    group = create_group(site)
    create_user(PATIENT, given_name="Hugo", family_name="Ibarra")
    assert "Enrol Hugo Ibarra" in text(search_roster(coordinator_client, group, "ibarra"))
    again = text(coordinator_client.get(f"/groups/{group.id}/roster"))
    assert "Enrol Hugo Ibarra" not in again
    assert 'value="ibarra"' not in again


def test_searches_are_kept_per_page_and_forgotten_at_sign_out(
    coordinator_client, coordinator, sign_in_as, db, site, create_user, create_group
):
    first, second = create_group(site), create_group(site)
    create_user(PATIENT, given_name="Iris", family_name="Jaramillo")
    coordinator_client.post_form(f"/groups/{first.id}/roster/find", {"find": "jaram"})
    assert "Enrol Iris Jaramillo" not in text(coordinator_client.get(f"/groups/{second.id}/roster"))
    assert "Enrol Iris Jaramillo" in text(coordinator_client.get(f"/groups/{first.id}/roster"))

    coordinator_client.post_form(f"/groups/{first.id}/roster/find", {"find": "jaram"})
    coordinator_client.post_form("/logout")
    client = sign_in_as(coordinator)
    assert "Enrol Iris Jaramillo" not in text(client.get(f"/groups/{first.id}/roster"))


def test_search_words_stay_on_the_server_never_in_the_cookie(
    app, coordinator_client, coordinator, db, site, create_user, create_group
):
    from groupvisits.accounts.models import SignIn

    group = create_group(site)
    create_user(
        PATIENT, given_name="Kai", family_name="Lindqvist", medical_record_number="MRN-5150"
    )
    coordinator_client.post_form(f"/groups/{group.id}/roster/find", {"find": "MRN-5150"})

    cookie = coordinator_client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert "MRN-5150" not in repr(session)
    kept = db.session.scalars(
        select(SignIn.searches).where(SignIn.user_id == coordinator.id, SignIn.ended_at.is_(None))
    ).all()
    assert {f"roster-{group.id}": "MRN-5150"} in kept
    assert "Enrol Kai Lindqvist" in text(coordinator_client.get(f"/groups/{group.id}/roster"))


def test_a_clinician_may_not_search_to_enrol(clinician_client, site, create_group):
    group = create_group(site)
    response = clinician_client.post_form(f"/groups/{group.id}/roster/find", {"find": "an"})
    assert response.status_code == 403


def test_a_search_without_its_form_token_is_refused(coordinator_client, site, create_group):
    group = create_group(site)
    response = coordinator_client.post(f"/groups/{group.id}/roster/find", data={"find": "an"})
    assert response.status_code == 400


def test_a_message_naming_a_patient_stays_on_the_server_and_shows_once(
    app, coordinator_client, db, site, create_user, create_group
):
    group = create_group(site)
    patient = create_user(PATIENT, given_name="Mira", family_name="Nakashima")
    response = coordinator_client.post_form(
        f"/groups/{group.id}/enrol", {"patient_id": str(patient.id)}
    )
    assert response.status_code == 302

    cookie = coordinator_client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert "Nakashima" not in repr(session)
    first = text(coordinator_client.get(response.headers["Location"]))
    assert "Mira Nakashima is now a member." in first
    again = text(coordinator_client.get(f"/groups/{group.id}/roster"))
    assert "is now a member." not in again


def test_messages_to_visitors_still_reach_the_sign_in_page(coordinator_client):
    response = coordinator_client.post_form("/logout", follow_redirects=True)
    assert "You are signed out." in text(response)
