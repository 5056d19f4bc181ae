"""The staffing page, the session page's Team section, and the schedule keeping teams in step."""

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.extensions import db
from groupvisits.roster import services as roster
from groupvisits.schedule import services as schedule
from groupvisits.team import services as team
from groupvisits.team.models import CoreTeamMember, StaffAssignment, StaffingRule

LATER = date.today() + timedelta(days=40)


def next_session(group):
    return schedule.next_sessions([group.id], schedule.utcnow())[group.id]


def assignments(group_session=None):
    db.session.expire_all()
    query = select(StaffAssignment)
    if group_session is not None:
        query = query.where(StaffAssignment.session_id == group_session.id)
    return db.session.scalars(query).all()


@pytest.fixture
def group(create_group, site):
    return create_group(site, start=LATER, location="Room A")


@pytest.fixture
def clinicians(create_user, site):
    return [
        create_user(CLINICIAN, sites=[site], given_name="Dana", family_name="Provider"),
        create_user(
            CLINICIAN,
            sites=[site],
            given_name="Ravi",
            family_name="Resident",
            discipline="resident",
            training_year=1,
        ),
    ]


def test_staffing_page_answers_each_role(
    app, group, coordinator, clinician, patient, other_site, create_user, sign_in_as
):
    roster.enrol(group, patient, actor=None)
    db.session.commit()
    as_coordinator = sign_in_as(coordinator)
    url = f"/groups/{group.id}/team"

    page = as_coordinator.get(url)
    assert page.status_code == 200
    assert "Put the core team on coming sessions" not in page.text  # no core team yet
    assert "Add to the core team" in page.text
    assert "Registered nurse" in page.text  # disciplines offered as checkboxes

    read_only = sign_in_as(clinician).get(url)
    assert read_only.status_code == 200
    assert "Add to the core team" not in read_only.text
    assert sign_in_as(clinician).post_form(f"{url}/core", {}).status_code == 403
    assert sign_in_as(patient).get(url).status_code == 403
    stranger = create_user(COORDINATOR, sites=[other_site])
    assert sign_in_as(stranger).get(url).status_code == 404
    assert sign_in_as(stranger).post_form(f"{url}/rules", {"role": "provider"}).status_code == 404
    assert db.session.scalars(select(StaffingRule)).all() == []


def test_coordinator_sets_the_template_and_the_core_team(
    app, group, coordinator, clinicians, sign_in_as
):
    client = sign_in_as(coordinator)
    url = f"/groups/{group.id}/team"
    saved = client.post_form(
        f"{url}/rules", {"role": "provider", "count": "2", "disciplines": ["attending", "resident"]}
    )
    assert saved.status_code == 302
    rule = db.session.scalar(select(StaffingRule))
    assert (rule.role, rule.count, rule.allowed) == ("provider", 2, ("attending", "resident"))
    assert client.post_form(f"{url}/rules", {"role": "provider", "count": "0"}).status_code == 422

    dana = clinicians[0]
    added = client.post_form(f"{url}/core", {"user_id": dana.id, "role": "facilitator"})
    assert added.status_code == 302
    page = client.get(url).text
    assert "Dana Provider" in page and "Facilitator" in page
    member = db.session.scalar(select(CoreTeamMember))
    assert client.post_form(f"{url}/core/remove", {"row_id": member.id}).status_code == 302
    assert db.session.scalars(select(CoreTeamMember)).all() == []
    assert client.post_form(f"{url}/rules/remove", {"role": "provider"}).status_code == 302
    assert db.session.scalars(select(StaffingRule)).all() == []


def test_putting_the_core_team_on_coming_sessions_says_who_was_left_off(
    app, group, coordinator, clinicians, sign_in_as
):
    dana, ravi = clinicians
    team.add_core_member(group, dana, "provider", actor=coordinator)
    team.add_core_member(group, ravi, "provider", actor=coordinator)
    first = next_session(group)
    team.add_time_off(
        ravi, first.starts_at - timedelta(hours=1), first.ends_at, "conference", actor=coordinator
    )
    db.session.commit()
    client = sign_in_as(coordinator)

    response = client.post_form(f"/groups/{group.id}/team/copy", {}, follow_redirects=True)

    assert response.status_code == 200
    assert "Left off:" in response.text
    assert "Ravi Resident is on time off during this session." in response.text
    assert "conference" not in response.text
    upcoming = db.session.scalars(
        select(schedule.GroupSession).where(schedule.GroupSession.group_id == group.id)
    ).all()
    rows = assignments()
    assert {a.session_id for a in rows if a.user_id == dana.id} == {s.id for s in upcoming}
    assert first.id not in {a.session_id for a in rows if a.user_id == ravi.id}


def test_new_and_generated_sessions_get_the_core_team(app, group, coordinator, clinicians):
    dana = clinicians[0]
    team.add_core_member(group, dana, "facilitator", actor=coordinator)
    db.session.commit()

    extra = schedule.add_extra_session(
        group,
        local_start=datetime.combine(LATER + timedelta(days=3), time(10)),
        length_minutes=90,
        actor=coordinator,
    )
    generated = schedule.generate_sessions(group, until=LATER + timedelta(days=400))
    db.session.commit()

    assert generated
    for group_session in [extra, *generated]:
        assert [(a.user_id, a.role) for a in assignments(group_session)] == [
            (dana.id, "facilitator")
        ]


