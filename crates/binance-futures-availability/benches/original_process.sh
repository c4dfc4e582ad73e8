#!/bin/bash
# Whole-process wall times of our `query snapshot` and `query universe` beside the original
# Python tool's CLI (PyPI `binance-futures-availability` 1.5.0) on the same rows, interleaved so
# that a busy machine slows both alike (BENCHMARKS.md, session 18; issue 29's acceptance).
#
# The original has a `query snapshot DATE --json` (every symbol with a file, delivery contracts
# too: ours with `--contract all --format json`; its default prints ten) and no
# universe: its `query` has snapshot, timeline, range and `analytics` (new listings, delistings,
# daily counts), none of which ranks symbols. So the universe row is ours alone.
#
# It cannot open a DuckDB 2 file, so the rows go over as crates/python/bench/bench.py moves them:
# our `export` writes daily_availability.parquet, and the original's own code (run in its venv,
# with its duckdb 1.x) creates its schema and inserts them; the two snapshots' symbols are
# compared before anything is timed.
#
# One-time setup, the only step that reaches the internet (re-runs with the venv present stay
# offline):
#   python3 -m venv "$ORIG_VENV" && "$ORIG_VENV/bin/pip" install binance-futures-availability==1.5.0
# Then, DB published by BIN (so that `DB.readidx` is there: the snapshot answers from it):
#   BIN=… DB=… ORIG_VENV=… DATE=2024-01-15 N=40 benches/original_process.sh
# A loop of `date +%s%N` around each process (hyperfine is not installed); p50, p95, max.
set -euo pipefail
: "${BIN:?our binary}" "${DB:?a database BIN published}" "${ORIG_VENV:?the venv of the original (see the setup above)}"
N=${N:-40}
DATE=${DATE:-2024-01-15}
orig="$ORIG_VENV/bin/binance-futures-availability"
[ -x "$orig" ] || { echo "no $orig: run the one-time setup at the top of $0" >&2; exit 2; }
[ -f "$DB" ] || { echo "no database at $DB" >&2; exit 2; }
[ -f "$DB.readidx" ] || echo "note: no $DB.readidx, so our snapshot runs are the scan's" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$BIN" export "$work/export" --db "$DB" >/dev/null
"$ORIG_VENV/bin/python" - "$work/original.duckdb" "$work/export/daily_availability.parquet" <<'PY'
import sys
from binance_futures_availability.database.availability_db import AvailabilityDatabase
db = AvailabilityDatabase(db_path=sys.argv[1])  # creates the original's schema
columns = "date, symbol, available, file_size_bytes, last_modified, url, status_code, probe_timestamp"
db.conn.execute(f"INSERT INTO daily_availability ({columns}) SELECT {columns} FROM read_parquet(?)", [sys.argv[2]])
db.conn.execute("CHECKPOINT")
db.conn.close()
PY
export DB_PATH="$work/original.duckdb" # where the original's CLI looks

# The same rows: the two snapshots name the same symbols.
symbols() { python3 -c 'import json, sys; print("\n".join(r["symbol"] for r in json.load(sys.stdin)))'; }
"$BIN" query snapshot "$DATE" --contract all --format json --db "$DB" | symbols >"$work/ours"
"$orig" query snapshot "$DATE" --json | symbols >"$work/theirs"
cmp -s "$work/ours" "$work/theirs" || { echo "the snapshots of $DATE differ:" >&2; diff "$work/ours" "$work/theirs" | head >&2; exit 1; }
echo "snapshot of $DATE: $(wc -l <"$work/ours") symbols in both; original: $("$orig" --version 2>&1)"

out="$work/times"
time_it() { # NAME COMMAND...
  local name=$1 s e
  shift
  s=$(date +%s%N)
  "$@" >/dev/null
  e=$(date +%s%N)
  echo "$name $(( (e - s) / 1000 ))" >>"$out"
}
for _ in $(seq "$N"); do
  time_it "ours:query-snapshot" "$BIN" query snapshot "$DATE" --contract all --format json --db "$DB"
  time_it "original:query-snapshot" "$orig" query snapshot "$DATE" --json
  time_it "ours:query-universe" "$BIN" query universe "$DATE" --top 50 --db "$DB"
  # Each process's start alone, no database: clap; Python, argparse and the imports.
  time_it "ours:--version" "$BIN" --version
  time_it "original:--version" "$orig" --version
done
sort -k1,1 -k2n "$out" | awk '
  { v[$1, ++n[$1]] = $2 / 1000 }
  END { for (k in n) printf "%s: p50 %.1f ms, p95 %.1f ms, max %.1f ms (%d runs)\n",
        k, v[k, int((n[k] + 1) / 2)], v[k, int(n[k] * 0.95 + 0.5)], v[k, n[k]], n[k] }' | sort
