"""Encounter notes as a service: draft, signature, addenda, attestation, and what pages read.

The helpers at the top (``make_visit`` and kin) build a one-on-one visit; the race and
HTTP tests of notes use them too.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from groupvisits.accounts.models import CLINICIAN, PATIENT, User
from groupvisits.audit import AuditEvent
from groupvisits.encounters import note_fields, note_reading, note_workflow, pre_visit
from groupvisits.encounters.models import (
    ATTESTED,
    DRAFT,
    FINAL,
    RETURNED,
    SIGNED,
    EncounterNote,
    GoalProgress,
    NoteAddendum,
    NoteEvent,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import CANCELLED, GroupSession
from groupvisits.team.models import PRECEPTOR, PROVIDER
from tests.encounter_factories import add_session, add_slot, assign

#: A Tuesday, 17:00 in New York.
START = datetime(2030, 3, 12, 21, 0, tzinfo=UTC)


# Building visits (also used by the race and HTTP tests of notes)


@dataclass
class Visit:
    """A patient's one-on-one slot with a provider at a session, maybe with a preceptor."""

    group_session: GroupSession
    patient: User
    provider: User
    preceptor: User | None
    slot: OneOnOneSlot

    @property
    def group(self):
        return self.group_session.group


def clinician(create_user, discipline: str = "attending", **fields) -> User:
    if discipline == "resident":
        fields.setdefault("training_year", 2)
    return create_user(CLINICIAN, discipline=discipline, **fields)


def make_visit(
    db,
    create_user,
    group,
    *,
    discipline: str = "resident",
    with_preceptor: bool = True,
    starts_at: datetime = START,
    patient: User | None = None,
    provider: User | None = None,
    preceptor: User | None = None,
    group_session: GroupSession | None = None,
) -> Visit:
    """A slot at a (new) session of ``group``; a resident provider gets a preceptor."""
    group_session = group_session or add_session(group, starts_at)
    site = group.site
    patient = patient or create_user(PATIENT, sites=[site])
    provider = provider or clinician(create_user, discipline, sites=[site])
    assign(group_session, provider, PROVIDER)
    if with_preceptor:
        preceptor = preceptor or clinician(create_user, "attending", sites=[site])
        assign(group_session, preceptor, PRECEPTOR)
    slot = add_slot(group_session, patient, provider, minutes=15)
    return Visit(group_session, patient, provider, preceptor if with_preceptor else None, slot)


def another_visit(db, create_user, visit: Visit, starts_at: datetime) -> Visit:
    """The same patient with the same provider at another session of the group (no preceptor)."""
    return make_visit(
        db,
        create_user,
        visit.group,
        with_preceptor=False,
        starts_at=starts_at,
        patient=visit.patient,
        provider=visit.provider,
    )


def written(db, visit: Visit, **fields) -> EncounterNote:
    """The visit's note, started and saved with ``fields`` (a plan by default), committed."""
    note = note_workflow.start_note(visit.slot, visit.provider)
    note_workflow.save_draft(note, {"plan": "Walk after dinner.", **fields}, visit.provider)
    db.session.commit()
    return note


def signed(db, visit: Visit, **fields) -> EncounterNote:
    note = written(db, visit, **fields)
    note_workflow.sign(note, visit.provider)
    db.session.commit()
    return note


def audit_rows(db, **where) -> list[tuple[str, str, int | None]]:
    query = select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
    for name, value in where.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return [tuple(row) for row in db.session.execute(query.order_by(AuditEvent.id))]


@pytest.fixture
def group(create_group):
    return create_group(rule=None)


@pytest.fixture
def visit(db, create_user, group) -> Visit:
    return make_visit(db, create_user, group)


# Opening a note


def test_resident_opens_a_draft_that_goes_to_the_sessions_precepting_attending(db, visit):
    note = note_workflow.start_note(visit.slot, visit.provider)
    db.session.commit()

    assert (note.status, note.author_id, note.patient_id) == (
        DRAFT,
        visit.provider.id,
        visit.patient.id,
    )
    assert (note.session_id, note.slot_id) == (visit.group_session.id, visit.slot.id)
    assert note.preceptor_id == visit.preceptor.id
    assert audit_rows(db, actor_id=visit.provider.id) == [("create", "encounter_note", note.id)]