def test_coordinator_assigns_and_removes_on_the_session_page(
    app, group, coordinator, clinicians, clinician, sign_in_as
):
    group_session = next_session(group)
    url = f"/sessions/{group_session.id}"
    client = sign_in_as(coordinator)
    dana = clinicians[0]

    assert (
        client.post_form(f"{url}/team", {"user_id": dana.id, "role": "provider"}).status_code == 302
    )
    page = client.get(url).text
    assert "Dana Provider" in page and "Provider (one-on-one visits)" in page
    assert "Add to the team" in page

    refused = sign_in_as(clinician).post_form(f"{url}/team", {"user_id": dana.id, "role": "vitals"})
    assert refused.status_code == 403
    assert "Add to the team" not in sign_in_as(clinician).get(url).text

    [assignment] = assignments(group_session)
    assert client.post_form(f"{url}/team/remove", {"row_id": assignment.id}).status_code == 302
    assert assignments(group_session) == []


def test_a_clash_is_refused_with_a_message_and_nothing_is_saved(
    app, group, create_group, site, coordinator, clinicians, sign_in_as
):
    other = create_group(site, start=LATER, location="Room B")
    dana = clinicians[0]
    team.assign_staff(next_session(group), dana, "provider", actor=coordinator)
    db.session.commit()
    busy_at_once = next_session(other)
    client = sign_in_as(coordinator)

    response = client.post_form(
        f"/sessions/{busy_at_once.id}/team", {"user_id": dana.id, "role": "provider"}
    )

    assert response.status_code == 409
    assert "Dana Provider is already on the team of" in response.text
    assert group.name in response.text
    assert assignments(busy_at_once) == []


def test_moving_a_session_moves_its_team_and_a_clash_refuses_the_move(
    app, group, create_group, site, coordinator, clinicians, sign_in_as
):
    morning = create_group(site, start=LATER, at=time(9), location="Room B")
    dana = clinicians[0]
    evening_session, morning_session = next_session(group), next_session(morning)
    team.assign_staff(evening_session, dana, "provider", actor=coordinator)
    team.assign_staff(morning_session, dana, "facilitator", actor=coordinator)
    db.session.commit()
    before = morning_session.starts_at
    client = sign_in_as(coordinator)
    local = morning_session.local_start

    def move_to(hour):
        return client.post_form(
            f"/sessions/{morning_session.id}/edit",
            {
                "date": local.date().isoformat(),
                "start_time": f"{hour:02d}:00",
                "length_minutes": "120",
                "location": "Room B",
            },
        )

    clash = move_to(17)
    assert 400 <= clash.status_code < 500
    assert "Dana Provider is already on the team of" in clash.text
    db.session.expire_all()
    assert db.session.get(schedule.GroupSession, morning_session.id).starts_at == before
    assert [a.starts_at for a in assignments(morning_session)] == [before]

    assert move_to(11).status_code == 302
    db.session.expire_all()
    moved = db.session.get(schedule.GroupSession, morning_session.id)
    assert moved.starts_at == before + timedelta(hours=2)
    assert [(a.starts_at, a.ends_at) for a in assignments(morning_session)] == [
        (moved.starts_at, moved.ends_at)
    ]


def test_staff_see_coverage_problems_before_the_team(
    app, group, coordinator, clinicians, clinician, sign_in_as
):
    team.set_staffing_rule(group, "precepting_attending", 1, actor=coordinator)
    ravi = clinicians[1]
    group_session = next_session(group)
    team.assign_staff(group_session, ravi, "provider", actor=coordinator)
    db.session.commit()

    page = sign_in_as(clinician).get(f"/sessions/{group_session.id}").text

    assert "Needs the coordinator" in page
    assert "A resident is a provider, so a precepting attending is needed." in page
    assert "Needs 1 precepting attending" in page
    assert page.index("Needs the coordinator") < page.index("Ravi Resident")


def test_patients_see_first_names_and_disciplines_only(
    app, group, coordinator, clinicians, patient, create_user, site, sign_in_as, willing_mentor
):
    mentor = create_user(PATIENT, sites=[site], given_name="Maria", family_name="Mentorson")
    for member in (patient, mentor):
        roster.enrol(group, member, actor=None)
    willing_mentor(group, mentor)
    team.set_staffing_rule(group, "precepting_attending", 1, actor=coordinator)
    group_session = next_session(group)
    dana = clinicians[0]
    team.assign_staff(group_session, dana, "provider", actor=coordinator)
    team.assign_staff(group_session, mentor, "peer_mentor", actor=coordinator)
    team.add_time_off(
        dana, group_session.ends_at, group_session.ends_at + timedelta(days=1), actor=coordinator
    )
    db.session.commit()

    page = sign_in_as(patient).get(f"/sessions/{group_session.id}")

    assert page.status_code == 200
    assert "Dana, attending physician" in page.text
    assert "Maria, peer mentor" in page.text
    for hidden in ("Provider", "Mentorson", "Needs", "precepting", "Add to the team"):
        assert hidden not in page.text.split('id="team-heading"')[1], hidden


def test_the_session_page_costs_the_same_as_the_team_grows(
    app, group, coordinator, create_user, site, sign_in_as, count_queries
):
    team.set_staffing_rule(group, "provider", 2, actor=coordinator)
    db.session.commit()
    group_session = next_session(group)
    client = sign_in_as(coordinator)
    url = f"/sessions/{group_session.id}"

    def add(n):
        for _ in range(n):
            person = create_user(CLINICIAN, sites=[site], discipline="resident", training_year=2)
            team.assign_staff(group_session, person, "provider", actor=coordinator)
            team.add_core_member(group, person, "educator", actor=coordinator)
        db.session.commit()

    def cost():
        client.get(url)
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    add(1)
    small = cost()
    add(5)
    assert cost() == small
    staffing = f"/groups/{group.id}/team"
    client.get(staffing)
    with count_queries() as counter:
        client.get(staffing)
    add(3)
    with count_queries() as again:
        client.get(staffing)
    assert again.count == counter.count
