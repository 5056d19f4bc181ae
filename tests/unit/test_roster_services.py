"""Roster rules: enrolment, requests to join, the waitlist and its offers, agreements."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from groupvisits.accounts.models import CLINICIAN, COORDINATOR, PATIENT
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.mail.models import OutboxMessage
from groupvisits.roster import services as roster
from groupvisits.roster.models import (
    ACTIVE,
    DECLINED,
    ENDED,
    HOLDS_PLACE,
    OFFERED,
    REQUESTED,
    WAITLISTED,
    WITHDRAWN,
    Membership,
    MembershipEvent,
)
from groupvisits.roster.services import OfferExpired
from groupvisits.timeutil import utcnow

#: The instant the roster changes in these tests happen.
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HOLD = timedelta(hours=72)


@pytest.fixture
def small_group(create_group):
    """A group of two places, without a schedule."""
    return create_group(rule=None, min_members=1, target_members=2, max_members=2)


@pytest.fixture
def make_patients(create_user):
    def make(count: int, **fields):
        return [create_user(PATIENT, **fields) for _ in range(count)]

    return make


def enrol_all(db, group, patients, coordinator, now=NOW) -> list[Membership]:
    memberships = [roster.enrol(group, p, actor=coordinator, now=now) for p in patients]
    db.session.commit()
    return memberships


def places_held(db, group) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.group_id == group.id, Membership.status.in_(HOLDS_PLACE))
    )


def waitlist_order(group) -> list[tuple[int, int]]:
    """(patient id, position) of everyone waiting, in order."""
    return [(m.patient_id, m.waitlist_position) for m in roster.waitlist(group)]


def event_kinds(db, membership) -> list[str]:
    return list(
        db.session.scalars(
            select(MembershipEvent.kind)
            .where(MembershipEvent.membership_id == membership.id)
            .order_by(MembershipEvent.id)
        )
    )


def outbox_to(db, user) -> list[OutboxMessage]:
    return list(
        db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == user.email))
    )


def fresh(db, membership) -> Membership:
    db.session.expire(membership)
    return db.session.get(Membership, membership.id)


# Enrolment


def test_enrol_gives_places_until_full_then_waitlists_in_order(
    db, small_group, coordinator, make_patients
):
    people = make_patients(5)

    memberships = enrol_all(db, small_group, people, coordinator)

    assert [m.status for m in memberships] == [ACTIVE, ACTIVE, WAITLISTED, WAITLISTED, WAITLISTED]
    assert [m.waitlist_position for m in memberships] == [None, None, 1, 2, 3]
    assert [m.joined_at for m in memberships[:2]] == [NOW, NOW]
    assert memberships[2].joined_at is None
    assert places_held(db, small_group) == 2
    assert event_kinds(db, memberships[0]) == ["enrolled"]
    assert event_kinds(db, memberships[4]) == ["waitlisted"]
    note = db.session.scalar(
        select(MembershipEvent.note).where(MembershipEvent.membership_id == memberships[3].id)
    )
    assert note == "position 2"


def test_enrolling_a_member_twice_is_a_conflict(db, small_group, coordinator, make_patients):
    member, waiting_member, waiting = make_patients(3)
    enrol_all(db, small_group, [member, waiting_member, waiting], coordinator)

    with pytest.raises(Conflict, match="is already"):
        roster.enrol(small_group, member, actor=coordinator)
    with pytest.raises(Conflict, match=r"already in this group \(on the waitlist\)"):
        roster.enrol(small_group, waiting, actor=coordinator)
    db.session.rollback()

    assert db.session.scalar(select(func.count()).select_from(Membership)) == 3


def test_enrol_refuses_patients_of_another_site_and_staff(
    db, small_group, coordinator, create_user, other_site
):
    outsider = create_user(PATIENT, sites=[other_site])
    nurse = create_user(CLINICIAN)

    for person in (outsider, nurse):
        with pytest.raises(ValidationFailed, match="patients of this group's site"):
            roster.enrol(small_group, person, actor=coordinator)

    assert db.session.scalar(select(func.count()).select_from(Membership)) == 0


def test_only_coordinators_of_the_groups_site_enrol(
    db, small_group, patient, create_user, other_site, clinician
):
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    for actor in (elsewhere, clinician, patient):
        with pytest.raises(NotAllowed):
            roster.enrol(small_group, patient, actor=actor)

    assert roster.current_membership(small_group, patient) is None


def test_enrol_refuses_a_closed_group(db, create_group, coordinator, patient):
    closed = create_group(rule=None, status="closed")

    with pytest.raises(ValidationFailed, match="closed"):
        roster.enrol(closed, patient, actor=coordinator)


# Requests to join


def test_request_to_join_then_approval_gives_a_place(db, small_group, coordinator, patient):
    membership = roster.request_to_join(small_group, patient, "My doctor suggested it.")
    db.session.commit()
    assert membership.status == REQUESTED
    assert membership.request_message == "My doctor suggested it."
    assert places_held(db, small_group) == 0

    approved = roster.approve_request(membership, actor=coordinator, message="Welcome!")
    db.session.commit()

    assert approved.id == membership.id
    assert fresh(db, membership).status == ACTIVE
    assert membership.reply_message == "Welcome!"
    assert event_kinds(db, membership) == ["asked to join", "enrolled"]


def test_approving_a_request_to_a_full_group_waitlists(
    db, small_group, coordinator, make_patients, patient
):
    enrol_all(db, small_group, make_patients(2), coordinator)
    membership = roster.request_to_join(small_group, patient)
    db.session.commit()

    roster.approve_request(membership, actor=coordinator)
    db.session.commit()

    membership = fresh(db, membership)
    assert (membership.status, membership.waitlist_position) == (WAITLISTED, 1)
    assert places_held(db, small_group) == 2


def test_request_to_join_refuses_twice_other_sites_and_closed_groups(
    db, small_group, create_group, patient, other_site
):
    roster.request_to_join(small_group, patient)
    db.session.commit()
    elsewhere = create_group(other_site, rule=None)
    closed = create_group(rule=None, status="closed")

    with pytest.raises(Conflict):
        roster.request_to_join(small_group, patient)
    with pytest.raises(ValidationFailed):
        roster.request_to_join(elsewhere, patient)
    with pytest.raises(ValidationFailed):
        roster.request_to_join(closed, patient)


def test_declining_a_request_needs_a_message(db, small_group, coordinator, patient):
    membership = roster.request_to_join(small_group, patient)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="message"):
        roster.decline_request(membership, actor=coordinator, message="   ")
    assert membership.status == REQUESTED

    roster.decline_request(
        membership, actor=coordinator, message=" This group is for new diagnoses. "
    )
    db.session.commit()

    membership = fresh(db, membership)
    assert membership.status == DECLINED
    assert membership.reply_message == "This group is for new diagnoses."
    assert membership.ended_at is not None
    assert event_kinds(db, membership) == ["asked to join", "request declined"]
    with pytest.raises(ValidationFailed, match="already been answered"):
        roster.approve_request(membership, actor=coordinator)
    # The history stays; the patient may ask again later.
    again = roster.request_to_join(small_group, patient)
    db.session.commit()
    assert again.id != membership.id
    assert db.session.scalar(select(func.count()).select_from(Membership)) == 2


def test_only_coordinators_of_the_site_decline_requests(
    db, small_group, patient, create_user, other_site
):
    membership = roster.request_to_join(small_group, patient)
    db.session.commit()
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    with pytest.raises(NotAllowed):
        roster.decline_request(membership, actor=elsewhere, message="No.")
    assert fresh(db, membership).status == REQUESTED


# Leaving frees a place for the waitlist


def test_withdrawing_offers_the_place_to_the_first_on_the_waitlist(
    db, small_group, coordinator, make_patients
):
    people = make_patients(5)
    leaving, staying, first, second, third = enrol_all(db, small_group, people, coordinator)

    roster.withdraw(leaving, actor=people[0], now=NOW)
    db.session.commit()

    leaving, first = fresh(db, leaving), fresh(db, first)
    assert (leaving.status, leaving.ended_at) == (WITHDRAWN, NOW)
    assert first.status == OFFERED
    assert first.offer_expires_at == NOW + HOLD
    assert first.waitlist_position is None
    assert waitlist_order(small_group) == [(second.patient_id, 1), (third.patient_id, 2)]
    assert places_held(db, small_group) == 2
    (message,) = outbox_to(db, people[2])
    assert message.subject == "A place is open for you"
    assert "diabetes" not in message.subject.lower()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    assert event_kinds(db, leaving) == ["enrolled", "withdrawn"]
    assert event_kinds(db, first) == ["waitlisted", "offered"]


def test_the_offer_hold_follows_the_group_setting(db, create_group, coordinator, make_patients):
    group = create_group(rule=None, min_members=1, target_members=1, max_members=1)
    group.offer_hold_hours = 24
    db.session.commit()
    people = make_patients(2)
    member, waiting = enrol_all(db, group, people, coordinator)

    roster.withdraw(member, actor=people[0], now=NOW)
    db.session.commit()

    assert fresh(db, waiting).offer_expires_at == NOW + timedelta(hours=24)


def test_only_the_member_withdraws(db, small_group, coordinator, make_patients):
    people = make_patients(2)
    member, _ = enrol_all(db, small_group, people, coordinator)

    for actor in (coordinator, people[1]):
        with pytest.raises(NotAllowed):
            roster.withdraw(member, actor=actor)
    assert fresh(db, member).status == ACTIVE


def test_ending_a_membership_needs_a_reason_and_offers_the_place(
    db, small_group, coordinator, make_patients
):
    people = make_patients(3)
    member, _, waiting = enrol_all(db, small_group, people, coordinator)

    with pytest.raises(ValidationFailed, match="reason"):
        roster.end_membership(member, "  ", actor=coordinator)
    with pytest.raises(NotAllowed):
        roster.end_membership(member, "Moved away", actor=people[0])
    assert places_held(db, small_group) == 2

    roster.end_membership(member, " Moved away ", actor=coordinator, now=NOW)
    db.session.commit()

    member, waiting = fresh(db, member), fresh(db, waiting)
    assert (member.status, member.end_reason, member.ended_at) == (ENDED, "Moved away", NOW)
    assert (waiting.status, waiting.offer_expires_at) == (OFFERED, NOW + HOLD)
    assert len(outbox_to(db, people[2])) == 1
    assert event_kinds(db, member) == ["enrolled", "ended"]
    with pytest.raises(ValidationFailed, match="already ended"):
        roster.end_membership(member, "Again", actor=coordinator)


def test_leaving_the_waitlist_closes_the_gap(db, small_group, coordinator, make_patients):
    people = make_patients(5)
    _, _, first, second, third = enrol_all(db, small_group, people, coordinator)

    roster.withdraw(second, actor=people[3], now=NOW)
    db.session.commit()

    assert waitlist_order(small_group) == [(first.patient_id, 1), (third.patient_id, 2)]
    assert places_held(db, small_group) == 2
    assert outbox_to(db, people[2]) == []


# Offers


@pytest.fixture
def offered(db, small_group, coordinator, make_patients):
    """Two members, one leaves: the first of three waiting is offered the place at NOW."""
    people = make_patients(5)
    memberships = enrol_all(db, small_group, people, coordinator)
    roster.withdraw(memberships[0], actor=people[0], now=NOW)
    db.session.commit()
    return people, memberships


def test_accepting_an_offer_in_time_takes_the_place(db, small_group, offered):
    people, memberships = offered
    offer = memberships[2]

    with pytest.raises(NotAllowed):
        roster.accept_offer(offer, actor=people[3], now=NOW)
    roster.accept_offer(offer, actor=people[2], now=NOW + HOLD - timedelta(minutes=1))
    db.session.commit()

    offer = fresh(db, offer)
    assert offer.status == ACTIVE
    assert offer.joined_at == NOW + HOLD - timedelta(minutes=1)
    assert offer.offer_expires_at is None
    assert places_held(db, small_group) == 2
    assert event_kinds(db, offer) == ["waitlisted", "offered", "accepted offer"]
    with pytest.raises(OfferExpired):
        roster.accept_offer(offer, actor=people[2], now=NOW)


def test_accepting_an_offer_after_it_expired_is_refused(db, small_group, offered):
    people, memberships = offered

    with pytest.raises(OfferExpired, match="expired"):
        roster.accept_offer(memberships[2], actor=people[2], now=NOW + HOLD)
    db.session.rollback()

    assert fresh(db, memberships[2]).status == OFFERED


def test_expire_offers_leaves_open_offers_alone(db, small_group, offered):
    _, memberships = offered

    assert roster.expire_offers(now=NOW + HOLD - timedelta(seconds=1)) == 0
    db.session.commit()

    assert fresh(db, memberships[2]).status == OFFERED
    assert waitlist_order(small_group) == [
        (memberships[3].patient_id, 1),
        (memberships[4].patient_id, 2),
    ]


def test_a_lapsed_offer_goes_to_the_end_and_the_place_moves_on(db, small_group, offered):
    people, memberships = offered
    lapsed, second, third = memberships[2:]
    later = NOW + HOLD + timedelta(hours=1)

    assert roster.expire_offers(now=later) == 1
    db.session.commit()

    second = fresh(db, second)
    assert (second.status, second.offer_expires_at) == (OFFERED, later + HOLD)
    assert waitlist_order(small_group) == [(third.patient_id, 1), (lapsed.patient_id, 2)]
    assert fresh(db, lapsed).offer_expires_at is None
    assert places_held(db, small_group) == 2
    assert len(outbox_to(db, people[3])) == 1
    assert event_kinds(db, lapsed) == ["waitlisted", "offered", "offer lapsed"]


def test_declining_an_offer_leaves_the_waitlist_and_the_place_moves_on(db, small_group, offered):
    people, memberships = offered
    declining, second, third = memberships[2:]

    with pytest.raises(NotAllowed):
        roster.decline_offer(declining, actor=people[3])
    roster.decline_offer(declining, actor=people[2], now=NOW + timedelta(hours=2))
    db.session.commit()

    declining, second = fresh(db, declining), fresh(db, second)
    assert declining.status == WITHDRAWN
    assert declining.waitlist_position is None
    assert declining.end_reason == "declined the offered place"
    assert (second.status, second.offer_expires_at) == (OFFERED, NOW + timedelta(hours=2) + HOLD)
    assert waitlist_order(small_group) == [(third.patient_id, 1)]
    with pytest.raises(ValidationFailed):
        roster.decline_offer(declining, actor=people[2])


def event_notes(db, membership) -> list[tuple[str, int | None, str]]:
    """(kind, actor id, note) of each step of a membership, oldest first."""
    return [
        (event.kind, event.actor_id, event.note)
        for event in db.session.scalars(
            select(MembershipEvent)
            .where(MembershipEvent.membership_id == membership.id)
            .order_by(MembershipEvent.id)
        )
    ]


def test_a_coordinator_records_an_offer_accepted_by_phone(db, small_group, coordinator, offered):
    people, memberships = offered
    offer = memberships[2]

    roster.accept_offer(offer, actor=coordinator, now=NOW + timedelta(hours=1))
    db.session.commit()

    offer = fresh(db, offer)
    assert (offer.status, offer.joined_at) == (ACTIVE, NOW + timedelta(hours=1))
    assert event_notes(db, offer)[-1] == (
        "accepted offer",
        coordinator.id,
        "by phone, recorded by Cora Ordinator",
    )
    assert membership_audit(db, offer)[-1] == (coordinator.id, "update")


def test_a_coordinator_records_an_offer_declined_by_phone_and_the_place_moves_on(
    db, small_group, coordinator, offered
):
    people, memberships = offered
    declining, second = memberships[2], memberships[3]

    roster.decline_offer(declining, actor=coordinator, now=NOW + timedelta(hours=1))
    db.session.commit()

    declining = fresh(db, declining)
    assert declining.status == WITHDRAWN
    assert declining.end_reason == (
        "declined the offered place by phone, recorded by Cora Ordinator"
    )
    assert event_notes(db, declining)[-1][:2] == (WITHDRAWN, coordinator.id)
    assert membership_audit(db, declining)[-1] == (coordinator.id, "update")
    assert fresh(db, second).status == OFFERED
    assert membership_audit(db, second)[-1] == (coordinator.id, "update")


@pytest.mark.parametrize("who", ["other patient", "clinician", "other site coordinator"])
@pytest.mark.parametrize("decide", [roster.accept_offer, roster.decline_offer])
def test_nobody_else_decides_on_someones_offer(
    db, small_group, offered, create_user, other_site, who, decide
):
    people, memberships = offered
    offer = memberships[2]
    actor = {
        "other patient": people[3],
        "clinician": create_user(CLINICIAN),
        "other site coordinator": create_user(COORDINATOR, sites=[other_site]),
    }[who]
    before = event_notes(db, offer), membership_audit(db, offer)

    with pytest.raises(NotAllowed, match="recording their answer by phone"):
        decide(offer, actor=actor, now=NOW + timedelta(hours=1))
    db.session.rollback()

    offer = fresh(db, offer)
    assert (offer.status, offer.offer_expires_at) == (OFFERED, NOW + HOLD)
    assert (event_notes(db, offer), membership_audit(db, offer)) == before


def test_waitlist_cycle_with_lapses_and_an_acceptance(db, small_group, coordinator, make_patients):
    people = make_patients(5)
    member, _, carol, dan, erin = enrol_all(db, small_group, people, coordinator)

    def check_capacity():
        assert places_held(db, small_group) <= small_group.max_members
        positions = [position for _, position in waitlist_order(small_group)]
        assert positions == list(range(1, len(positions) + 1))

    check_capacity()
    roster.withdraw(member, actor=people[0], now=NOW)
    db.session.commit()
    check_capacity()
    assert [fresh(db, m).status for m in (carol, dan, erin)] == [OFFERED, WAITLISTED, WAITLISTED]

    first_lapse = NOW + HOLD + timedelta(minutes=5)
    assert roster.expire_offers(now=first_lapse) == 1
    db.session.commit()
    check_capacity()
    assert [fresh(db, m).status for m in (carol, dan, erin)] == [WAITLISTED, OFFERED, WAITLISTED]
    assert waitlist_order(small_group) == [(erin.patient_id, 1), (carol.patient_id, 2)]

    second_lapse = first_lapse + HOLD
    assert roster.expire_offers(now=second_lapse) == 1
    db.session.commit()
    check_capacity()
    assert [fresh(db, m).status for m in (carol, dan, erin)] == [WAITLISTED, WAITLISTED, OFFERED]
    assert waitlist_order(small_group) == [(carol.patient_id, 1), (dan.patient_id, 2)]

    with pytest.raises(OfferExpired):
        roster.accept_offer(dan, actor=people[3], now=second_lapse)
    db.session.rollback()
    roster.accept_offer(erin, actor=people[4], now=second_lapse + timedelta(hours=1))
    db.session.commit()
    check_capacity()

    assert [fresh(db, m).status for m in (carol, dan, erin)] == [WAITLISTED, WAITLISTED, ACTIVE]
    assert places_held(db, small_group) == 2
    assert roster.expire_offers(now=second_lapse + 10 * HOLD) == 0
    assert [len(outbox_to(db, p)) for p in people[2:]] == [1, 1, 1]
    assert event_kinds(db, dan) == ["waitlisted", "offered", "offer lapsed"]
    assert event_kinds(db, erin) == ["waitlisted", "offered", "accepted offer"]


# Moving people on the waitlist


@pytest.fixture
def waiting_four(db, create_group, coordinator, make_patients):
    group = create_group(rule=None, min_members=1, target_members=1, max_members=1)
    memberships = enrol_all(db, group, make_patients(5), coordinator)
    return group, memberships[1:]


def test_moving_on_the_waitlist_keeps_positions_contiguous(db, coordinator, waiting_four):
    group, (a, b, c, d) = waiting_four

    roster.move_on_waitlist(d, 1, " Clinical priority: new diagnosis ", actor=coordinator)
    db.session.commit()

    assert waitlist_order(group) == [
        (d.patient_id, 1),
        (a.patient_id, 2),
        (b.patient_id, 3),
        (c.patient_id, 4),
    ]
    note = db.session.scalar(
        select(MembershipEvent.note).where(
            MembershipEvent.membership_id == d.id, MembershipEvent.kind == "moved on waitlist"
        )
    )
    assert note == "to position 1: Clinical priority: new diagnosis"

    roster.move_on_waitlist(a, 99, "Asked to wait for the autumn", actor=coordinator)
    db.session.commit()
    assert [pid for pid, _ in waitlist_order(group)] == [
        d.patient_id,
        b.patient_id,
        c.patient_id,
        a.patient_id,
    ]
    assert [position for _, position in waitlist_order(group)] == [1, 2, 3, 4]


def test_moving_on_the_waitlist_needs_a_reason(db, coordinator, waiting_four):
    group, (a, b, c, d) = waiting_four
    before = waitlist_order(group)

    with pytest.raises(ValidationFailed, match="reason"):
        roster.move_on_waitlist(c, 1, "  ", actor=coordinator)
    db.session.rollback()

    assert waitlist_order(group) == before
    assert event_kinds(db, c) == ["waitlisted"]


def test_only_waiting_people_are_moved_by_coordinators_of_the_site(
    db, coordinator, waiting_four, create_user, other_site
):
    group, (a, b, c, d) = waiting_four
    member = db.session.scalar(
        select(Membership).where(Membership.group_id == group.id, Membership.status == ACTIVE)
    )
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    with pytest.raises(ValidationFailed):
        roster.move_on_waitlist(member, 1, "Priority", actor=coordinator)
    with pytest.raises(NotAllowed):
        roster.move_on_waitlist(d, 1, "Priority", actor=elsewhere)
    db.session.rollback()

    assert [pid for pid, _ in waitlist_order(group)] == [m.patient_id for m in (a, b, c, d)]


# Confidentiality agreements


def test_agreement_versions_are_accepted_in_the_app_or_on_paper(
    db, small_group, coordinator, make_patients
):
    app_patient, paper_patient = make_patients(2)
    assert roster.needs_agreement(small_group, app_patient) is None

    first = roster.publish_agreement(
        small_group, " What is said here stays here. ", actor=coordinator
    )
    db.session.commit()
    assert (first.version, first.text) == (1, "What is said here stays here.")
    assert roster.needs_agreement(small_group, app_patient) == first

    in_app = roster.accept_agreement(first, app_patient, actor=app_patient)
    paper_day = utcnow().date() - timedelta(days=3)
    on_paper = roster.accept_agreement(
        first, paper_patient, actor=coordinator, method="paper", accepted_on=paper_day
    )
    db.session.commit()

    assert (in_app.method, in_app.accepted_on, in_app.recorded_by_id) == (
        "app",
        utcnow().date(),
        app_patient.id,
    )
    assert (on_paper.method, on_paper.accepted_on, on_paper.recorded_by_id) == (
        "paper",
        paper_day,
        coordinator.id,
    )
    assert roster.needs_agreement(small_group, app_patient) is None
    assert roster.needs_agreement(small_group, paper_patient) is None
    assert roster.accept_agreement(first, app_patient, actor=app_patient).id == in_app.id
    ids = [app_patient.id, paper_patient.id]
    assert set(roster.accepted_current(small_group, ids)) == set(ids)

    second = roster.publish_agreement(small_group, "Version two.", actor=coordinator)
    db.session.commit()

    assert second.version == 2
    assert roster.current_agreement(small_group) == second
    assert roster.needs_agreement(small_group, app_patient) == second
    assert roster.needs_agreement(small_group, paper_patient) == second
    assert roster.accepted_current(small_group, ids) == {}

    roster.accept_agreement(second, paper_patient, actor=paper_patient)
    db.session.commit()
    assert set(roster.accepted_current(small_group, ids)) == {paper_patient.id}
    assert roster.needs_agreement(small_group, app_patient) == second


def test_only_the_patient_accepts_in_the_app_and_only_staff_record_paper(
    db, small_group, coordinator, clinician, make_patients, create_user, other_site
):
    patient, other_patient = make_patients(2)
    agreement = roster.publish_agreement(small_group, "Stays in the group.", actor=coordinator)
    db.session.commit()
    elsewhere = create_user(COORDINATOR, sites=[other_site])

    with pytest.raises(NotAllowed):
        roster.accept_agreement(agreement, patient, actor=coordinator)
    with pytest.raises(NotAllowed):
        roster.accept_agreement(agreement, patient, actor=other_patient)
    with pytest.raises(NotAllowed):
        roster.accept_agreement(agreement, patient, actor=patient, method="paper")
    with pytest.raises(NotAllowed):
        roster.accept_agreement(agreement, patient, actor=elsewhere, method="paper")
    with pytest.raises(ValidationFailed, match="future"):
        roster.accept_agreement(
            agreement,
            patient,
            actor=clinician,
            method="paper",
            accepted_on=utcnow().date() + timedelta(days=2),
        )
    db.session.rollback()
    assert roster.needs_agreement(small_group, patient) == agreement

    roster.accept_agreement(agreement, patient, actor=clinician, method="paper")
    db.session.commit()
    assert roster.needs_agreement(small_group, patient) is None


def test_agreement_dates_are_the_sites_calendar_dates(db, small_group, coordinator, make_patients):
    """10 pm on 26 November in New York is already 27 November in UTC."""
    assert small_group.site.timezone == "America/New_York"
    evening = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    on_paper, in_app = make_patients(2)
    agreement = roster.publish_agreement(small_group, "Stays in the group.", actor=coordinator)
    db.session.commit()

    with pytest.raises(ValidationFailed, match="future"):
        roster.accept_agreement(
            agreement,
            on_paper,
            actor=coordinator,
            method="paper",
            accepted_on=date(2026, 11, 27),
            now=evening,
        )
    signed_today = roster.accept_agreement(
        agreement,
        on_paper,
        actor=coordinator,
        method="paper",
        accepted_on=date(2026, 11, 26),
        now=evening,
    )
    accepted = roster.accept_agreement(agreement, in_app, actor=in_app, now=evening)

    assert signed_today.accepted_on == date(2026, 11, 26)
    assert accepted.accepted_on == date(2026, 11, 26)


def test_publishing_an_agreement_needs_text_and_a_coordinator(
    db, small_group, coordinator, clinician
):
    with pytest.raises(ValidationFailed):
        roster.publish_agreement(small_group, "   ", actor=coordinator)
    with pytest.raises(NotAllowed):
        roster.publish_agreement(small_group, "Text", actor=clinician)

    assert roster.current_agreement(small_group) is None


# Every change of someone's place is audited, side effects included


def membership_audit(db, membership) -> list[tuple[int | None, str]]:
    """(actor id, action) of the audit rows about ``membership``, oldest first."""
    from groupvisits.audit import AuditEvent

    return [
        (row.actor_id, row.action)
        for row in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "membership", AuditEvent.object_id == membership.id)
            .order_by(AuditEvent.id)
        )
    ]


def test_ending_a_membership_audits_the_offer_and_the_moves_it_causes(
    db, small_group, coordinator, make_patients
):
    people = make_patients(5)
    ending, staying, first, second, third = enrol_all(db, small_group, people, coordinator)

    roster.end_membership(ending, "Moved away", actor=coordinator, now=NOW)
    db.session.commit()

    enrolled_and_changed = [(coordinator.id, "create"), (coordinator.id, "update")]
    assert membership_audit(db, ending) == enrolled_and_changed
    assert membership_audit(db, first) == enrolled_and_changed  # offered the place
    assert membership_audit(db, second) == enrolled_and_changed  # moved from 2 to 1
    assert membership_audit(db, third) == enrolled_and_changed  # moved from 3 to 2
    assert membership_audit(db, staying) == [(coordinator.id, "create")]


def test_when_a_patient_leaves_the_offer_to_the_next_is_the_systems_change(
    db, small_group, coordinator, offered
):
    people, memberships = offered
    leaving, next_in_line = memberships[0], memberships[2]

    assert membership_audit(db, leaving)[-1] == (people[0].id, "update")
    assert membership_audit(db, next_in_line) == [(coordinator.id, "create"), (None, "update")]


def test_a_lapsed_offer_and_the_next_offer_are_audited_as_the_systems(
    db, small_group, coordinator, offered
):
    people, memberships = offered
    lapsed, second = memberships[2], memberships[3]
    before_lapsed, before_second = membership_audit(db, lapsed), membership_audit(db, second)

    roster.expire_offers(now=NOW + HOLD + timedelta(hours=1))
    db.session.commit()

    assert membership_audit(db, lapsed) == before_lapsed + [(None, "update")]
    assert membership_audit(db, second) == before_second + [(None, "update")]


def test_closing_a_group_audits_each_ended_place(db, small_group, coordinator, offered):
    people, memberships = offered
    waiting = memberships[3:]

    roster.close_memberships(small_group, "Group closed", actor=coordinator)
    db.session.commit()

    for membership in waiting:
        assert membership_audit(db, membership)[-1] == (coordinator.id, "update")


def test_a_patients_own_page_sweeps_only_their_own_lapsed_offers(
    db, create_group, coordinator, make_patients, sign_in_as
):
    group = create_group(rule=None, min_members=1, target_members=1, max_members=1)
    other = create_group(rule=None, min_members=1, target_members=1, max_members=1)
    people = make_patients(4)
    mine = enrol_all(db, group, people[:2], coordinator)
    theirs = enrol_all(db, other, people[2:], coordinator)
    for memberships, leaver in ((mine, people[0]), (theirs, people[2])):
        roster.withdraw(memberships[0], actor=leaver, now=NOW)
    db.session.commit()

    sign_in_as(people[1]).get("/my/groups")  # NOW + 72 h is long past

    assert fresh(db, mine[1]).status == WAITLISTED  # their own offer lapsed
    assert fresh(db, theirs[1]).status == OFFERED  # someone else's is left to its owner


def test_ending_a_membership_costs_the_same_queries_however_long_the_waitlist(
    db, create_group, coordinator, make_patients, count_queries
):
    counts = []
    for waiting in (3, 13):
        group = create_group(rule=None, min_members=1, target_members=2, max_members=2)
        memberships = enrol_all(db, group, make_patients(2 + waiting), coordinator)
        db.session.expire_all()
        ending = db.session.get(Membership, memberships[0].id)
        with count_queries() as counter:
            roster.end_membership(ending, "Moved away", actor=coordinator, now=NOW)
            db.session.commit()
        counts.append(counter.count)

    assert counts[0] == counts[1]
