"""The one-on-one visit planner: patients to providers and start times, solved optimally.

Pure and database-free: services turn a session into a `Problem`, call `plan`, and
store the returned slots. Times are integer minutes from the start of the session's
one-on-one window.

The plan is the optimum of a mixed-integer program solved by HiGHS (`scipy.optimize.milp`):

* a binary variable for each (patient, provider, start) the hard rules allow;
* each patient in at most one slot, each (provider, start) holding at most one patient
  (a provider's candidate starts never overlap, so that is enough);
* two more variables, the heaviest and the lightest resident load, bound by the loads
  so that ``W_SPREAD * (heaviest - lightest)`` can be subtracted linearly.

`score` computes the same objective directly, for any feasible set of slots.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

# The weights of the objective (maximised). Every term is an integer, so plans compare
# exactly. They are lexicographic for any session of up to 40 patients whose one-on-one
# window lasts up to 4 hours (a group is 8-15 patients, a session 90-120 minutes):
#   placing one more patient > everything the other terms can add up to;
#   placing one more patient who asked > continuity, waiting and spread together;
#   continuity (and an even resident load) > the longest wait of one patient in a
#   window of up to 2 hours.

#: Per minute between a patient's arrival and their slot's start: an on-time patient is
#: seen early; a late one naturally goes later, since no slot starts before arrival.
W_WAIT = 1
#: Seeing the provider seen last time. Worth more than making one patient wait a whole
#: 2-hour window, so a free continuity slot wins over a sooner one with someone new.
W_CONTINUITY = 120
#: Per visit of difference between the busiest and the least busy resident (fixed slots
#: counted). As much as one continuity, so that neither rule always overrides the other:
#: an uneven teaching load is as bad as one patient losing their provider.
W_SPREAD = 120
#: Placing a patient who asked for a one-on-one at check-in. More than the most that
#: continuity, waiting and spread can swing for 40 patients (40 * (120 + 240 + 120)), so
#: when not everyone fits, those who asked are placed first.
W_ASKED = 20_000
#: Placing a patient at all. More than 40 * (W_ASKED + 480), so more patients always win.
W_PLACED = 1_000_000

#: The discipline whose loads are kept even (residents need their share of visits).
RESIDENT = "resident"
#: A safety net only: a session's plan takes milliseconds. Hitting it raises PlanningFailed.
TIME_LIMIT_SECONDS = 10.0


@dataclass(frozen=True)
class Provider:
    """A clinician who sees patients one-on-one during the session."""

    id: int
    discipline: str  # "attending", "resident", "nurse_practitioner", "pharmacist", ...
    #: [start, end) minute spans inside the window; () means the whole window.
    available: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Patient:
    """A patient to place in a one-on-one slot."""

    id: int
    #: A discipline the visit must be with (e.g. "pharmacist"): a hard rule.
    needs: str | None = None
    #: Continuity: the provider they saw last time (a preference).
    last_provider_id: int | None = None
    #: The minute they arrived or will arrive: no slot of theirs starts before it.
    arrives_at: int = 0
    #: Asked for a one-on-one at check-in: placed first when not everyone fits.
    asked: bool = False


@dataclass(frozen=True)
class Fixed:
    """A slot already held (seen, under way, or placed by hand): kept as it is."""

    patient_id: int
    provider_id: int
    start: int


@dataclass(frozen=True)
class Problem:
    """Everything the planner needs to know about one session's one-on-one window."""

    window: int  # the window's length in minutes
    slot_minutes: int
    providers: tuple[Provider, ...]
    patients: tuple[Patient, ...]  # those to place, not those in `fixed`
    #: "No pull-outs" spans (the group's key moments): no slot may overlap one.
    blocked: tuple[tuple[int, int], ...] = ()
    fixed: tuple[Fixed, ...] = ()
    #: When re-planning during the session: no new slot starts before this minute.
    not_before: int = 0


@dataclass(frozen=True)
class Slot:
    """One planned one-on-one visit; it ends at start + slot_minutes."""

    patient_id: int
    provider_id: int
    start: int


@dataclass
class Plan:
    """The planner's answer: new slots, who could not be placed and why, the objective."""

    slots: list[Slot]  # new slots only, sorted by (start, provider_id)
    unplaced: dict[int, str]  # patient id -> the reason, in plain English
    objective: float


class PlanningFailed(RuntimeError):
    """The solver did not prove a plan optimal (it should never happen in a session)."""


