"""A coordinator keeps a group's roster through its pages, and staff run a session's attendance.

Roster: enrol, the waitlist and its order, agreements on paper, ending a
membership, requests to join, history, the audited CSV export, and a page whose
number of queries does not grow with the number of members. Attendance: the
lists by answer, the meal, drop-ins, the sign-in sheet, check-in and vitals
(on the day: check-in opens an hour before the start).
"""

import csv
import html
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.roster import attendance as rules
from groupvisits.roster import services
from groupvisits.roster.models import (
    ACTIVE,
    DECLINED,
    ENDED,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    AgreementAcceptance,
    Attendance,
    Membership,
)
from groupvisits.schedule.models import GroupSession
from groupvisits.timeutil import to_local, utcnow


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def enrol(db, group, patient, coordinator) -> Membership:
    membership = services.enrol(group, patient, actor=coordinator)
    db.session.commit()
    return membership


def fresh(db, model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def table_row(page: str, name: str) -> str:
    """The roster table row (``<tr>...</tr>``) that names ``name``."""
    for row in re.findall(r"<tr>.*?</tr>", page, flags=re.S):
        if name in row:
            return row
    raise AssertionError(f"no row for {name!r}")


def person_item(page: str, patient) -> str:
    """The check-in list item of one patient."""
    match = re.search(rf'<li class="check-in__person" id="p{patient.id}">.*?</li>', page, re.S)
    assert match, f"{patient.full_name} is not on the check-in page"
    return match.group(0)


def section(page: str, heading: str) -> str:
    """The card whose ``<h2>`` starts with ``heading``, up to the next card."""
    match = re.search(rf"<h2[^>]*>{re.escape(heading)}.*?</section>", page, re.S)
    assert match, f"no section {heading!r}"
    return match.group(0)


def next_session(db, group) -> GroupSession:
    """The group's first session at least two days ahead (answers still open)."""
    return db.session.scalars(
        select(GroupSession)
        .where(
            GroupSession.group_id == group.id, GroupSession.starts_at > utcnow() + timedelta(days=2)
        )
        .order_by(GroupSession.starts_at)
    ).first()


def starting_in(db, group_session, delay: timedelta) -> GroupSession:
    """Move the session to start ``delay`` from now (negative: it started that long ago)."""
    group_session.starts_at = utcnow() + delay
    group_session.ends_at = group_session.starts_at + timedelta(hours=2)
    db.session.commit()
    return group_session


def under_way(db, group_session) -> GroupSession:
    """Make the session one that started half an hour ago: check-in is open."""
    return starting_in(db, group_session, -timedelta(minutes=30))


def audit_rows(db, action: str, object_type: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == action, AuditEvent.object_type == object_type
            )
        )
    )


# Enrolment and the waitlist


def test_coordinator_enrols_a_patient_and_sees_them_on_the_roster(
    db, coordinator_client, create_group, site, create_user
):
    group = create_group(site)
    patient = create_user(
        PATIENT, given_name="Rosa", family_name="Lopez", phone="555-0142", dietary_needs="no pork"
    )

    response = coordinator_client.post_form(
        f"/groups/{group.id}/enrol", {"patient_id": patient.id}, follow_redirects=True
    )

    page = text(response)
    assert response.status_code == 200
    assert "Rosa Lopez is now a member." in page
    assert "Members (1)" in page
    row = table_row(page, "Lopez, Rosa")
    assert "555-0142" in row and patient.email in row and "no pork" in row
    assert "1 of 15 places taken" in page
    membership = db.session.scalar(select(Membership).where(Membership.patient_id == patient.id))
    assert membership.status == ACTIVE and membership.group_id == group.id


def test_enrolling_twice_is_refused_with_a_message(
    db, coordinator_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)

    response = coordinator_client.post_form(
        f"/groups/{group.id}/enrol", {"patient_id": patient.id}, follow_redirects=True
    )

    assert "Pat Ient is already in this group (member)." in text(response)
    count = db.session.scalar(select(func.count()).select_from(Membership))
    assert count == 1


