"""A session's one-on-one slots: its one-on-one window, the planner's problem, plans, and
changes by hand (move, swap, seen, missed), each refused by the database if it overlaps.

Times are UTC instants here; the planner counts whole minutes from the window's start.
Every function that writes locks the session's row first, so that one session's slots
change one request at a time; a clash with another session (a patient in two of them)
is refused by the database itself and becomes a :class:`Conflict`.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from groupvisits import audit
from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.encounters import planner
from groupvisits.encounters.models import (
    BY_HAND,
    BY_PLANNER,
    MISSED,
    PLANNED,
    SEEN,
    EncounterNote,
    OneOnOneSlot,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.locking import lock_row
from groupvisits.permissions import can_plan_one_on_ones
from groupvisits.roster.models import ATTENDED, EXCUSED, LATE, NO, NO_SHOW, YES, Attendance
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import PRECEPTOR, PROVIDER, StaffAssignment
from groupvisits.timeutil import utcnow

#: Kinds of step during which a patient may leave the group for a one-on-one visit.
PULL_OUT_KINDS = ("one_on_one", "group", "meal")
#: PostgreSQL's SQLSTATEs: a row refused by an exclusion or unique constraint; a deadlock.
EXCLUSION_VIOLATION, UNIQUE_VIOLATION, DEADLOCK = "23P01", "23505", "40P01"
#: Where a slot waits, for an instant, while two slots swap (see :func:`swap_slots`).
PARKED_AT = datetime(1900, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

PLANNERS_ONLY = (
    "Only the clinic's coordinators and this session's providers plan its one-on-one visits."
)
NO_PLAN = (
    "This session has no plan yet. Add its steps (with a one-on-one, group or meal step "
    "when patients may step out) before planning one-on-one visits."
)
NO_PULL_OUT_STEP = (
    "No step of this session's plan lets patients step out for a one-on-one visit: "
    "add a one-on-one step, or allow pull-outs during a group or meal step."
)
NOT_A_PROVIDER = "Choose a provider on this session's team."
RACED = (
    "Someone changed these one-on-one visits at the same moment, so yours were not saved. "
    "Reload the page and try again."
)


# The window


@dataclass(frozen=True)
class Step:
    """A step of the session's plan, with its instants."""

    name: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Window:
    """The span of a session when patients may step out for one-on-one visits."""

    starts_at: datetime
    ends_at: datetime
    slot_minutes: int
    #: Steps inside the window when nobody leaves the group.
    blocked_steps: tuple[Step, ...] = ()

    @property
    def minutes(self) -> int:
        return self.minute_of(self.ends_at)

    @property
    def blocked(self) -> tuple[tuple[int, int], ...]:
        """The blocked steps as [start, end) minutes, as the planner takes them."""
        return tuple(
            (self.minute_of(step.starts_at), self.minute_of(step.ends_at, up=True))
            for step in self.blocked_steps
        )

    def minute_of(self, instant: datetime, *, up: bool = False) -> int:
        """Whole minutes from the window's start to ``instant`` (rounded down, or ``up``)."""
        minutes = (instant - self.starts_at) / MINUTE
        return math.ceil(minutes) if up else math.floor(minutes)

    def at(self, minute: int) -> datetime:
        return self.starts_at + minute * MINUTE

    def blocked_step_during(self, starts_at: datetime, ends_at: datetime) -> Step | None:
        for step in self.blocked_steps:
            if step.starts_at < ends_at and starts_at < step.ends_at:
                return step
        return None


def allows_pull_outs(segment) -> bool:
    """Patients may step out during this step of a plan."""
    return segment.kind in PULL_OUT_KINDS and not segment.no_pull_outs


def one_on_one_window(group_session: GroupSession) -> Window:
    """From the start of the first step allowing pull-outs to the end of the last one.

    Steps in between that allow none (a no-pull-outs group step, an "other" step) are
    blocked spans: no slot may overlap them.

    :raises ValidationFailed: the session has no plan, or no step allows pull-outs.
    """
    steps, start = [], group_session.starts_at
    for segment in group_session.segments:
        end = start + timedelta(minutes=segment.minutes)
        steps.append((segment, start, end))
        start = end
    if not steps:
        raise ValidationFailed(NO_PLAN)
    open_steps = [i for i, (segment, _, _) in enumerate(steps) if allows_pull_outs(segment)]
    if not open_steps:
        raise ValidationFailed(NO_PULL_OUT_STEP)
    first, last = open_steps[0], open_steps[-1]
    blocked = tuple(
        Step(segment.name, a, b)
        for segment, a, b in steps[first : last + 1]
        if not allows_pull_outs(segment)
    )
    return Window(steps[first][1], steps[last][2], group_session.group.slot_minutes, blocked)


