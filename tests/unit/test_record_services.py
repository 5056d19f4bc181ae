"""Records of group visits, as services: the group note, the note tracker, a patient's record,
after-visit summaries, goals and the residents' encounter log."""

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.audit import AuditEvent
from groupvisits.encounters import encounter_log, group_notes, my_records, staff_records
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    MET,
    MISSED,
    OPEN,
    RETURNED,
    SEEN,
    SIGNED,
    STOPPED,
    EncounterNote,
    GoalProgress,
    GroupNote,
    PatientGoal,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db as _db
from groupvisits.permissions import can_write_group_note
from groupvisits.roster.models import ACTIVE, ARRIVED, EXCUSED, LATE, NO, NO_SHOW, YES, Membership
from groupvisits.schedule.models import CANCELLED, GroupSession
from groupvisits.team.models import FACILITATOR, PROVIDER
from groupvisits.timeutil import utcnow
from tests import encounter_factories as factories
from tests.encounter_factories import add_attendance, add_slot, assign

#: Words written in the parts of a note a patient must never read.
ASSESSMENT_MARKER = "ASSESSMENT-MARKER-7Q"
CONCERNS_MARKER = "CONCERNS-MARKER-7Q"


# Factories: rows made directly, as the notes' own services are another module's.


def add_session(group, *, starts_at: datetime | None = None, days_ago: int = 7, **fields):
    """A session of ``group``: by default one that took place ``days_ago`` days ago."""
    starts_at = starts_at or utcnow().replace(microsecond=0) - timedelta(days=days_ago)
    return factories.add_session(group, starts_at, **fields)


def attend(group_session, patient, *, rsvp: str | None = YES, check_in: str | None = ARRIVED):
    """The patient on the session's list: by default they said yes and came."""
    return add_attendance(group_session, patient, rsvp=rsvp, check_in=check_in)


def add_note(group_session, patient, author, *, status: str = FINAL, slot=None, **fields):
    """A note as the notes module leaves it in ``status`` (signed times filled in)."""
    signed = status in (SIGNED, ATTESTED, FINAL)
    values = {
        "concerns": f"Feels low. {CONCERNS_MARKER}",
        "assessment": f"Poorly controlled. {ASSESSMENT_MARKER}",
        "plan": "Walk after dinner three times a week.",
        "goals": "Walk 20 minutes\nOne fruit a day",
        "action_plan": "Walk with my sister on Mondays.",
        "follow_up": "See you at the next group session.",
        "billing_level": "99213",
        "systolic": 151,
        "diastolic": 92,
        "minutes": 12,
        "signed_at": group_session.starts_at + timedelta(hours=3) if signed else None,
        "attested_at": group_session.starts_at + timedelta(hours=5) if status == ATTESTED else None,
    }
    values.update(fields)
    note = EncounterNote(
        session_id=group_session.id,
        patient_id=patient.id,
        author_id=author.id,
        status=status,
        slot_id=slot.id if slot else None,
        **values,
    )
    _db.session.add(note)
    _db.session.commit()
    return note


def add_goal(patient, group, text: str = "Walk 20 minutes", *, status: str = OPEN):
    goal = PatientGoal(patient_id=patient.id, group_id=group.id, text=text, status=status)
    _db.session.add(goal)
    _db.session.commit()
    return goal


def join(group, patient) -> Membership:
    membership = Membership(group_id=group.id, patient_id=patient.id, status=ACTIVE)
    _db.session.add(membership)
    _db.session.commit()
    return membership


def audit_rows(**criteria) -> list[AuditEvent]:
    _db.session.expire_all()
    return list(
        _db.session.scalars(select(AuditEvent).filter_by(**criteria).order_by(AuditEvent.id))
    )


@pytest.fixture
def group(create_group, site):
    return create_group(site, rule=None, name="Tuesday evening group")


@pytest.fixture
def facilitator(create_user, site):
    return create_user(CLINICIAN, sites=[site], discipline="behavioural_health")


@pytest.fixture
def resident(create_user, site):
    return create_user(
        CLINICIAN,
        sites=[site],
        discipline="resident",
        training_year=2,
        given_name="Rhea",
        family_name="Sident",
    )


@pytest.fixture
def attending(create_user, site):
    return create_user(CLINICIAN, sites=[site], given_name="Ada", family_name="Tending")


# The group note


