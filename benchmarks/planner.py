"""Time the one-on-one planner on the largest session it is built for.

    python -m benchmarks.planner [--runs N]

Fifteen patients and six providers in a 60-minute window of 8-minute slots, with
every rule at work: a no-pull-out span, part-time providers, patients who need the
pharmacist (one more than the pharmacist can see), late arrivals, continuity and
check-in requests. `benchmarks.run` prints the same line beside the pages.
"""

import argparse
import statistics
import sys
import time

from groupvisits.encounters.planner import Patient, Problem, Provider, plan

NAME = "one-on-one planner"
#: Target: the median plan of the largest session within this many milliseconds.
TARGET_MS = 100.0


def largest_problem() -> Problem:
    """15 patients, 6 providers, a 60-minute window, 8-minute slots."""
    providers = (
        Provider(1, "resident"),
        Provider(2, "resident"),
        Provider(3, "resident", ((10, 60),)),
        Provider(4, "attending"),
        Provider(5, "nurse_practitioner", ((0, 40),)),
        Provider(6, "pharmacist", ((20, 60),)),
    )
    patients = tuple(
        Patient(
            100 + k,
            needs="pharmacist" if k % 4 == 0 else None,
            last_provider_id=1 + k % 5 if k % 3 else None,
            arrives_at=15 if k % 5 == 4 else 0,
            asked=k % 3 == 1,
        )
        for k in range(15)
    )
    return Problem(60, 8, providers, patients, blocked=((24, 30),))


def median_ms(runs: int = 50) -> float:
    """Median milliseconds of `plan` on the largest problem, after one warm-up run."""
    problem = largest_problem()
    plan(problem)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        plan(problem)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def report(runs: int = 50) -> list[str]:
    """Print the planner's line in `benchmarks.run`'s table; the targets it misses."""
    elapsed = median_ms(runs)
    print(f"{NAME:<26} {'':>6} {'':>7} {elapsed:>10.2f}  (target {TARGET_MS:.0f} ms)")
    return [f"{NAME}: {elapsed:.1f} ms > {TARGET_MS:.0f} ms"] if elapsed > TARGET_MS else []


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args(argv)
    failures = report(args.runs)
    for failure in failures:
        print(f"Target missed: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
