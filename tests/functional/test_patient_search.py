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

    page = text(coordinator_client.get(f"/groups/{group.id}/roster?find=quin"))
    assert "Enrol Bea Quintana" in page
    assert "Enrol Ada Quintero" not in page  # already a member
    assert "Quinn" not in page  # a patient of another site
    by_record = coordinator_client.get(f"/groups/{group.id}/roster?find=77123")
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
    assert response.headers["Location"].endswith("find=okon")
    page = text(coordinator_client.get(response.headers["Location"]))
    assert "Dina Okonkwo is now a member." in page
    assert "No patient of" in page  # the only match is now in the group


def test_a_one_letter_search_lists_nobody(coordinator_client, site, create_user, create_group):
    group = create_group(site)
    create_user(PATIENT, given_name="Eve", family_name="Adams")
    page = text(coordinator_client.get(f"/groups/{group.id}/roster?find=a"))
    assert "Enrol Eve Adams" not in page


def test_drop_in_search_on_the_attendance_page(
    coordinator_client, db, site, create_user, create_group
):
    group = create_group(site)
    visitor = create_user(PATIENT, given_name="Finn", family_name="Halvorsen")
    group_session = schedule.next_sessions([group.id], utcnow())[group.id]
    page = text(coordinator_client.get(f"/sessions/{group_session.id}/attendance?find=halvor"))
    assert "Add drop-in Finn Halvorsen" in page
    response = coordinator_client.post_form(
        f"/sessions/{group_session.id}/drop-ins", {"patient_id": str(visitor.id)}
    )
    page = text(coordinator_client.get(response.headers["Location"]))
    assert "Finn Halvorsen is added as a drop-in." in page