def test_the_first_precepting_attending_by_assignment_precepts(db, create_user, group):
    visit = make_visit(db, create_user, group)
    later = clinician(create_user, "attending")
    assign(visit.group_session, later, PRECEPTOR)

    note = note_workflow.start_note(visit.slot, visit.provider)

    assert note.preceptor_id == visit.preceptor.id


def test_opening_again_gives_back_the_same_draft(db, visit):
    first = note_workflow.start_note(visit.slot, visit.provider)
    db.session.commit()
    again = note_workflow.start_note(visit.slot, visit.provider)
    db.session.commit()

    assert again.id == first.id
    assert db.session.scalar(select(func.count(EncounterNote.id))) == 1


def test_attending_opens_a_note_without_preceptor(db, create_user, group):
    visit = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)

    note = note_workflow.start_note(visit.slot, visit.provider)

    assert note.preceptor_id is None


def test_only_the_slots_provider_opens_its_note(db, create_user, visit):
    colleague = clinician(create_user, "resident")

    with pytest.raises(NotAllowed, match="Only the provider of this one-on-one visit"):
        note_workflow.start_note(visit.slot, colleague)
    with pytest.raises(NotAllowed):
        note_workflow.start_note(visit.slot, visit.preceptor)
    db.session.rollback()
    assert db.session.scalar(select(func.count(EncounterNote.id))) == 0


def test_a_visit_moved_to_another_provider_keeps_the_note_with_its_author(db, create_user, visit):
    note = written(db, visit)
    other = clinician(create_user, "attending")
    visit.slot.provider_id = other.id
    db.session.commit()

    with pytest.raises(Conflict, match="already started the note of this visit"):
        note_workflow.start_note(visit.slot, other)
    db.session.rollback()
    assert db.session.get(EncounterNote, note.id).author_id == visit.provider.id


def test_a_cancelled_session_has_no_visit_to_write_up(db, visit):
    visit.group_session.status = CANCELLED
    db.session.commit()

    with pytest.raises(ValidationFailed, match="cancelled"):
        note_workflow.start_note(visit.slot, visit.provider)


# The draft


def test_a_draft_keeps_what_was_written_with_the_weight_in_kilograms(db, visit):
    note = note_workflow.start_note(visit.slot, visit.provider)
    note_workflow.save_draft(
        note,
        {
            "concerns": "Feet tingle at night.\r\nSleeps badly.",
            "systolic": 138,
            "diastolic": 86,
            "weight": Decimal("181.5"),
            "weight_unit": "lb",
            "hba1c": Decimal("7.46"),
            "glucose": 142,
            "assessment": "Neuropathy likely.",
            "plan": "Foot check; see the podiatrist.",
            "goals": "Walk 20 minutes after dinner\n\n  Check my feet every evening  \n",
            "action_plan": "Walk with my sister on weekdays.",
            "follow_up": "Monofilament test next visit.",
            "billing_level": "99213",
            "minutes": 15,
        },
        visit.provider,
    )
    db.session.commit()
    db.session.expire_all()

    note = db.session.get(EncounterNote, note.id)
    assert note.concerns == "Feet tingle at night.\nSleeps badly."
    assert (note.systolic, note.diastolic, note.glucose, note.minutes) == (138, 86, 142, 15)
    assert Decimal(note.weight_kg) == Decimal("82.33")  # 181.5 lb
    assert Decimal(note.hba1c) == Decimal("7.5")
    assert note.billing_level == "99213"
    assert note_fields.draft_values(note)["weight"] == Decimal("82.3")  # the site shows kilograms
    assert audit_rows(db, action="update") == [("update", "encounter_note", note.id)]