def test_enrolling_into_a_full_group_flashes_the_waitlist_number(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=2, max_members=2)
    for _ in range(2):
        enrol(db, group, create_user(PATIENT, password=None), coordinator)
    first = create_user(PATIENT, given_name="Linh", family_name="Nguyen", password=None)
    second = create_user(PATIENT, given_name="Kwame", family_name="Mensah", password=None)

    page = text(
        coordinator_client.post_form(
            f"/groups/{group.id}/enrol", {"patient_id": first.id}, follow_redirects=True
        )
    )
    assert "The group is full: Linh Nguyen is number 1 on the waitlist." in page
    page = text(
        coordinator_client.post_form(
            f"/groups/{group.id}/enrol", {"patient_id": second.id}, follow_redirects=True
        )
    )
    assert "The group is full: Kwame Mensah is number 2 on the waitlist." in page

    assert "Members (2)" in page and "Waitlist (2)" in page
    assert re.search(
        r"<strong>1\.</strong> Nguyen, Linh.*<strong>2\.</strong> Mensah, Kwame", page, re.S
    )
    db.session.expire_all()
    waiting = services.waitlist(group)
    assert [(m.patient_id, m.waitlist_position, m.status) for m in waiting] == [
        (first.id, 1, WAITLISTED),
        (second.id, 2, WAITLISTED),
    ]


