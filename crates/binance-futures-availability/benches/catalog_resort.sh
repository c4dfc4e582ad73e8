#!/bin/bash
# The next day's `catalog update` of a kept full-scale catalog by a binary that keeps files in
# leaf order: a catalog written before `files_layout` has its files counted whole, so this
# publish sorts all of them — the cost of a sort at 10^8 files (BENCHMARKS.md, session 16).
#
#   bash benches/catalog_resort.sh CATALOG AS_OF BIN SIM [LATENCY_MS]
#
# CATALOG is copied (never changed), e.g. the one `KEEP=… catalog_scale.sh 1.0 …` kept;
# AS_OF the day after its last update's clock. Prints the sort's time (from the debug log),
# the summary line and /usr/bin/time's figures; the sorted copy stays in /tmp/catalog-resort.
set -u
CATALOG=$1; AS_OF=$2; BIN=$3; SIM=$4; LATENCY=${5:-50}
DIR=/tmp/catalog-resort; rm -rf $DIR; mkdir -p $DIR
cp "$CATALOG" $DIR/catalog.duckdb
$SIM --corpus vision --scale 1.0 --as-of "$AS_OF" --latency-ms "$LATENCY" --addr 127.0.0.1:0 \
  > $DIR/sim.out 2>&1 &
SIMPID=$!
trap 'kill $SIMPID 2>/dev/null' EXIT
for _ in $(seq 600); do grep -q "export" $DIR/sim.out && break; sleep 0.2; done
eval "$(grep export $DIR/sim.out)"; export BFA_S3_URL BFA_DATA_URL
BFA_LOG=debug /usr/bin/time -v $BIN --db $DIR/bfa.duckdb catalog update > $DIR/run.out 2> $DIR/run.err
echo "rc=$?"
grep -E 'rewrote|^catalog update:' $DIR/run.err | tail -3
grep -E 'Elapsed|User time|System time|Maximum resident' $DIR/run.err
ls -la $DIR/catalog.duckdb
