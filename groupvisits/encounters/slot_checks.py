"""What every change of a session's one-on-one slots goes through: the planner's lock on the
session, the checks of a place, the clash named in words, and the write the database may refuse.

Every change locks the session's row first (:func:`lock_session`), so that one session's
slots change one request at a time; a clash with another session (a patient in two
of them) is refused by the database itself and becomes a :class:`Conflict`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload

from groupvisits.accounts.models import User
from groupvisits.encounters.models import OneOnOneSlot
from groupvisits.encounters.slot_board import (
    Board,
    Window,
    availability_words,
    need_met,
    need_words,
)
from groupvisits.errors import Conflict, NotAllowed, ValidationFailed
from groupvisits.extensions import db
from groupvisits.locking import lock_row
from groupvisits.permissions import can_plan_one_on_ones
from groupvisits.schedule.models import GroupSession
from groupvisits.team.models import StaffAssignment

#: PostgreSQL's SQLSTATEs: a row refused by an exclusion or unique constraint; a deadlock.
EXCLUSION_VIOLATION, UNIQUE_VIOLATION, DEADLOCK = "23P01", "23505", "40P01"
#: Where a slot waits, for an instant, while two slots swap or a plan moves it (its row
#: cannot overlap one that has not moved yet).
PARKED_AT = datetime(1900, 1, 1, tzinfo=UTC)

PLANNERS_ONLY = (
    "Only the clinic's coordinators and this session's providers plan its one-on-one visits."
)
NOT_A_PROVIDER = "Choose a provider on this session's team."
RACED = (
    "Someone changed these one-on-one visits at the same moment, so yours were not saved. "
    "Reload the page and try again."
)


def _check_planner(group_session: GroupSession, actor: User) -> None:
    if not can_plan_one_on_ones(actor, group_session):
        raise NotAllowed(PLANNERS_ONLY)


def lock_session(group_session: GroupSession, actor: User) -> GroupSession:
    """Check the actor, lock the session's row (one change of its slots at a time), refuse a
    cancelled session; the session, fresh."""
    _check_planner(group_session, actor)
    group_session = lock_row(GroupSession, group_session.id)
    if group_session.is_cancelled:
        raise ValidationFailed("This session is cancelled: its one-on-one visits cannot change.")
    return group_session


def fresh_slot(group_session: GroupSession, slot: OneOnOneSlot | int | None) -> OneOnOneSlot:
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


def require_window(board: Board) -> Window:
    """The board's one-on-one window.

    :raises ValidationFailed: the session has none (no plan, or no step allows pull-outs).
    """
    if board.window is None:
        raise ValidationFailed(board.window_problem)
    return board.window


def check_place(
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
    window, site = require_window(board), board.group_session.group.site
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
            f"{availability_words(assignment, window, site)}.",
            field="start_time",
        )
    attendance = board.attendances.get(patient.id)
    if not need_met(attendance, provider):
        need = need_words(attendance.one_on_one_with)
        raise ValidationFailed(
            f"{patient.full_name}'s visit today must be with a {need}; "
            f"{provider.full_name} is not one. Change what the visit needs first, or choose "
            "another provider.",
            field="provider_id",
        )


@dataclass(frozen=True)
class Place:
    """Where a slot is about to be: who, with whom, when (and which row, if it exists)."""

    patient: User
    provider: User
    starts_at: datetime
    ends_at: datetime
    slot_id: int | None = None


def find_clash(places: list[Place], group_session: GroupSession, ignore: set[int]) -> str:
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


def write_slots(change: Callable[[], None], describe: Callable[[], str]) -> None:
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