def instant_at(group_session: GroupSession, clock_time: time) -> datetime:
    """The UTC instant of a local time of day during the session (a session may end after
    midnight: the time is taken on the day that puts it inside the session)."""
    zone, day = group_session.timezone, group_session.local_start.date()
    for candidate in (day, day + timedelta(days=1)):
        instant = datetime.combine(candidate, clock_time, zone).astimezone(UTC)
        if group_session.starts_at <= instant <= group_session.ends_at:
            return instant
    return datetime.combine(day, clock_time, zone).astimezone(UTC)


# Who is expected


def is_expected(attendance: Attendance) -> bool:
    """A patient to place: said yes or checked in, is not a no-show or excused, and did not
    decline a one-on-one visit at check-in."""
    if attendance.check_in in (NO_SHOW, EXCUSED) or attendance.wants_one_on_one is False:
        return False
    return attendance.rsvp == YES or attendance.check_in in ATTENDED


def why_not_expected(attendance: Attendance | None) -> str:
    """Why a patient is not placed, in plain words ("" if they are expected)."""
    if attendance is None:
        return "is not on this session's list"
    if attendance.check_in == NO_SHOW:
        return "is marked no-show"
    if attendance.check_in == EXCUSED:
        return "is excused"
    if attendance.wants_one_on_one is False:
        return "said no to a one-on-one visit at check-in"
    if attendance.rsvp == NO:
        return "said they will not come"
    if not is_expected(attendance):
        return "has not said they will come"
    return ""


def _arrives_at(window: Window, attendance: Attendance) -> int:
    """The minute a late arrival checked in (no slot of theirs starts before it); else 0."""
    if attendance.check_in == LATE and attendance.checked_in_at is not None:
        return max(0, window.minute_of(attendance.checked_in_at, up=True))
    return 0


def _need_met(attendance: Attendance | None, provider: User) -> bool:
    need = attendance.one_on_one_with if attendance is not None else None
    return need is None or need == provider.discipline


def _need_words(discipline: str) -> str:
    return DISCIPLINES.get(discipline, discipline.replace("_", " ")).lower()


# Everything about one session's one-on-ones, in a fixed number of queries


@dataclass
class Board:
    """A session's one-on-one state: its window, providers, attendances and slots."""

    group_session: GroupSession
    window: Window | None
    #: Why there is no window ("" when there is one).
    window_problem: str
    providers: list[StaffAssignment]
    preceptors: list[StaffAssignment]
    attendances: dict[int, Attendance]  # by patient id
    slots: list[OneOnOneSlot]  # by start time, then provider
    #: Slots whose encounter note is begun: the visit is taking (or took) place there.
    noted: set[int] = field(default_factory=set)
    #: Continuity: each patient's provider at their latest earlier slot in the group.
    last_provider: dict[int, int] = field(default_factory=dict)

    def provider(self, user_id: int) -> StaffAssignment | None:
        return next((a for a in self.providers if a.user_id == user_id), None)

    @property
    def expected(self) -> dict[int, Attendance]:
        return {pid: a for pid, a in self.attendances.items() if is_expected(a)}


def load_board(group_session: GroupSession, *, continuity: bool = True) -> Board:
    """Read a session's one-on-one state fresh from the database: four queries (five with
    ``continuity``), however many patients and providers."""
    try:
        window, problem = one_on_one_window(group_session), ""
    except ValidationFailed as exc:
        window, problem = None, str(exc)
    team = db.session.scalars(
        select(StaffAssignment)
        .where(
            StaffAssignment.session_id == group_session.id,
            StaffAssignment.role.in_((PROVIDER, PRECEPTOR)),
        )
        .options(joinedload(StaffAssignment.user, innerjoin=True))
        .execution_options(populate_existing=True)
    ).all()
    by_name = sorted(team, key=lambda a: (a.user.family_name, a.user.given_name, a.user_id))
    attendances = db.session.scalars(
        select(Attendance)
        .where(Attendance.session_id == group_session.id)
        .options(joinedload(Attendance.patient, innerjoin=True))
        .execution_options(populate_existing=True)
    ).all()
    # A note names at most one slot (its slot_id is unique): the join adds no rows.
    slot_rows = db.session.execute(
        select(OneOnOneSlot, EncounterNote.id)
        .outerjoin(EncounterNote, EncounterNote.slot_id == OneOnOneSlot.id)
        .where(OneOnOneSlot.session_id == group_session.id)
        .options(
            joinedload(OneOnOneSlot.patient, innerjoin=True),
            joinedload(OneOnOneSlot.provider, innerjoin=True),
        )
        .order_by(OneOnOneSlot.starts_at, OneOnOneSlot.provider_id, OneOnOneSlot.id)
        .execution_options(populate_existing=True)
    ).all()
    board = Board(
        group_session=group_session,
        window=window,
        window_problem=problem,
        providers=[a for a in by_name if a.role == PROVIDER],
        preceptors=[a for a in by_name if a.role == PRECEPTOR],
        attendances={a.patient_id: a for a in attendances},
        slots=[slot for slot, _ in slot_rows],
        noted={slot.id for slot, note_id in slot_rows if note_id is not None},
    )
    if continuity:
        board.last_provider = last_providers(group_session, sorted(board.expected))
    return board


