"""Planning a session's one-on-one visits: the session as the planner's problem, and the
planner's optimum written in place of the visits it may move.

Times are UTC instants here; the planner counts whole minutes from the window's start.
"""

from dataclasses import dataclass
from datetime import datetime

from groupvisits import audit
from groupvisits.accounts.models import User
from groupvisits.encounters import planner
from groupvisits.encounters.models import BY_HAND, BY_PLANNER, MISSED, PLANNED, OneOnOneSlot
from groupvisits.encounters.slot_board import (
    MINUTE,
    Board,
    Window,
    arrival_minute,
    load_board,
    need_met,
)
from groupvisits.encounters.slot_checks import (
    PARKED_AT,
    Place,
    find_clash,
    lock_session,
    require_window,
    write_slots,
)
from groupvisits.errors import Conflict, ValidationFailed
from groupvisits.extensions import db
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import StaffAssignment
from groupvisits.timeutil import utcnow

# The planner's problem


@dataclass
class PlanInputs:
    """A session turned into the planner's problem, with the slots that stay and those the
    plan replaces."""

    board: Board
    problem: planner.Problem
    kept: list[OneOnOneSlot]
    dropped: list[OneOnOneSlot]


def _stays(slot: OneOnOneSlot, board: Board, now: datetime) -> bool:
    """A slot the planner keeps: seen, missed, under way (or past), with its note begun, or
    placed by hand for a patient still expected, with a provider still on the team who
    meets their need."""
    if slot.status != PLANNED or slot.starts_at <= now or slot.id in board.noted:
        return True
    if slot.placed_by != BY_HAND:
        return False
    attendance = board.expected.get(slot.patient_id)
    provider = board.provider(slot.provider_id)
    return attendance is not None and provider is not None and need_met(attendance, provider.user)


def _free_minutes(window: Window, assignment: StaffAssignment, busy) -> tuple:
    """A provider's availability in the window, minus the slots that stay, in minutes;
    () is the whole window, ((0, 0),) none of it."""
    start = assignment.available_from or window.starts_at
    end = assignment.available_until or window.ends_at
    spans = [(max(0, window.minute_of(start, up=True)), min(window.minutes, window.minute_of(end)))]
    for cut_start, cut_end in sorted(busy):
        spans = [
            piece
            for span_start, span_end in spans
            for piece in (
                (span_start, min(span_end, cut_start)),
                (max(span_start, cut_end), span_end),
            )
        ]
        spans = [(a, b) for a, b in spans if a < b]
    if spans == [(0, window.minutes)]:
        return ()
    return tuple(spans) or ((0, 0),)


def plan_inputs(board: Board, now: datetime, *, keep_all: bool = False) -> PlanInputs:
    """The planner's problem for ``board`` at ``now``.

    Providers: the session's team in role provider, their availability clipped to the window
    and less the slots that stay. Patients: those expected without a slot that stays, with
    their need, their last provider (continuity), their arrival (late check-ins) and whether
    they asked. No new slot starts before ``now``. With ``keep_all``, every current slot
    stays (to ask "who could still fit?" without changing anything).
    """
    window = board.window
    if window is None:
        raise ValidationFailed(board.window_problem)
    kept, dropped = [], []
    for slot in board.slots:
        (kept if keep_all or _stays(slot, board, now) else dropped).append(slot)
    busy: dict[int, list[tuple[int, int]]] = {}
    for slot in kept:
        busy.setdefault(slot.provider_id, []).append(
            (window.minute_of(slot.starts_at), window.minute_of(slot.ends_at, up=True))
        )
    providers = tuple(
        planner.Provider(
            id=a.user_id,
            discipline=a.user.discipline or "",
            available=_free_minutes(window, a, busy.get(a.user_id, [])),
        )
        for a in board.providers
    )
    held = {slot.patient_id for slot in kept}
    patients = tuple(
        planner.Patient(
            id=patient_id,
            needs=attendance.one_on_one_with,
            last_provider_id=board.last_provider.get(patient_id),
            arrives_at=arrival_minute(window, attendance),
            asked=attendance.wants_one_on_one is True,
        )
        for patient_id, attendance in sorted(board.expected.items())
        if patient_id not in held
    )
    fixed = tuple(
        planner.Fixed(slot.patient_id, slot.provider_id, window.minute_of(slot.starts_at))
        for slot in kept
        if slot.status != MISSED
    )
    problem = planner.Problem(
        window=window.minutes,
        slot_minutes=window.slot_minutes,
        providers=providers,
        patients=patients,
        blocked=window.blocked,
        fixed=fixed,
        not_before=max(0, window.minute_of(now, up=True)),
    )
    return PlanInputs(board=board, problem=problem, kept=kept, dropped=dropped)


def build_problem(group_session: GroupSession, *, now: datetime | None = None) -> planner.Problem:
    """The planner's problem for a session as it stands (five queries).

    :raises ValidationFailed: the session has no one-on-one window.
    """
    return plan_inputs(load_board(group_session), now or utcnow()).problem