def test_a_draft_saves_only_the_fields_given(db, visit):
    note = written(db, visit, systolic=130, diastolic=80)

    note_workflow.save_draft(note, {"concerns": "Tired."}, visit.provider)

    assert (note.concerns, note.plan, note.systolic) == ("Tired.", "Walk after dinner.", 130)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"systolic": 400, "diastolic": 80},
            "systolic",
            "A systolic pressure of 400 mmHg is not possible; enter 50–300.",
        ),
        (
            {"systolic": 120, "diastolic": 10},
            "diastolic",
            "A diastolic pressure of 10 mmHg is not possible; enter 20–200.",
        ),
        (
            {"weight": Decimal("900"), "weight_unit": "lb"},
            "weight",
            "A weight of 900 lb is not possible; enter 45–880.",
        ),
        ({"weight": 5, "weight_unit": "kg"}, "weight", "A weight of 5 kg is not possible"),
        ({"hba1c": Decimal("25")}, "hba1c", "An HbA1c of 25% is not possible; enter 3–20."),
        ({"glucose": 5000}, "glucose", "A glucose level of 5000 mg/dL is not possible"),
        ({"minutes": 0}, "minutes", "A visit of 0 minutes cannot be billed as one visit"),
        ({"systolic": Decimal("120.5"), "diastolic": 80}, "systolic", "whole number of mmHg"),
        ({"weight": Decimal("NaN")}, "weight", "Give a number."),
        ({"systolic": 120, "diastolic": None}, "diastolic", "A blood pressure needs both"),
        ({"systolic": 80, "diastolic": 90}, "diastolic", "The systolic pressure is the larger"),
        ({"billing_level": "99999"}, "billing_level", "Choose a billing level"),
        ({"goals": "x" * 301}, "goals", "Goal 1 has 301 characters"),
        ({"goals": "\n".join(f"Goal {n}" for n in range(11))}, "goals", "10 goals or fewer"),
        ({"plan": "x" * 10_001}, "plan", "under 10,000 characters"),
    ],
)
def test_implausible_values_are_refused_with_their_unit_and_nothing_is_saved(
    db, visit, fields, field, message
):
    note = written(db, visit, systolic=130, diastolic=80, weight=Decimal("80"))

    with pytest.raises(ValidationFailed, match=message) as refused:
        note_workflow.save_draft(note, {"concerns": "Changed", **fields}, visit.provider)
    db.session.rollback()

    assert refused.value.field == field
    db.session.expire_all()
    note = db.session.get(EncounterNote, note.id)
    assert (note.concerns, note.systolic, Decimal(note.weight_kg)) == ("", 130, Decimal("80.00"))


@pytest.mark.parametrize(
    ("column", "lowest", "highest", "other"),
    [
        ("systolic", 50, 300, {"diastolic": 20}),
        ("diastolic", 20, 200, {"systolic": 300}),
        ("weight_kg", 20, 400, {}),
        ("hba1c", 3, 20, {}),
        ("glucose", 20, 1000, {}),
        ("minutes", 1, 240, {}),
    ],
)
def test_the_services_ranges_are_the_databases_own(db, visit, column, lowest, highest, other):
    """What the service accepts the database keeps; one step beyond, both refuse."""
    name = "weight" if column == "weight_kg" else column
    step = Decimal("0.1") if column in ("hba1c", "weight_kg") else 1
    note = written(db, visit)
    for value in (lowest, highest):
        note_workflow.save_draft(note, {name: value, **other}, visit.provider)
        db.session.commit()
        assert Decimal(str(getattr(note, column))) == value
    for value in (lowest - step, highest + step):
        assert note_fields.measure_problem(name, value) is not None
        for key, kept in other.items():
            setattr(note, key, kept)
        setattr(note, column, value)
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()


def test_only_the_author_edits_a_draft(db, visit):
    note = written(db, visit)

    with pytest.raises(NotAllowed, match="Only the author"):
        note_workflow.save_draft(note, {"plan": "Other plan"}, visit.preceptor)


def test_a_signed_note_is_never_edited(db, visit):
    note = signed(db, visit)

    with pytest.raises(Conflict, match="Add an addendum instead"):
        note_workflow.save_draft(note, {"plan": "Something else"}, visit.provider)
    db.session.rollback()
    assert db.session.get(EncounterNote, note.id).plan == "Walk after dinner."


def test_a_draft_changed_since_the_page_showed_it_is_not_overwritten(db, visit):
    note = written(db, visit)
    seen = note_fields.note_version(note)
    note_workflow.save_draft(note, {"plan": "Saved in another window"}, visit.provider)
    db.session.commit()

    with pytest.raises(note_workflow.NoteChanged, match="changed at"):
        note_workflow.save_draft(note, {"plan": "Stale"}, visit.provider, seen_version=seen)
    db.session.rollback()
    assert db.session.get(EncounterNote, note.id).plan == "Saved in another window"


# Signing


