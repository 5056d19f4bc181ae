"""Two clicks on one membership: the second acts on what the first left, never on a stale copy.

Each test replays a double-click deterministically with two database sessions,
as two requests would have: session A loads the membership, session B changes
it and commits, then A acts on the copy it loaded. Under the group's lock A
must read the membership again, and refuse (or act on what it now is).
"""

from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import PATIENT, User
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.roster import services as roster
from groupvisits.roster.models import (
    ACTIVE,
    CURRENT,
    DECLINED,
    OFFERED,
    WAITLISTED,
    Membership,
    MembershipEvent,
)


@pytest.fixture
def pair_group(create_group):
    """A group of two places, without a schedule."""
    return create_group(rule=None, min_members=1, target_members=2, max_members=2)


@pytest.fixture
def make_patients(create_user):
    def make(count: int):
        return [create_user(PATIENT) for _ in range(count)]

    return make


@contextmanager
def other_request(app):
    """A second database session (its own app context and connection), as a second request."""
    from groupvisits.extensions import db

    with app.app_context():
        yield db.session


def loaded(db, membership_id: int) -> Membership:
    """Session A reads the membership (and what the rules touch), as a request would first."""
    membership = db.session.get(Membership, membership_id)
    assert membership.status in CURRENT
    assert membership.group.site_id and membership.patient.site_ids  # loaded now, used later
    return membership


def memberships_of(app, group_id: int, patient_id: int) -> list[tuple[str, int | None, bool]]:
    """(status, waitlist position, has a join date) of a patient's memberships, read afresh."""
    with other_request(app) as other:
        rows = other.execute(
            select(Membership.status, Membership.waitlist_position, Membership.joined_at)
            .where(Membership.group_id == group_id, Membership.patient_id == patient_id)
            .order_by(Membership.id)
        ).all()
    return [(status, position, joined is not None) for status, position, joined in rows]


def waitlist_positions(app, group_id: int) -> list[tuple[str, int]]:
    with other_request(app) as other:
        rows = other.execute(
            select(Membership.status, Membership.waitlist_position)
            .where(Membership.group_id == group_id, Membership.waitlist_position.is_not(None))
            .order_by(Membership.waitlist_position)
        ).all()
    return [tuple(row) for row in rows]


def event_kinds(app, membership_id: int) -> list[str]:
    with other_request(app) as other:
        return list(
            other.scalars(
                select(MembershipEvent.kind)
                .where(MembershipEvent.membership_id == membership_id)
                .order_by(MembershipEvent.id)
            )
        )


@pytest.fixture
def one_member_and_a_request(db, pair_group, coordinator, make_patients):
    """One place taken, one request to join: approving it fills the group."""
    member, asking = make_patients(2)
    roster.enrol(pair_group, member, actor=coordinator)
    request = roster.request_to_join(pair_group, asking, "Please")
    db.session.commit()
    return pair_group.id, asking.id, request.id


def test_approving_a_request_twice_keeps_the_place(app, db, coordinator, one_member_and_a_request):
    group_id, patient_id, membership_id = one_member_and_a_request
    stale = loaded(db, membership_id)

    with other_request(app) as other:
        roster.approve_request(
            other.get(Membership, membership_id), actor=other.get(User, coordinator.id)
        )
        other.commit()

    with pytest.raises(ValidationFailed, match="already been answered"):
        roster.approve_request(stale, actor=coordinator)
    db.session.rollback()

    assert memberships_of(app, group_id, patient_id) == [(ACTIVE, None, True)]
    assert event_kinds(app, membership_id) == ["asked to join", "enrolled"]


def test_declining_a_request_just_approved_is_refused(
    app, db, coordinator, one_member_and_a_request
):
    group_id, patient_id, membership_id = one_member_and_a_request
    stale = loaded(db, membership_id)

    with other_request(app) as other:
        roster.approve_request(
            other.get(Membership, membership_id), actor=other.get(User, coordinator.id)
        )
        other.commit()

    with pytest.raises(ValidationFailed, match="already been answered"):
        roster.decline_request(stale, actor=coordinator, message="Sorry, the group is full.")
    db.session.rollback()

    assert memberships_of(app, group_id, patient_id) == [(ACTIVE, None, True)]
    with other_request(app) as other:
        assert other.get(Membership, membership_id).ended_at is None
    assert "request declined" not in event_kinds(app, membership_id)


def test_approving_a_request_just_declined_is_refused(
    app, db, coordinator, one_member_and_a_request
):
    group_id, patient_id, membership_id = one_member_and_a_request
    stale = loaded(db, membership_id)

    with other_request(app) as other:
        roster.decline_request(
            other.get(Membership, membership_id),
            actor=other.get(User, coordinator.id),
            message="The group has ended.",
        )
        other.commit()

    with pytest.raises(ValidationFailed, match="already been answered"):
        roster.approve_request(stale, actor=coordinator, message="Welcome!")
    db.session.rollback()

    assert memberships_of(app, group_id, patient_id) == [(DECLINED, None, False)]
    with other_request(app) as other:
        assert other.get(Membership, membership_id).reply_message == "The group has ended."


