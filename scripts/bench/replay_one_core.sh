#!/usr/bin/env bash
# `rampart replay` end to end on one core: 1M simulated combined lines into a fresh SQLite
# data dir, the whole process pinned to core 0, wall clock from start to exit.
# Usage: scripts/bench/replay_one_core.sh BIN [BIN...]   (ROUNDS, default 3, interleaved)
set -euo pipefail
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
log="$work/1m.log"
[ -f "$log" ] || "$1" simulate --format combined --events 1000000 --out "$log" >/dev/null
n=$(wc -l < "$log")
for _ in $(seq 1 "${ROUNDS:-3}"); do
  for bin in "$@"; do
    d=$(mktemp -d "$work/d.XXXX")
    s=$(date +%s.%N)
    taskset -c 0 "$bin" replay --data "$d" "$log" > "$d.out" 2>&1
    e=$(date +%s.%N)
    python3 -c "print(f'$bin {$n/($e-$s):,.0f} events/s ({$e-$s:.1f} s)')"
    rm -rf "$d" "$d.out"
  done
done