def test_facilitator_writes_a_draft_then_signs_it_and_each_attendee_gets_audit_rows(
    group, facilitator, create_user
):
    group_session = add_session(group)
    assign(group_session, facilitator, FACILITATOR)
    came, late, away = (create_user(PATIENT) for _ in range(3))
    attend(group_session, came)
    attend(group_session, late, check_in=LATE)
    attend(group_session, away, check_in=NO_SHOW)

    note = group_notes.save_group_note(
        group_session, topics="Reading food labels", minutes=45, actor=facilitator
    )
    _db.session.commit()
    group_notes.save_group_note(
        group_session, topics="Reading labels", education="Plate model", actor=facilitator
    )
    _db.session.commit()
    with pytest.raises(ValidationFailed) as missing_minutes:
        group_notes.sign_group_note(group_session, actor=facilitator)
    _db.session.rollback()
    group_notes.save_group_note(
        group_session, topics="Reading labels", minutes=50, actor=facilitator
    )
    group_notes.sign_group_note(group_session, actor=facilitator)
    _db.session.commit()

    assert missing_minutes.value.field == "minutes"
    saved = _db.session.get(GroupNote, note.id)
    assert (saved.topics, saved.education, saved.minutes) == ("Reading labels", "", 50)
    assert saved.signed_at is not None and saved.author_id == facilitator.id
    rows = audit_rows(object_type="group note", object_id=note.id)
    assert {(r.action, r.patient_id) for r in rows} == {
        (action, p.id) for action in ("create", "update") for p in (came, late)
    }
    assert all(r.actor_id == facilitator.id for r in rows)


def test_a_coordinator_of_the_site_writes_and_signs_the_group_note(group, coordinator):
    group_session = add_session(group)
    group_notes.save_group_note(group_session, topics="Sleep", minutes=30, actor=coordinator)
    note = group_notes.sign_group_note(group_session, actor=coordinator)
    _db.session.commit()
    assert note.signed_at is not None


def test_a_clinician_who_does_not_facilitate_the_session_may_not_write_its_group_note(
    group, clinician, facilitator, create_user, other_site
):
    group_session = add_session(group)
    assign(group_session, clinician, PROVIDER)
    elsewhere = create_user(COORDINATOR, sites=[other_site])
    for actor in (clinician, elsewhere):
        with pytest.raises(NotAllowed):
            group_notes.save_group_note(group_session, topics="Sleep", actor=actor)
        assert not can_write_group_note(actor, group_session)
    assert _db.session.scalar(select(func.count()).select_from(GroupNote)) == 0


def test_a_signed_group_note_is_never_changed_nor_signed_again(group, facilitator):
    group_session = add_session(group)
    assign(group_session, facilitator, FACILITATOR)
    group_notes.save_group_note(group_session, topics="Sleep", minutes=30, actor=facilitator)
    group_notes.sign_group_note(group_session, actor=facilitator)
    _db.session.commit()

    with pytest.raises(Conflict):
        group_notes.save_group_note(group_session, topics="Changed", minutes=30, actor=facilitator)
    with pytest.raises(Conflict):
        group_notes.sign_group_note(group_session, actor=facilitator)
    _db.session.rollback()
    assert group_notes.group_note_of(group_session).topics == "Sleep"


@pytest.mark.parametrize("minutes", [0, 481, -5])
def test_group_minutes_run_from_1_to_480(group, facilitator, minutes):
    group_session = add_session(group)
    assign(group_session, facilitator, FACILITATOR)
    with pytest.raises(ValidationFailed) as refused:
        group_notes.save_group_note(
            group_session, topics="Sleep", minutes=minutes, actor=facilitator
        )
    assert refused.value.field == "minutes"


def test_a_group_note_needs_its_topics(group, facilitator):
    group_session = add_session(group)
    assign(group_session, facilitator, FACILITATOR)
    with pytest.raises(ValidationFailed) as refused:
        group_notes.save_group_note(group_session, topics="   ", minutes=20, actor=facilitator)
    assert refused.value.field == "topics"


def test_a_group_note_is_signed_only_once_the_session_has_begun(group, facilitator):
    group_session = add_session(group, starts_at=utcnow() + timedelta(days=3))
    assign(group_session, facilitator, FACILITATOR)
    group_notes.save_group_note(group_session, topics="Plan: labels", minutes=30, actor=facilitator)
    with pytest.raises(Conflict, match="begun"):
        group_notes.sign_group_note(group_session, actor=facilitator)