def last_providers(group_session: GroupSession, patient_ids: list[int]) -> dict[int, int]:
    """Each patient's provider at their latest slot (not missed) at an earlier session of the
    same group, in one query."""
    if not patient_ids:
        return {}
    ranked = (
        select(
            OneOnOneSlot.patient_id,
            OneOnOneSlot.provider_id,
            func.row_number()
            .over(
                partition_by=OneOnOneSlot.patient_id,
                order_by=(OneOnOneSlot.starts_at.desc(), OneOnOneSlot.id.desc()),
            )
            .label("rank"),
        )
        .join(GroupSession, GroupSession.id == OneOnOneSlot.session_id)
        .where(
            GroupSession.group_id == group_session.group_id,
            GroupSession.starts_at < group_session.starts_at,
            OneOnOneSlot.patient_id.in_(patient_ids),
            OneOnOneSlot.status != MISSED,
        )
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.patient_id, ranked.c.provider_id).where(ranked.c.rank == 1)
    )
    return {patient_id: provider_id for patient_id, provider_id in rows}


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
    return attendance is not None and provider is not None and _need_met(attendance, provider.user)


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
            arrives_at=_arrives_at(window, attendance),
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


# Checks shared by the writes


def _check_planner(group_session: GroupSession, actor: User) -> None:
    if not can_plan_one_on_ones(actor, group_session):
        raise NotAllowed(PLANNERS_ONLY)


def _lock(group_session: GroupSession, actor: User) -> GroupSession:
    """Check the actor, lock the session's row (one change of its slots at a time), refuse a
    cancelled session; the session, fresh."""
    _check_planner(group_session, actor)
    group_session = lock_row(GroupSession, group_session.id)
    if group_session.is_cancelled:
        raise ValidationFailed("This session is cancelled: its one-on-one visits cannot change.")
    return group_session


def _fresh_slot(group_session: GroupSession, slot: OneOnOneSlot | int | None) -> OneOnOneSlot:
    """The slot as it is now (after the lock), checked to be this session's."""
    slot_id = slot if isinstance(slot, int) or slot is None else slot.id
    found = None
    if slot_id is not None:
        found = db.session.scalars(
            select(OneOnOneSlot)
            .where(OneOnOneSlot.id == slot_id)
            .options(joinedload(OneOnOneSlot.patient), joinedload(OneOnOneSlot.provider))
            .execution_options(populate_existing=True)
        ).one_or_none()
    if found is None:
        raise ValidationFailed("That one-on-one visit no longer exists. Reload the page.")
    if found.session_id != group_session.id:
        raise ValidationFailed("That one-on-one visit belongs to another session.")
    return found


def _require_window(board: Board) -> Window:
    if board.window is None:
        raise ValidationFailed(board.window_problem)
    return board.window


def _check_place(
    board: Board,
    patient: User,
    assignment: StaffAssignment,
    starts_at: datetime,
    ends_at: datetime,
) -> None:
    """A hand-placed slot lies inside the window, in no blocked step, while its provider is
    free for one-on-ones, with a provider of the discipline the patient needs today.

    :raises ValidationFailed: saying which rule, with the times in the site's clock.
    """
    window, site = _require_window(board), board.group_session.group.site
    if starts_at < window.starts_at or ends_at > window.ends_at:
        raise ValidationFailed(
            f"A {window.slot_minutes}-minute visit starting at {site.clock(starts_at)} does not "
            f"fit in the one-on-one time, {site.clock(window.starts_at)}–"
            f"{site.clock(window.ends_at)}.",
            field="start_time",
        )
    step = board.window.blocked_step_during(starts_at, ends_at)
    if step is not None:
        raise ValidationFailed(
            f"{site.clock(step.starts_at)}–{site.clock(step.ends_at)} is “{step.name}”, when "
            "nobody leaves the group. Choose another time.",
            field="start_time",
        )
    provider = assignment.user
    if (assignment.available_from and starts_at < assignment.available_from) or (
        assignment.available_until and ends_at > assignment.available_until
    ):
        raise ValidationFailed(
            f"{provider.full_name} sees patients one-on-one only "
            f"{_availability_words(assignment, window, site)}.",
            field="start_time",
        )
    attendance = board.attendances.get(patient.id)
    if not _need_met(attendance, provider):
        need = _need_words(attendance.one_on_one_with)
        raise ValidationFailed(
            f"{patient.full_name}'s visit today must be with a {need}; "
            f"{provider.full_name} is not one. Change what the visit needs first, or choose "
            "another provider.",
            field="provider_id",
        )


