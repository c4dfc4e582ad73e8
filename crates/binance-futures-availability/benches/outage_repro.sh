#!/bin/bash
# Issue 24's outage on the realistic corpus: `update` with the bucket as of 2026-11-01 (nothing
# published after 10-31), then with today's bucket and the default 20-day lookback; prints what
# `status`, a snapshot of an outage day, `events` and BTCUSDT's timeline say.
# usage: bash outage_repro.sh BIN SIM_BIN
BIN=$1; SIM=$2; DIR=$(mktemp -d /tmp/outage-repro.XXXX)
start_sim() { $SIM --addr 127.0.0.1:0 --corpus realistic "$@" > $DIR/sim.out 2>&1 & SIMPID=$!
  for i in $(seq 100); do grep -q "export" $DIR/sim.out && break; sleep 0.2; done
  eval "$(grep export $DIR/sim.out)"; export BFA_S3_URL BFA_DATA_URL; }
start_sim --as-of 2026-11-01
$BIN --db $DIR/db.duckdb update --quiet; echo "update during the outage: exit $?"
$BIN --db $DIR/db.duckdb status > $DIR/status.txt 2>&1; echo "status exit $?"; grep -E "complete through|warning|error" $DIR/status.txt
kill $SIMPID; rm -f $DIR/sim.out
start_sim
$BIN --db $DIR/db.duckdb update --quiet; echo "update after the catch-up: exit $?"
$BIN --db $DIR/db.duckdb status > $DIR/status.txt 2>&1; echo "status exit $?"; grep -E "complete through|warning|error" $DIR/status.txt
$BIN --db $DIR/db.duckdb query snapshot 2026-11-10 2>&1 | grep "symbols with a file"
$BIN --db $DIR/db.duckdb query events --kind delisting --format json | python3 -c "import json,sys; e=json.load(sys.stdin); print(len([x for x in e if x['date']>='2026-10-01']), 'delistings since 2026-10-01')"
$BIN --db $DIR/db.duckdb query timeline BTCUSDT | grep -iE "days"
kill $SIMPID; rm -rf $DIR
