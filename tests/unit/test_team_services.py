"""The interprofessional team: templates, core teams, per-session assignments and coverage."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.schedule.models import GroupSession
from groupvisits.team import services as team
from groupvisits.team.models import (
    FACILITATOR,
    PEER_MENTOR,
    PRECEPTOR,
    PROVIDER,
    CoreTeamMember,
    StaffAssignment,
    TimeOff,
)

START = datetime(2030, 3, 12, 22, 0, tzinfo=UTC)


@pytest.fixture
def add_session(db):
    """A session of ``group`` starting ``hours`` after START, two hours long."""

    def make(group, hours: float = 0, length: float = 2) -> GroupSession:
        starts_at = START + timedelta(hours=hours)
        group_session = GroupSession(
            group_id=group.id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=length)
        )
        db.session.add(group_session)
        db.session.commit()
        return group_session

    return make


@pytest.fixture
def staff(create_user):
    def make(discipline: str = "attending", **fields):
        if discipline == "resident":
            fields.setdefault("training_year", 2)
        return create_user(CLINICIAN, discipline=discipline, **fields)

    return make


@pytest.fixture
def group(create_group):
    return create_group(rule=None)


def test_one_clinician_may_hold_several_roles_in_one_session(
    db, group, add_session, staff, coordinator
):
    group_session, nurse = add_session(group), staff("registered_nurse")
    team.assign_staff(group_session, nurse, FACILITATOR, actor=coordinator)
    team.assign_staff(group_session, nurse, "vitals", actor=coordinator)
    db.session.commit()

    roles = db.session.scalars(select(StaffAssignment.role).order_by(StaffAssignment.role))
    assert list(roles) == [FACILITATOR, "vitals"]


def test_assigning_the_same_role_twice_keeps_one_assignment(
    db, group, add_session, staff, coordinator
):
    group_session, doctor = add_session(group), staff()
    first = team.assign_staff(group_session, doctor, PROVIDER, actor=coordinator)
    again = team.assign_staff(group_session, doctor, PROVIDER, actor=coordinator)
    db.session.commit()

    assert first is again
    assert db.session.scalar(select(func.count(StaffAssignment.id))) == 1


def test_assignment_copies_the_session_time(db, group, add_session, staff, coordinator):
    group_session = add_session(group, hours=1)
    assignment = team.assign_staff(group_session, staff(), PROVIDER, actor=coordinator)

    assert (assignment.starts_at, assignment.ends_at) == (
        group_session.starts_at,
        group_session.ends_at,
    )


def test_only_coordinators_of_the_sessions_site_assign(
    db, group, add_session, staff, create_user, other_site, clinician
):
    group_session = add_session(group)
    elsewhere = create_user("coordinator", sites=[other_site])

    for actor in (elsewhere, clinician):
        with pytest.raises(NotAllowed):
            team.assign_staff(group_session, staff(), PROVIDER, actor=actor)


def test_staff_of_another_site_cannot_be_assigned(
    db, group, add_session, staff, other_site, coordinator
):
    with pytest.raises(ValidationFailed, match="not on the staff"):
        team.assign_staff(
            add_session(group), staff(sites=[other_site]), PROVIDER, actor=coordinator
        )


def test_an_unknown_role_is_refused(db, group, add_session, staff, coordinator):
    with pytest.raises(ValidationFailed, match="team roles"):
        team.assign_staff(add_session(group), staff(), "chef", actor=coordinator)


def test_a_patient_is_only_ever_a_peer_mentor(
    db, group, add_session, create_user, coordinator, willing_mentor
):
    group_session, patient = add_session(group), create_user(PATIENT)
    with pytest.raises(ValidationFailed):
        team.assign_staff(group_session, patient, SUPPORT_ROLE, actor=coordinator)
    with pytest.raises(ValidationFailed, match="has not said they are willing"):
        team.assign_staff(group_session, patient, PEER_MENTOR, actor=coordinator)
    willing_mentor(group, patient)

    team.assign_staff(group_session, patient, PEER_MENTOR, actor=coordinator)
    db.session.commit()

    audited = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "staff_assignment")
    ).all()
    assert [(e.action, e.patient_id, e.object_type) for e in audited] == [
        ("create", patient.id, "staff_assignment")
    ]


SUPPORT_ROLE = "support"


def test_staff_assignments_write_no_audit_rows(db, group, add_session, staff, coordinator):
    team.assign_staff(add_session(group), staff(), PROVIDER, actor=coordinator)
    db.session.commit()

    rows = select(func.count(AuditEvent.id)).where(AuditEvent.object_type == "staff_assignment")
    assert db.session.scalar(rows) == 0


def test_a_clinician_in_overlapping_sessions_at_another_site_is_refused(
    db, create_group, add_session, staff, create_user, site, other_site
):
    here, there = create_group(site, rule=None), create_group(other_site, rule=None)
    doctor = staff(sites=[site, other_site])
    coordinator = create_user("coordinator", sites=[site])
    other_coordinator = create_user("coordinator", sites=[other_site])
    team.assign_staff(add_session(there, hours=1), doctor, PROVIDER, actor=other_coordinator)
    db.session.commit()

    with pytest.raises(Conflict, match="a session at another clinic"):
        team.assign_staff(add_session(here), doctor, PROVIDER, actor=coordinator)
    db.session.rollback()
    assert db.session.scalar(select(func.count(StaffAssignment.id))) == 1


def test_the_clash_names_the_group_when_the_coordinator_serves_its_site(
    db, create_group, add_session, staff, coordinator
):
    first, second = create_group(rule=None, name="Tuesday group"), create_group(rule=None)
    doctor = staff()
    team.assign_staff(add_session(first), doctor, PROVIDER, actor=coordinator)
    db.session.commit()

    with pytest.raises(Conflict, match="Tuesday group"):
        team.assign_staff(add_session(second, hours=1.5), doctor, FACILITATOR, actor=coordinator)


def test_back_to_back_sessions_do_not_clash(db, create_group, add_session, staff, coordinator):
    doctor = staff()
    team.assign_staff(add_session(create_group(rule=None)), doctor, PROVIDER, actor=coordinator)
    team.assign_staff(
        add_session(create_group(rule=None), hours=2), doctor, PROVIDER, actor=coordinator
    )
    db.session.commit()

    assert db.session.scalar(select(func.count(StaffAssignment.id))) == 2


def test_time_off_blocks_assignment_without_telling_the_reason(
    db, group, add_session, staff, coordinator
):
    doctor = staff()
    team.add_time_off(
        doctor, START - timedelta(days=1), START + timedelta(hours=1), "Surgery", actor=doctor
    )
    db.session.commit()

    with pytest.raises(Conflict, match="time off") as raised:
        team.assign_staff(add_session(group), doctor, PROVIDER, actor=coordinator)
    assert "Surgery" not in str(raised.value)


def test_time_off_is_recorded_by_the_person_or_their_coordinator(db, staff, coordinator, clinician):
    doctor = staff()
    end = START + timedelta(days=1)
    team.add_time_off(doctor, START, end, actor=coordinator)
    with pytest.raises(NotAllowed):
        team.add_time_off(doctor, START, end, actor=clinician)
    with pytest.raises(ValidationFailed):
        team.add_time_off(doctor, end, START, actor=doctor)


def test_copy_core_team_is_idempotent_and_leaves_the_template_alone(
    db, group, add_session, staff, coordinator
):
    facilitator, provider = staff("behavioural_health"), staff("resident")
    team.add_core_member(group, facilitator, FACILITATOR, actor=coordinator)
    team.add_core_member(group, provider, PROVIDER, actor=coordinator)
    group_session = add_session(group)

    copied = team.copy_core_team(group_session, actor=coordinator)
    again = team.copy_core_team(group_session, actor=coordinator)
    team.unassign_staff(copied.added[0], actor=coordinator)
    db.session.commit()

    assert len(copied.added) == 2 and again.added == [] and again.skipped == []
    assert db.session.scalar(select(func.count(StaffAssignment.id))) == 1
    assert len(team.copy_core_team(add_session(group, hours=24), actor=coordinator).added) == 2


def test_copy_core_team_skips_people_away_and_says_why(db, group, add_session, staff, coordinator):
    away = staff()
    team.add_core_member(group, away, PROVIDER, actor=coordinator)
    team.add_time_off(away, START, START + timedelta(hours=1), actor=coordinator)

    copied = team.copy_core_team(add_session(group), actor=coordinator)

    assert copied.added == [] and "time off" in copied.skipped[0]


def test_sync_session_times_follows_a_move(db, group, add_session, staff, coordinator):
    group_session = add_session(group)
    team.assign_staff(group_session, staff(), PROVIDER, actor=coordinator)
    db.session.commit()

    group_session.starts_at += timedelta(days=1)
    group_session.ends_at += timedelta(days=1)
    team.sync_session_times(group_session, actor=coordinator)
    db.session.commit()

    stored = db.session.scalars(select(StaffAssignment)).one()
    assert stored.starts_at == group_session.starts_at and stored.ends_at == group_session.ends_at


def test_sync_session_times_refuses_a_move_onto_another_session_of_a_team_member(
    db, create_group, add_session, staff, coordinator
):
    doctor = staff()
    moving = add_session(create_group(rule=None))
    team.assign_staff(moving, doctor, PROVIDER, actor=coordinator)
    team.assign_staff(
        add_session(create_group(rule=None), hours=24), doctor, PROVIDER, actor=coordinator
    )
    db.session.commit()

    moving.starts_at += timedelta(hours=24)
    moving.ends_at += timedelta(hours=24)
    with pytest.raises(Conflict, match="overlaps"):
        team.sync_session_times(moving, actor=coordinator)


# Coverage


def test_a_session_without_a_template_has_no_problems(db, group, add_session):
    assert team.coverage_problems(add_session(group)) == []


def test_default_rules_need_a_facilitator_and_a_provider(db, group, add_session, coordinator):
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
    team.set_staffing_rule(group, PROVIDER, 2, actor=coordinator)

    assert team.coverage_problems(add_session(group)) == [
        "Needs 1 facilitator (registered nurse or behavioural health clinician); 0 assigned.",
        "Needs 2 people as provider (attending physician, resident "
        "physician, nurse practitioner or pharmacist); 0 assigned.",
    ]


def test_a_wrong_discipline_is_refused_and_nothing_is_saved(
    db, group, add_session, staff, coordinator
):
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
    group_session, pharmacist = add_session(group), staff("pharmacist", given_name="Phil")

    with pytest.raises(ValidationFailed, match="cannot be facilitator in this group") as refused:
        team.assign_staff(group_session, pharmacist, FACILITATOR, actor=coordinator)
    with pytest.raises(ValidationFailed, match="cannot be facilitator"):
        team.add_core_member(group, pharmacist, FACILITATOR, actor=coordinator)

    assert refused.value.status_code == 422
    assert db.session.scalar(select(func.count(StaffAssignment.id))) == 0
    assert db.session.scalar(select(func.count(CoreTeamMember.id))) == 0


def test_a_role_outside_the_template_takes_any_discipline_but_a_preceptor_is_an_attending(
    db, group, add_session, staff, coordinator
):
    group_session = add_session(group)
    team.assign_staff(group_session, staff("pharmacist"), FACILITATOR, actor=coordinator)
    with pytest.raises(ValidationFailed, match="needs attending physician"):
        team.assign_staff(group_session, staff("resident"), PRECEPTOR, actor=coordinator)


def test_a_template_narrowed_after_staffing_flags_the_misfit(
    db, group, add_session, staff, coordinator
):
    group_session, pharmacist = add_session(group), staff("pharmacist", given_name="Phil")
    team.assign_staff(group_session, pharmacist, FACILITATOR, actor=coordinator)
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)

    problems = team.coverage_problems(group_session)

    assert problems[0].startswith("Phil ") and "which needs: registered nurse or" in problems[0]
    assert problems[1].endswith("0 assigned.")


def test_a_filled_template_has_no_problems(db, group, add_session, staff, coordinator):
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
    team.set_staffing_rule(group, PROVIDER, actor=coordinator)
    group_session = add_session(group)
    team.assign_staff(group_session, staff("registered_nurse"), FACILITATOR, actor=coordinator)
    team.assign_staff(group_session, staff("nurse_practitioner"), PROVIDER, actor=coordinator)

    assert team.coverage_problems(group_session) == []


def test_a_resident_provider_needs_a_precepting_attending(
    db, group, add_session, staff, coordinator
):
    group_session = add_session(group)
    team.assign_staff(group_session, staff("resident"), PROVIDER, actor=coordinator)
    assert team.coverage_problems(group_session) == [
        "A resident is a provider, so a precepting attending is needed."
    ]

    team.assign_staff(group_session, staff("attending"), PRECEPTOR, actor=coordinator)
    assert team.coverage_problems(group_session) == []


def test_supervision_ratio_comes_from_the_site(db, site, group, add_session, staff, coordinator):
    group_session = add_session(group)
    team.assign_staff(group_session, staff("attending"), PRECEPTOR, actor=coordinator)
    for _ in range(5):
        team.assign_staff(group_session, staff("resident"), PROVIDER, actor=coordinator)
    assert site.supervision_ratio == 4
    assert team.coverage_problems(group_session) == [
        "5 residents are providers, but 1 precepting attending(s) may supervise at most 4 "
        "(4 each at this clinic)."
    ]

    site.supervision_ratio = 5
    assert team.coverage_problems(group_session) == []


def test_someone_on_time_off_after_assignment_is_reported(
    db, group, add_session, staff, coordinator
):
    group_session, doctor = add_session(group), staff(given_name="Dana")
    team.assign_staff(group_session, doctor, PROVIDER, actor=coordinator)
    team.assign_staff(group_session, doctor, "documenter", actor=coordinator)
    team.add_time_off(doctor, START, START + timedelta(hours=3), "Jury duty", actor=doctor)

    problems = team.coverage_problems(group_session)

    assert len(problems) == 1 and problems[0].startswith("Dana ")
    assert "time off" in problems[0] and "Jury" not in problems[0]
    assert db.session.scalar(select(func.count(TimeOff.id))) == 1


def test_coverage_query_count_does_not_grow_with_the_team(
    db, group, add_session, staff, coordinator, count_queries
):
    group_session = add_session(group)
    team.set_staffing_rule(group, PROVIDER, 8, actor=coordinator)
    for _ in range(6):
        team.assign_staff(group_session, staff("resident"), PROVIDER, actor=coordinator)
    db.session.commit()
    group_session = db.session.get(GroupSession, group_session.id)
    _ = group_session.group.site.supervision_ratio

    with count_queries() as counter:
        team.coverage_problems(group_session)

    assert counter.count <= 4


def test_a_sessions_team_and_its_problems_come_from_one_load_of_the_team(
    db, group, add_session, staff, coordinator, count_queries
):
    group_session = add_session(group)
    team.set_staffing_rule(group, FACILITATOR, actor=coordinator)
    resident = staff("resident", given_name="Rae")
    team.assign_staff(group_session, resident, PROVIDER, actor=coordinator)
    team.add_time_off(resident, START, START + timedelta(hours=1), actor=resident)
    db.session.commit()
    group_session = db.session.get(GroupSession, group_session.id)
    _ = group_session.group.site.supervision_ratio

    with count_queries() as counter:
        coverage = team.session_coverage(group_session)

    assert counter.count == 1  # the team with who is away, and the staffing template
    assert [(a.user_id, a.role, a.away) for a in coverage.team] == [(resident.id, PROVIDER, True)]
    assert coverage.problems == team.coverage_problems(group_session)
    assert [p.split()[0] for p in coverage.problems] == ["Needs", "A", "Rae"]
    assert coverage.to_fill == [FACILITATOR, PRECEPTOR]


def test_the_team_forms_plain_widgets_write_what_wtforms_writes():
    """The quick select and checkboxes of the team forms change nothing a browser reads."""
    from wtforms import Form, SelectField
    from wtforms.fields.choices import SelectChoice
    from wtforms.widgets import CheckboxInput, Select

    from groupvisits.accounts.forms import MultiCheckboxField
    from groupvisits.accounts.models import DISCIPLINES
    from groupvisits.formutil import options
    from groupvisits.team.forms import ROLE_CHOICES, PlainCheckbox, PlainSelect

    people = [
        SelectChoice(3, "Unsorted"),
        SelectChoice(7, "Ana <Lopez>, Attending", optgroup="Staff & friends"),
        SelectChoice(9, 'Bo "B" O\'Neil, Nurse', optgroup="Staff & friends"),
        SelectChoice(12, "Cy", optgroup="Members"),
    ]

    def form(select_widget, checkbox_widget, data):
        class TeamForm(Form):
            role = SelectField(choices=ROLE_CHOICES, widget=select_widget)
            person = SelectField(coerce=int, choices=people, widget=select_widget)
            kinds = MultiCheckboxField(
                choices=options(DISCIPLINES.items()), option_widget=checkbox_widget
            )

        return TeamForm(data=data)

    for data in ({}, {"role": "vitals", "person": 9, "kinds": ["attending", "resident"]}):
        assert form(PlainSelect(), PlainCheckbox(), data).person().count("<optgroup") == 2
        wtforms = form(Select(), CheckboxInput(), data)
        plain = form(PlainSelect(), PlainCheckbox(), data)
        assert plain.role(required=True) == wtforms.role(required=True)
        invalid = {"aria-invalid": "true"}
        assert plain.person(**invalid) == wtforms.person(**invalid)
        assert [box() for box in plain.kinds] == [box() for box in wtforms.kinds]
