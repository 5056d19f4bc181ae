"""Records pages over HTTP: group notes, the note tracker, a patient's record, after-visit
summaries and goals for patients, the encounter log and its CSV, who may see each, the audit
rows they write, and queries that do not grow with the data."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.encounters import encounter_log
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    MET,
    OPEN,
    SEEN,
    SIGNED,
    STOPPED,
    GoalProgress,
    GroupNote,
    PatientGoal,
)
from groupvisits.extensions import db as _db
from groupvisits.localtime import day
from groupvisits.roster.models import EXCUSED, LATE, NO_SHOW
from groupvisits.team.models import FACILITATOR, PROVIDER
from groupvisits.timeutil import utcnow
from tests.encounter_factories import add_slot, assign
from tests.unit.test_record_services import (
    ASSESSMENT_MARKER,
    CONCERNS_MARKER,
    add_goal,
    add_note,
    add_session,
    attend,
    join,
)


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_rows(**criteria) -> list[AuditEvent]:
    """Rows written by requests (someone acting), oldest first."""
    _db.session.rollback()
    return list(
        _db.session.scalars(
            select(AuditEvent)
            .filter_by(**criteria)
            .where(AuditEvent.actor_id.is_not(None))
            .order_by(AuditEvent.id)
        )
    )


def count(model) -> int:
    _db.session.rollback()
    return _db.session.scalar(select(func.count()).select_from(model))


def fresh(model, row_id):
    _db.session.expire_all()
    return _db.session.get(model, row_id)


@pytest.fixture
def group(create_group, site):
    return create_group(site, rule=None, name="Tuesday evening group")


@pytest.fixture
def facilitator(create_user, site):
    return create_user(
        CLINICIAN,
        sites=[site],
        discipline="behavioural_health",
        given_name="Fay",
        family_name="Cilitator",
    )


@pytest.fixture
def resident(create_user, site):
    return create_user(
        CLINICIAN,
        sites=[site],
        discipline="resident",
        training_year=1,
        given_name="Rhea",
        family_name="Sident",
    )


@pytest.fixture
def attending(create_user, site):
    return create_user(CLINICIAN, sites=[site], given_name="Ada", family_name="Tending")


@pytest.fixture
def other_site_coordinator(create_user, other_site):
    return create_user(COORDINATOR, sites=[other_site])


@pytest.fixture
def other_site_clinician(create_user, other_site):
    return create_user(CLINICIAN, sites=[other_site])


@pytest.fixture
def held_session(group, facilitator):
    """A session that took place last week, facilitated by ``facilitator``."""
    group_session = add_session(group)
    assign(group_session, facilitator, FACILITATOR)
    return group_session


# The group note


def test_the_facilitator_writes_saves_and_signs_the_group_note(
    held_session, facilitator, sign_in_as, create_user
):
    came = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    attend(held_session, came)
    client = sign_in_as(facilitator)
    url = f"/sessions/{held_session.id}/group-note"

    assert "Not written yet" in text(client.get(url))
    saved = client.post_form(url, {"topics": "Reading food labels", "minutes": "40"})
    draft_page = text(client.get(url))
    signed = client.post_form(
        f"{url}/sign", {"topics": "Reading labels", "education": "Plate model", "minutes": "45"}
    )
    page = text(client.get(url))

    assert saved.status_code == 302 and signed.status_code == 302
    assert "Draft, not signed yet" in draft_page and "Reading food labels" in draft_page
    assert "Signed</strong> by Fay Cilitator" in page
    assert "Corrections are not available in this version" in page
    assert "Save draft" not in page and "Plate model" in page
    assert "Rosa Lopez" in page  # an attendee: the note is part of their record
    note = _db.session.scalar(select(GroupNote))
    assert (note.topics, note.minutes, note.signed_at is not None) == ("Reading labels", 45, True)


def test_a_coordinator_of_the_site_writes_the_group_note(held_session, coordinator_client):
    response = coordinator_client.post_form(
        f"/sessions/{held_session.id}/group-note", {"topics": "Sleep", "minutes": "30"}
    )
    assert response.status_code == 302
    assert count(GroupNote) == 1


def test_a_clinician_who_does_not_facilitate_may_read_but_not_write_the_group_note(
    held_session, clinician, sign_in_as, facilitator
):
    assign(held_session, clinician, PROVIDER)
    client = sign_in_as(clinician)
    url = f"/sessions/{held_session.id}/group-note"

    page = client.get(url)
    save = client.post_form(url, {"topics": "Sleep", "minutes": "30"})
    sign = client.post_form(f"{url}/sign", {"topics": "Sleep", "minutes": "30"})

    assert page.status_code == 200 and "Save draft" not in text(page)
    assert "facilitator or a coordinator" in text(page)
    assert (save.status_code, sign.status_code) == (403, 403)
    assert count(GroupNote) == 0


def test_a_signed_group_note_refuses_changes_with_409(held_session, facilitator, sign_in_as):
    client = sign_in_as(facilitator)
    url = f"/sessions/{held_session.id}/group-note"
    client.post_form(f"{url}/sign", {"topics": "Sleep", "minutes": "30"})

    again = client.post_form(url, {"topics": "Changed", "minutes": "30"})
    sign_again = client.post_form(f"{url}/sign", {"topics": "Changed", "minutes": "30"})

    assert (again.status_code, sign_again.status_code) == (409, 409)
    assert "can no longer be changed" in text(again)
    assert _db.session.scalar(select(GroupNote.topics)) == "Sleep"


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("", {"topics": "Sleep", "minutes": "0"}, "from 1 to 480"),
        ("", {"topics": "Sleep", "minutes": "481"}, "from 1 to 480"),
        ("", {"topics": "Sleep", "minutes": "forty"}, "Not a valid integer"),
        ("", {"topics": "  ", "minutes": "30"}, "Write the topics discussed"),
        ("/sign", {"topics": "Sleep and stress", "minutes": ""}, "before signing"),
    ],
)
def test_bad_group_note_input_is_a_422_and_saves_nothing(
    held_session, facilitator, sign_in_as, action, data, message
):
    client = sign_in_as(facilitator)
    response = client.post_form(f"/sessions/{held_session.id}/group-note{action}", data)
    assert response.status_code == 422
    assert message in text(response)
    assert data["topics"].strip() in text(response)  # what was typed is still there
    assert count(GroupNote) == 0


def test_reading_and_writing_the_group_note_is_audited_for_each_attendee(
    held_session, facilitator, sign_in_as, coordinator, create_user
):
    came, late, absent = (create_user(PATIENT) for _ in range(3))
    attend(held_session, came)
    attend(held_session, late, check_in=LATE)
    attend(held_session, absent, check_in=NO_SHOW)
    url = f"/sessions/{held_session.id}/group-note"
    sign_in_as(facilitator).post_form(url, {"topics": "Sleep", "minutes": "30"})
    sign_in_as(coordinator).get(url)

    written = audit_rows(object_type="group note", actor_id=facilitator.id)
    read = audit_rows(object_type="group note", actor_id=coordinator.id)
    assert {(r.action, r.patient_id) for r in written} == {("create", came.id), ("create", late.id)}
    assert {(r.action, r.patient_id) for r in read} == {("view", came.id), ("view", late.id)}


def test_group_note_access_by_role(held_session, sign_in_as, other_site_coordinator, patient):
    url = f"/sessions/{held_session.id}/group-note"
    assert sign_in_as(other_site_coordinator).get(url).status_code == 404
    assert sign_in_as(patient).get(url).status_code == 403
    assert sign_in_as(patient).post_form(url, {"topics": "x"}).status_code == 403


# The note tracker


@pytest.fixture
def tracked(held_session, resident, attending, create_user):
    """A session with a written-up visit, one unwritten, a no-show and someone without a slot."""
    people = {
        name: create_user(PATIENT, given_name=name, family_name="Patient")
        for name in ("Done", "Unwritten", "Noshow", "Noslot")
    }
    attend(held_session, people["Done"])
    attend(held_session, people["Unwritten"])
    attend(held_session, people["Noshow"], check_in=NO_SHOW)
    attend(held_session, people["Noslot"])
    slot = add_slot(held_session, people["Done"], resident, status=SEEN)
    add_slot(
        held_session,
        people["Unwritten"],
        resident,
        held_session.starts_at + timedelta(minutes=80),
        status=SEEN,
    )
    note = add_note(
        held_session,
        people["Done"],
        resident,
        status=ATTESTED,
        slot=slot,
        preceptor_id=attending.id,
        plan="PLAN-MARKER-3",
    )
    return people, note


def test_coordinators_see_where_notes_stand_never_what_they_say(
    held_session, tracked, coordinator_client
):
    people, note = tracked
    page = text(coordinator_client.get(f"/sessions/{held_session.id}/tracker"))

    assert "1 note needs work" in page
    for marker in (ASSESSMENT_MARKER, CONCERNS_MARKER, "PLAN-MARKER-3"):
        assert marker not in page
    assert f"/notes/{note.id}" not in page  # no way into the note itself
    assert "/record" not in page
    assert page.index("Unwritten Patient") < page.index("Done Patient")  # work to do first
    done_row = re.search(r"Done Patient.*?</tr>", page, re.S).group(0)
    assert "99213 (low)" in done_row and "Attested" in done_row
    noshow_row = re.search(r"Noshow Patient.*?</tr>", page, re.S).group(0)
    assert "No charge" in noshow_row and "Absent (no-show)" in noshow_row
    noslot_row = re.search(r"Noslot Patient.*?</tr>", page, re.S).group(0)
    assert "No charge" in noslot_row and "No one-on-one visit" in noslot_row


def test_clinicians_of_the_site_reach_each_note_and_record_from_the_tracker(
    held_session, tracked, clinician_client
):
    people, note = tracked
    page = text(clinician_client.get(f"/sessions/{held_session.id}/tracker"))
    assert f'href="/notes/{note.id}"' in page
    assert f'href="/patients/{people["Done"].id}/record"' in page
    assert ASSESSMENT_MARKER not in page and "PLAN-MARKER-3" not in page


def test_the_tracker_is_for_staff_of_the_site_and_audited(
    held_session, tracked, sign_in_as, coordinator, other_site_coordinator, patient
):
    people, _ = tracked
    url = f"/sessions/{held_session.id}/tracker"
    assert sign_in_as(other_site_coordinator).get(url).status_code == 404
    assert sign_in_as(patient).get(url).status_code == 403
    assert sign_in_as(coordinator).get(url).status_code == 200
    rows = audit_rows(object_type="note tracker", actor_id=coordinator.id)
    assert {r.patient_id for r in rows} == {p.id for p in people.values()}
    assert {(r.action, r.object_id) for r in rows} == {("view", held_session.id)}


# A patient's record


def test_a_clinician_of_the_site_reads_a_patients_encounters_and_group_notes(
    group, facilitator, resident, attending, clinician, sign_in_as, create_user
):
    patient = create_user(PATIENT, given_name="Rosa", family_name="Lopez")
    older, newer = add_session(group, days_ago=40), add_session(group, days_ago=10)
    for group_session in (older, newer):
        assign(group_session, facilitator, FACILITATOR)
        attend(group_session, patient)
    note = add_note(older, patient, resident, status=SIGNED, preceptor_id=attending.id)
    client = sign_in_as(facilitator)
    client.post_form(
        f"/sessions/{newer.id}/group-note/sign", {"topics": "STRESS-TALK", "minutes": "30"}
    )

    response = sign_in_as(clinician).get(f"/patients/{patient.id}/record")
    page = text(response)

    assert response.status_code == 200
    assert "Rosa Lopez" in page
    assert f'href="/notes/{note.id}"' in page and "Awaiting attestation" in page
    assert "Rhea Sident" in page and "precepted by Ada Tending" in page
    assert page.index("STRESS-TALK") < page.index(f"/notes/{note.id}")  # newest first
    assert ASSESSMENT_MARKER not in page
    rows = audit_rows(object_type="record", actor_id=clinician.id)
    assert [(r.action, r.patient_id) for r in rows] == [("view", patient.id)]


def test_a_long_record_shows_the_latest_visits_with_older_ones_on_later_pages(
    group, attending, clinician, sign_in_as, create_user
):
    patient = create_user(PATIENT)
    sessions = [add_session(group, days_ago=3 + 7 * n) for n in range(17)]  # newest first
    notes = [add_note(group_session, patient, attending) for group_session in sessions]
    client = sign_in_as(clinician)
    url = f"/patients/{patient.id}/record"

    first, second = text(client.get(url)), text(client.get(f"{url}?page=2"))

    assert [f'href="/notes/{n.id}"' in first for n in notes] == [True] * 15 + [False] * 2
    assert [f'href="/notes/{n.id}"' in second for n in notes] == [False] * 15 + [True] * 2
    assert f'href="{url}?page=2">Older visits' in first and "Newer visits" not in first
    assert f'href="{url}?page=1">Newer visits' in second and "Older visits" not in second
    assert client.get(f"{url}?page=3").status_code == 404
    assert client.get(f"{url}?page=0").status_code == 404
    rows = audit_rows(object_type="record", actor_id=clinician.id)
    assert [(r.action, r.patient_id) for r in rows] == [("view", patient.id)] * 2


def test_a_patients_record_is_for_clinicians_of_their_site(
    sign_in_as, coordinator, other_site_clinician, patient, create_user, clinician
):
    url = f"/patients/{patient.id}/record"
    assert sign_in_as(coordinator).get(url).status_code == 403
    assert sign_in_as(other_site_clinician).get(url).status_code == 404
    assert sign_in_as(patient).get(url).status_code == 403
    # Staff have no record here.
    assert sign_in_as(clinician).get(f"/patients/{coordinator.id}/record").status_code == 404
    assert audit_rows(object_type="record") == []


# After-visit summaries


def test_a_patient_reads_plain_summaries_of_signed_notes_never_the_assessment(
    group, resident, attending, patient_client, patient
):
    join(group, patient)
    first, second = add_session(group, days_ago=60), add_session(group, days_ago=30)
    signed = add_note(first, patient, attending, status=FINAL, plan="Walk PLAN-ONE")
    add_note(second, patient, resident, status=DRAFT, plan="PLAN-DRAFT")
    upcoming = add_session(group, starts_at=utcnow() + timedelta(days=14))

    response = patient_client.get("/my/visits")
    page = text(response)

    assert response.status_code == 200
    assert "Walk PLAN-ONE" in page and "Walk with my sister on Mondays" in page
    assert "<li>One fruit a day</li>" in page and "See you at the next group session" in page
    assert "Your one-on-one visit with Ada Tending" in page
    assert f"Your group meets next:</strong> {day(upcoming.starts_at, group.site)}" in page
    for hidden in (ASSESSMENT_MARKER, CONCERNS_MARKER, "PLAN-DRAFT", "Attest", "charge"):
        assert hidden not in page
    for number in ("99213", "151", "92"):  # the billing level, the blood pressure
        assert not re.search(rf"(?<![\w.-]){number}(?![\w.-])", page), number
    rows = audit_rows(object_type="after-visit summary", actor_id=patient.id)
    assert [(r.action, r.patient_id, r.object_id) for r in rows] == [
        ("view", patient.id, signed.id)
    ]


def test_a_patient_never_sees_another_patients_summaries(
    group, attending, patient_client, create_user
):
    other = create_user(PATIENT)
    add_note(add_session(group), other, attending, plan="OTHER-PLAN")
    page = text(patient_client.get("/my/visits"))
    assert "OTHER-PLAN" not in page and "no visit summaries yet" in page


def test_summaries_and_goals_are_for_patients_only(coordinator_client, clinician_client):
    for client in (coordinator_client, clinician_client):
        assert client.get("/my/visits").status_code == 403
        assert client.get("/my/goals").status_code == 403


# Goals


def test_a_patient_says_how_a_goal_is_going_then_marks_it_done(group, patient_client, patient):
    walk = add_goal(patient, group, "Walk 20 minutes after dinner")
    url = f"/my/goals/{walk.id}/progress"

    first = patient_client.post_form(url, {"state": "some", "comment": "Twice this week"})
    page = text(patient_client.get("/my/goals"))
    done = patient_client.post_form(url, {"state": "done", "save": "Save"})

    assert first.status_code == 302 and done.status_code == 302
    assert "Walk 20 minutes after dinner" in page
    assert (
        "Last time you said: <strong>Some progress</strong>" in page and "Twice this week" in page
    )
    assert fresh(PatientGoal, walk.id).status == MET
    assert "Walk 20 minutes" not in text(patient_client.get("/my/goals"))
    rows = audit_rows(object_type="goal progress", actor_id=patient.id)
    assert [(r.action, r.patient_id) for r in rows] == [("create", patient.id)] * 2


def test_a_patient_stops_a_goal(group, patient_client, patient):
    goal = add_goal(patient, group)
    response = patient_client.post_form(
        f"/my/goals/{goal.id}/progress", {"state": "not_started", "stop": "Stop"}
    )
    assert response.status_code == 302
    assert fresh(PatientGoal, goal.id).status == STOPPED


def test_another_patients_goal_is_not_found_and_nothing_is_saved(
    group, patient_client, create_user, coordinator_client
):
    goal = add_goal(create_user(PATIENT), group)
    url = f"/my/goals/{goal.id}/progress"
    assert patient_client.post_form(url, {"state": "some"}).status_code == 404
    assert (
        patient_client.post_form("/my/goals/999999/progress", {"state": "some"}).status_code == 404
    )
    assert coordinator_client.post_form(url, {"state": "some"}).status_code == 403
    assert count(GoalProgress) == 0
    assert fresh(PatientGoal, goal.id).status == OPEN


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"state": "flying"}, "Choose how it is going"),
        ({"comment": "No state given"}, "Choose how it is going"),
        ({"state": "some", "comment": "x" * 501}, "500 characters or fewer"),
    ],
)
def test_bad_progress_is_a_422_and_saves_nothing(group, patient_client, patient, data, message):
    goal = add_goal(patient, group)
    response = patient_client.post_form(f"/my/goals/{goal.id}/progress", data)
    assert response.status_code == 422
    assert message in text(response)
    if data.get("comment"):
        assert data["comment"] in text(response)  # what was typed is kept
    assert count(GoalProgress) == 0


# The encounter log


def last_year(resident) -> encounter_log.AcademicYear:
    """The academic year before the current one: all of it has happened, whatever today is."""
    return encounter_log.AcademicYear(encounter_log.current_year(resident).first - 1)


def in_year(year: encounter_log.AcademicYear, days: int) -> datetime:
    """17:00 in New York, ``days`` after the year's first day (1 July)."""
    return datetime(year.first, 7, 1, 21, 0, tzinfo=UTC) + timedelta(days=days)