def test_a_cancelled_session_has_no_group_note(group, coordinator):
    group_session = add_session(group, status=CANCELLED)
    with pytest.raises(Conflict, match="cancelled"):
        group_notes.save_group_note(group_session, topics="Sleep", actor=coordinator)


# The note tracker


def test_tracker_lists_everyone_expected_or_present_with_where_their_note_stands(
    group, resident, attending, create_user
):
    group_session = add_session(group)
    names = ["Seen", "Draft", "Returned", "Awaiting", "Attested", "Missing", "Away", "Walkin"]
    people = {name: create_user(PATIENT, given_name=name) for name in names}
    no_answer, said_no = create_user(PATIENT), create_user(PATIENT)
    for name in ("Seen", "Draft", "Returned", "Awaiting", "Attested", "Missing"):
        attend(group_session, people[name])
    attend(group_session, people["Away"], check_in=None)  # said yes, never came
    attend(group_session, said_no, rsvp=NO, check_in=None)
    attend(group_session, no_answer, rsvp=None, check_in=None)
    # Came without saying yes; has a slot (the tracker shows their check-in all the same).
    attend(group_session, people["Walkin"], rsvp=None, check_in=LATE)
    for minute, name in enumerate(names):
        add_slot(
            group_session,
            people[name],
            resident,
            group_session.starts_at + timedelta(minutes=10 * minute),
            status=SEEN,
        )
    add_note(group_session, people["Seen"], attending, status=FINAL)
    add_note(group_session, people["Draft"], resident, status=DRAFT, preceptor_id=attending.id)
    add_note(group_session, people["Returned"], resident, status=RETURNED)
    add_note(group_session, people["Awaiting"], resident, status=SIGNED, preceptor_id=attending.id)
    add_note(group_session, people["Attested"], resident, status=ATTESTED)

    tracker = staff_records.session_tracker(group_session)

    by_name = {row.patient.given_name: row for row in tracker.rows}
    assert set(by_name) == set(names)
    assert [row.state for row in tracker.rows[:4]] == ["missing", "missing", "returned", "draft"]
    assert {row.patient.given_name for row in tracker.rows[:2]} == {"Missing", "Walkin"}
    assert by_name["Away"].state == "no_visit"
    assert (by_name["Seen"].written, by_name["Seen"].signed) == (True, True)
    assert by_name["Seen"].attestation_label == "No attestation needed"
    assert by_name["Attested"].attestation_label == "Attested"
    assert by_name["Awaiting"].attestation_label == "Waiting"
    assert (by_name["Draft"].written, by_name["Draft"].signed) == (True, False)
    assert (by_name["Missing"].written, by_name["Missing"].signed) == (False, False)
    assert by_name["Walkin"].attendance_label == "Late"
    assert tracker.counts == {
        "missing": 2,
        "returned": 1,
        "draft": 1,
        "awaiting": 1,
        "complete": 2,
        "no_visit": 1,
    }


def test_absent_patients_are_not_charged_whatever_their_note_says(group, attending, create_user):
    group_session = add_session(group)
    no_show, excused, never = (create_user(PATIENT) for _ in range(3))
    attend(group_session, no_show, check_in=NO_SHOW)
    attend(group_session, excused, check_in=EXCUSED)
    attend(group_session, never, check_in=None)
    for patient in (no_show, excused, never):
        add_note(group_session, patient, attending, status=FINAL, billing_level="99214")

    rows = staff_records.session_tracker(group_session).rows

    assert {(row.billing.label, row.billing.charge) for row in rows} == {("No charge", False)}
    assert {row.billing.reason for row in rows} == {
        "Absent (no-show)",
        "Absent (excused)",
        "Absent (not checked in)",
    }


def test_attending_without_a_one_on_one_visit_is_not_charged(group, attending, create_user):
    group_session = add_session(group)
    no_slot, missed = create_user(PATIENT), create_user(PATIENT)
    attend(group_session, no_slot)
    attend(group_session, missed)
    add_slot(group_session, missed, attending, status=MISSED)

    rows = staff_records.session_tracker(group_session).rows

    assert [(r.state, r.billing.label, r.billing.reason) for r in rows] == [
        ("no_visit", "No charge", "No one-on-one visit")
    ] * 2


