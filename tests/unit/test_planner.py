"""The one-on-one planner: every hard rule holds, and its plans are the true optimum."""

import random

import pytest

from groupvisits.encounters import planner
from groupvisits.encounters.planner import (
    Fixed,
    Patient,
    Plan,
    Problem,
    Provider,
    Slot,
    candidate_starts,
    plan,
    score,
)

RANDOM_INSTANCES = 250


def assert_feasible(problem: Problem, result: Plan) -> None:
    """Check every hard rule from the problem's own fields, independently of the planner."""
    slot = problem.slot_minutes
    patients = {patient.id: patient for patient in problem.patients}
    providers = {provider.id: provider for provider in problem.providers}
    placed = [s.patient_id for s in result.slots]
    assert len(placed) == len(set(placed)), "a patient placed twice"
    assert set(placed) | set(result.unplaced) == set(patients)
    assert not set(placed) & set(result.unplaced)
    assert all(reason for reason in result.unplaced.values())
    assert result.slots == sorted(result.slots, key=lambda s: (s.start, s.provider_id))
    busy = {provider_id: [] for provider_id in providers}
    for held in problem.fixed:
        if held.provider_id in busy:
            busy[held.provider_id].append((held.start, held.start + slot))
    for s in result.slots:
        patient, provider = patients[s.patient_id], providers[s.provider_id]
        start, end = s.start, s.start + slot
        assert patient.needs in (None, provider.discipline)
        assert start >= patient.arrives_at
        assert start >= problem.not_before
        assert 0 <= start and end <= problem.window
        spans = provider.available or ((0, problem.window),)
        covered = all(any(a <= m < b for a, b in spans) for m in range(start, end))
        assert covered, "outside availability"
        assert not any(a < end and start < b for a, b in problem.blocked), "in a blocked span"
        assert not any(a < end and start < b for a, b in busy[s.provider_id]), "double-booked"
        busy[s.provider_id].append((start, end))


def best_by_exhaustive_search(problem: Problem) -> float:
    """The best `score` over every feasible assignment, enumerated one patient at a time."""
    cells = [
        (provider, start)
        for provider in problem.providers
        for start in candidate_starts(problem, provider)
    ]
    best = float("-inf")
    chosen: list[Slot] = []
    taken = [False] * len(cells)

    def visit(i: int) -> None:
        nonlocal best
        if i == len(problem.patients):
            best = max(best, score(problem, chosen))
            return
        patient = problem.patients[i]
        visit(i + 1)  # this patient left unplaced
        for c, (provider, start) in enumerate(cells):
            if taken[c] or start < patient.arrives_at:
                continue
            if patient.needs not in (None, provider.discipline):
                continue
            taken[c] = True
            chosen.append(Slot(patient.id, provider.id, start))
            visit(i + 1)
            chosen.pop()
            taken[c] = False

    visit(0)
    return best


