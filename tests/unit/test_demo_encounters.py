"""The demo's one-on-one visits, notes, goals and peer mentor, as seed-demo loads them."""

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import User
from groupvisits.encounters.models import (
    EncounterNote,
    GroupNote,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.roster.models import Membership
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import PEER_MENTOR, CoreTeamMember, StaffAssignment


@pytest.fixture
def invoke(runner):
    return lambda *args: runner.invoke(args=["groupvisits", *args])


def test_the_demo_has_notes_in_every_state_for_the_pages_to_show(invoke, db):
    assert invoke("seed-demo").exit_code == 0

    statuses = dict(
        db.session.execute(
            select(EncounterNote.status, func.count()).group_by(EncounterNote.status)
        ).all()
    )
    assert set(statuses) == {"draft", "signed", "attested", "returned", "final"}
    assert statuses["returned"] == 1
    assert db.session.scalar(select(func.count(GroupNote.id))) > 0


def test_each_demo_note_belongs_to_its_slot_and_residents_have_an_attending(invoke, db):
    assert invoke("seed-demo").exit_code == 0

    rows = db.session.execute(
        select(EncounterNote, OneOnOneSlot, User)
        .join(OneOnOneSlot, OneOnOneSlot.id == EncounterNote.slot_id)
        .join(User, User.id == EncounterNote.author_id)
    ).all()
    assert rows and len(rows) == db.session.scalar(select(func.count(EncounterNote.id)))
    for note, slot, author in rows:
        assert (note.session_id, note.patient_id, note.author_id) == (
            slot.session_id,
            slot.patient_id,
            slot.provider_id,
        )
        if author.discipline == "resident" and note.status != "final":
            assert note.preceptor.discipline == "attending"
        assert (note.signed_at is None) == (note.status == "draft")
    goal_groups = db.session.execute(
        select(PatientGoal.group_id, GroupSession.group_id)
        .join(EncounterNote, EncounterNote.id == PatientGoal.note_id)
        .join(GroupSession, GroupSession.id == EncounterNote.session_id)
    ).all()
    assert goal_groups and all(a == b for a, b in goal_groups)


def test_the_demo_peer_mentor_agreed_and_is_on_the_coming_sessions(invoke, db):
    assert invoke("seed-demo").exit_code == 0

    mentor = db.session.scalar(select(CoreTeamMember).where(CoreTeamMember.role == PEER_MENTOR))
    membership = db.session.scalar(
        select(Membership).filter_by(
            group_id=mentor.group_id, patient_id=mentor.user_id, status="active"
        )
    )
    assert membership.peer_mentor_since is not None
    assigned = db.session.scalar(
        select(func.count(StaffAssignment.id)).where(
            StaffAssignment.user_id == mentor.user_id, StaffAssignment.role == PEER_MENTOR
        )
    )
    assert assigned == 2