@pytest.fixture
def logged(group, resident, attending, create_user, create_group, site):
    """Three signed notes of the resident last academic year (one in a group named like a
    formula) and a draft."""
    year = last_year(resident)
    trick = create_group(site, rule=None, name='=HYPERLINK("http://evil.example","x")')
    patients = [
        create_user(
            PATIENT, given_name="Rosa", family_name="Lopez", medical_record_number="MRN-100"
        ),
        create_user(PATIENT, given_name="Ivan", family_name="Petrov", medical_record_number="-2+3"),
        create_user(PATIENT, given_name="Ana", family_name="Peña", medical_record_number="MRN-300"),
    ]
    add_note(
        add_session(group, starts_at=in_year(year, 100)),
        patients[0],
        resident,
        status=ATTESTED,
        preceptor_id=attending.id,
    )
    add_note(
        add_session(trick, starts_at=in_year(year, 120)),
        patients[1],
        resident,
        status=SIGNED,
        preceptor_id=attending.id,
    )
    add_note(add_session(group, starts_at=in_year(year, 130)), patients[2], resident, status=FINAL)
    add_note(add_session(group, starts_at=in_year(year, 135)), patients[0], resident, status=DRAFT)
    return patients


def test_the_log_page_counts_a_years_signed_notes_by_month_group_and_preceptor(
    logged, resident, sign_in_as
):
    year = last_year(resident)
    page = text(sign_in_as(resident).get(f"/my/encounters/log?year={year.first}"))
    assert "<strong>3</strong> signed notes" in page
    assert f"in the academic year {year.label}" in page
    assert "<td>Tuesday evening group</td><td>2</td>" in page
    assert "<td>Ada Tending</td><td>2</td>" in page
    assert "<td>None (no attestation needed)</td><td>1</td>" in page
    assert "MRN-100" in page
    assert f'href="/my/encounters/log.csv?year={year.first}"' in page
    for name in ("Rosa", "Lopez", "Petrov", "Peña"):
        assert name not in page