def random_problem(rng: random.Random) -> Problem:
    """A small session with every kind of rule, drawn at random."""
    window = rng.choice((30, 32, 36, 40))
    slot = rng.choice((8, 10))
    providers = []
    for provider_id in range(1, rng.randint(2, 3) + 1):
        discipline = rng.choice(("resident", "resident", "attending", "pharmacist"))
        available = ()
        if rng.random() < 0.5:
            start = rng.randrange(0, window // 2)
            available = ((start, rng.randrange(start + 1, window + 10)),)
            if rng.random() < 0.3:
                available += ((available[0][1] + rng.randint(0, 6), window),)
        providers.append(Provider(provider_id, discipline, available))
    blocked = ()
    if rng.random() < 0.4:
        start = rng.randrange(0, window)
        blocked = ((start, start + rng.randint(2, 8)),)
    fixed = tuple(
        Fixed(900 + provider.id, provider.id, rng.randrange(0, window - slot))
        for provider in providers
        if rng.random() < 0.3
    )
    not_before = 0 if rng.random() < 0.6 else rng.randrange(0, window // 2)
    patients = tuple(
        Patient(
            100 + k,
            needs=rng.choice((None, None, None, None, "pharmacist", "resident", "dietitian")),
            last_provider_id=rng.choice((None, 1, 2, 3)),
            arrives_at=0 if rng.random() < 0.6 else rng.randrange(0, window),
            asked=rng.random() < 0.4,
        )
        for k in range(rng.randint(0, 5))
    )
    return Problem(window, slot, tuple(providers), patients, blocked, fixed, not_before)


@pytest.mark.parametrize("seed", range(RANDOM_INSTANCES))
def test_plan_is_feasible_and_as_good_as_an_exhaustive_search(seed):
    problem = random_problem(random.Random(seed))

    result = plan(problem)

    assert_feasible(problem, result)
    assert result.objective == pytest.approx(best_by_exhaustive_search(problem), abs=1e-6)
    assert score(problem, result.slots) == pytest.approx(result.objective, abs=1e-6)


def team(*disciplines: str) -> tuple[Provider, ...]:
    return tuple(Provider(k, discipline) for k, discipline in enumerate(disciplines, start=1))


def patients(count: int, **fields) -> tuple[Patient, ...]:
    return tuple(Patient(100 + k, **fields) for k in range(count))


def test_candidate_starts_cut_each_free_span_from_its_start():
    problem = Problem(
        window=60,
        slot_minutes=10,
        providers=(Provider(1, "resident", ((5, 40), (45, 70))),),
        patients=(),
        blocked=((22, 25),),
        fixed=(Fixed(900, 1, 50),),
    )

    assert candidate_starts(problem, problem.providers[0]) == [5, 25]


def test_candidate_starts_begin_at_not_before_and_never_overlap_a_fixed_slot():
    problem = Problem(60, 8, team("resident"), (), fixed=(Fixed(900, 1, 20),), not_before=12)

    assert candidate_starts(problem, problem.providers[0]) == [12, 28, 36, 44, 52]
    problem = Problem(60, 8, team("resident"), (), fixed=(Fixed(900, 1, 20),), not_before=13)
    assert candidate_starts(problem, problem.providers[0]) == [28, 36, 44, 52]


def test_patient_who_needs_a_pharmacist_sees_the_pharmacist():
    problem = Problem(40, 10, team("resident", "pharmacist"), (Patient(1, needs="pharmacist"),))

    result = plan(problem)

    assert result.slots == [Slot(1, 2, 0)]


def test_patient_needing_a_discipline_nobody_has_is_told_so():
    problem = Problem(40, 10, team("resident"), (Patient(1, needs="pharmacist"),))

    result = plan(problem)

    assert result.slots == []
    assert result.unplaced == {1: "needs a pharmacist, and no pharmacist is on the team"}


def test_patient_needing_a_provider_with_no_free_time_is_told_so():
    providers = (Provider(1, "resident"), Provider(2, "attending", ((0, 30),)))
    problem = Problem(
        30,
        10,
        providers,
        (Patient(1, needs="attending"),),
        blocked=((0, 10),),
        fixed=(Fixed(8, 2, 10), Fixed(9, 2, 20)),
    )

    result = plan(problem)

    assert result.unplaced == {1: "needs an attending, and no attending is free in the window"}


def test_late_arrival_starts_after_arriving_and_on_time_patient_is_seen_first():
    problem = Problem(
        60, 10, team("resident"), (Patient(1, arrives_at=23), Patient(2, arrives_at=0))
    )

    result = plan(problem)

    assert result.slots == [Slot(2, 1, 0), Slot(1, 1, 30)]


def test_patient_arriving_after_the_last_slot_is_told_so():
    problem = Problem(40, 10, team("resident"), (Patient(1, arrives_at=31),))

    assert plan(problem).unplaced == {1: "arrives after the last slot"}


def test_no_slot_overlaps_a_blocked_span():
    problem = Problem(60, 10, team("resident", "attending"), patients(10), blocked=((15, 30),))

    result = plan(problem)

    assert_feasible(problem, result)
    assert len(result.slots) == 8
    assert all(s.start + 10 <= 15 or s.start >= 30 for s in result.slots)


def test_fixed_slots_are_kept_and_never_double_booked():
    fixed = (Fixed(900, 1, 0), Fixed(901, 1, 20))
    problem = Problem(40, 10, team("resident"), patients(3), fixed=fixed)

    result = plan(problem)

    assert_feasible(problem, result)
    assert sorted(s.start for s in result.slots) == [10, 30]
    assert list(result.unplaced.values()) == ["no slot left in the window"]


def test_replan_after_a_no_show_keeps_fixed_slots_and_starts_nothing_before_now():
    providers = team("resident", "resident")
    first = plan(Problem(60, 10, providers, patients(6)))
    seen = [s for s in first.slots if s.start < 20]
    no_show = next(s for s in first.slots if s.start == 20)
    fixed = tuple(Fixed(s.patient_id, s.provider_id, s.start) for s in seen)
    waiting = tuple(
        Patient(s.patient_id) for s in first.slots if s.start >= 20 and s != no_show
    ) + (Patient(200, arrives_at=24),)

    problem = Problem(60, 10, providers, waiting, fixed=fixed, not_before=25)
    result = plan(problem)

    assert_feasible(problem, result)
    assert all(s.start >= 25 for s in result.slots)
    assert not {s.patient_id for s in result.slots} & {f.patient_id for f in fixed}
    assert len(result.slots) == len(waiting)


def test_continuity_provider_is_chosen_when_free_even_if_a_bit_later():
    providers = team("attending", "attending")
    problem = Problem(
        40,
        10,
        providers,
        (Patient(1, last_provider_id=2), Patient(2)),
        fixed=(Fixed(900, 2, 0),),
    )

    result = plan(problem)

    assert Slot(1, 2, 10) in result.slots
    assert Slot(2, 1, 0) in result.slots


def test_nine_patients_over_three_residents_make_three_each():
    result = plan(Problem(60, 10, team("resident", "resident", "resident"), patients(9)))

    loads = [sum(s.provider_id == r for s in result.slots) for r in (1, 2, 3)]
    assert loads == [3, 3, 3]


def test_resident_loads_count_the_slots_already_held():
    fixed = (Fixed(900, 1, 0), Fixed(901, 1, 10))
    problem = Problem(60, 10, team("resident", "resident"), patients(2), fixed=fixed)

    result = plan(problem)

    assert [s.provider_id for s in result.slots] == [2, 2]


def test_when_over_capacity_the_patients_who_asked_are_placed_first():
    people = patients(4) + tuple(Patient(200 + k, asked=True) for k in range(3))
    problem = Problem(30, 10, team("resident"), people)

    result = plan(problem)

    assert {s.patient_id for s in result.slots} == {200, 201, 202}
    assert set(result.unplaced.values()) == {"no slot left in the window"}


def test_twelve_patients_with_three_residents_and_an_attending_all_fit_in_an_hour():
    providers = team("resident", "resident", "resident", "attending")
    people = tuple(
        Patient(100 + k, last_provider_id=1 + k % 4, arrives_at=5 * (k % 3), asked=k % 2 == 0)
        for k in range(12)
    )
    problem = Problem(60, 10, providers, people)

    result = plan(problem)

    assert_feasible(problem, result)
    assert result.unplaced == {}
    assert score(problem, result.slots) == pytest.approx(result.objective, abs=1e-6)


def test_empty_problems_are_answered_without_the_solver(monkeypatch):
    def no_solver(*args, **kwargs):
        raise AssertionError("the solver was called")

    monkeypatch.setattr(planner, "milp", no_solver)
    nobody_free = (Provider(1, "resident", ((50, 60),)),)

    assert plan(Problem(60, 10, team("resident"), ())) == Plan([], {}, 0.0)
    assert plan(Problem(60, 10, (), patients(1))).unplaced == {
        100: "no provider is free in the window"
    }
    assert plan(Problem(40, 10, nobody_free, patients(1))).unplaced == {
        100: "no provider is free in the window"
    }


def test_a_patient_who_already_holds_a_slot_cannot_be_placed_again():
    with pytest.raises(ValueError):
        plan(Problem(40, 10, team("resident"), patients(1), fixed=(Fixed(100, 1, 0),)))