def candidate_starts(problem: Problem, provider: Provider) -> list[int]:
    """The minutes at which ``provider`` could start a new slot; no two of them overlap.

    Each maximal free span (availability within the window, minus blocked spans, the
    provider's fixed slots and the minutes before ``not_before``) is cut from its start
    into consecutive whole slots.
    """
    slot = problem.slot_minutes
    available = provider.available or ((0, problem.window),)
    spans = _merge([(max(start, 0), min(end, problem.window)) for start, end in available])
    cuts = list(problem.blocked)
    cuts += [(f.start, f.start + slot) for f in problem.fixed if f.provider_id == provider.id]
    if problem.not_before > 0:
        cuts.append((0, problem.not_before))
    starts = []
    for start, end in _subtract(spans, _merge(cuts)):
        starts.extend(range(start, end - slot + 1, slot))
    return starts


def score(problem: Problem, slots: list[Slot]) -> float:
    """The objective of a feasible set of new slots, computed directly from the weights."""
    patients = {patient.id: patient for patient in problem.patients}
    loads = dict.fromkeys(_residents_present(problem), 0)
    for held in problem.fixed:
        if held.provider_id in loads:
            loads[held.provider_id] += 1
    total = 0
    for slot in slots:
        patient = patients[slot.patient_id]
        total += W_PLACED - W_WAIT * (slot.start - patient.arrives_at)
        if patient.asked:
            total += W_ASKED
        if patient.last_provider_id == slot.provider_id:
            total += W_CONTINUITY
        if slot.provider_id in loads:
            loads[slot.provider_id] += 1
    if loads:
        total -= W_SPREAD * (max(loads.values()) - min(loads.values()))
    return float(total)


def plan(problem: Problem) -> Plan:
    """The best plan for ``problem``: the optimum of the objective, under every hard rule.

    :raises ValueError: the problem is malformed (a patient twice, or also in ``fixed``).
    :raises PlanningFailed: the solver stopped without proving its plan optimal.
    """
    _check(problem)
    providers, patients = problem.providers, problem.patients
    starts = {provider.id: candidate_starts(problem, provider) for provider in providers}
    cell_provider = np.array(
        [k for k, provider in enumerate(providers) for _ in starts[provider.id]], dtype=np.intp
    )
    cell_start = np.array([t for provider in providers for t in starts[provider.id]], dtype=float)
    arrives = np.array([patient.arrives_at for patient in patients], dtype=float)
    discipline_ok = np.array(
        [[p.needs is None or p.needs == q.discipline for q in providers] for p in patients],
        dtype=bool,
    ).reshape(len(patients), len(providers))
    eligible = discipline_ok[:, cell_provider] & (cell_start[None, :] >= arrives[:, None])
    var_patient, var_cell = np.nonzero(eligible)
    if not len(var_patient):
        return _plan_from(problem, [], starts, score(problem, []))

    solution, objective = _solve(problem, starts, var_patient, var_cell, cell_provider, cell_start)
    slots = [
        Slot(patients[i].id, providers[cell_provider[c]].id, int(cell_start[c]))
        for i, c in zip(var_patient[solution], var_cell[solution], strict=True)
    ]
    return _plan_from(problem, slots, starts, objective)


def _solve(problem, starts, var_patient, var_cell, cell_provider, cell_start):
    """Solve the MILP; the chosen variables (a boolean mask) and the objective's value."""
    providers, patients = problem.providers, problem.patients
    n_vars, n_patients, n_cells = len(var_patient), len(patients), len(cell_start)
    var_provider = cell_provider[var_cell]
    index_of = {provider.id: k for k, provider in enumerate(providers)}
    last = np.array([index_of.get(p.last_provider_id, -1) for p in patients], dtype=np.intp)
    asked = np.array([p.asked for p in patients], dtype=float)
    arrives = np.array([p.arrives_at for p in patients], dtype=float)
    gain = (
        W_PLACED
        + W_ASKED * asked[var_patient]
        + W_CONTINUITY * (var_provider == last[var_patient])
        - W_WAIT * (cell_start[var_cell] - arrives[var_patient])
    )

    # Rows: one per patient, one per (provider, start): each at most 1.
    columns = np.arange(n_vars)
    rows = [var_patient, n_patients + var_cell]
    cols = [columns, columns]
    values = [np.ones(n_vars), np.ones(n_vars)]
    upper = [np.ones(n_patients + n_cells)]
    cost = -gain
    n_cols = n_vars

    residents = _residents_present(problem)
    if len(residents) >= 2:
        # Columns n_vars and n_vars + 1 are the heaviest and lightest resident loads:
        #   load_r - heaviest <= 0 and lightest - load_r <= 0, with load_r = fixed_r + sum x.
        heaviest, lightest = n_vars, n_vars + 1
        position = np.full(len(providers), -1, dtype=np.intp)
        for r, provider_id in enumerate(residents):
            position[index_of[provider_id]] = r
        fixed = np.zeros(len(residents))
        for held in problem.fixed:
            if held.provider_id in residents:
                fixed[residents.index(held.provider_id)] += 1
        on_resident = position[var_provider] >= 0
        resident_rows = position[var_provider[on_resident]]
        n_res = len(residents)
        top, bottom = n_patients + n_cells, n_patients + n_cells + n_res
        every = np.arange(n_res)
        rows += [top + resident_rows, top + every, bottom + resident_rows, bottom + every]
        cols += [
            columns[on_resident],
            np.full(n_res, heaviest),
            columns[on_resident],
            np.full(n_res, lightest),
        ]
        values += [np.ones(on_resident.sum()), -np.ones(n_res), -np.ones(on_resident.sum())]
        values += [np.ones(n_res)]
        upper += [-fixed, fixed]
        cost = np.concatenate([cost, [W_SPREAD, -W_SPREAD]])
        n_cols += 2

    upper = np.concatenate(upper)
    matrix = coo_array(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(upper), n_cols),
    ).tocsr()
    # The two load bounds could be continuous (they settle on whole loads anyway), but
    # then HiGHS 1.12 runs "repair LPs" for them and prints a debug line on stdout.
    integrality = np.ones(n_cols)
    high = np.full(n_cols, np.inf)
    high[:n_vars] = 1
    result = milp(
        cost,
        constraints=LinearConstraint(matrix, -np.inf, upper),
        integrality=integrality,
        bounds=Bounds(np.zeros(n_cols), high),
        # Every coefficient is an integer: ask for the proven optimum, not one within 0.01 %.
        options={"time_limit": TIME_LIMIT_SECONDS, "mip_rel_gap": 0.0},
    )
    if result.status != 0:
        raise PlanningFailed(f"the planner found no proven optimum: {result.message}")
    # At the optimum every variable is integral; rounding removes the solver's tolerance.
    values_at_optimum = np.rint(result.x)
    return values_at_optimum[:n_vars] > 0.5, -float(cost @ values_at_optimum)


