#!/bin/bash
# Whole-process wall times of one-shot queries with and without the read index file
# (BENCHMARKS.md, session 17; ADR 0022), the configurations interleaved so that a busy machine
# slows them alike: BASE (a binary before the index file) on DB, NEW on DB with `DB.readidx`
# moved aside, NEW on DB with it. DB must have been published by NEW (its publish wrote the
# index). A loop of `date +%s%N`, as hyperfine is not installed; prints p50, p95, max.
#   BASE=… NEW=… DB=… DATE=2024-01-15 N=40 benches/oneshot_process.sh
set -euo pipefail
: "${BASE:?a binary before the index file}" "${NEW:?this binary}" "${DB:?a database NEW published}"
N=${N:-40}
DATE=${DATE:-2024-01-15}
[ -f "$DB.readidx" ] || { echo "no $DB.readidx: publish DB with NEW first" >&2; exit 1; }
out=$(mktemp)
for _ in $(seq "$N"); do
  for cfg in "before:$BASE:aside" "absent:$NEW:aside" "index:$NEW:in"; do
    IFS=: read -r name bin where <<<"$cfg"
    if [ "$where" = aside ]; then mv "$DB.readidx" "$DB.readidx.aside"; fi
    for q in "snapshot $DATE --format json" "range ${DATE%-*}-01 ${DATE%-*}-28 --format json" "symbols --format json" "universe $DATE --top 50"; do
      s=$(date +%s%N)
      # shellcheck disable=SC2086 # the question's words
      "$bin" query $q --db "$DB" >/dev/null
      e=$(date +%s%N)
      echo "$name ${q%% *} $(( (e - s) / 1000 ))" >>"$out"
    done
    if [ "$where" = aside ]; then mv "$DB.readidx.aside" "$DB.readidx"; fi
  done
  # The process's start alone (clap, no database), for reference.
  s=$(date +%s%N)
  "$NEW" --version >/dev/null
  e=$(date +%s%N)
  echo "start --version $(( (e - s) / 1000 ))" >>"$out"
done
sort -k1,2 -k3n "$out" | awk '
  { key = $1 " " $2; v[key, ++n[key]] = $3 / 1000 }
  END { for (k in n) printf "%s: p50 %.1f ms, p95 %.1f ms, max %.1f ms (%d runs)\n",
        k, v[k, int((n[k] + 1) / 2)], v[k, int(n[k] * 0.95 + 0.5)], v[k, n[k]], n[k] }' | sort
rm -f "$out"
