#!/bin/bash
# A first `catalog update` of vision-sim's whole bucket (issue 26's benchmark): wall time, the
# catalog process's user+sys CPU and CPU per listed key, its peak RSS, requests against the
# minimum, the catalog's bytes per file — and the simulator's own CPU, measured apart (it runs
# on the same 2 cores). Hold the build lock while it runs, so that no build shares the cores:
#   flock /tmp/bfa-cargo.lock bash benches/catalog_scale.sh 0.1 BIN SIM MINIMUM [LATENCY_MS]
# AS_OF=YYYY-MM-DD sets the first crawl's day, NEXT_DAY=1 adds the next day's update (NEXT_DAY=N:
# the N next days', one after the other), KEEP=FILE keeps the catalog.
# BIN: binance-futures-availability; SIM: vision-sim; MINIMUM: the `catalog_minimum` example
# (copies of target/release/… and target/release/examples/catalog_minimum).
#
# The minimum number of requests is computed from the catalog the crawl wrote (examples/
# catalog_minimum.rs): every level of the layout listed with delimiter=/ (max(1, ⌈(sub-folders
# + keys in it)/1000⌉) pages each) plus every folder below them listed flat (max(1,
# ⌈keys/1000⌉) each, its keys being its files, their `.CHECKSUM`s and its strays). On an
# error-free crawl the requests should equal it (retries would add to them).
set -u
SCALE=$1; BIN=$2; SIM=$3; MINIMUM=$4; LATENCY=${5:-50}
AS_OF=${AS_OF:-2026-12-01}
DIR=$(mktemp -d /tmp/catalog-scale.XXXX)
TCK=$(getconf CLK_TCK)
$SIM --corpus vision --scale "$SCALE" --as-of "$AS_OF" --latency-ms "$LATENCY" \
  --addr 127.0.0.1:0 > $DIR/sim.out 2>&1 &
SIMPID=$!
trap 'kill $SIMPID 2>/dev/null; rm -rf $DIR' EXIT
for _ in $(seq 600); do grep -q "export" $DIR/sim.out && break; sleep 0.2; done
grep -q "export" $DIR/sim.out || { cat $DIR/sim.out; exit 1; }
eval "$(grep export $DIR/sim.out)"
export BFA_S3_URL BFA_DATA_URL
# The simulator's user+sys CPU so far, in clock ticks (/proc/PID/stat fields 14 and 15).
sim_ticks() { awk '{print $14 + $15}' /proc/$SIMPID/stat; }
before=$(sim_ticks)
# Not -q: --quiet drops the one-line summary, whose request count is read here.
/usr/bin/time -v $BIN --db $DIR/bfa.duckdb catalog update > $DIR/run.out 2> $DIR/run.err
rc=$?
sim_cpu=$(awk -v a=$before -v b=$(sim_ticks) -v t=$TCK 'BEGIN {printf "%.1f", (b - a) / t}')
sim_rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' /proc/$SIMPID/status)
summary=$(grep "^catalog update:" $DIR/run.err | tail -1)
[ $rc = 0 ] || { echo "catalog update failed ($rc):"; tail -5 $DIR/run.err; exit 1; }
$MINIMUM $DIR/catalog.duckdb > $DIR/min.out
val() { awk -v k="$1" '$1 == k {print $2}' $DIR/min.out; }
tv() { grep -F "$1" $DIR/run.err | awk -F': ' '{print $2}'; }
user=$(tv "User time"); sys=$(tv "System time"); wall=$(tv "Elapsed (wall clock)")
rss=$(tv "Maximum resident set size")
keys=$(val keys)
requests=$(echo "$summary" | grep -o '[0-9]* requests' | cut -d' ' -f1)
files=$(echo "$summary" | grep -o '[0-9]* files' | cut -d' ' -f1)
bytes=$(stat -c %s $DIR/catalog.duckdb)
head -1 $DIR/sim.out | sed 's/ on http.*//'
echo "$summary"
echo "command: $SIM --corpus vision --scale $SCALE --as-of $AS_OF --latency-ms $LATENCY; /usr/bin/time -v $(basename $BIN) --db DIR/bfa.duckdb catalog update"
awk -v s="$SCALE" -v w="$wall" -v u="$user" -v y="$sys" -v k="$keys" -v r="$rss" \
    -v q="$requests" -v m="$(val min_requests)" -v b="$bytes" -v f="$files" \
    -v sc="$sim_cpu" -v sr="$sim_rss" 'BEGIN {
  printf "| scale | wall | catalog CPU (user+sys) | CPU per listed key | peak RSS | requests / minimum | catalog file | simulator CPU |\n"
  printf "| %s | %s | %.1f s (%.1f + %.1f) | %.2f µs (%d keys) | %.0f MB | %d / %d = %.3f× | %.1f MB, %.2f B a file (%d files) | %s s, %s MB peak |\n",
    s, w, u + y, u, y, (u + y) * 1e6 / k, k, r / 1024, q, m, q / m, b / 1e6, b / f, f, sc, sr
}'
echo "minimum: $(tr '\n' ' ' < $DIR/min.out)"

# NEXT_DAY=N: then the next day's `catalog update` of the same catalog against the bucket a day
# later (each leaf from near its tip, 1/30 of folders whole), N times, a day later each: its
# wall time, CPU, requests and what it recorded.
for DAY in $(seq "${NEXT_DAY:-0}"); do
  kill $SIMPID; wait $SIMPID 2>/dev/null
  NEXT=$(date -u -d "$AS_OF + $DAY day" +%F)
  $SIM --corpus vision --scale "$SCALE" --as-of "$NEXT" --latency-ms "$LATENCY" \
    --addr 127.0.0.1:0 > $DIR/sim2.out 2>&1 &
  SIMPID=$!
  for _ in $(seq 600); do grep -q "export" $DIR/sim2.out && break; sleep 0.2; done
  eval "$(grep export $DIR/sim2.out)"
  export BFA_S3_URL BFA_DATA_URL
  before=$(sim_ticks)
  /usr/bin/time -v $BIN --db $DIR/bfa.duckdb catalog update > $DIR/run2.out 2> $DIR/run2.err
  rc=$?
  sim_cpu=$(awk -v a=$before -v b=$(sim_ticks) -v t=$TCK 'BEGIN {printf "%.1f", (b - a) / t}')
  [ $rc = 0 ] || { echo "next-day catalog update failed ($rc):"; tail -5 $DIR/run2.err; exit 1; }
  tv2() { grep -F "$1" $DIR/run2.err | awk -F': ' '{print $2}'; }
  echo "next day ($NEXT): $(grep "^catalog update:" $DIR/run2.err | tail -1)"
  echo "next day: wall $(tv2 "Elapsed (wall clock)"), CPU $(tv2 "User time") + $(tv2 "System time") s, peak RSS $(( $(tv2 "Maximum resident set size") / 1024 )) MB, simulator CPU $sim_cpu s, catalog $(stat -c %s $DIR/catalog.duckdb) bytes"
done

# KEEP=FILE: keep the catalog (after the next days' updates, with NEXT_DAY) for
# `BFA_CATALOG_BENCH=FILE cargo bench --bench catalog_queries`.
if [ -n "${KEEP:-}" ]; then
  cp $DIR/catalog.duckdb "$KEEP" && echo "kept the catalog at $KEEP"
fi
