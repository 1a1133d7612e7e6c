#!/usr/bin/env bash
# Hunting latency over a week of stored events (issue 13), and the replay that stores them.
# Usage: scripts/bench/hunt_latency.sh BIN
# EVENTS (default 7000000: a week of 1M a day, the simulator's default timeline) are simulated
# as a combined access log, replayed into a fresh SQLite data dir (timed, Rampart pinned to
# core 0), then each query below is run by `rampart hunt` (a process per run: open, plan,
# query, print) under hyperfine, median of RUNS (default 5).
# PG_URL (e.g. postgres://postgres@127.0.0.1:5432/test) also replays the events into that
# PostgreSQL database (its tables are dropped first), runs the queries, then copies the events
# 9 more times into the same week (each copy shifted by 1..9 ms) for 10x and runs them again
# (RUNS_10X runs each, default 1). SKIP_SQLITE=1 leaves the SQLite part out.
set -euo pipefail
bin=$(realpath "$1")
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
events=${EVENTS:-7000000}
runs=${RUNS:-5}
runs_10x=${RUNS_10X:-1}
log="$work/week.log"
[ -f "$log" ] || "$bin" simulate --format combined --events "$events" --out "$log" >/dev/null

ip=$(awk 'NR==1000 {print $1; exit}' "$log")
queries=(
  "ApiEvents | summarize count() by bin(Timestamp, 1h)"
  "ApiEvents | where Status == 401 | summarize n = count() by ClientIp | top 10 by n"
  "ApiEvents | where ClientIp == \"$ip\" | summarize count() by Path, Status | sort by count_ desc | take 20"
  "ApiEvents | where Path startswith \"/api/v1/orders\" and Status >= 500 | summarize dcount(ClientIp) by bin(Timestamp, 1d)"
  "ApiEvents | where UserAgent has \"sqlmap\" or Query contains \"union\" | project Timestamp, ClientIp, Path, Status | take 100"
  "Alerts | summarize count() by Detector"
)

store_and_measure() { # label, runs, data-args...
  local label=$1 runs=$2; shift 2
  printf '\n### %s\n\n' "$label"
  local args=()
  local i=0
  for q in "${queries[@]}"; do
    i=$((i + 1))
    args+=(-n "q$i" "$bin hunt $* --since 8760h --limit 1000 '$q'")
  done
  local warm=1
  [ "$runs" -gt 1 ] || warm=0
  hyperfine -N -i --runs "$runs" --warmup "$warm" --style none --export-json "$work/$label.json" "${args[@]}" >/dev/null
  python3 - "$work/$label.json" <<'PY'
import json, statistics, sys
print("| query | median s | min s | max s | runs |\n|---|---:|---:|---:|---:|")
for r in json.load(open(sys.argv[1]))["results"]:
    t = r["times"]
    print(f"| {r['command']} | {statistics.median(t):.2f} | {min(t):.2f} | {max(t):.2f} | {len(t)} |")
PY
  i=0
  for q in "${queries[@]}"; do
    i=$((i + 1))
    rows=$("$bin" hunt "$@" --since 8760h --limit 1000 --json "$q" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["rows"]))' 2>/dev/null || echo "no")
    printf 'q%d (%s rows): `%s`\n' "$i" "$rows" "$q"
  done
}

d="$work/sqlite"
if [ -z "${SKIP_SQLITE:-}" ]; then
if [ -z "${REUSE:-}" ] || [ ! -d "$d" ]; then # REUSE=1: query the store an earlier run left
rm -rf "$d"
start=$(date +%s.%N)
taskset -c 0 "$bin" replay --data "$d" "$log" >/dev/null 2>"$work/replay.err"
end=$(date +%s.%N)
python3 -c "import sys; e=$events; s=$end-$start; print(f'replay {e} events into SQLite: {s:.1f} s, {e/s:,.0f} events/s')"
fi
du -sh "$d" | awk '{print "SQLite data dir:", $1}'
store_and_measure "sqlite-$events" "$runs" --data "$d"
fi

if [ -n "${PG_URL:-}" ]; then
  psql -q "$PG_URL" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;'
  p="$work/pg"
  rm -rf "$p"
  start=$(date +%s.%N)
  taskset -c 0 "$bin" replay --data "$p" --postgres "$PG_URL" "$log" >/dev/null 2>"$work/replay-pg.err"
  end=$(date +%s.%N)
  python3 -c "import sys; e=$events; s=$end-$start; print(f'replay {e} events into PostgreSQL: {s:.1f} s, {e/s:,.0f} events/s')"
  psql -q "$PG_URL" -c 'VACUUM ANALYZE events;'
  store_and_measure "postgres-$events" "$runs" --data "$p" --postgres "$PG_URL"
  cols="ts, client_ip, method, host, path, query, status, request_bytes, response_bytes, latency_us, user_agent, principal, api_key_id, service, kind, source_format, extra, raw"
  start=$(date +%s.%N)
  for k in 1 2 3 4 5 6 7 8 9; do
    psql -q "$PG_URL" -c "INSERT INTO events ($cols) SELECT ts + $k, client_ip, method, host, path, query, status, request_bytes, response_bytes, latency_us, user_agent, principal, api_key_id, service, kind, source_format, extra, raw FROM events WHERE id <= $events"
  done
  psql -q "$PG_URL" -c 'VACUUM ANALYZE events;'
  end=$(date +%s.%N)
  python3 -c "s=$end-$start; print(f'9 copies inserted by SQL (and VACUUM ANALYZE): {s:.0f} s')"
  psql -At "$PG_URL" -c "SELECT count(*), pg_size_pretty(pg_total_relation_size('events')) FROM events"
  store_and_measure "postgres-10x" "$runs_10x" --data "$p" --postgres "$PG_URL"
fi