def test_coordinator_moves_someone_on_the_waitlist_with_a_reason(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    enrol(db, group, create_user(PATIENT, password=None), coordinator)
    ana, robert, linh = (
        create_user(PATIENT, given_name=given, family_name=family, password=None)
        for given, family in (("Ana", "Moreno"), ("Robert", "Johnson"), ("Linh", "Nguyen"))
    )
    waiting = [enrol(db, group, person, coordinator) for person in (ana, robert, linh)]
    linh_id = waiting[2].id

    page = text(
        coordinator_client.post_form(
            f"/memberships/{linh_id}/waitlist-position",
            {"position": "1", "reason": "Clinical priority: new insulin start"},
            follow_redirects=True,
        )
    )

    assert "Linh Nguyen is moved on the waitlist." in page
    assert re.search(
        r"<strong>1\.</strong> Nguyen, Linh.*<strong>2\.</strong> Moreno, Ana"
        r".*<strong>3\.</strong> Johnson, Robert",
        page,
        re.S,
    )
    db.session.expire_all()
    assert [m.patient_id for m in services.waitlist(group)] == [linh.id, ana.id, robert.id]
    history = text(coordinator_client.get(f"/memberships/{linh_id}/history"))
    assert "moved on waitlist" in history
    assert "to position 1: Clinical priority: new insulin start" in history
    assert "Cora Ordinator" in history


def test_moving_on_the_waitlist_without_a_reason_changes_nothing(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    enrol(db, group, create_user(PATIENT, password=None), coordinator)
    waiting = [enrol(db, group, create_user(PATIENT, password=None), coordinator) for _ in range(2)]
    last_id = waiting[1].id

    response = coordinator_client.post_form(
        f"/memberships/{last_id}/waitlist-position",
        {"position": "1", "reason": ""},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "Give a reason, e.g. clinical priority." in text(response)
    assert fresh(db, Membership, last_id).waitlist_position == 2


# Agreements


def test_roster_shows_agreement_status_and_records_a_paper_agreement(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site)
    agreement = services.publish_agreement(group, services.DEFAULT_AGREEMENT, actor=coordinator)
    signed = create_user(PATIENT, given_name="Fatima", family_name="Hassan", password=None)
    on_paper = create_user(PATIENT, given_name="George", family_name="Brown", password=None)
    enrol(db, group, signed, coordinator)
    paper_membership = enrol(db, group, on_paper, coordinator)
    paper_id = paper_membership.id
    services.accept_agreement(agreement, signed, actor=signed)
    db.session.commit()

    page = text(coordinator_client.get(f"/groups/{group.id}/roster"))
    today = date.today()
    assert f"Accepted {today:%d %b %Y}" in table_row(page, "Hassan, Fatima")
    assert "Not yet" not in table_row(page, "Hassan, Fatima")
    assert "Not yet" in table_row(page, "Brown, George")
    assert "Agreement (version 1)" in page

    assert 'name="share_name" value="yes" required>' in table_row(page, "Brown, George")
    signed_on = today - timedelta(days=3)
    page = text(
        coordinator_client.post_form(
            f"/memberships/{paper_id}/paper-agreement",
            {"accepted_on": signed_on.isoformat(), "share_name": "no"},
            follow_redirects=True,
        )
    )

    assert "Paper agreement recorded for George Brown." in page
    row = table_row(page, "Brown, George")
    assert f"Accepted {signed_on:%d %b %Y} (paper)" in row and "Not yet" not in row
    db.session.expire_all()
    acceptance = db.session.scalar(
        select(AgreementAcceptance).where(AgreementAcceptance.patient_id == on_paper.id)
    )
    assert acceptance.method == "paper"
    assert acceptance.accepted_on == signed_on
    assert acceptance.recorded_by_id == coordinator.id
    assert fresh(db, Membership, paper_id).share_name is False


def test_a_paper_agreement_records_the_share_answer_audited_as_the_staff_members(
    db, clinician_client, create_group, site, coordinator, clinician, create_user
):
    group = create_group(site)
    services.publish_agreement(group, services.DEFAULT_AGREEMENT, actor=coordinator)
    on_paper = create_user(PATIENT, given_name="George", family_name="Brown", password=None)
    membership_id = enrol(db, group, on_paper, coordinator).id
    assert fresh(db, Membership, membership_id).share_name is None

    clinician_client.post_form(
        f"/memberships/{membership_id}/paper-agreement",
        {"accepted_on": date.today().isoformat(), "share_name": "yes"},
    )

    assert fresh(db, Membership, membership_id).share_name is True
    (row,) = audit_rows(db, "update", "membership")
    assert (row.actor_id, row.patient_id, row.object_id) == (
        clinician.id,
        on_paper.id,
        membership_id,
    )
    (acceptance_row,) = audit_rows(db, "update", "agreement")
    assert (acceptance_row.actor_id, acceptance_row.patient_id) == (clinician.id, on_paper.id)
    history = text(clinician_client.get(f"/memberships/{membership_id}/history"))
    assert "shares name" in history and "on the paper agreement" in history


def test_a_paper_agreement_without_the_share_answer_is_refused(
    db, coordinator_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    services.publish_agreement(group, services.DEFAULT_AGREEMENT, actor=coordinator)
    membership_id = enrol(db, group, patient, coordinator).id

    response = coordinator_client.post_form(
        f"/memberships/{membership_id}/paper-agreement",
        {"accepted_on": date.today().isoformat()},
        follow_redirects=True,
    )

    assert "Give the answer on the paper form" in text(response)
    assert "Not yet" in table_row(text(response), "Ient, Pat")
    assert db.session.scalar(select(func.count()).select_from(AgreementAcceptance)) == 0
    assert fresh(db, Membership, membership_id).share_name is None


def test_a_paper_agreement_dated_in_the_future_is_refused(
    db, coordinator_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    services.publish_agreement(group, services.DEFAULT_AGREEMENT, actor=coordinator)
    membership_id = enrol(db, group, patient, coordinator).id

    response = coordinator_client.post_form(
        f"/memberships/{membership_id}/paper-agreement",
        {"accepted_on": (date.today() + timedelta(days=2)).isoformat(), "share_name": "yes"},
        follow_redirects=True,
    )

    assert response.status_code == 200
    assert "The date of a paper agreement cannot be in the future." in text(response)
    assert "Not yet" in table_row(text(response), "Ient, Pat")
    assert db.session.scalar(select(func.count()).select_from(AgreementAcceptance)) == 0


# Ending memberships and answering requests


def test_ending_a_membership_without_a_reason_changes_nothing(
    db, coordinator_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    membership_id = enrol(db, group, patient, coordinator).id

    response = coordinator_client.post_form(
        f"/memberships/{membership_id}/end", {"reason": "  "}, follow_redirects=True
    )

    page = text(response)
    assert response.status_code == 200
    assert "Give a reason." in page
    assert "Members (1)" in page
    membership = fresh(db, Membership, membership_id)
    assert membership.status == ACTIVE and membership.ended_at is None


def test_ending_a_membership_with_a_reason_offers_the_place_to_the_waitlist(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    leaving = create_user(PATIENT, given_name="Harold", family_name="Davis", password=None)
    waiting = create_user(PATIENT, given_name="Mei", family_name="Wang", password=None)
    leaving_id = enrol(db, group, leaving, coordinator).id
    waiting_id = enrol(db, group, waiting, coordinator).id

    page = text(
        coordinator_client.post_form(
            f"/memberships/{leaving_id}/end",
            {"reason": "Moved to another city"},
            follow_redirects=True,
        )
    )

    assert "Harold Davis's membership has ended." in page
    assert "Members (0)" in page
    assert "Past members and requests" in page
    assert re.search(r"Davis, Harold: Ended .*\(Moved to another city\)", page)
    assert "Offered a place" in page and "Wang, Mei: held until" in page
    ended = fresh(db, Membership, leaving_id)
    assert ended.status == ENDED and ended.end_reason == "Moved to another city"
    offered = db.session.get(Membership, waiting_id)
    assert offered.status == OFFERED and offered.offer_expires_at is not None


def test_coordinator_approves_and_declines_requests_to_join(
    db, coordinator_client, create_group, site, create_user
):
    group = create_group(site)
    asking = create_user(PATIENT, given_name="Dorothy", family_name="Williams", password=None)
    refused = create_user(PATIENT, given_name="Luis", family_name="Rivera", password=None)
    asking_id = services.request_to_join(group, asking, "My doctor suggested it.").id
    refused_id = services.request_to_join(group, refused, "").id
    db.session.commit()

    page = text(coordinator_client.get(f"/groups/{group.id}/roster"))
    assert "Asking to join (2)" in page
    assert "Williams, Dorothy: “My doctor suggested it.”" in page

    page = text(
        coordinator_client.post_form(
            f"/memberships/{asking_id}/approve", {"message": ""}, follow_redirects=True
        )
    )
    assert "Dorothy Williams's request is accepted." in page
    assert "Asking to join (1)" in page and "Members (1)" in page
    assert fresh(db, Membership, asking_id).status == ACTIVE

    page = text(
        coordinator_client.post_form(
            f"/memberships/{refused_id}/decline", {"message": ""}, follow_redirects=True
        )
    )
    assert "Write a short message to the patient." in page
    assert fresh(db, Membership, refused_id).status == REQUESTED

    page = text(
        coordinator_client.post_form(
            f"/memberships/{refused_id}/decline",
            {"message": "This group is for type 2 diabetes; try the heart group."},
            follow_redirects=True,
        )
    )
    assert "Luis Rivera's request is declined." in page
    assert "Asking to join" not in page
    declined = fresh(db, Membership, refused_id)
    assert declined.status == DECLINED
    assert declined.reply_message == "This group is for type 2 diabetes; try the heart group."


def test_membership_history_lists_every_step(
    db, coordinator_client, clinician_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    member = enrol(db, group, create_user(PATIENT, password=None), coordinator)
    patient = create_user(PATIENT, given_name="Aisha", family_name="Bello", password=None)
    waiting_id = enrol(db, group, patient, coordinator).id
    services.end_membership(member, "Moved away", actor=coordinator)
    db.session.commit()

    response = clinician_client.get(f"/memberships/{waiting_id}/history")

    page = text(response)
    assert response.status_code == 200
    assert "Aisha Bello" in page and "Now: <strong>Offered a place</strong>" in page
    assert re.search(r"<strong>waitlisted</strong>, position 1 .*Cora Ordinator", page)
    assert re.search(r"<strong>offered</strong>, held until .*automatic", page)
    assert page.index("waitlisted") < page.index("offered")
    views = audit_rows(db, "view", "membership")
    assert [(row.patient_id, row.object_id) for row in views] == [(patient.id, waiting_id)]


# CSV export and the audit trail


def test_roster_csv_has_contacts_and_needs_and_neutralises_formulas(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=1, max_members=1)
    member = create_user(
        PATIENT,
        given_name="Maria",
        family_name="Garcia",
        phone="555-0107",
        dietary_needs='=HYPERLINK("http://evil.example","diet")',
        preferred_language="Spanish",
        accessibility_needs="wheelchair user",
        password=None,
    )
    waiting = create_user(PATIENT, given_name="Frank", family_name="Miller", password=None)
    enrol(db, group, member, coordinator)
    enrol(db, group, waiting, coordinator)
    outsider = create_user(PATIENT, given_name="Olga", family_name="Petrova", password=None)

    response = coordinator_client.get(f"/groups/{group.id}/roster.csv")

    assert response.status_code == 200
    assert response.content_type.startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    by_name = {row["family_name"]: row for row in rows}
    assert set(by_name) == {"Garcia", "Miller"}
    garcia = by_name["Garcia"]
    assert garcia["given_name"] == "Maria" and garcia["status"] == ACTIVE
    assert garcia["email"] == member.email and garcia["phone"] == "555-0107"
    assert garcia["preferred_language"] == "Spanish"
    assert garcia["accessibility_needs"] == "wheelchair user"
    assert garcia["dietary_needs"] == '\'=HYPERLINK("http://evil.example","diet")'
    assert by_name["Miller"]["status"] == WAITLISTED
    assert by_name["Miller"]["waitlist_position"] == "1"
    exports = audit_rows(db, "export", "roster")
    assert sorted(row.patient_id for row in exports) == sorted([member.id, waiting.id])
    assert {row.actor_id for row in exports} == {coordinator.id}
    assert outsider.id not in {row.patient_id for row in exports}


def test_roster_csv_opens_in_spreadsheets_with_accents_names_its_group_and_day_and_has_the_mrn(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, name="Tuesday évening group")
    member = create_user(
        PATIENT, given_name="José", family_name="Peña", medical_record_number="MRN-0042"
    )
    enrol(db, group, member, coordinator)

    response = coordinator_client.get(f"/groups/{group.id}/roster.csv")

    body = response.get_data()
    assert body.startswith("\ufeff".encode())  # Excel reads UTF-8 only with the mark
    [row] = csv.DictReader(io.StringIO(body.decode("utf-8-sig")))
    assert (row["family_name"], row["given_name"]) == ("Peña", "José")
    assert row["medical_record_number"] == "MRN-0042"
    today = to_local(utcnow(), site.timezone).date().isoformat()
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="roster-tuesday-evening-group-{today}.csv"'


def test_clinicians_cannot_download_the_roster_csv(
    db, clinician_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)

    assert clinician_client.get(f"/groups/{group.id}/roster.csv").status_code == 403
    page = text(clinician_client.get(f"/groups/{group.id}/roster"))
    assert "Ient, Pat" in page
    assert "Download CSV" not in page
    assert audit_rows(db, "export", "roster") == []


def test_viewing_the_roster_writes_one_view_row_per_patient_shown(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site, min_members=1, target_members=2, max_members=2)
    people = [create_user(PATIENT, password=None) for _ in range(3)]
    for person in people:
        enrol(db, group, person, coordinator)
    elsewhere = create_user(PATIENT, password=None)
    assert audit_rows(db, "view", "roster") == []

    response = coordinator_client.get(f"/groups/{group.id}/roster")

    assert response.status_code == 200
    views = audit_rows(db, "view", "roster")
    assert sorted(row.patient_id for row in views) == sorted(p.id for p in people)
    assert {row.actor_id for row in views} == {coordinator.id}
    assert elsewhere.id not in {row.patient_id for row in views}


def roster_queries(count_queries, client, group) -> int:
    url = f"/groups/{group.id}/roster"
    assert client.get(url).status_code == 200  # warm up
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200
    return counter.count


def test_roster_page_runs_as_many_queries_for_15_members_as_for_5(
    db, coordinator_client, create_group, site, coordinator, create_user, count_queries
):
    small, large = create_group(site), create_group(site)
    for group, size in ((small, 5), (large, 15)):
        agreement = services.publish_agreement(group, "Stays in the group.", actor=coordinator)
        for _ in range(size):
            person = create_user(PATIENT, password=None)
            enrol(db, group, person, coordinator)
            services.accept_agreement(agreement, person, actor=person)
        db.session.commit()

    few = roster_queries(count_queries, coordinator_client, small)
    many = roster_queries(count_queries, coordinator_client, large)

    assert "Members (15)" in text(coordinator_client.get(f"/groups/{large.id}/roster"))
    assert few == many


# A session's attendance


def test_attendance_page_sorts_people_by_answer_and_sums_up_the_meal(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site)
    group_session = next_session(db, group)
    people = {
        name: create_user(
            PATIENT, given_name=name, family_name=family, dietary_needs=diet, password=None
        )
        for name, family, diet in (
            ("Ana", "Moreno", "vegetarian"),
            ("Kwame", "Mensah", "no pork; low sodium"),
            ("Rosa", "Lopez", "gluten free"),
            ("Frank", "Miller", "halal"),
            ("Olga", "Petrova", ""),
        )
    }
    for person in people.values():
        enrol(db, group, person, coordinator)
    for name, answer, support in (
        ("Ana", "yes", True),
        ("Kwame", "yes", False),
        ("Rosa", "maybe", False),
        ("Frank", "no", False),
    ):
        rules.answer_rsvp(
            group_session, people[name], answer, actor=people[name], brings_support_person=support
        )
    db.session.commit()
    session_id = group_session.id

    page = text(coordinator_client.get(f"/sessions/{session_id}/attendance"))

    coming = section(page, "Coming (2)")
    assert "Moreno, Ana" in coming and "+1 support person" in coming and "Mensah, Kwame" in coming
    assert "Lopez, Rosa" in section(page, "Maybe (1)")
    assert "Miller, Frank" in section(page, "Not coming (1)")
    assert "Petrova, Olga" in section(page, "No answer yet (1)")
    assert "Nobody." in section(page, "Drop-ins (0)")
    assert "<strong>3</strong> expected at the meal, and 1 maybe" in page
    assert "3 of 15 seats taken, 1 by support persons" in page
    for need in ("vegetarian: 1", "no pork: 1", "low sodium: 1"):
        assert need in page
    assert "gluten free" not in page and "halal" not in page


def test_staff_add_a_drop_in_who_counts_for_the_meal(
    db, coordinator_client, create_group, site, coordinator, create_user
):
    group = create_group(site)
    group_session = next_session(db, group)
    member = create_user(PATIENT, dietary_needs="vegetarian", password=None)
    enrol(db, group, member, coordinator)
    rules.answer_rsvp(group_session, member, "yes", actor=member)
    db.session.commit()
    guest = create_user(
        PATIENT,
        given_name="Tyrone",
        family_name="Jackson",
        dietary_needs="gluten free",
        password=None,
    )
    session_id = group_session.id

    response = coordinator_client.post_form(
        f"/sessions/{session_id}/drop-ins", {"patient_id": guest.id}, follow_redirects=True
    )

    page = text(response)
    assert "Tyrone Jackson is added as a drop-in." in page
    drop_ins = section(page, "Drop-ins (1)")
    assert "Jackson, Tyrone" in drop_ins and "Drop-in" in drop_ins
    assert "<strong>2</strong> expected at the meal" in page
    assert "gluten free: 1" in page and "vegetarian: 1" in page
    db.session.expire_all()
    attendance = db.session.scalar(select(Attendance).where(Attendance.patient_id == guest.id))
    assert attendance.is_drop_in and attendance.session_id == session_id
    assert attendance.membership_id is None

    again = coordinator_client.post_form(
        f"/sessions/{session_id}/drop-ins", {"patient_id": guest.id}, follow_redirects=True
    )
    assert "Tyrone Jackson is already on this session's list." in text(again)
    db.session.expire_all()
    count = db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.patient_id == guest.id)
    )
    assert count == 1


def test_sign_in_sheet_numbers_everyone_expected_and_names_only_members_who_share(
    db, clinician_client, create_group, site, coordinator, create_user
):
    group = create_group(site)
    group_session = next_session(db, group)
    coming = create_user(PATIENT, given_name="Gloria", family_name="Ortiz", password=None)
    silent = create_user(PATIENT, given_name="Walter", family_name="Anderson", password=None)
    away = create_user(PATIENT, given_name="Nadia", family_name="Rahman", password=None)
    for person in (coming, silent, away):
        enrol(db, group, person, coordinator)
    # Gloria and Nadia let fellow members see their name; Walter was never asked.
    for person in (coming, away):
        services.set_share_name(services.current_membership(group, person), True, actor=person)
    rules.answer_rsvp(group_session, coming, "yes", actor=coming, brings_support_person=True)
    rules.answer_rsvp(group_session, away, "no", actor=away)
    db.session.commit()
    under_way(db, group_session)
    for person in (coming, silent):
        attendance = rules.attendance_for_check_in(group_session, person, actor=coordinator)
        rules.record_vitals(
            attendance, weight=97, systolic=151, diastolic=93, source="staff", actor=coordinator
        )
    db.session.commit()

    response = clinician_client.get(f"/sessions/{group_session.id}/sign-in-sheet")

    page = text(response)
    assert response.status_code == 200
    assert "What is said in the group stays in the group." in page
    sheet = re.search(r'<table class="sign-in-sheet">.*?</table>', page, re.S).group(0)
    assert re.findall(r"<th\b[^>]*>(.*?)</th>", sheet) == ["No.", "Name", "Signature"]
    # Everyone expected has a numbered line; only Gloria's shows a name, as members see it.
    lines = re.findall(
        r'<tr><td class="sheet__number">(\d+)</td><td>(.*?)</td><td></td></tr>', sheet
    )
    assert lines == [
        ("1", "Gloria O. (+1)"),
        ("2", '<span class="visually-hidden">Name not shown</span>'),
    ]
    # Nadia said no: no line, not even her shared name.
    for hidden in ("Ortiz", "Walter", "Anderson", "Nadia", "Rahman"):
        assert hidden not in page
    for person in (coming, silent, away):
        assert person.email not in page
    assert "@" not in sheet
    assert "Weight" not in sheet and "Blood pressure" not in sheet
    for vital in ("97", "151", "93", "kg"):
        assert vital not in sheet


@pytest.mark.parametrize("page", ["attendance", "check-in", "sign-in-sheet"])
def test_session_pages_run_as_many_queries_for_12_people_as_for_3(
    db, coordinator_client, create_group, site, coordinator, create_user, count_queries, page
):
    sessions = []
    for size in (3, 12):
        group = create_group(site)
        group_session = next_session(db, group)
        for _ in range(size):
            person = create_user(PATIENT, password=None)
            enrol(db, group, person, coordinator)
            rules.answer_rsvp(group_session, person, "yes", actor=person)
        db.session.commit()
        # On the day, as staff use these pages (the check-in page shows its forms).
        sessions.append(under_way(db, group_session).id)

    counts = []
    for session_id in sessions:
        url = f"/sessions/{session_id}/{page}"
        assert coordinator_client.get(url).status_code == 200  # warm up
        with count_queries() as counter:
            response = coordinator_client.get(url)
        assert response.status_code == 200
        counts.append(counter.count)

    assert counts[0] == counts[1]


# Check-in and vitals


def test_check_in_marks_a_member_arrived_and_the_page_shows_it(
    db, clinician_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)
    # Check-in opened 40 minutes ago; the session starts in 20: an arrival is on time.
    session_id = starting_in(db, next_session(db, group), timedelta(minutes=20)).id

    before = text(clinician_client.get(f"/sessions/{session_id}/check-in"))
    assert "Tap once per person as they arrive." in before
    assert "Arrived</span>" not in person_item(before, patient)

    response = clinician_client.post_form(
        f"/sessions/{session_id}/check-in",
        {"patient_id": patient.id, "status": "arrived", "wants_one_on_one": "yes"},
        follow_redirects=True,
    )

    page = text(response)
    assert "Pat I.: Arrived." in page
    item = person_item(page, patient)
    assert '<span class="badge badge--ok">Arrived, in person</span>' in item
    assert '<option value="yes" selected>Yes</option>' in item
    db.session.expire_all()
    attendance = db.session.scalar(select(Attendance).where(Attendance.patient_id == patient.id))
    assert attendance.check_in == "arrived" and attendance.checked_in_at is not None
    assert attendance.wants_one_on_one is True
    assert attendance.mode == "in_person"


def test_check_in_of_someone_not_in_the_group_asks_for_a_drop_in(
    db, clinician_client, create_group, site, create_user
):
    group = create_group(site)
    session_id = under_way(db, next_session(db, group)).id
    stranger = create_user(PATIENT, password=None)

    response = clinician_client.post_form(
        f"/sessions/{session_id}/check-in", {"patient_id": stranger.id, "status": "arrived"}
    )

    # The check-in page again, saying why.
    assert response.status_code == 422
    assert "Add this patient as a drop-in first." in text(response)
    assert "<h1>Check-in" in text(response)
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_vitals_are_saved_and_the_check_in_page_shows_them_taken(
    db, clinician_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)
    session_id = under_way(db, next_session(db, group)).id

    before = text(clinician_client.get(f"/sessions/{session_id}/check-in"))
    assert "Vitals not taken" in person_item(before, patient)

    response = clinician_client.post_form(
        f"/sessions/{session_id}/vitals",
        {
            "patient_id": patient.id,
            "weight": "82.5",
            "weight_unit": "kg",
            "systolic": "128",
            "diastolic": "82",
            "source": "staff",
        },
        follow_redirects=True,
    )

    page = text(response)
    assert "Vitals saved for Pat I." in page
    item = person_item(page, patient)
    assert "Vitals taken" in item and 'value="128"' in item and 'value="82"' in item
    assert 'name="weight" value="82.5"' in item
    db.session.expire_all()
    attendance = db.session.scalar(select(Attendance).where(Attendance.patient_id == patient.id))
    assert attendance.weight_kg == Decimal("82.5")
    assert (attendance.systolic, attendance.diastolic) == (128, 82)
    assert attendance.vitals_source == "staff" and attendance.vitals_taken


def test_a_blood_pressure_with_one_number_is_refused_and_nothing_is_saved(
    db, clinician_client, create_group, site, coordinator, patient
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)
    session_id = under_way(db, next_session(db, group)).id

    response = clinician_client.post_form(
        f"/sessions/{session_id}/vitals",
        {
            "patient_id": patient.id,
            "weight": "",
            "weight_unit": "kg",
            "systolic": "128",
            "diastolic": "",
            "source": "patient",
        },
    )

    # The check-in page again, with the message on the person's card.
    assert response.status_code == 422
    page = text(response)
    message = "A blood pressure needs both numbers, e.g. 128 over 82."
    assert message in page
    item = person_item(page, patient)
    assert message in item and "Vitals not taken" in item
    db.session.expire_all()
    attendance = db.session.scalar(select(Attendance).where(Attendance.patient_id == patient.id))
    assert attendance is None or (attendance.systolic is None and attendance.vitals_at is None)


@pytest.mark.parametrize(
    ("weight", "systolic", "diastolic", "message"),
    [
        ("eighty", "", "", "Not a valid decimal value."),
        ("900", "", "", "The weight should be in kilograms, between 20 and 350."),
        ("sNaN", "", "", "Give a number."),
        ("-Infinity", "", "", "Give a number."),
        ("", "82", "128", "The first blood pressure number is the larger one."),
        ("", "", "", "Enter a weight or a blood pressure."),
    ],
)
def test_unreadable_vitals_get_a_message_never_a_server_error(
    db,
    clinician_client,
    create_group,
    site,
    coordinator,
    patient,
    weight,
    systolic,
    diastolic,
    message,
):
    group = create_group(site)
    enrol(db, group, patient, coordinator)
    session_id = under_way(db, next_session(db, group)).id

    response = clinician_client.post_form(
        f"/sessions/{session_id}/vitals",
        {
            "patient_id": patient.id,
            "source": "staff",
            "weight": weight,
            "weight_unit": "kg",
            "systolic": systolic,
            "diastolic": diastolic,
        },
    )

    # The check-in page again, with the message and a 422; never a 500.
    page = text(response)
    assert response.status_code == 422
    assert message in page
    assert "Vitals saved" not in page
    assert "Vitals not taken" in person_item(page, patient)
    db.session.expire_all()
    saved = db.session.scalar(
        select(func.count()).select_from(Attendance).where(Attendance.vitals_at.is_not(None))
    )
    assert saved == 0


@pytest.fixture
def turnover(db, site, coordinator, create_user, create_group):
    """A group that 12 people have left, one ended every day (Ada first, Lee last)."""
    group = create_group(site)
    names = "Ada Ben Cai Dov Eli Fay Gus Hal Ivo Jo Kim Lee".split()
    start = utcnow() - timedelta(days=30)
    for day, name in enumerate(names):
        patient = create_user(PATIENT, given_name=name, family_name="Left")
        membership = enrol(db, group, patient, coordinator)
        services.end_membership(membership, "Moved away", actor=coordinator)
        membership.ended_at = start + timedelta(days=day)
    db.session.commit()
    return group


def test_the_roster_shows_the_latest_past_members_and_links_to_all(coordinator_client, turnover):
    page = text(coordinator_client.get(f"/groups/{turnover.id}/roster"))

    past = page[page.index("Past members and requests") :]
    assert "The latest 5 of 12." in past
    assert past.index("Left, Lee") < past.index("Left, Hal")  # newest first
    assert "Left, Gus" not in past and "Left, Ada" not in past
    assert f"/groups/{turnover.id}/roster/past" in past


def test_every_past_member_is_on_the_past_members_page_and_audited(
    db, coordinator_client, coordinator, turnover
):
    roster_reads = select(AuditEvent).where(AuditEvent.object_type == "roster")
    assert db.session.scalars(roster_reads).all() == []

    page = text(coordinator_client.get(f"/groups/{turnover.id}/roster/past"))

    assert "12 in all, newest first." in page
    names = re.findall(r"Left, (\w+): Ended", page)
    assert names == "Lee Kim Jo Ivo Hal Gus Fay Eli Dov Cai Ben Ada".split()
    reads = db.session.scalars(roster_reads).all()
    assert sorted(r.patient_id for r in reads) == sorted(
        db.session.scalars(select(Membership.patient_id)).all()
    )
    assert {(r.actor_id, r.action) for r in reads} == {(coordinator.id, "view")}


@pytest.mark.parametrize("page", ["0", "2", "-1", "99999999999999999999"])
def test_a_past_members_page_out_of_range_is_a_404(coordinator_client, turnover, page):
    response = coordinator_client.get(f"/groups/{turnover.id}/roster/past?page={page}")
    assert response.status_code == 404


def test_a_group_nobody_left_says_so(coordinator_client, site, create_group):
    group = create_group(site)
    page = text(coordinator_client.get(f"/groups/{group.id}/roster/past"))
    assert "Nobody has left this group or been declined yet." in page