def test_the_log_shows_the_current_academic_year_with_earlier_years_a_click_away(
    logged, group, resident, sign_in_as, create_user
):
    this_year = encounter_log.current_year(resident)
    patient = create_user(PATIENT, medical_record_number="MRN-NOW")
    add_note(add_session(group, starts_at=in_year(this_year, 1)), patient, resident)

    page = text(sign_in_as(resident).get("/my/encounters/log"))

    assert "<strong>1</strong> signed note " in page and "MRN-NOW" in page
    assert "MRN-100" not in page  # last year's notes are on last year's page
    assert f'<strong aria-current="page">{this_year.label}</strong>' in page
    assert f'href="/my/encounters/log?year={this_year.first - 1}"' in page


def test_a_log_year_that_is_not_a_year_or_out_of_reach_is_not_found(resident, sign_in_as):
    client = sign_in_as(resident)
    next_year = encounter_log.current_year(resident).first + 1
    for year in ("abc", "20x5", "1999", str(next_year), "²⁰²⁵", "-2025", "02025"):
        assert client.get(f"/my/encounters/log?year={year}").status_code == 404, year
        assert client.get(f"/my/encounters/log.csv?year={year}").status_code == 404, year


def test_the_log_csv_has_a_bom_guards_formulas_and_names_no_patient(logged, resident, sign_in_as):
    year = last_year(resident)
    response = sign_in_as(resident).get(f"/my/encounters/log.csv?year={year.first}")
    body = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition
    assert f"encounter-log-{year.first}-{year.first + 1}-as-of-" in disposition
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0] == [
        "date",
        "site",
        "group",
        "patient_record_number",
        "status",
        "preceptor",
        "attested_on",
        "encounter_id",
    ]
    assert len(rows) == 4
    by_number = {row[3]: row for row in rows[1:]}
    assert set(by_number) == {"MRN-100", "'-2+3", "MRN-300"}
    assert by_number["'-2+3"][2] == '\'=HYPERLINK("http://evil.example","x")'
    assert by_number["MRN-100"][4:6] == ["Attested", "Ada Tending"]
    assert by_number["MRN-300"][4:7] == ["Signed", "", ""]
    assert by_number["MRN-100"][0] == in_year(year, 100).date().isoformat()
    for name in ("Rosa", "Lopez", "Ivan", "Petrov", "Ana ", "Peña"):
        assert name not in body
    exported = audit_rows(action="export", object_type="encounter log")
    assert {r.patient_id for r in exported} == {p.id for p in logged}