def _availability_words(assignment: StaffAssignment, window: Window, site) -> str:
    start = max(assignment.available_from or window.starts_at, window.starts_at)
    end = min(assignment.available_until or window.ends_at, window.ends_at)
    return f"from {site.clock(start)} until {site.clock(end)}"


@dataclass(frozen=True)
class _Place:
    """Where a slot is about to be: who, with whom, when (and which row, if it exists)."""

    patient: User
    provider: User
    starts_at: datetime
    ends_at: datetime
    slot_id: int | None = None


def _find_clash(places: list[_Place], group_session: GroupSession, ignore: set[int]) -> str:
    """What already stands in the way of ``places`` (in any session), in words; "" if nothing.

    One query: the slots of these providers and patients overlapping the places' span.
    """
    if not places:
        return ""
    low = min(place.starts_at for place in places)
    high = max(place.ends_at for place in places)
    query = (
        select(OneOnOneSlot)
        .where(
            or_(
                OneOnOneSlot.provider_id.in_(sorted({place.provider.id for place in places})),
                OneOnOneSlot.patient_id.in_(sorted({place.patient.id for place in places})),
            ),
            OneOnOneSlot.starts_at < high,
            OneOnOneSlot.ends_at > low,
        )
        .options(joinedload(OneOnOneSlot.patient), joinedload(OneOnOneSlot.provider))
        .order_by(OneOnOneSlot.starts_at, OneOnOneSlot.id)
    )
    if ignore:
        query = query.where(OneOnOneSlot.id.not_in(sorted(ignore)))
    with db.session.no_autoflush:
        others = db.session.scalars(query).all()
    site = group_session.group.site
    for place in places:
        for other in others:
            if not (other.starts_at < place.ends_at and place.starts_at < other.ends_at):
                continue
            when = f"{site.clock(other.starts_at)}–{site.clock(other.ends_at)}"
            if other.provider_id == place.provider.id:
                return (
                    f"{place.provider.full_name} already has a one-on-one visit at {when} "
                    f"(with {other.patient.full_name}), which overlaps "
                    f"{site.clock(place.starts_at)}–{site.clock(place.ends_at)}."
                )
            if other.patient_id == place.patient.id:
                # Another session may be another clinic's: it is not named.
                where = "" if other.session_id == group_session.id else " in another session"
                return (
                    f"{place.patient.full_name} already has a one-on-one visit at {when}"
                    f"{where}, which overlaps {site.clock(place.starts_at)}–"
                    f"{site.clock(place.ends_at)}."
                )
    return ""


def _write(change: Callable[[], None], describe: Callable[[], str]) -> None:
    """Apply ``change`` and flush it; an overlap the database refuses becomes a Conflict.

    On PostgreSQL the write runs in a savepoint, so that after a refusal the clash can be
    read and named. SQLite holds the whole database for this transaction (the session lock),
    so the check made before the write is exact there; its triggers are the safety net.
    The caller rolls back after a Conflict: nothing of the change is saved.
    """
    if db.session.connection().dialect.name == "sqlite":
        try:
            change()
            db.session.flush()
        except IntegrityError as exc:
            raise Conflict(_refusal_words(exc)) from exc
        return
    try:
        with db.session.begin_nested():
            change()
            db.session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) not in (EXCLUSION_VIOLATION, UNIQUE_VIOLATION):
            raise
        # The other request has committed (the write waited for it): name what it saved.
        raise Conflict(describe() or _refusal_words(exc)) from exc
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != DEADLOCK:
            raise
        raise Conflict(RACED) from exc


def _refusal_words(exc: IntegrityError) -> str:
    text = str(exc.orig)
    if "ex_one_on_one_slots_provider" in text:
        return "That provider already has a one-on-one visit at that time. " + RACED
    if "ex_one_on_one_slots_patient" in text:
        return "That patient already has a one-on-one visit at that time. " + RACED
    return RACED


