"""Routes of a session's one-on-one visits: the planner page, its changes, the run sheet.

Staff of the session's site read both pages; the site's coordinators and the session's
providers (and precepting attendings) change the plan. A refused change shows the planner
page again with the reason and a 4xx status; nothing of it is saved.
"""

from collections.abc import Callable

from flask import abort, redirect, render_template, url_for
from flask_login import current_user

from groupvisits import audit
from groupvisits.accounts.models import DISCIPLINES
from groupvisits.encounters import (
    bp,
    slot_board,
    slot_changes,
    slot_checks,
    slot_overview,
    slot_plans,
)
from groupvisits.encounters.models import PLANNED, OneOnOneSlot
from groupvisits.encounters.slot_forms import (
    AvailabilityForm,
    MoveSlotForm,
    NeedForm,
    PlanForm,
    SlotStatusForm,
    SwapSlotsForm,
    first_problem,
)
from groupvisits.errors import GroupVisitsError
from groupvisits.extensions import db
from groupvisits.formutil import MAX_ID
from groupvisits.messages import flash
from groupvisits.permissions import (
    STAFF,
    can_plan_one_on_ones,
    get_session_or_404,
    require,
    roles,
)
from groupvisits.roster.models import CHECK_INS
from groupvisits.team.models import DEFAULT_DISCIPLINES, PROVIDER
from groupvisits.timeutil import utcnow


@bp.get("/sessions/<int:session_id>/one-on-ones")
@roles(*STAFF)
def show_one_on_ones(session_id):
    """The planner: what needs attention first, then each provider's visits in time order."""
    return _planner_page(get_session_or_404(session_id))


@bp.get("/sessions/<int:session_id>/run-sheet")
@roles(*STAFF)
def show_run_sheet(session_id):
    """A printable run sheet: each provider's pull-outs in order, with times and names."""
    group_session = get_session_or_404(session_id)
    board, lines = slot_overview.run_sheet(group_session)
    audit.record_many(
        current_user, "view", sorted({s.patient_id for s in board.slots}), "run sheet"
    )
    # Render before committing: a commit expires the loaded rows (one query per row after).
    page = render_template(
        "encounters/run_sheet.html",
        group_session=group_session,
        group=group_session.group,
        site=group_session.group.site,
        board=board,
        lines=lines,
    )
    db.session.commit()
    return page


def _planner_page(group_session, *, problem: str = "", status: int = 200):
    can_plan = can_plan_one_on_ones(current_user, group_session)
    now = utcnow()
    view = slot_overview.overview(group_session, now=now)
    audit.record_many(current_user, "view", view.patient_ids, "one-on-one plan")
    zone = group_session.timezone
    planned = [slot for slot in view.board.slots if slot.status == PLANNED]
    site_clock = group_session.group.site.clock
    page = render_template(
        "encounters/one_on_ones.html",
        group_session=group_session,
        group=group_session.group,
        site=group_session.group.site,
        view=view,
        can_plan=can_plan and not group_session.is_cancelled,
        problem=problem,
        hhmm=lambda instant: instant.astimezone(zone).strftime("%H:%M") if instant else "",
        need_choices=_need_choices(view),
        planned=planned,
        check_ins=CHECK_INS,
        now=now,
        slot_urls=_slot_urls(group_session.id),
        swap_choices=[
            (
                slot.id,
                f"{site_clock(slot.starts_at)}, {slot.patient.full_name}"
                f" ({slot.provider.full_name})",
            )
            for slot in planned
        ],
    )
    db.session.commit()  # after rendering: a commit expires the rows the page shows
    return page, status


#: Where each form of a slot posts, by what it does.
_SLOT_ENDPOINTS = {
    "seen": "encounters.mark_slot_seen",
    "missed": "encounters.mark_slot_missed",
    "move": "encounters.move_slot",
    "swap": "encounters.swap_slots",
}


def _slot_urls(session_id: int) -> dict[str, str]:
    """Each slot form's address as a pattern (``"/sessions/7/one-on-ones/%d/seen"``) that a
    row fills with its slot's id: the routes are looked up once per page, not per form."""
    urls = {
        verb: url_for(endpoint, session_id=session_id, slot_id=MAX_ID)
        for verb, endpoint in _SLOT_ENDPOINTS.items()
    }
    urls["note"] = url_for("encounters.open_note", slot_id=MAX_ID)
    return {verb: url.replace(str(MAX_ID), "%d") for verb, url in urls.items()}


def _need_choices(view) -> list[tuple[str, str]]:
    """Disciplines a visit may need: those that usually provide, those on the team today, and
    any already asked for."""
    wanted = set(DEFAULT_DISCIPLINES[PROVIDER])
    wanted |= {line.user.discipline for line in view.providers if line.user.discipline}
    wanted |= {
        line.attendance.one_on_one_with
        for line in view.patients
        if line.attendance and line.attendance.one_on_one_with
    }
    return [(key, label) for key, label in DISCIPLINES.items() if key in wanted]


def _change(session_id: int, form, act: Callable, anchor: str = ""):
    """Check the planner and the form, run ``act(group_session)`` (which returns the message
    to show), then commit once; a refusal shows the page again with its reason."""
    group_session = get_session_or_404(session_id)
    require(can_plan_one_on_ones(current_user, group_session), slot_checks.PLANNERS_ONLY)
    if not form.validate_on_submit():
        return _planner_page(group_session, problem=first_problem(form), status=422)
    try:
        message = act(group_session)
    except GroupVisitsError as exc:
        db.session.rollback()
        return _planner_page(
            get_session_or_404(session_id), problem=str(exc), status=exc.status_code
        )
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("encounters.show_one_on_ones", session_id=session_id) + anchor)