def test_a_residents_signature_sends_the_note_to_the_preceptor_and_makes_goals(db, visit):
    note = written(
        db, visit, goals="Walk 20 minutes after dinner\nCheck my feet\nwalk 20 MINUTES after dinner"
    )
    now = START + timedelta(hours=1)

    note_workflow.sign(note, visit.provider, now=now)
    db.session.commit()

    assert (note.status, note.preceptor_id, note.signed_at) == (SIGNED, visit.preceptor.id, now)
    events = db.session.scalars(select(NoteEvent).where(NoteEvent.note_id == note.id)).all()
    assert [(e.kind, e.actor_id) for e in events] == [("signed", visit.provider.id)]
    goals = db.session.scalars(select(PatientGoal).order_by(PatientGoal.id)).all()
    assert [(g.text, g.group_id, g.note_id, g.status) for g in goals] == [
        ("Walk 20 minutes after dinner", visit.group.id, note.id, "open"),
        ("Check my feet", visit.group.id, note.id, "open"),
    ]
    assert ("create", "patient_goal", goals[0].id) in audit_rows(db, patient_id=visit.patient.id)
    assert ("update", "encounter_note", note.id) in audit_rows(db, patient_id=visit.patient.id)


def test_a_goal_the_patient_already_has_open_is_not_repeated(db, create_user, group, visit):
    signed(db, visit, goals="Check my feet")
    later = make_visit(
        db,
        create_user,
        group,
        starts_at=START + timedelta(days=28),
        patient=visit.patient,
        provider=visit.provider,
        preceptor=visit.preceptor,
    )

    signed(db, later, goals="check my  feet\nCook at home twice a week")

    texts = db.session.scalars(select(PatientGoal.text).order_by(PatientGoal.id)).all()
    assert texts == ["Check my feet", "Cook at home twice a week"]


def test_a_resident_cannot_sign_without_a_precepting_attending(db, create_user, group):
    visit = make_visit(db, create_user, group, with_preceptor=False)
    note = written(db, visit)

    with pytest.raises(Conflict, match="no precepting attending") as refused:
        note_workflow.sign(note, visit.provider)
    db.session.rollback()

    assert refused.value.status_code == 409
    note = db.session.get(EncounterNote, note.id)
    assert (note.status, note.signed_at) == (DRAFT, None)
    assert db.session.scalar(select(func.count(PatientGoal.id))) == 0


def test_an_attendings_signature_is_final(db, create_user, group):
    visit = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)

    note = signed(db, visit, goals="Sleep by 11")

    assert (note.status, note.preceptor_id) == (FINAL, None)
    assert note.signed_at is not None
    assert db.session.scalar(select(func.count(PatientGoal.id))) == 1


@pytest.mark.parametrize("discipline", ["nurse_practitioner", "pharmacist"])
def test_other_providers_sign_final_even_with_a_preceptor_at_the_session(
    db, create_user, group, discipline
):
    visit = make_visit(db, create_user, group, discipline=discipline)

    assert signed(db, visit).status == FINAL


def test_a_second_signature_is_a_conflict(db, visit):
    note = signed(db, visit)
    signed_at = note.signed_at

    with pytest.raises(Conflict, match="already signed") as refused:
        note_workflow.sign(note, visit.provider)
    db.session.rollback()

    assert refused.value.status_code == 409
    assert db.session.get(EncounterNote, note.id).signed_at == signed_at
    assert db.session.scalar(select(func.count(NoteEvent.id))) == 1


def test_an_empty_note_is_not_signed(db, visit):
    note = note_workflow.start_note(visit.slot, visit.provider)

    with pytest.raises(ValidationFailed, match="before signing"):
        note_workflow.sign(note, visit.provider)


def test_only_the_author_signs(db, visit):
    note = written(db, visit)

    with pytest.raises(NotAllowed):
        note_workflow.sign(note, visit.preceptor)


# Addenda


def test_the_author_adds_signed_addenda_and_the_note_stays_as_signed(db, create_user, group):
    visit = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)
    note = signed(db, visit)
    version = note_fields.note_version(note)

    addendum = note_workflow.add_addendum(note, "  Lab results: HbA1c 7.1%.  ", visit.provider)
    db.session.commit()

    assert (addendum.text, addendum.author_id) == ("Lab results: HbA1c 7.1%.", visit.provider.id)
    assert (note.plan, note.status) == ("Walk after dinner.", FINAL)
    assert note_fields.note_version(note) != version
    assert ("create", "note_addendum", addendum.id) in audit_rows(db)


def test_an_addendum_to_someone_elses_note_is_refused(db, create_user, visit):
    note = signed(db, visit)

    for other in (visit.preceptor, clinician(create_user, "resident")):
        with pytest.raises(NotAllowed, match="Only the author of a note adds addenda") as refused:
            note_workflow.add_addendum(note, "Not mine to add", other)
        assert refused.value.status_code == 403
    db.session.rollback()
    assert db.session.scalar(select(func.count(NoteAddendum.id))) == 0


