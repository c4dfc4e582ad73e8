#!/usr/bin/env bash
# Where a backfill's CPU goes, per listed key (issue 13): runs `backfill --no-trading` against
# the realistic simulated bucket at 50 ms latency under `perf record` with DWARF call graphs,
# and sums the samples by what the stack is doing (listing decode, DuckDB, HTTP, collect).
#
# Run: bash crates/binance-futures-availability/benches/profile_backfill.sh
# Needs: perf, python3, a release build in $CARGO_TARGET_DIR (cargo build --release --workspace).
set -euo pipefail
bin="${CARGO_TARGET_DIR:-$HOME/.cache/bfa-target}/release"
work="$(mktemp -d)"
trap 'kill "$sim" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/vision-sim" --addr 127.0.0.1:0 --latency-ms 50 >"$work/sim.log" 2>&1 &
sim=$!
until grep -q "serving" "$work/sim.log"; do
    kill -0 "$sim" || { cat "$work/sim.log"; exit 1; }
    sleep 0.2
done
url=$(grep -o 'http://[0-9.:]*' "$work/sim.log" | head -1)
export BFA_S3_URL="$url/data.binance.vision" BFA_DATA_URL="$url" BFA_DB="$work/a.duckdb"
/usr/bin/time -f "backfill: %e s wall, %U s user + %S s system, peak RSS %M KiB" \
    "$bin/binance-futures-availability" backfill --no-trading --quiet
rm -rf "$work"/a.duckdb*
perf record -q -F 499 --call-graph dwarf,16384 -o "$work/perf.data" \
    "$bin/binance-futures-availability" backfill --no-trading --quiet
perf script -i "$work/perf.data" 2>/dev/null | python3 -c '
import collections, re, sys
samples = sys.stdin.read().split("\n\n")
kinds = [
    ("listing: XML decode and key parsing", ("vision::list", "quick_xml")),
    ("DuckDB: writes, sort, checkpoint, compaction", ("duckdb::", "duckdb_", "store::")),
    ("HTTP: hyper, reqwest, sockets", ("hyper", "reqwest", "h2::", "mio::", "tokio::net")),
    ("collect: planning, row building", ("collect::",)),
]
by_kind, leaves, n = collections.Counter(), collections.Counter(), 0
for s in samples:
    lines = [l.strip() for l in s.strip().split("\n") if l.strip()]
    if len(lines) < 2:
        continue
    n += 1
    frames = [re.sub(r"^[0-9a-f]+ |\+0x[0-9a-f]+.*$| \(.*$", "", l) for l in lines[1:]]
    text = " ".join(frames)
    by_kind[next((k for k, marks in kinds if any(m in text for m in marks)), "other")] += 1
    leaves[frames[0][:90]] += 1
print(f"{n} samples at 499 Hz (~{n / 499:.1f} CPU-seconds)")
for k, v in by_kind.most_common():
    print(f"{100 * v / n:5.1f} %  {k}")
print("top leaf functions:")
for k, v in leaves.most_common(12):
    print(f"{100 * v / n:5.1f} %  {k}")
'
