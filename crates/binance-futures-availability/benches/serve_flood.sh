#!/usr/bin/env bash
# A flood of distinct questions with tiny answers, then a publish under it (issue 24, point 7):
# serve's resident memory before and after the flood, and the longest a request waited while
# the flooded file was replaced.
#
# wrk asks /v1/events?symbol=BTCUSDT&since=DAY&delisted_after=N with a new (DAY, N) each time
# (2,520 days x 3,650 rules: no question repeats), each answered "[]" or an event or two, so
# every answer is kept and the cache's bookkeeping, not its bodies, is what fills it. Then, with
# the cache full and the flood still running, a copy of the file is renamed over it (a publish,
# as writers do it) while a client asks /healthz every 5 ms and records the longest wait.
#
#   cargo build --release --workspace --bins
#   bash crates/binance-futures-availability/benches/serve_flood.sh [SECONDS] [SERVE_BINARY...]
#
# Each SERVE_BINARY (default: the one built) is measured in turn on copies of the same
# database, e.g. a build from before a change and one after. SERVE_ARGS is passed to serve
# (e.g. "--cache-mb 8"). Needs wrk, curl and python3.
set -euo pipefail
secs="${1:-60}"
bin="${CARGO_TARGET_DIR:-$HOME/.cache/bfa-target}/release"
shift || true
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("$bin/binance-futures-availability")
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin/vision-sim" --addr 127.0.0.1:0 >"$work/sim.log" 2>&1 &
until grep -qo '127.0.0.1:[0-9]*' "$work/sim.log"; do sleep 0.1; done
sim_port=$(grep -o '127.0.0.1:[0-9]*' "$work/sim.log" | head -1 | cut -d: -f2)
export BFA_DB="$work/availability.duckdb"
export BFA_S3_URL="http://127.0.0.1:$sim_port/data.binance.vision" BFA_DATA_URL="http://127.0.0.1:$sim_port"
until curl -sf "http://127.0.0.1:$sim_port/data.binance.vision?list-type=2&max-keys=1" >/dev/null; do sleep 0.1; done
"$bin/binance-futures-availability" update --quiet
cp "$BFA_DB" "$work/built.duckdb"

cat >"$work/flood.lua" <<'LUA'
local days = {}
local t = os.time({year = 2020, month = 1, day = 1, hour = 12})
local stop = os.time({year = 2026, month = 11, day = 24, hour = 12})
while t <= stop do days[#days + 1] = os.date("!%Y-%m-%d", t); t = t + 86400 end
local i = tonumber(os.getenv("FLOOD_FROM") or "0")
request = function()
  i = i + 1
  local day = days[1 + (i % #days)]
  local rule = 1 + math.floor(i / #days) % 3650
  return wrk.format("GET", "/v1/events?symbol=BTCUSDT&since=" .. day .. "&delisted_after=" .. rule)
end
LUA
cat >"$work/poll.py" <<'PY'
import http.client, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
worst, n, end = 0.0, 0, time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    conn.request("GET", "/healthz")
    r = conn.getresponse()
    r.read()
    worst = max(worst, time.monotonic() - t)
    n += 1
    time.sleep(0.005)
print(f"{n} /healthz requests during the publish, the longest {worst * 1000:.1f} ms")
PY

for bfa in "${binaries[@]}"; do
  cp "$work/built.duckdb" "$BFA_DB"
  "$bfa" serve --addr 127.0.0.1:0 ${SERVE_ARGS:-} 2>"$work/serve.log" &
  serve_pid=$!
  until grep -qo 'http://127.0.0.1:[0-9]*' "$work/serve.log"; do sleep 0.1; done
  port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1 | cut -d: -f3)
  until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
  rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$serve_pid/status"; }
  curl -s "http://127.0.0.1:$port/v1/events?symbol=BTCUSDT" >/dev/null
  echo "== $bfa serve ${SERVE_ARGS:-}"
  echo "RSS before the flood: $(rss)"
  wrk -t1 -c8 -d"${secs}s" -s "$work/flood.lua" "http://127.0.0.1:$port" | grep -E 'requests in|Non-2xx|Requests/sec'
  echo "RSS after the flood: $(rss)"
  etag() { curl -s -D - -o /dev/null "http://127.0.0.1:$port/v1/symbols" | grep -i '^etag' | tr -d '\r'; }
  echo "before the publish: $(etag)"
  cp "$BFA_DB" "$work/next.duckdb"
  FLOOD_FROM=50000000 wrk -t1 -c8 -d6s --latency -s "$work/flood.lua" "http://127.0.0.1:$port" >"$work/during.txt" &
  flood=$!
  python3 "$work/poll.py" "$port" 5 &
  poller=$!
  sleep 1.5
  mv "$work/next.duckdb" "$BFA_DB"
  wait "$poller"
  wait "$flood"
  echo "the flood during the publish:"
  grep -E 'Latency |99%|requests in|Non-2xx' "$work/during.txt"
  echo "after the publish: $(etag) (another file's: the publish was served)"
  echo "RSS at the end: $(rss)"
  kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
done