def test_a_visit_is_billed_at_its_note_level_once_signed_and_attested_where_needed(
    group, resident, attending, create_user
):
    group_session = add_session(group)
    final, awaiting, no_charge, unwritten = (create_user(PATIENT) for _ in range(4))
    for patient in (final, awaiting, no_charge, unwritten):
        attend(group_session, patient)
    add_note(group_session, final, attending, status=FINAL, billing_level="99214")
    add_note(group_session, awaiting, resident, status=SIGNED, billing_level="99213")
    add_note(group_session, no_charge, attending, status=FINAL, billing_level="none")
    add_slot(group_session, unwritten, attending, status=SEEN)

    billing = {r.patient.id: r.billing for r in staff_records.session_tracker(group_session).rows}

    assert billing[final.id] == staff_records.Billing("99214 (moderate)", "", charge=True)
    assert billing[awaiting.id] == staff_records.Billing(
        "99213 (low)", "When the note is attested", charge=True
    )
    assert billing[no_charge.id].label == "No charge"
    assert billing[unwritten.id] == staff_records.Billing("Not known yet", "Waiting for the note")


def test_the_tracker_never_loads_what_a_note_says(group, attending, create_user):
    group_session = add_session(group)
    patient = create_user(PATIENT)
    attend(group_session, patient)
    add_note(group_session, patient, attending)
    session_id = group_session.id
    _db.session.expunge_all()

    (row,) = staff_records.session_tracker(_db.session.get(GroupSession, session_id)).rows

    unloaded = inspect(row.note).unloaded
    assert {"assessment", "concerns", "plan", "systolic", "goals"} <= unloaded


# A patient's record


def test_a_patients_record_lists_their_encounters_and_the_group_notes_of_sessions_they_attended(
    group, attending, facilitator, create_user, create_group, other_site
):
    patient, other = create_user(PATIENT), create_user(PATIENT)
    older, newer, missed = (add_session(group, days_ago=d) for d in (60, 30, 10))
    for group_session in (older, newer, missed):
        assign(group_session, facilitator, FACILITATOR)
        group_notes.save_group_note(group_session, topics="Topic", minutes=30, actor=facilitator)
    attend(older, patient)
    attend(newer, patient, check_in=LATE)
    attend(missed, patient, check_in=NO_SHOW)
    older_note = add_note(older, patient, attending)
    add_note(newer, other, attending)
    elsewhere = add_session(create_group(other_site, rule=None))
    add_note(elsewhere, patient, attending)
    _db.session.commit()

    record = staff_records.patient_record(patient, site_ids={group.site_id})

    assert [e.session_id for e in record.entries] == [newer.id, older.id]
    assert (record.page, record.has_older) == (1, False)
    assert record.entries[0].note is None and record.entries[0].group_note.topics == "Topic"
    assert record.entries[1].note.id == older_note.id and record.entries[1].group_note is not None
    assert record.entries[1].note.author_name == attending.full_name
    everywhere = staff_records.patient_record(patient)
    assert [e.session_id for e in everywhere.entries][0] == elsewhere.id


def test_a_long_record_shows_the_latest_sessions_first_and_the_older_ones_on_later_pages(
    group, attending, create_user
):
    patient = create_user(PATIENT)
    sessions = [add_session(group, days_ago=10 + 7 * n) for n in range(5)]  # newest first
    for group_session in sessions:
        add_note(group_session, patient, attending)

    first = staff_records.patient_record(patient, site_ids={group.site_id}, size=2)
    second = staff_records.patient_record(patient, site_ids={group.site_id}, page=2, size=2)
    last = staff_records.patient_record(patient, site_ids={group.site_id}, page=3, size=2)

    assert [e.session_id for e in first.entries] == [s.id for s in sessions[:2]]
    assert [e.session_id for e in second.entries] == [s.id for s in sessions[2:4]]
    assert [e.session_id for e in last.entries] == [sessions[4].id]
    assert (first.has_older, second.has_older, last.has_older) == (True, True, False)


# After-visit summaries