def _slot_id(slot_id: int) -> int:
    """A slot id from the URL; one no table can hold is not found."""
    if slot_id > MAX_ID:
        abort(404)
    return slot_id


def _visit_words(slot: OneOnOneSlot, site) -> str:
    return f"{slot.patient.full_name}: {site.clock(slot.starts_at)} with {slot.provider.full_name}"


@bp.post("/sessions/<int:session_id>/one-on-ones/plan")
@roles(*STAFF)
def plan_one_on_ones(session_id):
    """Plan every one-on-one visit not yet held (seen, under way and hand-placed ones stay)."""
    return _change(
        session_id,
        PlanForm(),
        lambda group_session: _plan_words(
            slot_plans.plan_session(group_session, actor=current_user, now=utcnow())
        ),
    )


@bp.post("/sessions/<int:session_id>/one-on-ones/replan")
@roles(*STAFF)
def replan_one_on_ones(session_id):
    """Plan again from now, after a late arrival or a no-show; nobody seen moves."""
    return _change(
        session_id,
        PlanForm(),
        lambda group_session: _plan_words(
            slot_plans.replan_from_now(group_session, actor=current_user, now=utcnow())
        ),
    )


def _plan_words(outcome: slot_plans.PlanOutcome) -> str:
    placed = len(outcome.placed)
    words = f"Planned: {placed} visit{'s' if placed != 1 else ''} placed"
    if outcome.kept:
        words += f", {len(outcome.kept)} kept as they were"
    if outcome.unplaced:
        count = len(outcome.unplaced)
        words += (
            f". {count} patient{'s' if count != 1 else ''} could not be placed: see "
            "“Needs your attention”"
        )
    return words + "."


@bp.post("/sessions/<int:session_id>/one-on-ones/<int:slot_id>/move")
@roles(*STAFF)
def move_slot(session_id, slot_id):
    """Move one visit by hand to a provider and a start time."""
    form = MoveSlotForm()

    def act(group_session) -> str:
        slot = slot_changes.move_slot(
            group_session,
            _slot_id(slot_id),
            provider_id=form.provider_id.data,
            starts_at=slot_board.instant_at(group_session, form.start_time.data),
            actor=current_user,
        )
        return f"Moved. {_visit_words(slot, group_session.group.site)}."

    return _change(session_id, form, act, f"#slot-{slot_id}")


@bp.post("/sessions/<int:session_id>/one-on-ones/<int:slot_id>/swap")
@roles(*STAFF)
def swap_slots(session_id, slot_id):
    """Swap one visit with another patient's: each takes the other's provider and time."""
    form = SwapSlotsForm()

    def act(group_session) -> str:
        first, second = slot_changes.swap_slots(
            group_session, _slot_id(slot_id), form.other_slot_id.data, actor=current_user
        )
        site = group_session.group.site
        return f"Swapped. {_visit_words(first, site)}; {_visit_words(second, site)}."

    return _change(session_id, form, act, f"#slot-{slot_id}")


@bp.post("/sessions/<int:session_id>/one-on-ones/<int:slot_id>/seen")
@roles(*STAFF)
def mark_slot_seen(session_id, slot_id):
    """Record that a visit took place."""

    def act(group_session) -> str:
        slot = slot_changes.mark_seen(group_session, _slot_id(slot_id), actor=current_user)
        return f"{slot.patient.full_name} was seen."

    return _change(session_id, SlotStatusForm(), act, f"#slot-{slot_id}")


@bp.post("/sessions/<int:session_id>/one-on-ones/<int:slot_id>/missed")
@roles(*STAFF)
def mark_slot_missed(session_id, slot_id):
    """Record that a patient was not there for their visit; its time is freed."""

    def act(group_session) -> str:
        slot = slot_changes.mark_missed(
            group_session, _slot_id(slot_id), actor=current_user, now=utcnow()
        )
        return (
            f"{slot.patient.full_name}'s visit is marked missed. “Re-plan from now” fills the "
            "time freed."
        )

    return _change(session_id, SlotStatusForm(), act, f"#slot-{slot_id}")


@bp.post("/sessions/<int:session_id>/one-on-ones/hours")
@roles(*STAFF)
def set_provider_hours(session_id):
    """Say a provider is free for one-on-ones only part of the session."""
    form = AvailabilityForm()

    def act(group_session) -> str:
        def instant(value):
            return slot_board.instant_at(group_session, value) if value is not None else None

        assignment = slot_changes.set_provider_availability(
            group_session,
            form.provider_id.data,
            available_from=instant(form.available_from.data),
            available_until=instant(form.available_until.data),
            actor=current_user,
        )
        return f"Saved {assignment.user.full_name}'s hours. Planned visits move at the next plan."

    return _change(session_id, form, act, f"#provider-{form.provider_id.data or ''}")


@bp.post("/sessions/<int:session_id>/one-on-ones/needs")
@roles(*STAFF)
def set_visit_need(session_id):
    """Say which discipline one patient's visit must be with today."""
    form = NeedForm()

    def act(group_session) -> str:
        attendance = slot_changes.set_needed_discipline(
            group_session, form.patient_id.data, form.discipline.data, actor=current_user
        )
        need = DISCIPLINES.get(attendance.one_on_one_with or "", "any provider").lower()
        return f"Saved: {attendance.patient.full_name}'s visit today is with {need}."

    return _change(session_id, form, act, "#patients-h")