def _plan_from(problem, slots, starts, objective) -> Plan:
    placed = {slot.patient_id for slot in slots}
    unplaced = {
        patient.id: _why_unplaced(problem, patient, starts)
        for patient in problem.patients
        if patient.id not in placed
    }
    slots.sort(key=lambda slot: (slot.start, slot.provider_id))
    return Plan(slots=slots, unplaced=unplaced, objective=objective)


def _why_unplaced(problem: Problem, patient: Patient, starts: dict[int, list[int]]) -> str:
    """The most specific true reason a patient has no slot."""
    if patient.needs is None:
        able = problem.providers
        if not any(starts[provider.id] for provider in able):
            return "no provider is free in the window"
    else:
        name = patient.needs.replace("_", " ")
        able = [p for p in problem.providers if p.discipline == patient.needs]
        if not able:
            return f"needs {_article(name)} {name}, and no {name} is on the team"
        if not any(starts[provider.id] for provider in able):
            return f"needs {_article(name)} {name}, and no {name} is free in the window"
    if not any(t >= patient.arrives_at for provider in able for t in starts[provider.id]):
        return "arrives after the last slot"
    if patient.needs is not None:
        return f"no {patient.needs.replace('_', ' ')} slot left in the window"
    return "no slot left in the window"


def _residents_present(problem: Problem) -> list[int]:
    """Ids of the residents whose loads are kept even: those at the session.

    A resident is at the session if available at some time in the window or already
    holding a slot; a resident listed but away the whole window would pin the lightest
    load at zero.
    """
    holding = {held.provider_id for held in problem.fixed}
    present = []
    for provider in problem.providers:
        if provider.discipline != RESIDENT:
            continue
        spans = provider.available or ((0, problem.window),)
        if provider.id in holding or any(
            max(start, 0) < min(end, problem.window) for start, end in spans
        ):
            present.append(provider.id)
    return present


def _check(problem: Problem) -> None:
    if problem.slot_minutes <= 0:
        raise ValueError("slot_minutes must be positive")
    ids = [patient.id for patient in problem.patients]
    if len(set(ids)) != len(ids):
        raise ValueError("a patient is listed twice")
    if set(ids) & {held.patient_id for held in problem.fixed}:
        raise ValueError("a patient to place already holds a fixed slot")
    provider_ids = [provider.id for provider in problem.providers]
    if len(set(provider_ids)) != len(provider_ids):
        raise ValueError("a provider is listed twice")


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _merge(spans) -> list[tuple[int, int]]:
    """Non-empty spans sorted, with overlapping or touching ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(spans, cuts) -> list[tuple[int, int]]:
    """What is left of sorted disjoint ``spans`` once sorted disjoint ``cuts`` are removed."""
    left = []
    for start, end in spans:
        for cut_start, cut_end in cuts:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                left.append((start, cut_start))
            start = max(start, cut_end)
            if start >= end:
                break
        if start < end:
            left.append((start, end))
    return left
