"""Summarise a locust CSV: throughput, p95 and p99 latency, errors; check the targets.

python -m benchmarks.load_report test-results/load_stats.csv
"""

import csv
import sys

P95_TARGET_MS = 100


def main(path: str) -> int:
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    print(f"{'request':<32} {'count':>7} {'fails':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    for row in rows:
        print(
            f"{row['Name'][:32]:<32} {row['Request Count']:>7} {row['Failure Count']:>6} "
            f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
        )
    throughput = float(total["Requests/s"])
    p95, p99 = float(total["95%"]), float(total["99%"])
    errors = int(total["Failure Count"])
    print(
        f"\nthroughput {throughput:.1f} requests/s, p95 {p95:.0f} ms, p99 {p99:.0f} ms, "
        f"{errors} errors"
    )
    ok = errors == 0 and p95 < P95_TARGET_MS
    print(
        "load targets " + ("met" if ok else f"MISSED (want 0 errors and p95 < {P95_TARGET_MS} ms)")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
