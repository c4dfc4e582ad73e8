#!/bin/bash
# What the rolling whole re-list costs a daily update (issue 24 point 2): requests, time and
# peak RSS per `update` on the realistic corpus (vision-sim, 0 ms latency). One update from
# nothing with NEW, then on copies of that database: OLD twice, NEW seven times (one full turn
# of the re-list). Nothing new is published between the runs, so what differs is the re-list.
# usage: bash relist_cost.sh NEW_BIN OLD_BIN SIM_BIN   (copies of target/release binaries)
set -u
NEW=$1; OLD=$2; SIM=$3
DIR=$(mktemp -d /tmp/relist-cost.XXXX)
$SIM --addr 127.0.0.1:0 --corpus realistic > $DIR/sim.out 2>&1 &
SIMPID=$!
for i in $(seq 100); do grep -q "export" $DIR/sim.out && break; sleep 0.2; done
eval "$(grep export $DIR/sim.out)"
export BFA_S3_URL BFA_DATA_URL
t=$(date +%s)
$NEW --db $DIR/base.duckdb update 2>&1 | grep -E "^update:|error" | tail -2
echo "first update took $(( $(date +%s) - t )) s"
cp $DIR/base.duckdb $DIR/old.duckdb; cp $DIR/base.duckdb $DIR/new.duckdb
for i in 1 2; do
  echo -n "old binary run $i: "; /usr/bin/time -f "%e s %M KB" $OLD --db $DIR/old.duckdb update 2>&1 | grep -E "^update:|error| KB$" | tr '\n' ' '; echo
done
for i in 1 2 3 4 5 6 7; do
  echo -n "new binary run $i: "; /usr/bin/time -f "%e s %M KB" $NEW --db $DIR/new.duckdb update 2>&1 | grep -E "^update:|error| KB$" | tr '\n' ' '; echo
done
kill $SIMPID
rm -rf $DIR
