"""Team coverage: a site's next eight weeks with problems first, gaps in the coordinator's
week, and notices to people added to or taken off a session's team within 14 days."""

from datetime import date, time, timedelta

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.mail.models import OutboxMessage
from groupvisits.neutral import names_a_condition
from groupvisits.schedule import services as schedule
from groupvisits.team import services as team
from groupvisits.team.coverage import NOTICE_SUBJECT, coverage_for
from groupvisits.team.models import (
    FACILITATOR,
    PEER_MENTOR,
    PRECEPTOR,
    PROVIDER,
    SUPPORT,
    StaffAssignment,
)
from groupvisits.timeutil import utcnow


def _coverage_url(site) -> str:
    return f"/sites/{site.id}/coverage"


def _sessions(group, days: int = 56):
    return [
        s
        for s in schedule.upcoming_sessions({group.id}, now=utcnow(), days=days)
        if not s.is_cancelled
    ]


@pytest.fixture
def staff(create_user):
    def make(discipline: str = "attending", **fields):
        if discipline == "resident":
            fields.setdefault("training_year", 2)
        return create_user(CLINICIAN, discipline=discipline, **fields)

    return make


@pytest.fixture
def weekly(create_group, coordinator, db):
    """A weekly group from three days ahead that needs one facilitator at each session."""

    def make(**fields):
        group = create_group(start=date.today() + timedelta(days=3), rule="FREQ=WEEKLY", **fields)
        team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
        db.session.commit()
        return group

    return make


def _outbox(db) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


# Who may read the page


def test_coordinators_and_clinicians_of_the_site_read_its_coverage(
    site, weekly, coordinator_client, clinician_client
):
    weekly()
    for client in (coordinator_client, clinician_client):
        response = client.get(_coverage_url(site))
        assert response.status_code == 200
        assert "Team coverage at Eastside Clinic" in response.get_data(as_text=True)


def test_staff_of_another_site_get_404_and_patients_403(
    site, other_site, weekly, create_user, sign_in_as, patient_client
):
    weekly()
    other_coordinator = sign_in_as(create_user(COORDINATOR, sites=[other_site]))
    other_clinician = sign_in_as(create_user(CLINICIAN, sites=[other_site]))
    assert other_coordinator.get(_coverage_url(site)).status_code == 404
    assert other_clinician.get(_coverage_url(site)).status_code == 404
    assert patient_client.get(_coverage_url(site)).status_code == 403


def test_the_site_page_links_to_its_coverage(site, clinician_client):
    page = clinician_client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert f'href="{_coverage_url(site)}"' in page


# What the page shows


def test_sessions_with_problems_come_first_with_their_problems_and_local_time(
    db, site, weekly, staff, coordinator, coordinator_client
):
    group = weekly()
    sessions = _sessions(group)
    assert len(sessions) >= 7
    covered, uncovered = sessions[0], sessions[1]
    nurse = staff("registered_nurse", given_name="Nora", family_name="Nurse")
    team.assign_staff(covered, nurse, FACILITATOR, actor=coordinator)
    db.session.commit()

    page = coordinator_client.get(_coverage_url(site)).get_data(as_text=True)

    assert (
        "Needs 1 facilitator (registered nurse or behavioural health clinician); 0 assigned."
        in page
    )
    assert "Facilitator: Nora Nurse" in page
    assert site.when(covered.starts_at) in page
    assert page.index(f'id="session-{uncovered.id}"') < page.index(f'id="session-{covered.id}"')
    assert f"{len(sessions) - 1} sessions of {len(sessions)} need attention." in page
    # Eight weeks, not further.
    later = _sessions(group, days=120)[len(sessions) + 1]
    assert f'id="session-{later.id}"' not in page


def test_cancelled_sessions_are_left_out(db, site, weekly, coordinator, coordinator_client):
    group = weekly()
    first = _sessions(group)[0]
    schedule.cancel_session(first, "Room flooded", actor=coordinator)
    db.session.commit()
    page = coordinator_client.get(_coverage_url(site)).get_data(as_text=True)
    assert f'id="session-{first.id}"' not in page


