"""Audit trail: every view and change of patient data writes one row, and coordinators read it."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from groupvisits import audit
from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT, User
from groupvisits.audit import AuditEvent


def audit_events(db, **criteria) -> list[AuditEvent]:
    """The audit rows committed by requests (not the factories' own), oldest first."""
    db.session.rollback()
    query = (
        select(AuditEvent)
        .filter_by(**criteria)
        .where(AuditEvent.actor_id.is_not(None))
        .order_by(AuditEvent.id)
    )
    return list(db.session.scalars(query))


def patient_form(patient: User, site, **changes) -> dict:
    """The coordinator's edit form of ``patient``, filled in as the page shows it."""
    profile = patient.patient_profile
    data = {
        "role": PATIENT,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "preferred_name": patient.preferred_name,
        "email": patient.email,
        "phone": patient.phone,
        "sites": [site.id],
        "date_of_birth": profile.date_of_birth.isoformat(),
        "preferred_language": profile.preferred_language,
        "dietary_needs": profile.dietary_needs,
        "accessibility_needs": profile.accessibility_needs,
        "medical_record_number": "",
    }
    data.update(changes)
    return data


def assert_one_event(events, *, actor, action, patient, object_type):
    assert len(events) == 1, events
    event = events[0]
    assert event.actor_id == actor.id
    assert event.action == action
    assert event.patient_id == patient.id
    assert event.object_type == object_type
    assert event.occurred_at.tzinfo is not None
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - event.occurred_at) < timedelta(minutes=5)
    assert event.ip_address == "127.0.0.1"


# Writing the trail


def test_coordinator_viewing_a_patient_writes_one_view_row(
    coordinator_client, coordinator, patient, db
):
    assert coordinator_client.get(f"/people/{patient.id}").status_code == 200
    assert_one_event(
        audit_events(db), actor=coordinator, action="view", patient=patient, object_type="patient"
    )
    assert audit_events(db)[0].object_id == patient.id


def test_coordinator_opening_a_patients_edit_page_writes_one_view_row(
    coordinator_client, coordinator, patient, db
):
    assert coordinator_client.get(f"/people/{patient.id}/edit").status_code == 200
    assert_one_event(
        audit_events(db), actor=coordinator, action="view", patient=patient, object_type="patient"
    )


def test_coordinator_saving_a_patient_writes_one_update_row(
    coordinator_client, coordinator, patient, site, db
):
    response = coordinator_client.post_form(
        f"/people/{patient.id}/edit", patient_form(patient, site, phone="555-0101")
    )
    assert response.status_code == 302
    assert_one_event(
        audit_events(db), actor=coordinator, action="update", patient=patient, object_type="patient"
    )


def test_a_refused_edit_writes_no_change_only_the_view_of_the_form_shown_again(
    coordinator_client, coordinator, patient, site, db
):
    response = coordinator_client.post_form(
        f"/people/{patient.id}/edit", patient_form(patient, site, given_name="")
    )
    assert response.status_code == 422
    assert_one_event(
        audit_events(db), actor=coordinator, action="view", patient=patient, object_type="patient"
    )


def test_viewing_a_clinicians_page_writes_no_row(coordinator_client, clinician, db):
    assert coordinator_client.get(f"/people/{clinician.id}").status_code == 200
    assert coordinator_client.get(f"/people/{clinician.id}/edit").status_code == 200
    assert audit_events(db) == []


def test_patient_viewing_their_profile_writes_a_view_row_for_themself(patient_client, patient, db):
    assert patient_client.get("/profile").status_code == 200
    assert_one_event(
        audit_events(db), actor=patient, action="view", patient=patient, object_type="profile"
    )


def test_patient_saving_their_profile_writes_an_update_row_for_themself(
    patient_client, patient, db
):
    response = patient_client.post_form("/profile", {"phone": "555-0199"})
    assert response.status_code == 302
    assert_one_event(
        audit_events(db), actor=patient, action="update", patient=patient, object_type="profile"
    )


