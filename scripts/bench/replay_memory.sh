#!/usr/bin/env bash
# Peak memory (max RSS) of `rampart replay` on hostile inputs: a gzip bomb (1 GiB of zeros,
# ~1 MB compressed, no newline) and a file with 50 MB lines between ordinary ones.
# Usage: scripts/bench/replay_memory.sh BIN [BIN...]   (each BIN is a rampart binary)
# Prints one row per input and binary: median max RSS of 3 runs, wall time, events, malformed.
set -euo pipefail
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
if [ ! -f "$work/zeros.gz" ]; then
  head -c 1073741824 /dev/zero | gzip -9 > "$work/zeros.gz"
fi
if [ ! -f "$work/long-lines.log" ]; then
  python3 - "$work/long-lines.log" <<'PY'
import sys
good = '203.0.113.9 - - [01/Dec/2026:08:00:00 +0000] "GET /api/v1/users/1 HTTP/1.1" 200 12 "-" "curl/8"\n'
with open(sys.argv[1], "w") as f:
    for i in range(3):
        f.write(good)
        f.write('203.0.113.9 - - [01/Dec/2026:08:00:01 +0000] "GET /' + "a" * (50 * 1024 * 1024) + ' HTTP/1.1" 200 12 "-" "curl/8"\n')
    f.write(good)
PY
fi
printf '| input | binary | peak RSS (median of 3) | wall | events | malformed |\n|---|---|---|---|---|---|\n'
for input in zeros.gz long-lines.log; do
  for bin in "$@"; do
    rss=(); wall=(); out=""
    for run in 1 2 3; do
      d=$(mktemp -d)
      /usr/bin/time -f '%M %e' -o "$d/time" "$bin" replay --data "$d/data" --json "$work/$input" > "$d/out.json" 2> "$d/err" || true
      read -r m e < "$d/time"
      rss+=("$m"); wall+=("$e")
      out=$(python3 -c 'import json,sys
try:
  r=json.load(open(sys.argv[1])); print(r.get("events","?"), r.get("malformed","?"))
except Exception as e: print("error", "-")' "$d/out.json")
      rm -rf "$d"
    done
    med_rss=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n 2p)
    med_wall=$(printf '%s\n' "${wall[@]}" | sort -n | sed -n 2p)
    read -r ev mal <<< "$out"
    printf '| %s | %s | %s MB | %s s | %s | %s |\n' "$input" "$(basename "$(dirname "$(dirname "$(dirname "$bin")")")")" "$((med_rss / 1024))" "$med_wall" "$ev" "$mal"
  done
done