def test_a_draft_takes_no_addendum_and_an_addendum_needs_words(db, visit):
    note = written(db, visit)
    with pytest.raises(Conflict, match="still a draft"):
        note_workflow.add_addendum(note, "Too early", visit.provider)
    db.session.rollback()
    note_workflow.sign(note, visit.provider)
    with pytest.raises(ValidationFailed, match="Write the addendum first"):
        note_workflow.add_addendum(note, "   ", visit.provider)


# Attestation


def test_the_preceptor_attests_a_signed_note(db, visit):
    note = signed(db, visit)
    now = START + timedelta(hours=3)

    note_workflow.attest(note, visit.preceptor, comment="Agree with plan.", now=now)
    db.session.commit()

    assert (note.status, note.attested_at, note.attested_by_id) == (
        ATTESTED,
        now,
        visit.preceptor.id,
    )
    kinds = db.session.execute(
        select(NoteEvent.kind, NoteEvent.comment).order_by(NoteEvent.id)
    ).all()
    assert [tuple(k) for k in kinds] == [("signed", ""), ("attested", "Agree with plan.")]


def test_only_the_notes_preceptor_attests_or_returns(db, create_user, visit):
    note = signed(db, visit)
    other_attending = clinician(create_user, "attending")

    for actor in (other_attending, visit.provider):
        with pytest.raises(NotAllowed, match="Only the note's precepting attending"):
            note_workflow.attest(note, actor)
        with pytest.raises(NotAllowed):
            note_workflow.return_note(note, "Please fix", actor)
    db.session.rollback()
    assert db.session.get(EncounterNote, note.id).status == SIGNED


def test_only_signed_notes_are_attested(db, visit):
    note = written(db, visit)
    note.preceptor_id = visit.preceptor.id
    with pytest.raises(Conflict, match="not waiting for attestation: it is draft"):
        note_workflow.attest(note, visit.preceptor)
    db.session.rollback()
    note = signed(db, visit)
    note_workflow.attest(note, visit.preceptor)
    with pytest.raises(Conflict, match="it is attested"):
        note_workflow.attest(note, visit.preceptor)
    with pytest.raises(Conflict):
        note_workflow.return_note(note, "Too late", visit.preceptor)


def test_a_return_needs_a_comment(db, visit):
    note = signed(db, visit)

    with pytest.raises(ValidationFailed, match="Say what the resident should change") as refused:
        note_workflow.return_note(note, "  ", visit.preceptor)

    assert refused.value.field == "comment"
    db.session.rollback()
    assert db.session.get(EncounterNote, note.id).status == SIGNED


def test_returned_answered_by_addendum_signed_again_then_attested(db, visit):
    note = signed(db, visit)
    t = START + timedelta(hours=2)

    note_workflow.return_note(note, "Document the foot exam.", visit.preceptor, now=t)
    db.session.commit()
    assert (note.status, note.return_comment, note.returned_at) == (
        RETURNED,
        "Document the foot exam.",
        t,
    )
    with pytest.raises(Conflict, match="returned"):
        note_workflow.sign(note, visit.provider)
    db.session.rollback()
    with pytest.raises(ValidationFailed, match="Add an addendum that answers"):
        note_workflow.resign(note, visit.provider, now=t + timedelta(minutes=5))
    db.session.rollback()
    with pytest.raises(Conflict, match="Add an addendum instead"):
        note_workflow.save_draft(note, {"plan": "Edited after return"}, visit.provider)
    db.session.rollback()

    note_workflow.add_addendum(
        note, "Foot exam: normal sensation.", visit.provider, now=t + timedelta(minutes=10)
    )
    assert note_workflow.answered_since_return(note) is True
    note_workflow.resign(note, visit.provider, now=t + timedelta(minutes=11))
    db.session.commit()
    assert note.status == SIGNED
    assert note_reading.attestation_queue(visit.preceptor) == [note]

    note_workflow.attest(note, visit.preceptor, now=t + timedelta(hours=1))
    db.session.commit()
    kinds = db.session.scalars(select(NoteEvent.kind).order_by(NoteEvent.id)).all()
    assert kinds == ["signed", "returned", "signed_again", "attested"]
    assert note.plan == "Walk after dinner."  # the signed text itself never changed