def test_summaries_are_the_reviewed_notes_newest_first_without_assessment_or_billing(
    group, resident, attending, create_user
):
    patient = create_user(PATIENT)
    join(group, patient)
    first, second, third, fourth = (add_session(group, days_ago=d) for d in (90, 60, 30, 20))
    add_note(first, patient, attending, status=FINAL, plan="Plan one")
    add_note(second, patient, resident, status=ATTESTED, plan="Plan two")
    add_note(third, patient, resident, status=DRAFT, plan="Plan three")
    # A resident's plan waits for the attending's review: it may come back changed.
    add_note(fourth, patient, resident, status=SIGNED, plan="Plan four")
    upcoming = add_session(group, starts_at=utcnow() + timedelta(days=20))

    summaries = my_records.my_summaries(patient)

    assert [s.plan for s in summaries] == ["Plan two", "Plan one"]
    assert my_records.summaries_in_review(patient) == 1
    assert summaries[0].goals == ["Walk 20 minutes", "One fruit a day"]
    assert summaries[0].provider_name == resident.full_name
    assert summaries[0].next_session.id == upcoming.id
    names = {f.name for f in fields(my_records.AfterVisitSummary)}
    assert not names & {"assessment", "concerns", "billing_level", "systolic", "weight_kg"}
    assert ASSESSMENT_MARKER not in repr(summaries)
    assert CONCERNS_MARKER not in repr(summaries)


def test_summaries_show_no_next_session_of_a_group_the_patient_left(group, attending, create_user):
    patient = create_user(PATIENT)
    add_note(add_session(group), patient, attending)
    add_session(group, starts_at=utcnow() + timedelta(days=20))
    (summary,) = my_records.my_summaries(patient)
    assert summary.next_session is None


# Goals


def test_my_goals_are_the_open_ones_with_their_latest_progress(group, create_user):
    patient = create_user(PATIENT)
    walk, fruit = add_goal(patient, group, "Walk"), add_goal(patient, group, "Fruit")
    add_goal(patient, group, "Done already", status=MET)
    add_goal(create_user(PATIENT), group, "Someone else's")
    my_records.record_progress(walk, "not_started", actor=patient)
    my_records.record_progress(walk, "some", "Twice this week", actor=patient)
    _db.session.commit()

    goals = my_records.my_goals(patient)

    assert [(g.goal.text, g.latest and g.latest.state) for g in goals] == [
        ("Walk", "some"),
        ("Fruit", None),
    ]
    assert goals[0].latest.comment == "Twice this week"
    assert fruit.status == OPEN


def test_progress_done_marks_the_goal_met_and_stop_stops_it_with_audit_rows(group, create_user):
    patient = create_user(PATIENT)
    walk, fruit = add_goal(patient, group, "Walk"), add_goal(patient, group, "Fruit")

    done = my_records.record_progress(walk, "done", "Every day!", actor=patient)
    stopped = my_records.record_progress(fruit, "some", actor=patient, stop=True)
    _db.session.commit()

    assert (walk.status, fruit.status) == (MET, STOPPED)
    assert (done.state, stopped.state) == ("done", "some")
    rows = audit_rows(patient_id=patient.id, actor_id=patient.id)
    assert {(r.action, r.object_type, r.object_id) for r in rows} == {
        ("create", "goal progress", done.id),
        ("create", "goal progress", stopped.id),
        ("update", "goal", walk.id),
        ("update", "goal", fruit.id),
    }
    with pytest.raises(Conflict):
        my_records.record_progress(walk, "some", actor=patient)


def test_only_the_goals_patient_records_its_progress(group, create_user, clinician):
    patient = create_user(PATIENT)
    goal = add_goal(patient, group)
    for someone in (create_user(PATIENT), clinician):
        with pytest.raises(NotAllowed):
            my_records.record_progress(goal, "some", actor=someone)


@pytest.mark.parametrize(
    ("state", "comment", "field"),
    [("flying", "", "state"), ("", "", "state"), ("some", "x" * 501, "comment")],
)
def test_progress_needs_a_known_state_and_a_short_comment(
    group, create_user, state, comment, field
):
    patient = create_user(PATIENT)
    goal = add_goal(patient, group)
    with pytest.raises(ValidationFailed) as refused:
        my_records.record_progress(goal, state, comment, actor=patient)
    _db.session.rollback()
    assert refused.value.field == field
    assert _db.session.scalar(select(func.count()).select_from(GoalProgress)) == 0


def test_a_comment_of_exactly_500_characters_is_kept(group, create_user):
    patient = create_user(PATIENT)
    progress = my_records.record_progress(
        add_goal(patient, group), "most", "y" * 500, actor=patient
    )
    assert len(progress.comment) == 500


# The residents' encounter log


