#!/bin/bash
# Whole-process wall times of `query universe` and `query events` with and without the stored
# lives index (BENCHMARKS.md, session 16), the configurations interleaved so that a busy
# machine slows them alike: BASE (a binary before the index) and NEW on DB6 (a schema 6 file),
# NEW on DB7 (the same facts with the index: `BFA_LIVES_KEEP=DB7 BFA_LIVES_DB=DB6 cargo bench
# --bench trading`). A loop of `date +%s%N`, as hyperfine is not installed; prints p50, min, max.
#   BASE=… NEW=… DB6=… DB7=… DATE=2026-11-20 N=30 benches/lives_process.sh
set -euo pipefail
: "${BASE:?a binary before the index}" "${NEW:?this binary}" "${DB6:?a schema 6 file}" "${DB7:?its schema 7 copy}"
N=${N:-30}
DATE=${DATE:-2026-11-20}
out=$(mktemp)
for _ in $(seq "$N"); do
  for cfg in "before,schema6:$BASE:$DB6" "new,schema6:$NEW:$DB6" "new,schema7:$NEW:$DB7"; do
    IFS=: read -r name bin db <<<"$cfg"
    for q in "universe $DATE --top 50" "events"; do
      s=$(date +%s%N)
      # shellcheck disable=SC2086 # the question's words
      "$bin" query $q --db "$db" >/dev/null
      e=$(date +%s%N)
      echo "$name ${q%% *} $(( (e - s) / 1000 ))" >>"$out"
    done
  done
done
sort -k1,2 -k3n "$out" | awk '
  { key = $1 " " $2; v[key, ++n[key]] = $3 / 1000 }
  END { for (k in n) printf "%s: p50 %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n",
        k, v[k, int((n[k] + 1) / 2)], v[k, 1], v[k, n[k]], n[k] }' | sort
rm -f "$out"