def _solve(problem: planner.Problem) -> planner.Plan:
    try:
        return planner.plan(problem)
    except planner.PlanningFailed as exc:
        raise ValidationFailed(
            "The planner could not finish a plan this time. Place the visits by hand, or try again."
        ) from exc


# Planning


@dataclass
class PlanOutcome:
    """What a plan did: new slots, slots kept as they were, and who is left out and why."""

    placed: list[OneOnOneSlot]
    kept: list[OneOnOneSlot]
    #: Planned slots deleted: their patients are no longer expected, or left out.
    freed: int
    unplaced: list[tuple[User, str]]


def plan_session(
    group_session: GroupSession, *, actor: User, now: datetime | None = None
) -> PlanOutcome:
    """Plan every one-on-one visit not yet held, from ``now`` on.

    Keeps the slots seen, missed, under way (or past), with their note begun, and those
    placed by hand (for a patient still expected, with a provider still on the team who
    meets their need); places everyone else expected where the planner's optimum puts
    them (a patient placed again keeps their slot's row), and deletes the planned slots of
    patients no longer expected or left out.

    :raises NotAllowed: the actor neither coordinates the site nor provides at the session.
    :raises ValidationFailed: a cancelled session, no one-on-one window, or its time is over.
    :raises Conflict: a patient already has a visit in another session at a planned time
        (the caller rolls back: nothing is saved).
    """
    now = now or utcnow()
    group_session = lock_session(group_session, actor)
    board = load_board(group_session)
    window = require_window(board)
    if now >= window.ends_at:
        raise ValidationFailed(
            f"The one-on-one time of this session ended at "
            f"{group_session.group.site.clock(window.ends_at)}: nothing is left to plan. "
            "Visits can still be marked seen or missed."
        )
    inputs = plan_inputs(board, now)
    result = _solve(inputs.problem)
    people = {a.user_id: a.user for a in board.providers}
    people |= {patient_id: a.patient for patient_id, a in board.attendances.items()}
    length = window.slot_minutes * MINUTE
    places = [
        Place(
            people[s.patient_id],
            people[s.provider_id],
            window.at(s.start),
            window.at(s.start) + length,
        )
        for s in result.slots
    ]
    replaced = {slot.id for slot in inputs.dropped}
    clash = find_clash(places, group_session, replaced)
    if clash:
        raise Conflict(clash)
    # A patient placed again keeps their row (its id, and anything naming it); the rows of
    # patients not placed again are deleted.
    own_row = {slot.patient_id: slot for slot in inputs.dropped}
    placed_ids = {place.patient.id for place in places}
    freed = [slot for slot in inputs.dropped if slot.patient_id not in placed_ids]
    audited = [(slot.patient_id, slot.id) for slot in freed]
    reused = [own_row[p.patient.id] for p in places if p.patient.id in own_row]
    # Inserted in patient order: two plans racing for one patient wait on each other in
    # the same order, never in a circle.
    new = [
        OneOnOneSlot(
            session_id=group_session.id,
            patient_id=place.patient.id,
            provider_id=place.provider.id,
            starts_at=place.starts_at,
            ends_at=place.ends_at,
            status=PLANNED,
            placed_by=BY_PLANNER,
        )
        for place in sorted(places, key=lambda place: place.patient.id)
        if place.patient.id not in own_row
    ]

    def change() -> None:
        for slot in freed:
            db.session.delete(slot)
        # Rows about to move wait far in the past first, so that no single update can
        # overlap a row that has not moved yet.
        for slot in reused:
            slot.starts_at = PARKED_AT + slot.id * MINUTE
            slot.ends_at = slot.starts_at + MINUTE
        db.session.flush()
        for place in places:
            slot = own_row.get(place.patient.id)
            if slot is not None:
                slot.provider_id, slot.starts_at, slot.ends_at = (
                    place.provider.id,
                    place.starts_at,
                    place.ends_at,
                )
                slot.placed_by = BY_PLANNER
        db.session.add_all(new)

    write_slots(change, lambda: find_clash(places, group_session, replaced))
    audit.record_each(
        actor, "update", "one_on_one_slot", audited + [(s.patient_id, s.id) for s in reused]
    )
    audit.record_each(actor, "create", "one_on_one_slot", [(s.patient_id, s.id) for s in new])
    unplaced = sorted(
        ((people[patient_id], reason) for patient_id, reason in result.unplaced.items()),
        key=lambda pair: (pair[0].family_name, pair[0].given_name, pair[0].id),
    )
    return PlanOutcome(
        placed=sorted(reused + new, key=lambda s: (s.starts_at, s.provider_id)),
        kept=inputs.kept,
        freed=len(freed),
        unplaced=unplaced,
    )


def replan_from_now(
    group_session: GroupSession, *, actor: User, now: datetime | None = None
) -> PlanOutcome:
    """Plan again after a late arrival or a no-show: :func:`plan_session` at ``now``.

    Nobody already seen moves, nor anyone whose visit is under way or placed by hand; the
    others may move earlier into the time freed, or later behind a late arrival.
    """
    return plan_session(group_session, actor=actor, now=now)