def test_peer_mentors_shown_on_the_page_are_audited(
    db, site, weekly, create_user, coordinator, coordinator_client, willing_mentor
):
    group = weekly()
    mentor = create_user(PATIENT, sites=[site])
    willing_mentor(group, mentor)
    assignment = team.assign_staff(_sessions(group)[0], mentor, PEER_MENTOR, actor=coordinator)
    db.session.commit()

    assert mentor.full_name in coordinator_client.get(_coverage_url(site)).get_data(as_text=True)
    viewed = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.patient_id == mentor.id,
            AuditEvent.action == "view",
            AuditEvent.object_type == "staff_assignment",
        )
    ).all()
    assert [event.object_id for event in viewed] == [assignment.id]


def test_the_batched_check_says_what_coverage_problems_says_for_each_session(
    db, site, weekly, staff, coordinator
):
    group = weekly()
    team.set_staffing_rule(group, PROVIDER, count=2, actor=coordinator)
    team.set_staffing_rule(group, FACILITATOR, disciplines=[], actor=coordinator)  # any, for now
    sessions = _sessions(group)[:4]
    resident, attending, nurse, pharmacist = (
        staff("resident"),
        staff("attending"),
        staff("registered_nurse"),
        staff("pharmacist"),
    )
    team.assign_staff(sessions[0], resident, PROVIDER, actor=coordinator)
    team.assign_staff(sessions[0], pharmacist, FACILITATOR, actor=coordinator)
    team.assign_staff(sessions[1], resident, PROVIDER, actor=coordinator)
    team.assign_staff(sessions[1], attending, PRECEPTOR, actor=coordinator)
    team.assign_staff(sessions[1], nurse, FACILITATOR, actor=coordinator)
    team.assign_staff(sessions[2], nurse, FACILITATOR, actor=coordinator)
    team.add_time_off(
        nurse,
        sessions[2].starts_at - timedelta(hours=1),
        sessions[2].ends_at,
        "Conference",
        actor=coordinator,
    )
    # Narrowed after the pharmacist was put in: the template no longer allows them.
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
    db.session.commit()

    batched = coverage_for(sessions)

    for group_session in sessions:
        assert batched[group_session.id].problems == team.coverage_problems(group_session)
    assert any("on time off" in p for p in batched[sessions[2].id].problems)
    assert all("Conference" not in p for line in batched.values() for p in line.problems)
    assert [a.role for a in batched[sessions[1].id].team] == [FACILITATOR, PROVIDER, PRECEPTOR]


# Constant queries


def _queries(count_queries, client, url: str) -> int:
    client.get(url)  # first visit: one-off work
    with count_queries() as counter:
        assert client.get(url).status_code == 200
    return counter.count


def _staff_many(db, weekly, staff, coordinator) -> None:
    """More groups and sessions, with teams, wrong disciplines, residents and time off."""
    for n in range(3):
        group = weekly(at=time(8 + 3 * n, 0))
        team.set_staffing_rule(group, PROVIDER, actor=coordinator)
        sessions = _sessions(group)
        nurse, resident, pharmacist, attending = (
            staff("registered_nurse"),
            staff("resident"),
            staff("pharmacist"),
            staff("attending"),
        )
        for group_session in sessions[:3]:
            team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
            team.assign_staff(group_session, resident, PROVIDER, actor=coordinator)
            team.assign_staff(group_session, pharmacist, SUPPORT, actor=coordinator)
        team.assign_staff(sessions[1], attending, PRECEPTOR, actor=coordinator)
        # A template narrowed after staffing: the pharmacist no longer fits.
        team.set_staffing_rule(group, SUPPORT, disciplines=["medical_assistant"], actor=coordinator)
        team.add_time_off(nurse, sessions[0].starts_at, sessions[0].ends_at, actor=coordinator)
    db.session.commit()


