"""Changes by hand to a session's one-on-one visits: move, swap, seen, missed, a provider's
hours for one-on-ones, and the discipline a patient's visit needs today.

Each locks the session first (:func:`~groupvisits.encounters.slot_checks.lock_session`); an
overlap the database refuses becomes a :class:`~groupvisits.errors.Conflict`.
"""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from groupvisits import audit
from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.encounters.models import BY_HAND, MISSED, PLANNED, SEEN, OneOnOneSlot
from groupvisits.encounters.slot_board import MINUTE, load_board, need_met, need_words
from groupvisits.encounters.slot_checks import (
    NOT_A_PROVIDER,
    PARKED_AT,
    Place,
    check_place,
    find_clash,
    fresh_slot,
    lock_session,
    require_window,
    write_slots,
)
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.extensions import db
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import PROVIDER, StaffAssignment
from groupvisits.timeutil import utcnow


def move_slot(
    group_session: GroupSession,
    slot: OneOnOneSlot | int,
    *,
    provider_id: int | None,
    starts_at: datetime,
    actor: User,
) -> OneOnOneSlot:
    """Move a visit by hand to another provider and/or start time; the planner then keeps it.

    Any whole minute will do (seconds are dropped): the visit lasts the group's slot length
    and must fit in the window, overlap no no-pull-outs step, fall while the provider is
    free, and be with the discipline the patient needs today. A missed visit moved by hand
    is planned again (the patient came back).

    :raises ValidationFailed: a visit already seen, a provider not on the session's team,
        or a place that breaks one of the rules above.
    :raises Conflict: the provider or the patient already has a visit at that time.
    """
    group_session = lock_session(group_session, actor)
    slot = fresh_slot(group_session, slot)
    if slot.status == SEEN:
        raise ValidationFailed(
            f"{slot.patient.full_name} was already seen: a visit that took place stays where "
            "it was."
        )
    board = load_board(group_session, continuity=False)
    window = require_window(board)
    assignment = board.provider(provider_id) if provider_id is not None else None
    if assignment is None:
        raise ValidationFailed(NOT_A_PROVIDER, field="provider_id")
    starts_at = starts_at.astimezone(UTC).replace(second=0, microsecond=0)
    ends_at = starts_at + window.slot_minutes * MINUTE
    check_place(board, slot.patient, assignment, starts_at, ends_at)
    place = Place(slot.patient, assignment.user, starts_at, ends_at, slot.id)
    clash = find_clash([place], group_session, {slot.id})
    if clash:
        raise Conflict(clash, field="start_time")

    def change() -> None:
        slot.provider_id, slot.starts_at, slot.ends_at = assignment.user_id, starts_at, ends_at
        slot.status, slot.placed_by = PLANNED, BY_HAND

    write_slots(change, lambda: find_clash([place], group_session, {place.slot_id}))
    audit.record(actor, "update", slot.patient, "one_on_one_slot", slot.id)
    return slot


def swap_slots(
    group_session: GroupSession,
    slot: OneOnOneSlot | int,
    other: OneOnOneSlot | int | None,
    *,
    actor: User,
) -> tuple[OneOnOneSlot, OneOnOneSlot]:
    """Swap two patients' planned visits: each takes the other's provider and time, and the
    planner keeps both from then on.

    :raises ValidationFailed: the other visit is of another session, is the same one, is
        seen or missed, or its provider does not meet the patient's need today.
    :raises Conflict: a patient already has a visit in another session at the new time.
    """
    group_session = lock_session(group_session, actor)
    first, second = fresh_slot(group_session, slot), fresh_slot(group_session, other)
    if first.id == second.id:
        raise ValidationFailed("Choose another patient's visit to swap with.")
    for held in (first, second):
        if held.status != PLANNED:
            raise ValidationFailed(
                f"{held.patient.full_name}'s visit is {held.status_label.lower()}: only planned "
                "visits swap."
            )
    board = load_board(group_session, continuity=False)
    require_window(board)
    for moving, target in ((first, second), (second, first)):
        assignment = board.provider(target.provider_id)
        if assignment is None:
            raise ValidationFailed(
                f"{target.provider.full_name} is no longer a provider at this session: move "
                "the visits one at a time."
            )
        attendance = board.attendances.get(moving.patient_id)
        if not need_met(attendance, assignment.user):
            raise ValidationFailed(
                f"{moving.patient.full_name}'s visit today must be with a "
                f"{need_words(attendance.one_on_one_with)}; {assignment.user.full_name} is "
                "not one."
            )
    places = [
        Place(first.patient, second.provider, second.starts_at, second.ends_at, first.id),
        Place(second.patient, first.provider, first.starts_at, first.ends_at, second.id),
    ]
    ignore = {first.id, second.id}
    clash = find_clash(places, group_session, ignore)
    if clash:
        raise Conflict(clash)

    def change() -> None:
        # No order of two plain updates keeps every step free of overlaps: the first visit
        # waits at an instant of its own, far in the past, while the second takes its place.
        parked = PARKED_AT + first.id * MINUTE
        first.starts_at, first.ends_at = parked, parked + MINUTE
        db.session.flush()
        for moving, place in ((second, places[1]), (first, places[0])):
            moving.provider_id, moving.starts_at, moving.ends_at = (
                place.provider.id,
                place.starts_at,
                place.ends_at,
            )
            moving.placed_by = BY_HAND
            db.session.flush()

    write_slots(change, lambda: find_clash(places, group_session, ignore))
    audit.record_each(
        actor,
        "update",
        "one_on_one_slot",
        [(first.patient_id, first.id), (second.patient_id, second.id)],
    )
    return first, second


