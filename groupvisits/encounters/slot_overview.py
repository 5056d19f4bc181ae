"""What the planner page and the printed run sheet show of a session's one-on-one visits:
each provider's visits in time order, the patients concerned, and what needs attention first.
"""

from dataclasses import dataclass, field
from datetime import datetime

from groupvisits.accounts.models import User
from groupvisits.encounters import planner
from groupvisits.encounters.models import MISSED, PLANNED, OneOnOneSlot
from groupvisits.encounters.slot_board import (
    Board,
    Window,
    availability_words,
    is_expected,
    load_board,
    need_met,
    need_words,
    why_not_expected,
)
from groupvisits.encounters.slot_plans import plan_inputs
from groupvisits.roster.models import Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import StaffAssignment
from groupvisits.timeutil import utcnow


@dataclass
class ProviderLine:
    """One provider (or a provider no longer on the team) with their visits in time order."""

    user: User
    assignment: StaffAssignment | None
    slots: list[OneOnOneSlot] = field(default_factory=list)

    @property
    def on_team(self) -> bool:
        return self.assignment is not None

    @property
    def visits(self) -> list[OneOnOneSlot]:
        """The visits that hold (or held) their time: planned and seen ones."""
        return [slot for slot in self.slots if slot.status != MISSED]


@dataclass
class PatientLine:
    """A patient on the session's list whom the one-on-ones concern."""

    patient: User
    attendance: Attendance | None
    slot: OneOnOneSlot | None
    #: Why they are not placed ("" when expected).
    why_not: str


@dataclass
class Overview:
    """A session's one-on-ones as the planner page shows them: what needs the reader first."""

    board: Board
    providers: list[ProviderLine]
    patients: list[PatientLine]
    #: Expected patients the planner cannot place now, with the reason.
    left_out: list[tuple[User, str]]
    #: Expected patients with no slot yet, for whom there is room (a plan places them).
    unslotted: list[User]
    #: Planned visits to check: a patient no longer expected, a provider off the team...
    slot_problems: list[tuple[OneOnOneSlot, str]]
    #: Providers on the team with no visit.
    idle: list[ProviderLine]
    under_way: bool
    over: bool

    @property
    def window(self) -> Window | None:
        return self.board.window

    @property
    def needs_attention(self) -> bool:
        return bool(self.left_out or self.unslotted or self.slot_problems or self.idle)

    @property
    def patient_ids(self) -> list[int]:
        """Every patient the page names (for the audit trail)."""
        ids = {line.patient.id for line in self.patients}
        ids |= {slot.patient_id for slot in self.board.slots}
        return sorted(ids)


def _name_key(user: User):
    return (user.family_name, user.given_name, user.id)


def provider_lines(board: Board) -> list[ProviderLine]:
    """The team's providers by name, each with their visits in time order; then anyone
    holding visits who is no longer a provider at the session."""
    lines = {a.user_id: ProviderLine(a.user, a) for a in board.providers}
    others: dict[int, ProviderLine] = {}
    for slot in board.slots:
        line = lines.get(slot.provider_id) or others.setdefault(
            slot.provider_id, ProviderLine(slot.provider, None)
        )
        line.slots.append(slot)
    return list(lines.values()) + sorted(others.values(), key=lambda line: _name_key(line.user))


def _slot_problem(board: Board, slot: OneOnOneSlot) -> str:
    """What is wrong with a planned visit as things stand ("" if nothing)."""
    attendance = board.attendances.get(slot.patient_id)
    if attendance is None or not is_expected(attendance):
        return f"{why_not_expected(attendance)}: re-plan to free this time"
    assignment = board.provider(slot.provider_id)
    if assignment is None:
        return "the provider is no longer on this session's team: move the visit or re-plan"
    if not need_met(attendance, assignment.user):
        return f"needs a {need_words(attendance.one_on_one_with)} today: move the visit or re-plan"
    window, site = board.window, board.group_session.group.site
    if window is None:
        return ""
    if slot.starts_at < window.starts_at or slot.ends_at > window.ends_at:
        return "lies outside the one-on-one time: move the visit or re-plan"
    step = window.blocked_step_during(slot.starts_at, slot.ends_at)
    if step is not None:
        return f"overlaps “{step.name}”, when nobody leaves the group: move the visit or re-plan"
    if (assignment.available_from and slot.starts_at < assignment.available_from) or (
        assignment.available_until and slot.ends_at > assignment.available_until
    ):
        return (
            f"the provider is free only {availability_words(assignment, window, site)}: move "
            "the visit or re-plan"
        )
    return ""


def overview(group_session: GroupSession, *, now: datetime | None = None) -> Overview:
    """Everything the planner page shows, in four queries whatever the session's size.

    Who could still fit is asked of the planner itself, with every current slot kept: those it
    cannot place are "left out" with its reason; the others only wait for a plan.
    """
    now = now or utcnow()
    board = load_board(group_session, continuity=False, fresh=False)
    window = board.window
    slot_of = {slot.patient_id: slot for slot in board.slots}
    expected = board.expected
    patients = [
        PatientLine(a.patient, a, slot_of.get(patient_id), why_not_expected(a))
        for patient_id, a in board.attendances.items()
        if patient_id in expected or patient_id in slot_of or a.wants_one_on_one is False
    ]
    patients.sort(key=lambda line: _name_key(line.patient))
    problems = [
        (slot, problem)
        for slot in board.slots
        if slot.status == PLANNED and (problem := _slot_problem(board, slot))
    ]
    waiting = sorted(
        (a.patient for patient_id, a in expected.items() if patient_id not in slot_of),
        key=_name_key,
    )
    left_out: list[tuple[User, str]] = []
    unslotted: list[User] = []
    over = window is not None and now >= window.ends_at
    if window is None or not waiting:
        unslotted = waiting
    elif over:
        left_out = [(patient, "the one-on-one time is over") for patient in waiting]
    else:
        try:
            result = planner.plan(plan_inputs(board, now, keep_all=True).problem)
        except planner.PlanningFailed:
            unslotted = waiting
        else:
            left_out = [(p, result.unplaced[p.id]) for p in waiting if p.id in result.unplaced]
            unslotted = [p for p in waiting if p.id not in result.unplaced]
    lines = provider_lines(board)
    return Overview(
        board=board,
        providers=lines,
        patients=patients,
        left_out=left_out,
        unslotted=unslotted,
        slot_problems=problems,
        idle=[line for line in lines if line.on_team and not line.visits],
        under_way=window is not None and window.starts_at <= now,
        over=over,
    )


def run_sheet(group_session: GroupSession) -> tuple[Board, list[ProviderLine]]:
    """Each provider's order of pull-outs, for the printed run sheet (three queries)."""
    board = load_board(group_session, continuity=False, fresh=False, attendances=False)
    return board, provider_lines(board)
