"""Two hands on one note at once: the note's row lock lets exactly one change through.

The "at once" tests run each request in a thread with its own app context and database
session, released together by a barrier. The others replay an interleaving
deterministically: request A loads the note, request B changes it and commits, then A acts
on the copy it loaded; under the lock A must read the note again and refuse.
"""

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import User
from groupvisits.encounters import note_fields, note_reading, note_workflow
from groupvisits.encounters.models import (
    ATTESTED,
    RETURNED,
    SIGNED,
    EncounterNote,
    NoteEvent,
    OneOnOneSlot,
    PatientGoal,
)
from groupvisits.errors import Conflict, NotAllowed
from tests.races import at_once
from tests.unit.test_note_services import clinician, make_visit, signed, written


@pytest.fixture
def group(create_group):
    return create_group(rule=None)


@pytest.fixture
def visit(db, create_user, group):
    return make_visit(db, create_user, group)


def acting(note_id: int, user_id: int, act):
    """A job: first load the note and the person (as a request would), then ``act`` on them."""

    def job(db, barrier):
        note = note_reading.load_note(note_id)
        user = db.session.get(User, user_id)
        assert note.group_session.group.site_id and user.site_ids
        barrier.wait(timeout=10)
        return act(note, user)

    return job


@contextmanager
def other_request(app):
    """A second database session (its own app context and connection), as a second request."""
    from groupvisits.extensions import db

    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def kinds_of_events(app, note_id: int) -> list[str]:
    with other_request(app) as other:
        return list(
            other.scalars(
                select(NoteEvent.kind).where(NoteEvent.note_id == note_id).order_by(NoteEvent.id)
            )
        )


def test_two_signatures_at_once_one_wins(app, db, visit):
    note_id = written(db, visit, goals="Walk daily").id
    provider_id = visit.provider.id

    outcomes = at_once(
        app,
        [acting(note_id, provider_id, lambda note, user: note_workflow.sign(note, user).status)]
        * 2,
    )

    assert outcomes.count(SIGNED) == 1, outcomes
    loser = next(outcome for outcome in outcomes if outcome != SIGNED)
    assert isinstance(loser, Conflict) and "already signed" in str(loser)
    assert kinds_of_events(app, note_id) == ["signed"]
    with other_request(app) as other:
        assert other.scalar(select(func.count(PatientGoal.id))) == 1


def test_attestation_and_return_at_once_only_one_happens(app, db, visit):
    note_id = signed(db, visit).id
    preceptor_id = visit.preceptor.id

    outcomes = at_once(
        app,
        [
            acting(
                note_id, preceptor_id, lambda note, user: note_workflow.attest(note, user).status
            ),
            acting(
                note_id,
                preceptor_id,
                lambda note, user: note_workflow.return_note(note, "Add the exam.", user).status,
            ),
        ],
    )

    winners = [outcome for outcome in outcomes if outcome in (ATTESTED, RETURNED)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert "not waiting for attestation" in str(losers[0])
    with other_request(app) as other:
        assert other.get(EncounterNote, note_id).status == winners[0]
    expected_kind = "attested" if winners[0] == ATTESTED else "returned"
    assert kinds_of_events(app, note_id) == ["signed", expected_kind]


def test_two_opens_of_one_visit_at_once_make_one_note(app, db, visit):
    slot_id, provider_id = visit.slot.id, visit.provider.id

    def open_note(db, barrier):
        slot = note_reading.load_slot(slot_id)
        provider = db.session.get(User, provider_id)
        barrier.wait(timeout=10)
        return note_workflow.start_note(slot, provider).id

    outcomes = at_once(app, [open_note, open_note])

    assert outcomes[0] == outcomes[1] and isinstance(outcomes[0], int), outcomes
    with other_request(app) as other:
        assert other.scalar(select(func.count(EncounterNote.id))) == 1


def test_a_save_after_another_requests_signature_is_refused_not_applied(app, db, visit):
    note = written(db, visit)
    loaded = note_reading.load_note(note.id)  # request A shows the draft
    assert loaded.is_draft

    with other_request(app) as other:  # request B signs it
        note_b = other.get(EncounterNote, note.id)
        note_workflow.sign(note_b, other.get(User, visit.provider.id))
        other.commit()

    with pytest.raises(Conflict, match="can no longer be changed"):
        note_workflow.save_draft(loaded, {"plan": "Changed after signing"}, visit.provider)
    db.session.rollback()

    with other_request(app) as other:
        assert other.get(EncounterNote, note.id).plan == "Walk after dinner."


def test_an_attestation_after_a_new_addendum_asks_to_read_it_first(app, db, create_user, group):
    visit = make_visit(db, create_user, group)
    note = signed(db, visit)
    seen = note_fields.note_version(note_reading.load_note(note.id))  # the attending's page

    with other_request(app) as other:  # the resident adds an addendum meanwhile
        note_b = other.get(EncounterNote, note.id)
        note_workflow.add_addendum(
            note_b, "Forgot: foot exam normal.", other.get(User, visit.provider.id)
        )
        other.commit()

    with pytest.raises(note_workflow.NoteChanged, match="look at it again"):
        note_workflow.attest(note, visit.preceptor, seen_version=seen)
    db.session.rollback()

    with other_request(app) as other:
        assert other.get(EncounterNote, note.id).status == SIGNED


def test_a_visit_moved_to_another_provider_meanwhile_is_not_opened_by_the_first(
    app, db, create_user, visit
):
    slot = note_reading.load_slot(visit.slot.id)  # the first provider's page shows the slot
    newcomer = clinician(create_user, "attending")

    with other_request(app) as other:  # the planner moves the visit
        other.get(OneOnOneSlot, visit.slot.id).provider_id = newcomer.id
        other.commit()

    with pytest.raises(NotAllowed, match="moved to another provider"):
        note_workflow.start_note(slot, visit.provider)
    db.session.rollback()
    assert db.session.scalar(select(func.count(EncounterNote.id))) == 0