def test_the_log_csv_holds_one_academic_year_the_current_one_by_default(
    logged, resident, sign_in_as
):
    body = text(sign_in_as(resident).get("/my/encounters/log.csv"))
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert len(rows) == 1  # the header: last year's notes are in last year's file
    assert audit_rows(action="export", object_type="encounter log") == []


def test_the_log_is_for_clinicians_and_shows_only_their_own_notes(
    logged, sign_in_as, coordinator, patient, attending, resident
):
    assert sign_in_as(coordinator).get("/my/encounters/log").status_code == 403
    assert sign_in_as(patient).get("/my/encounters/log.csv").status_code == 403
    url = f"/my/encounters/log?year={last_year(resident).first}"
    page = text(sign_in_as(attending).get(url))
    assert "<strong>0</strong> signed notes" in page and "MRN-100" not in page


def test_reading_the_log_is_audited_per_patient_shown(logged, resident, sign_in_as):
    sign_in_as(resident).get(f"/my/encounters/log?year={last_year(resident).first}")
    rows = audit_rows(action="view", object_type="encounter log")
    assert {r.patient_id for r in rows} == {p.id for p in logged}
    assert len(rows) == 3


# Queries do not grow with the data


def page_queries(count_queries, client, url) -> int:
    assert client.get(url).status_code == 200  # warm up
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    return counter.count


