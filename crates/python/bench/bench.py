"""The Python package's costs, beside the Rust call and the original Python package on the same
history, in one run (BENCHMARKS.md).

    python crates/python/bench/bench.py      # in a venv with the package, polars and pyarrow

It starts vision-sim (realistic bucket), builds a database with the CLI's `update`, then measures
- `import binance_futures_availability` in fresh processes;
- a snapshot in process: the Rust call (examples/time_snapshot.rs), the package's
  `db.snapshot()`, with `.to_pylist()`, into polars, and the original API's
  `get_available_symbols_on_date`;
- the original package (PyPI `binance-futures-availability` 1.5.0, in a venv of its own under
  the target folder, since it has the same import name) on the same rows, loaded into its own
  schema with its duckdb 1.x (it cannot open a DuckDB 2 file).
"""

from __future__ import annotations

import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/bfa-target"))
BIN = pathlib.Path(os.environ.get("BFA_BIN_DIR") or TARGET / "release")
DAY = "2024-01-15"


def p50_p99(samples):
    samples = sorted(samples)
    return samples[len(samples) // 2], samples[int((len(samples) - 1) * 0.99)]


def timed(f, n=2000):
    for _ in range(n // 10):
        f()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        f()
        out.append((time.perf_counter() - t) * 1e3)
    return p50_p99(out)


def build_database(folder: pathlib.Path) -> pathlib.Path:
    sim = subprocess.Popen(
        [str(BIN / "vision-sim"), "--addr", "127.0.0.1:0", "--corpus", "realistic"],
        stdout=subprocess.PIPE,
        text=True,
    )
    base = sim.stdout.readline().rsplit(" on ", 1)[1].strip()
    db = folder / "availability.duckdb"
    env = dict(os.environ, BFA_DB=str(db), BFA_S3_URL=f"{base}/data.binance.vision", BFA_DATA_URL=base)
    subprocess.run([str(BIN / "binance-futures-availability"), "update", "--quiet"], env=env, check=True)
    subprocess.run(
        [str(BIN / "binance-futures-availability"), "export", str(folder / "export")], env=env, check=True
    )
    sim.kill()
    return db


def original_venv() -> pathlib.Path:
    venv = TARGET / "py-original-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "binance-futures-availability==1.5.0"], check=True
        )
    return python


ORIGINAL = r"""
import sys, time, statistics, duckdb
from binance_futures_availability.queries.snapshots import SnapshotQueries
path, parquet = sys.argv[1], sys.argv[2]
q = SnapshotQueries(db_path=path)        # creates its schema (it opens read-write)
columns = "date, symbol, available, file_size_bytes, last_modified, url, status_code, probe_timestamp"
q.db.conn.execute(f"INSERT INTO daily_availability ({columns}) SELECT {columns} FROM read_parquet(?)", [parquet])
q.db.conn.execute("CHECKPOINT")
rows = q.get_available_symbols_on_date('2024-01-15')
for _ in range(200): q.get_available_symbols_on_date('2024-01-15')
s = []
for _ in range(2000):
    t = time.perf_counter(); q.get_available_symbols_on_date('2024-01-15'); s.append((time.perf_counter() - t) * 1e3)
s.sort()
print(len(rows), s[len(s) // 2], s[int((len(s) - 1) * 0.99)], duckdb.__version__)
"""


def main() -> None:
    import polars as pl

    import binance_futures_availability as bfa
    from binance_futures_availability.queries import AvailabilityQueries

    folder = pathlib.Path(tempfile.mkdtemp(prefix="bfa-pybench-"))
    db_path = build_database(folder)
    print(f"database: {db_path} ({db_path.stat().st_size / 1e6:.1f} MB)")

    code = (
        "import time; t = time.perf_counter(); import binance_futures_availability; "
        "print((time.perf_counter() - t) * 1e3)"
    )
    imports = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(30)
    ]
    print(f"| import binance_futures_availability (fresh process, 30 runs) | {statistics.median(imports):.1f} ms p50 | {max(imports):.1f} ms max |")

    rust = subprocess.run(
        [str(BIN / "examples" / "time_snapshot"), str(db_path), DAY, "2000"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    print(f"| snapshot, Rust `Database::snapshot` | {float(rust[0]):.3f} ms | {float(rust[1]):.3f} ms |")

    db = bfa.open(db_path)
    q = AvailabilityQueries(db_path)
    for name, f in [
        ("snapshot, Python `db.snapshot()` (a Table)", lambda: db.snapshot(DAY)),
        ("snapshot, Python `db.snapshot().to_pylist()`", lambda: db.snapshot(DAY).to_pylist()),
        ("snapshot, Python `pl.DataFrame(db.snapshot())`", lambda: pl.DataFrame(db.snapshot(DAY))),
        ("snapshot, original API `get_available_symbols_on_date`", lambda: q.get_available_symbols_on_date(DAY)),
    ]:
        p50, p99 = timed(f)
        print(f"| {name} | {p50:.3f} ms | {p99:.3f} ms |")

    python = original_venv()
    copy = folder / "original.duckdb"
    out = subprocess.run(
        [str(python), "-c", ORIGINAL, str(copy), str(folder / "export" / "daily_availability.parquet")],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        print(f"original package: failed: {out.stderr[-2000:]}")
        return
    n, p50, p99, version = out.stdout.split()
    ours = len(q.get_available_symbols_on_date(DAY))
    print(f"| original package 1.5.0 `get_available_symbols_on_date` (duckdb {version}, {n} rows; ours {ours}) | {float(p50):.3f} ms | {float(p99):.3f} ms |")


if __name__ == "__main__":
    main()
