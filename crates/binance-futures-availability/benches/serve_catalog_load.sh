#!/usr/bin/env bash
# `serve` under load on the catalog while `catalog update` publishes beside it (issue 27's
# acceptance: one symbol's files ≥ 1,000 answers a second on 2 cores, p99 ≤ 50 ms). A catalog
# of vision-sim's whole bucket at SCALE is crawled as of AS_OF; then wrk asks
# /v1/catalog/files/um/daily/klines/1m?symbol=S (JSON, every file of S: S one of the dataset's
# symbols at random) over keep-alive connections, while `catalog update` runs back to back at
# nice 10 (as deploy/ runs the scheduler), each against a simulator one day later at 50 ms a
# request, so each run adds a day's files and publishes a new catalog that serve swaps in.
#
#   flock /tmp/bfa-cargo.lock bash benches/serve_catalog_load.sh [SCALE] [SECONDS] [CONNECTIONS]
#
# Binaries from $BIN_DIR, else $CARGO_TARGET_DIR/release (default ~/.cache/bfa-target): a
# baseline's binaries copied aside run with BIN_DIR=that/folder. Needs wrk.
#
# The simulator stands in for Binance's servers, whose CPU a deployment does not pay; it runs
# at nice $SIM_NICE (0 unless given), and the CPU it, `serve` and the updates took during the
# run is printed (from /proc and bash's `times`), so what shares the two cores with `serve` is
# known.
set -euo pipefail
scale="${1:-0.1}"
secs="${2:-20}"
conns="${3:-8}"
as_of="${AS_OF:-2026-11-15}"
bin="${BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/bfa-target}/release}"
sim_nice="${SIM_NICE:-0}"
ticks=$(getconf CLK_TCK)
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
export BFA_DB="$work/bfa.duckdb"
# A simulator of the bucket as of day $1 with $2 ms latency; sets sim_pid and the URLs. Each
# writes a log of its own: with one log, the next simulator's truncation of it raced the read
# of the last one's address, and an update could be sent to a simulator already stopped.
sim() {
  local log="$work/sim.$1.log"
  nice -n "$sim_nice" "$bin/vision-sim" --corpus vision --scale "$scale" --as-of "$1" --latency-ms "$2" \
    --addr 127.0.0.1:0 >"$log" 2>&1 &
  sim_pid=$!
  until grep -q "export" "$log" 2>/dev/null; do sleep 0.1; done
  eval "$(grep export "$log")"
  export BFA_S3_URL BFA_DATA_URL
}
sim "$as_of" 0
"$bin/binance-futures-availability" catalog update --quiet
kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true
"$bin/binance-futures-availability" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
serve_pid=$!
until grep -qo 'http://127.0.0.1:[0-9]*' "$work/serve.log" 2>/dev/null; do sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)
until curl -sf "$url/v1/catalog/strays" >/dev/null; do sleep 0.1; done

"$bin/binance-futures-availability" catalog symbols um/daily/klines/1m --format json |
  python3 -c '
import json, sys, urllib.parse
rows = json.load(sys.stdin)
# Percent-encoded (ASCII, no quotes): the bucket has names like 币安USDT.
print("symbols = {" + ",".join("\"%s\"" % urllib.parse.quote(r["symbol"], safe="") for r in rows) + "}")
print("-- %d symbols, %d files" % (len(rows), sum(r["files"] for r in rows)))' >"$work/symbols.lua"
cat >>"$work/symbols.lua" <<'LUA'
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/catalog/files/um/daily/klines/1m?symbol=" .. symbols[math.random(#symbols)])
end
LUA
echo "catalog: $(stat -c %s "$work/catalog.duckdb") bytes; um/daily/klines/1m: $(sed -n 's/^-- //p' "$work/symbols.lua")"

# CPU seconds a process has used (user and system), from /proc.
cpu() { awk -v t="$ticks" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Updates back to back, each a day later than the last, until stopped. Each finished update's
# CPU (user and system, from `times` in the shell that ran it) and its simulator's (read
# before it is stopped) go to files.
touch "$work/updates" "$work/update_cpu" "$work/sim_cpu"
(
  sim_pid=
  # On any exit, a failed update's too: a simulator left running keeps the build lock's file
  # open (it inherits flock's descriptor), and every other build waits for it.
  trap 'kill $sim_pid 2>/dev/null' EXIT
  trap 'exit' TERM
  day="$as_of"
  while true; do
    day=$(date -u -d "$day + 1 day" +%F)
    sim "$day" 50
    # `times` last in the shell that waited for the update (in a pipeline it would report a
    # subshell's nothing).
    nice -n 10 bash -c '"$0" catalog update --quiet && times' \
      "$bin/binance-futures-availability" | tail -1 >>"$work/update_cpu"
    date +%s.%N >>"$work/updates"
    cpu "$sim_pid" >>"$work/sim_cpu"
    kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true
  done
) &
updater=$!
# The first update's listing has begun before the load starts.
sleep 2
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$serve_pid/status"; }
echo "== $secs s of one symbol's files, $conns connections, catalog updates publishing back to back"
echo "serve RSS before: $(rss)"
serve_cpu=$(cpu "$serve_pid")
started=$(date +%s.%N)
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$work/symbols.lua" "$url" 2>&1 | tee "$work/wrk.out"
if grep -q "Non-2xx\|error" "$work/wrk.out"; then echo "wrk saw failures: not a measurement" >&2; exit 1; fi
echo "serve CPU during the run: $(awk -v a="$serve_cpu" -v b="$(cpu "$serve_pid")" 'BEGIN {printf "%.1f", b - a}') s"
# The running update's simulator, before the updater is stopped (it is stopped with it).
running_sim=$(pgrep -P "$updater" -x vision-sim || true)
[ -n "$running_sim" ] && cpu "$running_sim" >>"$work/sim_cpu"
kill "$updater"; wait "$updater" 2>/dev/null || true
ended=$(date +%s.%N)
during=$(awk -v a="$started" -v b="$ended" '$1 >= a && $1 <= b' "$work/updates" | wc -l)
echo "catalog updates published during the run: $during (of $(wc -l <"$work/updates") finished)"
echo "simulator CPU (nice $sim_nice), each update's since its start, s: $(tr '\n' ' ' <"$work/sim_cpu")"
echo "finished updates' CPU (user, system): $(tr '\n' ';' <"$work/update_cpu")"
echo "serve RSS after: $(rss)"
grep -ci "swapped\|published\|reopen" "$work/serve.log" || true