def test_creating_a_patient_writes_a_create_row(coordinator_client, coordinator, site, db):
    response = coordinator_client.post_form(
        "/people/new",
        {
            "role": PATIENT,
            "given_name": "Nadia",
            "family_name": "Newcomer",
            "email": "nadia@example.org",
            "sites": [site.id],
            "date_of_birth": "1955-02-01",
        },
    )
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.email == "nadia@example.org"))
    assert_one_event(
        audit_events(db, action="create"),
        actor=coordinator,
        action="create",
        patient=created,
        object_type="patient",
    )


def test_the_people_list_writes_one_row_per_patient_shown_and_none_for_staff(
    coordinator_client, coordinator, clinician, site, create_user, db
):
    shown = [create_user(PATIENT, family_name=f"Listed{n}") for n in range(3)]
    db.session.commit()

    coordinator_client.post_form("/people/find", {"q": "listed"})
    page = coordinator_client.get("/people/").get_data(as_text=True)

    assert all(person.family_name in page for person in shown)
    events = audit_events(db)
    assert sorted(e.patient_id for e in events) == sorted(p.id for p in shown)
    assert {(e.actor_id, e.action, e.object_type) for e in events} == {
        (coordinator.id, "view", "people list")
    }
    coordinator_client.post_form("/people/find", {"q": "", "role": CLINICIAN})
    staff_page = coordinator_client.get(f"/people/?role={CLINICIAN}").get_data(as_text=True)
    assert clinician.family_name in staff_page
    assert len(audit_events(db)) == 3, "a list of staff alone is not patient data"


def test_fellow_members_shown_to_a_patient_are_audited(
    patient_client, patient, coordinator, create_group, create_user, site, db
):
    from groupvisits.roster import services

    group = create_group(site)
    rosa = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    hidden = create_user(PATIENT, given_name="Harold", family_name="Davis")
    memberships = {
        p.id: services.enrol(group, p, actor=coordinator) for p in (patient, rosa, hidden)
    }
    services.set_share_name(memberships[rosa.id], True, actor=rosa)
    services.set_share_name(memberships[hidden.id], False, actor=hidden)
    db.session.commit()
    before = {e.id for e in audit_events(db)}

    assert "Rosa L." in patient_client.get("/my/groups").get_data(as_text=True)

    events = [e for e in audit_events(db) if e.id not in before]
    fellows = [e for e in events if e.object_type == "group members"]
    assert_one_event(
        fellows, actor=patient, action="view", patient=rosa, object_type="group members"
    )
    assert [e.patient_id for e in events if e is not fellows[0]] == [patient.id]  # their own


# Reading the trail


def audit_rows(page: str) -> list[str]:
    """The text of each row of the audit table (empty if the page shows none)."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    if body is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def shown_ids(response) -> list[int]:
    """The ids of the ``encounter #n`` rows on an audit page, in the order shown."""
    assert response.status_code == 200, response.status_code
    return [
        int(n)
        for row in audit_rows(response.get_data(as_text=True))
        for n in re.findall(r"encounter #(\d+)", row)
    ]


@pytest.fixture
def trail(db, site, other_site, coordinator, clinician, create_user):
    """Audit rows at known instants; each row's object id names it.

    ``site`` is in New York. 2024-03-10 03:30 UTC is still 9 March there
    (22:30 EST); 2024-03-10 12:00 UTC is 08:00 EDT on 10 March.
    """
    anna = create_user(PATIENT, given_name="Anna", family_name="Alpha", sites=[site])
    bert = create_user(PATIENT, given_name="Bert", family_name="Beta", sites=[site])
    far = create_user(PATIENT, given_name="Farah", family_name="Faraway", sites=[other_site])
    far_coordinator = create_user(COORDINATOR, sites=[other_site])
    rows = [
        (1, coordinator, "view", anna, datetime(2024, 3, 8, 15, 0, tzinfo=UTC)),
        (2, clinician, "view", anna, datetime(2024, 3, 10, 3, 30, tzinfo=UTC)),
        (3, coordinator, "update", bert, datetime(2024, 3, 10, 12, 0, tzinfo=UTC)),
        (4, clinician, "update", bert, datetime(2024, 3, 11, 15, 0, tzinfo=UTC)),
        (5, far_coordinator, "view", far, datetime(2024, 3, 10, 12, 0, tzinfo=UTC)),
    ]
    for object_id, actor, action, patient, at in rows:
        event = audit.record(actor, action, patient, "encounter", object_id, ip_address="10.1.1.1")
        event.occurred_at = at
    db.session.commit()
    return {"anna": anna, "bert": bert, "far": far}