def mark_seen(
    group_session: GroupSession, slot: OneOnOneSlot | int, *, actor: User
) -> OneOnOneSlot:
    """Record that the visit took place; from then on nothing moves it.

    :raises ValidationFailed: the visit was marked missed (move it to a free time first).
    """
    group_session = lock_session(group_session, actor)
    slot = fresh_slot(group_session, slot)
    if slot.status == SEEN:
        return slot
    if slot.status == MISSED:
        raise ValidationFailed(
            f"{slot.patient.full_name}'s visit was marked missed. If they came back, move "
            "their visit to a free time first."
        )
    slot.status = SEEN
    db.session.flush()
    audit.record(actor, "update", slot.patient, "one_on_one_slot", slot.id)
    return slot


def mark_missed(
    group_session: GroupSession,
    slot: OneOnOneSlot | int,
    *,
    actor: User,
    now: datetime | None = None,
) -> OneOnOneSlot:
    """Record that the patient was not there when their visit came; the time is freed.

    The row stays, as the record of a missed visit, but keeps only the minutes the provider
    held it (from its start until it was marked, at least one minute): the database refuses
    overlapping slots whatever their status, so the rest of the time is given back that way.
    "Re-plan from now" then fills it.

    :raises ValidationFailed: the visit was seen, or has not started yet (someone who left
        before their visit is marked excused or no-show at check-in, then the plan redone).
    """
    now = now or utcnow()
    group_session = lock_session(group_session, actor)
    slot = fresh_slot(group_session, slot)
    if slot.status == MISSED:
        return slot
    if slot.status == SEEN:
        raise ValidationFailed(f"{slot.patient.full_name} was already seen.")
    site = group_session.group.site
    if now < slot.starts_at:
        raise ValidationFailed(
            f"{slot.patient.full_name}'s visit starts at {site.clock(slot.starts_at)}: it can "
            "be marked missed from then on. If they have left, mark them excused or no-show "
            "at check-in, then re-plan."
        )
    slot.status = MISSED
    slot.ends_at = min(slot.ends_at, max(slot.starts_at + MINUTE, _ceil_minute(now)))
    db.session.flush()
    audit.record(actor, "update", slot.patient, "one_on_one_slot", slot.id)
    return slot


def set_provider_availability(
    group_session: GroupSession,
    provider_id: int | None,
    *,
    available_from: datetime | None,
    available_until: datetime | None,
    actor: User,
) -> StaffAssignment:
    """Say a provider is free for one-on-ones only from and/or until a time (None: no limit).

    Planned visits outside the new hours move at the next plan; visits placed by hand stay
    (the planner page points them out).

    :raises ValidationFailed: not a provider at this session, a time outside the session,
        or "until" not after "from".
    """
    group_session = lock_session(group_session, actor)
    assignment = None
    if provider_id is not None:
        assignment = db.session.scalars(
            select(StaffAssignment)
            .where(
                StaffAssignment.session_id == group_session.id,
                StaffAssignment.user_id == provider_id,
                StaffAssignment.role == PROVIDER,
            )
            .options(joinedload(StaffAssignment.user))
            .execution_options(populate_existing=True)
        ).one_or_none()
    if assignment is None:
        raise ValidationFailed(NOT_A_PROVIDER, field="provider_id")
    site = group_session.group.site
    for value, name in ((available_from, "available_from"), (available_until, "available_until")):
        if value is not None and not group_session.starts_at <= value <= group_session.ends_at:
            raise ValidationFailed(
                f"Give times during the session, between {site.clock(group_session.starts_at)} "
                f"and {site.clock(group_session.ends_at)}.",
                field=name,
            )
    if available_from is not None and available_until is not None:
        if available_until <= available_from:
            raise ValidationFailed(
                "“Free until” must come after “free from”.", field="available_until"
            )
    assignment.available_from, assignment.available_until = available_from, available_until
    db.session.flush()
    return assignment


def set_needed_discipline(
    group_session: GroupSession, patient_id: int | None, discipline: str | None, *, actor: User
) -> Attendance:
    """Say which discipline a patient's visit must be with today (a pharmacist's medication
    review, say); None or "" for any provider. The next plan honours it.

    :raises ValidationFailed: an unknown discipline, or a patient not on this session's list.
    """
    group_session = lock_session(group_session, actor)
    discipline = discipline or None
    if discipline is not None and discipline not in DISCIPLINES:
        raise ValidationFailed("Choose a discipline from the list.", field="discipline")
    attendance = None
    if patient_id is not None:
        attendance = db.session.scalars(
            select(Attendance)
            .where(Attendance.session_id == group_session.id, Attendance.patient_id == patient_id)
            .options(joinedload(Attendance.patient))
            .execution_options(populate_existing=True)
        ).one_or_none()
    if attendance is None:
        raise ValidationFailed("That patient is not on this session's list.", field="patient_id")
    if attendance.one_on_one_with != discipline:
        attendance.one_on_one_with = discipline
        db.session.flush()
        audit.record(actor, "update", attendance.patient, "attendance", attendance.id)
    return attendance


def _ceil_minute(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + MINUTE