def test_the_coverage_page_costs_the_same_with_more_sessions_and_teams(
    db, site, weekly, staff, coordinator, coordinator_client, count_queries
):
    weekly()
    few = _queries(count_queries, coordinator_client, _coverage_url(site))
    _staff_many(db, weekly, staff, coordinator)
    many = _queries(count_queries, coordinator_client, _coverage_url(site))
    page = coordinator_client.get(_coverage_url(site)).get_data(as_text=True)
    assert page.count("is on time off during this session.") == 3
    assert many == few


def test_the_coordinators_week_shows_staffing_gaps_at_the_same_cost(
    db, site, weekly, staff, coordinator, coordinator_client, count_queries
):
    group = weekly()
    first = _sessions(group)[0]
    few = _queries(count_queries, coordinator_client, "/")
    page = coordinator_client.get("/").get_data(as_text=True)
    assert "1 staffing gap</span> Needs 1 facilitator" in page
    assert f'href="/sessions/{first.id}#team-heading"' in page

    _staff_many(db, weekly, staff, coordinator)
    many = _queries(count_queries, coordinator_client, "/")
    assert many == few

    team.assign_staff(first, staff("registered_nurse"), FACILITATOR, actor=coordinator)
    db.session.commit()
    page = coordinator_client.get("/").get_data(as_text=True)
    assert f'href="/sessions/{first.id}#team-heading"' not in page


# Notices


def test_adding_and_removing_someone_within_14_days_queues_a_neutral_notice(
    db, weekly, staff, coordinator
):
    group = weekly(name="Tuesday diabetes group", calendar_name="Tuesday group")
    group_session = _sessions(group)[0]
    nurse = staff("registered_nurse", email="nora@clinic.example.org")

    assignment = team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
    team.unassign_staff(assignment, actor=coordinator)
    db.session.commit()

    added, removed = _outbox(db)
    site = group.site
    for message in (added, removed):
        assert message.to_address == "nora@clinic.example.org"
        assert message.subject == NOTICE_SUBJECT
        assert not names_a_condition(message.subject)
        assert '"Tuesday group"' in message.body
        assert site.when(group_session.starts_at) in message.body
        assert "facilitator" in message.body
        assert coordinator.full_name in message.body
        assert "diabetes" not in message.body
        assert group.name not in message.body
    assert "put you on the team" in added.body
    assert "taken you off the team" in removed.body


def test_changes_further_than_14_days_ahead_send_nothing(db, weekly, staff, coordinator):
    group = weekly()
    later = [s for s in _sessions(group) if s.starts_at - utcnow() > timedelta(days=14)][0]
    assignment = team.assign_staff(later, staff("registered_nurse"), FACILITATOR, actor=coordinator)
    team.unassign_staff(assignment, actor=coordinator)
    db.session.commit()
    assert _outbox(db) == []


def test_only_the_person_changed_is_told_and_patients_without_email_get_nothing(
    db, site, weekly, staff, create_user, coordinator, willing_mentor
):
    group = weekly()
    group_session = _sessions(group)[0]
    nurse = staff("registered_nurse", email="nora@clinic.example.org")
    team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
    db.session.commit()
    before = len(_outbox(db))

    mentor = create_user(PATIENT, sites=[site], given_name="Mona", email="mona@home.example.org")
    phone_only = create_user(PATIENT, sites=[site], email=None, password=None, phone="555-0100")
    for member in (mentor, phone_only):
        willing_mentor(group, member)
        team.assign_staff(group_session, member, PEER_MENTOR, actor=coordinator)
    db.session.commit()

    new = _outbox(db)[before:]
    assert [m.to_address for m in new] == ["mona@home.example.org"]
    assert "Hello Mona," in new[0].body and "peer mentor" in new[0].body
    assert all(mentor.family_name not in m.body for m in _outbox(db)[:before])
    assert db.session.scalar(select(StaffAssignment.id).filter_by(user_id=phone_only.id))


def test_assigning_someone_already_on_the_team_sends_nothing_more(db, weekly, staff, coordinator):
    group = weekly()
    group_session = _sessions(group)[0]
    nurse = staff("registered_nurse")
    team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
    team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
    db.session.commit()
    assert len(_outbox(db)) == 1