def test_the_log_counts_signed_notes_by_local_month_group_and_preceptor(
    group, resident, attending, create_user, create_group, site
):
    other_group = create_group(site, rule=None, name="Thursday morning group")
    other_attending = create_user(CLINICIAN, given_name="Otto", family_name="Preceptor")
    patient = create_user(PATIENT, medical_record_number="MRN-001")
    # 02:00 UTC on 1 March is still 28 February in New York: a February visit.
    february = add_session(group, starts_at=datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    march = add_session(group, starts_at=datetime(2026, 3, 10, 22, 0, tzinfo=UTC))
    march_other = add_session(other_group, starts_at=datetime(2026, 3, 12, 22, 0, tzinfo=UTC))
    april = add_session(group, starts_at=datetime(2026, 4, 14, 21, 0, tzinfo=UTC))
    draft = add_session(group, starts_at=datetime(2026, 4, 21, 21, 0, tzinfo=UTC))
    add_note(february, patient, resident, status=ATTESTED, preceptor_id=attending.id)
    add_note(march, patient, resident, status=ATTESTED, preceptor_id=attending.id)
    add_note(march_other, patient, resident, status=SIGNED, preceptor_id=other_attending.id)
    add_note(april, patient, resident, status=FINAL)
    add_note(draft, patient, resident, status=DRAFT, preceptor_id=attending.id)
    add_note(add_session(group, days_ago=3), create_user(PATIENT), attending, status=FINAL)

    log = encounter_log.encounter_log(resident, encounter_log.AcademicYear(2025))

    assert log.total == 4
    assert log.by_month == [("April 2026", 1), ("March 2026", 2), ("February 2026", 1)]
    assert log.by_group == [("Tuesday evening group", 3), ("Thursday morning group", 1)]
    assert log.by_preceptor == [
        ("Ada Tending", 2),
        (encounter_log.NO_PRECEPTOR, 1),
        ("Otto Preceptor", 1),
    ]
    latest = log.entries[0]
    assert (latest.local_date.isoformat(), latest.record_number) == ("2026-04-14", "MRN-001")
    assert [e.status_label for e in log.entries] == [
        "Signed",
        "Awaiting attestation",
        "Attested",
        "Attested",
    ]
    # Attested at 07:00 UTC on 1 March: 1 March in New York too.
    assert log.entries[-1].attested_on.isoformat() == "2026-03-01"


def test_an_academic_year_runs_from_july_1_to_june_30_in_the_sites_time_zone(
    group, resident, create_user
):
    patient = create_user(PATIENT)
    # 03:00 UTC on 1 July 2026 is still 30 June in New York: the 2025-2026 year.
    june_30 = add_session(group, starts_at=datetime(2026, 7, 1, 3, 0, tzinfo=UTC))
    july_1 = add_session(group, starts_at=datetime(2026, 7, 1, 21, 0, tzinfo=UTC))
    june_first = add_session(group, starts_at=datetime(2025, 7, 1, 21, 0, tzinfo=UTC))
    for group_session in (june_30, july_1, june_first):
        add_note(group_session, patient, resident, status=FINAL)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

    year_2025 = encounter_log.encounter_log(resident, encounter_log.AcademicYear(2025), now=now)
    this_year = encounter_log.encounter_log(resident, now=now)

    assert this_year.year == encounter_log.AcademicYear(2026)
    assert [e.visit_at for e in this_year.entries] == [july_1.starts_at]
    assert [e.visit_at for e in year_2025.entries] == [june_30.starts_at, june_first.starts_at]
    assert year_2025.by_month == [("June 2026", 1), ("July 2025", 1)]
    assert [y.label for y in this_year.years] == ["2026–2027", "2025–2026"]
    assert encounter_log.AcademicYear.of(date(2027, 6, 30)) == encounter_log.AcademicYear(2026)


def test_the_log_page_lists_the_latest_of_the_year_and_counts_them_all(
    group, resident, create_user
):
    patient = create_user(PATIENT)
    starts = [datetime(2025, 8, 1, 21, 0, tzinfo=UTC) + timedelta(days=7 * n) for n in range(6)]
    for starts_at in starts:
        add_note(add_session(group, starts_at=starts_at), patient, resident, status=FINAL)

    log = encounter_log.encounter_log(resident, encounter_log.AcademicYear(2025), latest=4)
    export = encounter_log.export_year(resident, encounter_log.AcademicYear(2025))

    assert log.total == 6 and sum(count for _, count in log.by_month) == 6
    assert [e.visit_at for e in log.entries] == sorted(starts, reverse=True)[:4]
    assert len(export.rows) == 6 and export.rows[0][0] == "2025-09-05"
    assert {patient_id for patient_id, _ in export.shown} == {patient.id}
