"""Snapshot, range and the original API's snapshot through the installed package, in process,
p50/p99 in µs, and a handle's first snapshot (which builds its read index): BENCHMARKS.md,
session 16. Run it with two venvs (the package before and after a change) on one database.

    python crates/python/bench/time_snapshot.py DB [DAY]
"""
import sys, time
import binance_futures_availability as bfa
from binance_futures_availability.queries import AvailabilityQueries

path, day = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "2024-01-15")


def timed(f, n=5000):
    for _ in range(n // 10):
        f()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        out.append((time.perf_counter() - t) * 1e6)
    out.sort()
    return out[len(out) // 2], out[int((len(out) - 1) * 0.99)]


db = bfa.open(path)
q = AvailabilityQueries(path)
t = time.perf_counter()
rows = len(db.snapshot(day))
first = (time.perf_counter() - t) * 1e3
print(f"first snapshot of the handle: {first:.1f} ms ({rows} rows)")
for name, f in [
    ("db.snapshot(DAY)", lambda: db.snapshot(day)),
    ("db.snapshot(DAY).to_pylist()", lambda: db.snapshot(day).to_pylist()),
    ("q.get_available_symbols_on_date(DAY)", lambda: q.get_available_symbols_on_date(day)),
    ("db.range(DAY-30, DAY)", lambda: db.range("2023-12-16", day)),
]:
    p50, p99 = timed(f)
    print(f"| {name} | {p50:.1f} µs | {p99:.1f} µs |")