def test_only_a_returned_note_is_signed_again(db, visit):
    note = signed(db, visit)

    with pytest.raises(Conflict, match="Only a returned note is signed again"):
        note_workflow.resign(note, visit.provider)


# What pages read


def test_the_queue_lists_one_attendings_signed_notes_oldest_first(db, create_user, group):
    attending = clinician(create_user, "attending")
    resident = clinician(create_user, "resident")
    group_session = add_session(group, START)
    assign(group_session, attending, PRECEPTOR)
    assign(group_session, resident, PROVIDER)
    made = []
    for minutes in (60, 20, 40):
        patient = create_user(PATIENT)
        slot = add_slot(
            group_session,
            patient,
            resident,
            group_session.starts_at + timedelta(minutes=minutes),
            minutes=15,
        )
        visit = Visit(group_session, patient, resident, attending, slot)
        note = written(db, visit)
        note_workflow.sign(note, resident, now=START + timedelta(minutes=minutes))
        db.session.commit()
        made.append(note)
    note_workflow.attest(made[2], attending)
    other = make_visit(db, create_user, group, starts_at=START + timedelta(days=7))
    signed(db, other)
    db.session.commit()

    assert note_reading.attestation_queue(attending) == [made[1], made[0]]
    assert note_reading.attestation_queue(resident) == []


def test_my_encounters_groups_notes_by_status_returned_first(db, create_user, group):
    resident = clinician(create_user, "resident")
    attending = clinician(create_user, "attending")

    def visit_on(day: int) -> Visit:
        return make_visit(
            db,
            create_user,
            group,
            starts_at=START + timedelta(days=day),
            provider=resident,
            preceptor=attending,
        )

    draft = written(db, visit_on(0))
    waiting = signed(db, visit_on(1))
    attested = signed(db, visit_on(2))
    note_workflow.attest(attested, attending)
    returned = signed(db, visit_on(3))
    note_workflow.return_note(returned, "Add the exam.", attending)
    db.session.commit()

    listed = note_reading.my_encounters(resident)

    assert list(listed.by_status) == [RETURNED, DRAFT, SIGNED, ATTESTED, FINAL]
    assert {status: [n.id for n in notes] for status, notes in listed.by_status.items()} == {
        RETURNED: [returned.id],
        DRAFT: [draft.id],
        SIGNED: [waiting.id],
        ATTESTED: [attested.id],
        FINAL: [],
    }
    assert listed.counts == {RETURNED: 1, DRAFT: 1, SIGNED: 1, ATTESTED: 1, FINAL: 0}
    line = listed.by_status[RETURNED][0]
    assert (line.patient_name, line.preceptor_name) == (
        returned.patient.full_name,
        attending.full_name,
    )
    assert line.return_comment == "Add the exam."
    nobody = note_reading.my_encounters(attending)
    assert nobody.by_status == {status: [] for status in note_reading.MY_ORDER}
    assert nobody.total == 0


def test_my_notes_list_all_my_work_but_only_the_latest_finished_ones(db, create_user, group):
    resident = clinician(create_user, "resident")
    attending = clinician(create_user, "attending")
    visits = [
        make_visit(
            db,
            create_user,
            group,
            starts_at=START + timedelta(days=7 * n),
            provider=resident,
            preceptor=attending,
        )
        for n in range(7)
    ]
    drafts = [written(db, visit) for visit in visits[:3]]
    waiting = [signed(db, visit) for visit in visits[3:5]]
    finished = [signed(db, visit) for visit in visits[5:]]
    for note in finished:
        note_workflow.attest(note, attending)
    db.session.commit()

    listed = note_reading.my_encounters(resident, shown=1)

    assert [n.id for n in listed.by_status[DRAFT]] == [n.id for n in drafts]  # all, oldest first
    assert [n.id for n in listed.by_status[SIGNED]] == [waiting[0].id]  # waiting longest
    assert [n.id for n in listed.by_status[ATTESTED]] == [finished[-1].id]  # the latest
    assert (listed.counts[DRAFT], listed.counts[SIGNED], listed.counts[ATTESTED]) == (3, 2, 2)