def _ceil_minute(instant: datetime) -> datetime:
    floor = instant.replace(second=0, microsecond=0)
    return floor if floor == instant else floor + MINUTE


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
    group_session = _lock(group_session, actor)
    board = load_board(group_session)
    window = _require_window(board)
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
        _Place(
            people[s.patient_id],
            people[s.provider_id],
            window.at(s.start),
            window.at(s.start) + length,
        )
        for s in result.slots
    ]
    replaced = {slot.id for slot in inputs.dropped}
    clash = _find_clash(places, group_session, replaced)
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

    _write(change, lambda: _find_clash(places, group_session, replaced))
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


# Changes by hand


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
    group_session = _lock(group_session, actor)
    slot = _fresh_slot(group_session, slot)
    if slot.status == SEEN:
        raise ValidationFailed(
            f"{slot.patient.full_name} was already seen: a visit that took place stays where "
            "it was."
        )
    board = load_board(group_session, continuity=False)
    window = _require_window(board)
    assignment = board.provider(provider_id) if provider_id is not None else None
    if assignment is None:
        raise ValidationFailed(NOT_A_PROVIDER, field="provider_id")
    starts_at = starts_at.astimezone(UTC).replace(second=0, microsecond=0)
    ends_at = starts_at + window.slot_minutes * MINUTE
    _check_place(board, slot.patient, assignment, starts_at, ends_at)
    place = _Place(slot.patient, assignment.user, starts_at, ends_at, slot.id)
    clash = _find_clash([place], group_session, {slot.id})
    if clash:
        raise Conflict(clash, field="start_time")

    def change() -> None:
        slot.provider_id, slot.starts_at, slot.ends_at = assignment.user_id, starts_at, ends_at
        slot.status, slot.placed_by = PLANNED, BY_HAND

    _write(change, lambda: _find_clash([place], group_session, {place.slot_id}))
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
    group_session = _lock(group_session, actor)
    first, second = _fresh_slot(group_session, slot), _fresh_slot(group_session, other)
    if first.id == second.id:
        raise ValidationFailed("Choose another patient's visit to swap with.")
    for held in (first, second):
        if held.status != PLANNED:
            raise ValidationFailed(
                f"{held.patient.full_name}'s visit is {held.status_label.lower()}: only planned "
                "visits swap."
            )
    board = load_board(group_session, continuity=False)
    _require_window(board)
    for moving, target in ((first, second), (second, first)):
        assignment = board.provider(target.provider_id)
        if assignment is None:
            raise ValidationFailed(
                f"{target.provider.full_name} is no longer a provider at this session: move "
                "the visits one at a time."
            )
        attendance = board.attendances.get(moving.patient_id)
        if not _need_met(attendance, assignment.user):
            raise ValidationFailed(
                f"{moving.patient.full_name}'s visit today must be with a "
                f"{_need_words(attendance.one_on_one_with)}; {assignment.user.full_name} is "
                "not one."
            )
    places = [
        _Place(first.patient, second.provider, second.starts_at, second.ends_at, first.id),
        _Place(second.patient, first.provider, first.starts_at, first.ends_at, second.id),
    ]
    ignore = {first.id, second.id}
    clash = _find_clash(places, group_session, ignore)
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

    _write(change, lambda: _find_clash(places, group_session, ignore))
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
    group_session = _lock(group_session, actor)
    slot = _fresh_slot(group_session, slot)
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
    group_session = _lock(group_session, actor)
    slot = _fresh_slot(group_session, slot)
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
    group_session = _lock(group_session, actor)
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
    group_session = _lock(group_session, actor)
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


# What the planner page and the run sheet show


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
    if not _need_met(attendance, assignment.user):
        return f"needs a {_need_words(attendance.one_on_one_with)} today: move the visit or re-plan"
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
            f"the provider is free only {_availability_words(assignment, window, site)}: move "
            "the visit or re-plan"
        )
    return ""


def overview(group_session: GroupSession, *, now: datetime | None = None) -> Overview:
    """Everything the planner page shows, in four queries whatever the session's size.

    Who could still fit is asked of the planner itself, with every current slot kept: those it
    cannot place are "left out" with its reason; the others only wait for a plan.
    """
    now = now or utcnow()
    board = load_board(group_session, continuity=False)
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
    """Each provider's order of pull-outs, for the printed run sheet (four queries)."""
    board = load_board(group_session, continuity=False)
    return board, provider_lines(board)