def fill_session(group_session, size, resident, attending, create_user):
    """``size`` patients at the session, each with a slot and a signed note."""
    patients = []
    for n in range(size):
        patient = create_user(
            PATIENT, password=None, medical_record_number=f"Q{group_session.id}-{n}"
        )
        attend(group_session, patient, check_in=LATE if n % 2 else "arrived")
        slot = add_slot(
            group_session,
            patient,
            resident,
            group_session.starts_at + timedelta(minutes=10 * n),
            status=SEEN,
        )
        add_note(
            group_session, patient, resident, status=SIGNED, slot=slot, preceptor_id=attending.id
        )
        patients.append(patient)
    excused = create_user(PATIENT, password=None)
    attend(group_session, excused, check_in=EXCUSED)
    return patients


def test_session_pages_run_as_many_queries_for_8_patients_as_for_2(
    group, facilitator, resident, attending, create_user, sign_in_as, coordinator, count_queries
):
    counts = {}
    for size, days_ago in ((2, 30), (8, 10)):
        group_session = add_session(group, days_ago=days_ago)
        assign(group_session, facilitator, FACILITATOR)
        fill_session(group_session, size, resident, attending, create_user)
        sign_in_as(facilitator).post_form(
            f"/sessions/{group_session.id}/group-note", {"topics": "Sleep", "minutes": "30"}
        )
        for who, client in (
            ("coordinator", sign_in_as(coordinator)),
            ("clinician", sign_in_as(attending)),
        ):
            for page in ("tracker", "group-note"):
                url = f"/sessions/{group_session.id}/{page}"
                counts.setdefault((who, page), []).append(page_queries(count_queries, client, url))
    for key, (few, many) in counts.items():
        assert few == many, key


