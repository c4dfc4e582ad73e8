#!/bin/bash
# `serve`'s catalog routes over loopback (issue 27, item 3): a catalog of vision-sim's whole
# bucket at SCALE is crawled, `serve` answers it, and curl asks each route N times on one
# kept-alive connection (time_total per request: from the request to the last byte). The
# first answer of a kept route is computed, the others come from the cache; a dataset's files
# are streamed, never kept, so every one is computed. Hold the build lock while it runs:
#   flock /tmp/bfa-cargo.lock bash benches/serve_catalog.sh 0.1 BIN SIM [N]
# BIN: binance-futures-availability; SIM: vision-sim (copies of target/release/…).
set -u
SCALE=$1; BIN=$2; SIM=$3; N=${4:-200}
AS_OF=${AS_OF:-2026-12-01}
DIR=$(mktemp -d /tmp/serve-catalog.XXXX)
$SIM --corpus vision --scale "$SCALE" --as-of "$AS_OF" --latency-ms 0 \
  --addr 127.0.0.1:0 > $DIR/sim.out 2>&1 &
SIMPID=$!
trap 'kill $SIMPID $SERVEPID 2>/dev/null; rm -rf $DIR' EXIT
SERVEPID=
for _ in $(seq 600); do grep -q "export" $DIR/sim.out && break; sleep 0.2; done
eval "$(grep export $DIR/sim.out)"
export BFA_S3_URL BFA_DATA_URL
$BIN --db $DIR/bfa.duckdb catalog update -q || exit 1
kill $SIMPID
$BIN --db $DIR/bfa.duckdb serve --addr 127.0.0.1:0 > /dev/null 2> $DIR/serve.err &
SERVEPID=$!
for _ in $(seq 300); do grep -q "http://" $DIR/serve.err && break; sleep 0.1; done
URL=$(grep -o 'http://[0-9.:]*' $DIR/serve.err | head -1)
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' $URL/v1/catalog/strays)" = 200 ] && break
  sleep 0.1
done
echo "catalog: $(stat -c %s $DIR/catalog.duckdb) bytes; $($BIN --db $DIR/bfa.duckdb catalog datasets | head -1)"
# p50, p90 and max of N requests of PATH, in ms, and the answer's size.
measure() {
  local path=$1; shift
  local args=()
  for _ in $(seq "$N"); do args+=(-o /dev/null "$URL$path"); done
  curl -s "$@" -w '%{time_total} %{size_download}\n' "${args[@]}" | sort -n | awk -v p="$path" '
    { t[NR] = $1 * 1000; s = $2 }
    END { printf "| `%s` | %d | %.2f ms | %.2f ms | %.2f ms | %d B |\n",
          p, NR, t[int(NR * 0.5 + 0.5)], t[int(NR * 0.9 + 0.5)], t[NR], s }'
}
first() {
  curl -s -o /dev/null -w "| \`$1\` (first, computed) | 1 | %{time_total} s | | | %{size_download} B |\n" "$URL$1"
}
echo "command: $SIM --corpus vision --scale $SCALE --as-of $AS_OF; $(basename $BIN) catalog update; serve; curl × $N per route (one connection)"
echo "| route | requests | p50 | p90 | max | answer |"
echo "|---|---|---|---|---|---|"
first /v1/catalog/datasets
measure /v1/catalog/datasets
measure "/v1/catalog/files/um/daily/klines/1m?symbol=BTCUSDT"
measure "/v1/catalog/files/um/daily/klines/1m?symbol=BTCUSDT&format=urls"
measure "/v1/catalog/files/um/daily/klines/1m?symbol=BTCUSDT&since=2026-11-01&until=2026-11-30"
N=5 measure "/v1/catalog/files/um/daily/klines/1m?format=csv"
first /v1/catalog/symbols/um/daily/klines/1m
measure /v1/catalog/symbols/um/daily/klines/1m
echo "serve's peak RSS: $(awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' /proc/$SERVEPID/status)"
