#!/usr/bin/env bash
# Load on `serve` while updates publish: wrk asks /v1/snapshot/{random day of the history} over
# keep-alive connections while `update` runs back to back against vision-sim (realistic
# corpus, 50 ms latency) and publishes a new file each time -- harsher than the scheduler,
# which updates once a day. Then serve's resident memory over 100k more requests.
# MEMORY_ROUNDS (default 6) sets the rounds of the memory part (0: skip it).
# SERVE_ARGS is passed to serve (e.g. "--cache-mb 0" to measure without the answer cache).
# WINDOWS=1: wrk in one-second windows instead, each window's p50/p99 printed with its start
# (seconds from the first) beside the times each update ended, to see when the tail happens.
# CPU=1: with WINDOWS=1, each window's CPU of serve, the updater, the simulator and wrk (from
# /proc/PID/stat), to see who takes the cores when the tail happens.
# UPDATES=0: no updates beside the requests (what serve alone costs, e.g. with
# SERVE_ARGS="--cache-mb 0": every request a miss).
# SIM_NICE: the simulator's nice value (default 0).
# BIN_DIR: where the binaries are (default $CARGO_TARGET_DIR/release), e.g. a copy of main's
# to measure before and after in one session.
#
#   cargo build --release --workspace --bins
#   bash crates/binance-futures-availability/benches/serve_load.sh [SECONDS] [CONNECTIONS]
#
# Needs wrk (Debian: apt-get install wrk). Prints wrk's report and the RSS samples.
set -euo pipefail
secs="${1:-30}"
conns="${2:-32}"
bin="${BIN_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/bfa-target}/release}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
# Both on ports the kernel picks, read back from what they print.
nice -n "${SIM_NICE:-0}" "$bin/vision-sim" --addr 127.0.0.1:0 --latency-ms 50 >"$work/sim.log" 2>&1 &
sim_pid=$!
until grep -qo '127.0.0.1:[0-9]*' "$work/sim.log"; do :; done
sim_port=$(grep -o '127.0.0.1:[0-9]*' "$work/sim.log" | head -1 | cut -d: -f2)
export BFA_DB="$work/availability.duckdb"
export BFA_S3_URL="http://127.0.0.1:$sim_port/data.binance.vision" BFA_DATA_URL="http://127.0.0.1:$sim_port"
until curl -sf "http://127.0.0.1:$sim_port/data.binance.vision?list-type=2&max-keys=1" >/dev/null; do :; done
"$bin/binance-futures-availability" update --quiet
"$bin/binance-futures-availability" serve --addr 127.0.0.1:0 ${SERVE_ARGS:-} 2>"$work/serve.log" &
serve_pid=$!
until grep -qo 'http://127.0.0.1:[0-9]*' "$work/serve.log"; do :; done
api_port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1 | cut -d: -f3)
until curl -sf "http://127.0.0.1:$api_port/healthz" >/dev/null; do :; done

# Every day from 2020-01-01 to 2026-11-24, one picked at random per request.
cat >"$work/snapshot.lua" <<'LUA'
local days = {}
local t = os.time({year = 2020, month = 1, day = 1, hour = 12})
local stop = os.time({year = 2026, month = 11, day = 24, hour = 12})
while t <= stop do days[#days + 1] = os.date("!%Y-%m-%d", t); t = t + 86400 end
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/snapshot/" .. days[math.random(#days)])
end
LUA

# At nice 10, as deploy/binance-futures-availability.service runs the scheduler beside serve.
if [ "${UPDATES:-1}" = 0 ]; then
  sleep infinity &
else
  ( while [ ! -e "$work/stop" ]; do nice -n 10 "$bin/binance-futures-availability" update --quiet && date +%s.%N >>"$work/updates"; done ) &
fi
updater=$!
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$serve_pid/status"; }
echo "== $secs s of snapshot requests, $conns connections, $([ "${UPDATES:-1}" = 0 ] && echo "no updates" || echo "updates publishing back to back")"
echo "serve RSS before: $(rss)"
# CPU time (clock ticks) of a process and its reaped children; 0 once it is gone.
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# The updater's: its loop's (the updates it reaped) and the running update's.
updater_ticks() {
  local t c
  t=$(ticks "$updater")
  for c in $(pgrep -P "$updater"); do t=$((t + $(ticks "$c"))); done
  echo "$t"
}
# The machine's busy and idle ticks, all cores.
machine() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 " " $5 + $6}' /proc/stat; }
cpu_sample() { echo "$(ticks "$serve_pid") $(updater_ticks) $(ticks "$sim_pid") $(machine)"; }
if [ -n "${WINDOWS:-}" ]; then
  start=$(date +%s.%N)
  for _ in $(seq "$secs"); do
    at=$(date +%s.%N)
    [ -n "${CPU:-}" ] && before=$(cpu_sample)
    line=$(wrk -t1 -c"$conns" -d1s --latency -s "$work/snapshot.lua" "http://127.0.0.1:$api_port" |
      awk -v at="$at" -v start="$start" '$1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
        /requests in/ {n = $1} END {printf "t+%5.1f s: %6d requests, p50 %s, p99 %s", at - start, n, p50, p99}')
    if [ -n "${CPU:-}" ]; then
      # In % of one core over the window; "rest" is wrk and the kernel's work for no process.
      line="$line$(echo "$before $(cpu_sample) $(nproc)" | awk '{
        d = $9 + $10 - $4 - $5; if (d <= 0) d = 1; core = 100 * $11 / d
        printf "; %% of a core: serve %3.0f, updater %3.0f, simulator %3.0f, rest %3.0f, idle %3.0f",
          ($6 - $1) * core, ($7 - $2) * core, ($8 - $3) * core,
          ($9 - $4 - ($6 - $1) - ($7 - $2) - ($8 - $3)) * core, ($10 - $5) * core }')"
    fi
    echo "$line"
  done
  awk -v start="$start" '{printf "an update ended at t+%.1f s\n", $1 - start}' "$work/updates" 2>/dev/null || true
else
  wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$work/snapshot.lua" "http://127.0.0.1:$api_port"
fi
# The loop starts no other update, and the one running is stopped and waited for: left
# running, it went on into the next run's first seconds (and failed there, its folder gone).
touch "$work/stop"
pkill -P "$updater" || true
if [ "${UPDATES:-1}" = 0 ]; then kill "$updater"; fi
wait "$updater" 2>/dev/null || true
echo "updates published during the run: $(wc -l <"$work/updates" 2>/dev/null || echo 0)"
echo "serve RSS after: $(rss)"
echo "== memory over 100k+ more requests, without updates (RSS after each 10 s round)"
total=0
for round in $(seq 1 "${MEMORY_ROUNDS:-6}"); do
  n=$(wrk -t1 -c"$conns" -d10s -s "$work/snapshot.lua" "http://127.0.0.1:$api_port" | awk '/requests in/ {print $1}')
  total=$((total + n))
  echo "round $round: $n requests ($total in all), serve RSS $(rss)"
done