def test_enrolling_someone_whose_request_was_just_approved_is_a_conflict(
    app, db, pair_group, coordinator, one_member_and_a_request
):
    group_id, patient_id, membership_id = one_member_and_a_request
    shown = loaded(db, membership_id)  # the roster page showed the request, still in memory
    patient = db.session.get(User, patient_id)

    with other_request(app) as other:
        roster.approve_request(
            other.get(Membership, membership_id), actor=other.get(User, coordinator.id)
        )
        other.commit()

    with pytest.raises(Conflict, match="already in this group"):
        roster.enrol(pair_group, patient, actor=coordinator)
    db.session.rollback()
    assert shown.status == ACTIVE

    assert memberships_of(app, group_id, patient_id) == [(ACTIVE, None, True)]
    assert event_kinds(app, membership_id) == ["asked to join", "enrolled"]


@pytest.fixture
def full_with_three_waiting(db, pair_group, coordinator, make_patients):
    """Two members and three people waiting, in order."""
    people = make_patients(5)
    memberships = [roster.enrol(pair_group, p, actor=coordinator) for p in people]
    db.session.commit()
    assert [m.status for m in memberships] == [ACTIVE, ACTIVE, WAITLISTED, WAITLISTED, WAITLISTED]
    return pair_group.id, [m.id for m in memberships]


def test_moving_someone_who_was_just_offered_a_place_is_refused(
    app, db, coordinator, full_with_three_waiting
):
    group_id, (member, _, first, second, third) = full_with_three_waiting
    stale = loaded(db, first)

    with other_request(app) as other:  # a member leaves: the first in line is offered the place
        roster.end_membership(
            other.get(Membership, member), "Moved away", actor=other.get(User, coordinator.id)
        )
        other.commit()

    with pytest.raises(ValidationFailed, match="Only people on the waitlist"):
        roster.move_on_waitlist(stale, 3, "Clinical priority", actor=coordinator)
    db.session.rollback()

    with other_request(app) as other:
        offered = other.get(Membership, first)
        assert (offered.status, offered.waitlist_position) == (OFFERED, None)
    assert waitlist_positions(app, group_id) == [(WAITLISTED, 1), (WAITLISTED, 2)]

    # The waitlist can still be renumbered: the next move and the next departure work.
    db.session.expire_all()
    roster.move_on_waitlist(
        db.session.get(Membership, third), 1, "Clinical priority", actor=coordinator
    )
    leaving = db.session.get(Membership, second)
    roster.withdraw(leaving, actor=leaving.patient)
    db.session.commit()
    assert waitlist_positions(app, group_id) == [(WAITLISTED, 1)]


def test_moving_on_a_waitlist_reordered_meanwhile_uses_the_new_order(
    app, db, coordinator, full_with_three_waiting
):
    group_id, (_, _, first, second, third) = full_with_three_waiting
    stale = {m: loaded(db, m) for m in (first, second, third)}  # the roster page showed them

    with other_request(app) as other:
        actor = other.get(User, coordinator.id)
        roster.move_on_waitlist(other.get(Membership, third), 1, "Clinical priority", actor=actor)
        other.commit()

    roster.move_on_waitlist(stale[second], 1, "Clinical priority", actor=coordinator)
    db.session.commit()

    with other_request(app) as other:
        order = other.scalars(
            select(Membership.id)
            .where(Membership.group_id == group_id, Membership.status == WAITLISTED)
            .order_by(Membership.waitlist_position)
        ).all()
        count = other.scalar(
            select(func.count()).select_from(Membership).where(Membership.group_id == group_id)
        )
    assert order == [second, third, first]
    assert count == 5
    assert waitlist_positions(app, group_id) == [(WAITLISTED, 1), (WAITLISTED, 2), (WAITLISTED, 3)]


def test_declining_an_offer_that_lapsed_meanwhile_is_refused_and_keeps_the_place_in_line(
    app, db, coordinator, full_with_three_waiting
):
    from datetime import timedelta

    from groupvisits.timeutil import utcnow

    group_id, (member, _, first, second, _third) = full_with_three_waiting
    roster.end_membership(db.session.get(Membership, member), "Moved away", actor=coordinator)
    db.session.commit()
    stale = loaded(db, first)
    assert stale.status == OFFERED

    with other_request(app) as other:  # the hold time passes: the offer goes to the next one
        roster.expire_offers(now=utcnow() + timedelta(days=30))
        other.commit()

    with pytest.raises(ValidationFailed, match="no longer open"):
        roster.decline_offer(stale, actor=stale.patient)
    db.session.rollback()

    assert memberships_of(app, group_id, stale.patient_id) == [(WAITLISTED, 2, False)]
    with other_request(app) as other:
        assert other.get(Membership, second).status == OFFERED
