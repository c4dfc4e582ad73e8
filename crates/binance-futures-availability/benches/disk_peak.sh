#!/bin/bash
# Disk a write takes beside the database (issue 24 point 15): the largest total, sampled every
# 50 ms, of everything a writer keeps next to the published file (`<db>.writing`, its log, DuckDB's
# spill folder, the compacted copy), against the file it publishes. Three runs per binary on
# vision-sim's CORPUS ("realistic" or a spec file): a first load (`backfill` from nothing), an
# `update --lookback 20` of that file, and a `backfill` of the whole history onto a database
# that holds only the last 20 days (the sort of a first load, over a small published file).
# usage: bash disk_peak.sh SIM_BIN CORPUS BIN [BIN…]   (copies of target/release binaries)
set -u
SIM=$1; CORPUS=$2; shift 2
DIR=$(mktemp -d /tmp/disk-peak.XXXX)
$SIM --addr 127.0.0.1:0 --corpus "$CORPUS" > $DIR/sim.out 2>&1 &
SIMPID=$!
trap 'kill $SIMPID; rm -rf $DIR' EXIT
for _ in $(seq 300); do grep -q "export" $DIR/sim.out && break; sleep 0.2; done
eval "$(grep export $DIR/sim.out)"
export BFA_S3_URL BFA_DATA_URL

# Runs "$@" and prints the largest sampled size of $DB's companions, in bytes.
peak_beside() {
  local db=$1; shift
  "$@" > $DIR/run.log 2>&1 &
  local pid=$! peak=0 now
  while kill -0 $pid 2>/dev/null; do
    now=$(du -sb --apparent-size "$db".writing* "$db".writing.tmp "$db".copying 2>/dev/null \
      | awk '{s += $1} END {print s + 0}')
    [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.05
  done
  wait $pid || { echo "failed: $(tail -3 $DIR/run.log)" >&2; }
  echo $peak
}

row() { # label, published file, peak
  local size; size=$(stat -c %s "$2")
  awk -v l="$1" -v s=$size -v p=$3 \
    'BEGIN {printf "| %s | %.1f MB | %.1f MB | %.2f× |\n", l, s/1e6, p/1e6, p/s}'
}

echo "| run | published | peak beside it | ratio |"
echo "|---|---|---|---|"
for BIN in "$@"; do
  name=$(basename $BIN)
  db=$DIR/$name.duckdb
  p=$(peak_beside $db $BIN --db $db backfill --quiet); row "$name: backfill from nothing" $db $p
  p=$(peak_beside $db $BIN --db $db update --quiet --lookback 20); row "$name: update --lookback 20" $db $p
  db=$DIR/$name-recent.duckdb
  $BIN --db $db update --quiet --lookback 20 > /dev/null 2>&1
  p=$(peak_beside $db $BIN --db $db backfill --quiet); row "$name: backfill onto 20 days" $db $p
done