def test_before_the_visit_the_latest_measures_goals_and_follow_ups_show(
    db, create_user, create_site, group, create_group
):
    site = group.site
    first = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)
    patient, provider = first.patient, first.provider
    earlier = signed(
        db,
        first,
        systolic=150,
        diastolic=95,
        weight=Decimal("90"),
        hba1c=Decimal("8.2"),
        glucose=180,
        follow_up="Recheck HbA1c in 3 months.",
    )
    second = another_visit(db, create_user, first, START + timedelta(days=28))
    signed(db, second, systolic=140, diastolic=90, follow_up="")
    today = another_visit(db, create_user, first, START + timedelta(days=56))
    checked_in_at = today.group_session.starts_at - timedelta(minutes=20)
    db.session.add(
        Attendance(
            session_id=today.group_session.id,
            patient_id=patient.id,
            weight_kg=Decimal("88.40"),
            vitals_source="patient",
            vitals_at=checked_in_at,
        )
    )
    # Not shown: a draft, a later visit, and what another site recorded.
    later = another_visit(db, create_user, first, START + timedelta(days=84))
    signed(db, later, systolic=200, diastolic=100)
    other_site = create_site()
    patient.sites.append(other_site)
    elsewhere = make_visit(
        db,
        create_user,
        create_group(other_site, rule=None),
        discipline="attending",
        with_preceptor=False,
        starts_at=START + timedelta(days=50),
        patient=patient,
    )
    signed(db, elsewhere, glucose=300, follow_up="Elsewhere only")
    goal = db.session.scalar(select(PatientGoal).limit(1))
    assert goal is None
    walk = PatientGoal(patient_id=patient.id, group_id=group.id, text="Walk daily")
    sleep = PatientGoal(patient_id=patient.id, group_id=group.id, text="Sleep by 11")
    met = PatientGoal(patient_id=patient.id, group_id=group.id, text="Quit soda", status="met")
    db.session.add_all([walk, sleep, met])
    db.session.flush()
    db.session.add_all(
        [
            GoalProgress(goal_id=walk.id, state="some", comment="Rained a lot"),
            GoalProgress(goal_id=walk.id, state="most", comment="Back on track"),
        ]
    )
    note = note_workflow.start_note(today.slot, provider)
    db.session.commit()

    pre = pre_visit.pre_visit(note)

    assert [(m.label, m.text, m.taken_at, m.source) for m in pre.measures] == [
        ("Blood pressure", "140/90 mmHg", second.group_session.starts_at, "visit note"),
        ("Weight", "88.4 kg", checked_in_at, "check-in"),
        ("HbA1c", "8.2%", first.group_session.starts_at, "visit note"),
        ("Glucose", "180 mg/dL", first.group_session.starts_at, "visit note"),
    ]
    assert [(g.text, g.latest.state if g.latest else None) for g in pre.goals] == [
        ("Walk daily", "most"),
        ("Sleep by 11", None),
    ]
    assert pre.goals[0].latest.comment == "Back on track"
    assert [(f.text, f.visit_at, f.author_name) for f in pre.follow_ups] == [
        ("Recheck HbA1c in 3 months.", first.group_session.starts_at, provider.full_name)
    ]
    assert earlier.id != note.id
    assert site.weight_unit == "kg"


def test_before_the_visit_weights_show_in_the_sites_unit(db, create_user, group):
    group.site.weight_unit = "lb"
    first = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)
    signed(db, first, weight=Decimal("181.5"), weight_unit="lb")
    today = another_visit(db, create_user, first, START + timedelta(days=28))
    note = note_workflow.start_note(today.slot, first.provider)

    assert [m.text for m in pre_visit.pre_visit(note).measures] == ["181.5 lb"]


def test_reading_before_the_visit_costs_the_same_whatever_the_history(
    db, create_user, group, count_queries
):
    def history_of(visits: int):
        first = make_visit(db, create_user, group, discipline="attending", with_preceptor=False)
        for day in range(1, visits):
            earlier = another_visit(db, create_user, first, START - timedelta(days=28 * day))
            signed(db, earlier, systolic=130, diastolic=80, follow_up=f"Item {day}")
            goal = PatientGoal(patient_id=first.patient.id, group_id=group.id, text=f"Goal {day}")
            db.session.add(goal)
            db.session.flush()
            db.session.add(GoalProgress(goal_id=goal.id, state="some"))
        note = note_workflow.start_note(first.slot, first.provider)
        db.session.commit()
        note = note_reading.load_note(note.id)
        with count_queries() as counter:
            pre_visit.pre_visit(note)
        return counter.count

    assert history_of(2) == history_of(8) == 4  # measures, follow-ups, goals, topics