def test_audit_page_lists_the_rows_of_the_site_newest_first(coordinator_client, site, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit")
    rows = audit_rows(response.get_data(as_text=True))
    assert shown_ids(response) == [4, 3, 2, 1]
    by_id = {
        int(re.search(r"encounter #(\d+)", row).group(1)): row for row in rows if "encounter" in row
    }
    assert "Alpha, Anna" in by_id[1]
    assert "10.1.1.1" in by_id[1]
    assert "09 Mar 2024 22:30:00" in by_id[2]  # shown in the site's time


def test_audit_page_does_not_show_patients_of_another_site(coordinator_client, site, trail):
    page = coordinator_client.get(f"/sites/{site.id}/audit").get_data(as_text=True)
    assert 5 not in shown_ids(coordinator_client.get(f"/sites/{site.id}/audit"))
    assert "encounter #" in page
    assert "Faraway" not in page


def test_audit_page_filters_by_patient(coordinator_client, site, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit?patient={trail['bert'].id}")
    assert sorted(shown_ids(response)) == [3, 4]


def test_audit_page_filters_by_actor(coordinator_client, site, clinician, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit?actor={clinician.id}")
    assert sorted(shown_ids(response)) == [2, 4]


def test_audit_page_filters_by_action(coordinator_client, site, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit?action=update")
    assert sorted(shown_ids(response)) == [3, 4]


def test_audit_page_combines_filters(coordinator_client, site, clinician, trail):
    url = f"/sites/{site.id}/audit?action=view&actor={clinician.id}&patient={trail['anna'].id}"
    assert sorted(shown_ids(coordinator_client.get(url))) == [2]


def test_audit_date_filter_uses_the_sites_local_dates(coordinator_client, site, trail):
    url = f"/sites/{site.id}/audit"
    assert sorted(
        shown_ids(coordinator_client.get(f"{url}?since=2024-03-09&until=2024-03-09"))
    ) == [2]
    assert sorted(
        shown_ids(coordinator_client.get(f"{url}?since=2024-03-10&until=2024-03-10"))
    ) == [3]
    assert sorted(shown_ids(coordinator_client.get(f"{url}?since=2024-03-10"))) == [3, 4]
    assert sorted(shown_ids(coordinator_client.get(f"{url}?until=2024-03-09"))) == [1, 2]


def test_audit_filter_shows_no_rows_when_nothing_matches(coordinator_client, site, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit?since=2030-01-01")
    assert shown_ids(response) == []
    assert "No audit rows match." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["since=not-a-date", "until=2024-13-45", "patient=abc", "action=delete"]
)
def test_bad_audit_filter_is_a_400_not_a_500(coordinator_client, site, trail, query):
    response = coordinator_client.get(f"/sites/{site.id}/audit?{query}")
    assert response.status_code == 400
    assert audit_rows(response.get_data(as_text=True)) == []


def test_filtering_on_a_patient_of_another_site_shows_nothing(coordinator_client, site, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit?patient={trail['far'].id}")
    assert response.status_code == 400
    assert audit_rows(response.get_data(as_text=True)) == []


def test_coordinator_of_another_site_gets_404_on_the_audit_page(
    sign_in_as, create_user, other_site, site, trail
):
    client = sign_in_as(create_user(COORDINATOR, sites=[other_site]))
    assert client.get(f"/sites/{site.id}/audit").status_code == 404


def test_clinician_gets_403_on_the_audit_page(clinician_client, site, trail):
    assert clinician_client.get(f"/sites/{site.id}/audit").status_code == 403


def test_clinician_of_the_site_is_no_coordinator(sign_in_as, create_user, site):
    client = sign_in_as(create_user(CLINICIAN, discipline="resident", training_year=2))
    response = client.get(f"/sites/{site.id}/audit")
    assert response.status_code == 403


def test_audit_filter_lists_staff_not_every_patient(coordinator_client, site, trail):
    page = coordinator_client.get(f"/sites/{site.id}/audit?since=2030-01-01")
    text = page.get_data(as_text=True)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", text)
    assert not [o for o in options if "Alpha" in o or "Beta" in o]
    assert any("," in o for o in options), "the staff of the site are listed"


def test_a_patients_page_links_to_the_rows_about_that_patient(coordinator_client, site, trail):
    bert = trail["bert"]
    page = coordinator_client.get(f"/people/{bert.id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)">Who saw or changed this patient(?:&#39;|\')s data', page)
    assert link, "no link to the patient's audit rows"
    response = coordinator_client.get(link.group(1).replace("&amp;", "&"))
    assert sorted(shown_ids(response)) == [3, 4]
    shown = re.sub(r"<[^>]+>", "", response.get_data(as_text=True))
    assert "Only the data of Beta, Bert." in shown


def test_filtering_on_a_patient_as_the_actor_is_a_400(coordinator_client, site, trail):
    response = coordinator_client.get(f"/sites/{site.id}/audit?actor={trail['anna'].id}")
    assert response.status_code == 400


def test_audit_page_filters_on_patients_acting(
    coordinator_client, patient_client, patient, site, trail, db
):
    assert patient_client.get("/profile").status_code == 200  # a patient reads their own data
    response = coordinator_client.get(f"/sites/{site.id}/audit?actor=-1")
    rows = audit_rows(response.get_data(as_text=True))
    assert response.status_code == 200
    assert len(rows) == 1 and f"{patient.full_name} Viewed" in rows[0]
    assert shown_ids(coordinator_client.get(f"/sites/{site.id}/audit?actor=0")) == [4, 3, 2, 1]


def test_reading_the_trail_is_recorded_per_patient_shown(
    db, coordinator_client, coordinator, site, trail
):
    coordinator_client.get(f"/sites/{site.id}/audit?patient={trail['bert'].id}")

    reads = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "trail").order_by(AuditEvent.id)
    ).all()
    assert [(r.actor_id, r.patient_id, r.object_type, r.object_id) for r in reads] == [
        (coordinator.id, trail["bert"].id, "audit trail", site.id)
    ]


def test_trail_reads_are_listed_only_when_asked_for(coordinator_client, site, trail):
    url = f"/sites/{site.id}/audit"
    first = audit_rows(coordinator_client.get(url).get_data(as_text=True))  # Anna and Bert

    again = audit_rows(coordinator_client.get(url).get_data(as_text=True))
    assert again == first
    assert not any("Read in this trail" in row for row in again)
    reads = audit_rows(coordinator_client.get(f"{url}?action=trail").get_data(as_text=True))
    assert len(reads) == 4  # two per reading above; this reading is recorded after it
    assert all("Read in this trail" in row for row in reads)
    assert all(f"audit trail #{site.id}" in row for row in reads)
    assert sum("Alpha, Anna" in row for row in reads) == 2
    assert sum("Beta, Bert" in row for row in reads) == 2


@pytest.mark.parametrize(
    ("path", "what"),
    [("/", "dashboard"), ("/my/sessions", "my sessions"), ("/my/groups", "my groups")],
)
def test_a_patients_view_of_their_own_data_is_audited(db, patient, patient_client, path, what):
    response = patient_client.get(path)

    assert response.status_code == 200
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == what)).all()
    assert [(r.actor_id, r.action, r.patient_id) for r in rows] == [
        (patient.id, "view", patient.id)
    ]


def test_a_patient_named_as_the_reader_is_recorded_as_read_too(
    db, coordinator_client, coordinator, site, trail
):
    anna, bert = trail["anna"], trail["bert"]
    audit.record(anna, "view", bert, "group members")  # Anna saw Bert as a fellow member
    db.session.commit()

    coordinator_client.get(f"/sites/{site.id}/audit?patient={bert.id}")

    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "trail")).all()
    assert {r.patient_id for r in reads} == {anna.id, bert.id}


def events_since(db, first_id: int) -> list[AuditEvent]:
    """The audit rows written after row ``first_id``, oldest first."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > first_id).order_by(AuditEvent.id)
        )
    )


def last_event_id(db) -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def test_saving_the_support_person_alone_writes_one_update_row(
    db, patient, patient_client, create_group, coordinator
):
    from groupvisits.roster import services as roster
    from groupvisits.schedule import services as schedule

    start = datetime.now(UTC).date() + timedelta(days=3)
    group = create_group(start=start, rule="FREQ=WEEKLY;BYDAY=MO")
    roster.enrol(group, patient, actor=None)
    db.session.commit()
    session_id = schedule.next_sessions([group.id], schedule.utcnow())[group.id].id
    before = last_event_id(db)

    response = patient_client.post_form(
        f"/sessions/{session_id}/rsvp/support-person", {"brings_support_person": "y"}
    )

    assert response.status_code == 302
    assert [
        (e.actor_id, e.action, e.patient_id, e.object_type) for e in events_since(db, before)
    ] == [(patient.id, "update", patient.id, "attendance")]


def test_an_offer_accepted_by_phone_is_audited_as_the_coordinator_for_that_patient(
    db, coordinator_client, coordinator, create_group, create_user
):
    from groupvisits.roster import services as roster

    group = create_group(rule=None, min_members=1, target_members=1, max_members=1)
    leaving = roster.enrol(group, create_user(PATIENT), actor=None)
    offered = create_user(PATIENT)
    membership = roster.enrol(group, offered, actor=None)
    roster.end_membership(leaving, "Moved away", actor=coordinator)
    db.session.commit()
    before = last_event_id(db)

    response = coordinator_client.post_form(f"/memberships/{membership.id}/offer/accept-by-phone")

    assert response.status_code == 302
    assert [
        (e.actor_id, e.action, e.patient_id, e.object_type) for e in events_since(db, before)
    ] == [(coordinator.id, "update", offered.id, "membership")]


def test_an_answer_taken_by_phone_is_audited_as_the_staff_member_for_that_patient(
    db, clinician_client, clinician, create_group, create_user
):
    from groupvisits.roster import services as roster
    from groupvisits.schedule import services as schedule

    group = create_group(start=datetime.now(UTC).date() + timedelta(days=3))
    by_phone = create_user(PATIENT, email=None, phone="555-0142", password=None)
    membership = roster.enrol(group, by_phone, actor=None)
    db.session.commit()
    session_id = schedule.next_sessions([group.id], schedule.utcnow())[group.id].id
    before = last_event_id(db)

    response = clinician_client.post_form(
        f"/sessions/{session_id}/members/{membership.id}/rsvp", {"answer": "maybe"}
    )

    assert response.status_code == 302
    assert [
        (e.actor_id, e.action, e.patient_id, e.object_type) for e in events_since(db, before)
    ] == [(clinician.id, "update", by_phone.id, "attendance")]


def test_the_call_list_on_a_session_page_is_audited_per_patient_shown(
    db, coordinator_client, coordinator, create_group, create_user
):
    from groupvisits.roster import services as roster
    from groupvisits.schedule import services as schedule

    group = create_group(start=datetime.now(UTC).date() + timedelta(days=3))
    by_phone = create_user(PATIENT, email=None, phone="555-0142", password=None)
    online = create_user(PATIENT)
    for person in (by_phone, online):
        roster.enrol(group, person, actor=None)
    db.session.commit()
    session_id = schedule.next_sessions([group.id], schedule.utcnow())[group.id].id
    before = last_event_id(db)

    assert coordinator_client.get(f"/sessions/{session_id}").status_code == 200

    assert [
        (e.actor_id, e.action, e.patient_id, e.object_type) for e in events_since(db, before)
    ] == [(coordinator.id, "view", by_phone.id, "call list")]


def test_a_patients_groups_on_their_page_cost_one_view_row(
    db, coordinator_client, coordinator, create_group, patient
):
    from groupvisits.roster import services as roster

    for _ in range(3):
        roster.enrol(create_group(rule=None), patient, actor=None)
    db.session.commit()
    before = last_event_id(db)

    assert coordinator_client.get(f"/people/{patient.id}").status_code == 200

    assert [
        (e.actor_id, e.action, e.patient_id, e.object_type) for e in events_since(db, before)
    ] == [(coordinator.id, "view", patient.id, "patient")]
