"""What a session's one-on-one visits stand on: the window when patients may step out, who
is expected, and the board (providers, attendances, slots) read fresh in a fixed number of
queries.

Times are UTC instants here; the planner counts whole minutes from the window's start.
"""

import functools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from groupvisits.accounts.models import DISCIPLINES, User
from groupvisits.encounters.models import MISSED, EncounterNote, OneOnOneSlot
from groupvisits.errors import ValidationFailed
from groupvisits.extensions import db
from groupvisits.roster.models import ATTENDED, EXCUSED, LATE, NO, NO_SHOW, YES, Attendance
from groupvisits.schedule.models import GroupSession, SessionSegment
from groupvisits.team.models import PRECEPTOR, PROVIDER, StaffAssignment

#: Kinds of step during which a patient may leave the group for a one-on-one visit.
PULL_OUT_KINDS = ("one_on_one", "group", "meal")
MINUTE = timedelta(minutes=1)

NO_PLAN = (
    "This session has no plan yet. Add its steps (with a one-on-one, group or meal step "
    "when patients may step out) before planning one-on-one visits."
)
NO_PULL_OUT_STEP = (
    "No step of this session's plan lets patients step out for a one-on-one visit: "
    "add a one-on-one step, or allow pull-outs during a group or meal step."
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


def arrival_minute(window: Window, attendance: Attendance) -> int:
    """The minute a late arrival checked in (no slot of theirs starts before it); else 0."""
    if attendance.check_in == LATE and attendance.checked_in_at is not None:
        return max(0, window.minute_of(attendance.checked_in_at, up=True))
    return 0


def need_met(attendance: Attendance | None, provider: User) -> bool:
    """The provider is of the discipline the patient's visit needs today (if it needs one)."""
    need = attendance.one_on_one_with if attendance is not None else None
    return need is None or need == provider.discipline


def need_words(discipline: str) -> str:
    """A discipline as a sentence says it: "pharmacist"."""
    return DISCIPLINES.get(discipline, discipline.replace("_", " ")).lower()


def availability_words(assignment: StaffAssignment, window: Window, site) -> str:
    """A provider's hours for one-on-ones within the window, in the site's clock."""
    start = max(assignment.available_from or window.starts_at, window.starts_at)
    end = min(assignment.available_until or window.ends_at, window.ends_at)
    return f"from {site.clock(start)} until {site.clock(end)}"


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


@functools.cache
def _board_queries():
    """The session's plan, team, attendances and slots, each row with its people (built once)."""
    session_id = bindparam("session_id")
    segments = (
        select(SessionSegment)
        .where(SessionSegment.session_id == session_id)
        .order_by(SessionSegment.position)
    )
    team = (
        select(StaffAssignment, User)
        .join(User, User.id == StaffAssignment.user_id)
        .where(
            StaffAssignment.session_id == session_id,
            StaffAssignment.role.in_((PROVIDER, PRECEPTOR)),
        )
    )
    attendances = (
        select(Attendance, User)
        .join(User, User.id == Attendance.patient_id)
        .where(Attendance.session_id == session_id)
    )
    patient, provider = aliased(User), aliased(User)
    # A note names at most one slot (its slot_id is unique): the join adds no rows.
    slots = (
        select(OneOnOneSlot, patient, provider, EncounterNote.id)
        .join(patient, patient.id == OneOnOneSlot.patient_id)
        .join(provider, provider.id == OneOnOneSlot.provider_id)
        .outerjoin(EncounterNote, EncounterNote.slot_id == OneOnOneSlot.id)
        .where(OneOnOneSlot.session_id == session_id)
        .order_by(OneOnOneSlot.starts_at, OneOnOneSlot.provider_id, OneOnOneSlot.id)
    )
    return segments, team, attendances, slots


def load_board(
    group_session: GroupSession,
    *,
    continuity: bool = True,
    fresh: bool = True,
    attendances: bool = True,
) -> Board:
    """Read a session's one-on-one state from the database: four queries (five with
    ``continuity``), however many patients and providers.

    Each row's people come in its own query and are tied to it (``slot.patient``...), so
    that reading them costs no query. With ``fresh`` (before a change), rows this request
    already holds are read again; a page that only shows the board has nothing stale.
    Without ``attendances`` (the run sheet lists slots only), the list is left empty.
    """
    segments_query, team_query, attendances_query, slots_query = _board_queries()
    params = {"session_id": group_session.id}
    if "segments" in inspect(group_session).unloaded:
        # The plan's steps, in the cached query rather than a lazy load.
        steps = db.session.scalars(segments_query, params).all()
        set_committed_value(group_session, "segments", steps)
    try:
        window, problem = one_on_one_window(group_session), ""
    except ValidationFailed as exc:
        window, problem = None, str(exc)
    options = {"populate_existing": fresh}
    team = []
    for assignment, user in db.session.execute(team_query, params, execution_options=options):
        set_committed_value(assignment, "user", user)
        team.append(assignment)
    by_name = sorted(team, key=lambda a: (a.user.family_name, a.user.given_name, a.user_id))
    on_list = {}
    if attendances:
        for attendance, patient in db.session.execute(
            attendances_query, params, execution_options=options
        ):
            set_committed_value(attendance, "patient", patient)
            on_list[attendance.patient_id] = attendance
    slots, noted = [], set()
    for slot, patient, provider, note_id in db.session.execute(
        slots_query, params, execution_options=options
    ):
        set_committed_value(slot, "patient", patient)
        set_committed_value(slot, "provider", provider)
        slots.append(slot)
        if note_id is not None:
            noted.add(slot.id)
    board = Board(
        group_session=group_session,
        window=window,
        window_problem=problem,
        providers=[a for a in by_name if a.role == PROVIDER],
        preceptors=[a for a in by_name if a.role == PRECEPTOR],
        attendances=on_list,
        slots=slots,
        noted=noted,
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