def test_a_patients_pages_run_as_many_queries_for_many_visits_as_for_one(
    group, facilitator, resident, attending, create_user, sign_in_as, count_queries
):
    clinician_client = sign_in_as(attending)
    counts = []
    for size in (1, 6):
        patient = create_user(PATIENT)
        join(group, patient)
        for n in range(size):
            group_session = add_session(group, days_ago=200 - 30 * n - size)
            attend(group_session, patient)
            add_note(group_session, patient, resident, status=ATTESTED, preceptor_id=attending.id)
            add_goal(patient, group, f"Goal {n}")
        patient_client = sign_in_as(patient)
        goal_ids = _db.session.scalars(
            select(PatientGoal.id).where(PatientGoal.patient_id == patient.id)
        ).all()
        _db.session.rollback()
        for goal_id in goal_ids:
            response = patient_client.post_form(f"/my/goals/{goal_id}/progress", {"state": "some"})
            assert response.status_code == 302
        counts.append(
            [
                page_queries(count_queries, patient_client, "/my/visits"),
                page_queries(count_queries, patient_client, "/my/goals"),
                page_queries(count_queries, clinician_client, f"/patients/{patient.id}/record"),
            ]
        )
    assert counts[0] == counts[1]


def test_the_log_runs_as_many_queries_for_many_notes_as_for_one(
    group, attending, create_user, sign_in_as, count_queries, site
):
    counts = []
    for size in (1, 7):
        resident = create_user(CLINICIAN, discipline="resident", training_year=2)
        year = last_year(resident)
        for n in range(size):
            patient = create_user(PATIENT, password=None, medical_record_number=f"L{size}-{n}")
            group_session = add_session(group, starts_at=in_year(year, 30 * n + size))
            add_note(group_session, patient, resident, status=ATTESTED, preceptor_id=attending.id)
        client = sign_in_as(resident)
        counts.append(
            [
                page_queries(count_queries, client, f"/my/encounters/log?year={year.first}"),
                page_queries(count_queries, client, f"/my/encounters/log.csv?year={year.first}"),
            ]
        )
    assert counts[0] == counts[1]
