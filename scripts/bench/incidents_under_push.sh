#!/usr/bin/env bash
# `GET /api/v1/incidents` throughput and latency while events are pushed.
# Usage: scripts/bench/incidents_under_push.sh BIN [BIN...]
# For each binary: a fresh data dir with 100k simulated events replayed (incidents to list),
# `rampart serve` on a free port, one client pushing NDJSON batches of 1,000 events in a loop,
# and wrk (2 threads, 32 connections, 20 s) on the incident list with an admin token.
# DURATION (default 20s) and RAMPART_TOML (extra rampart.toml for the server) adjust it.
set -euo pipefail
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
dur=${DURATION:-20s}
first=$1
[ -f "$work/seed.log" ] || "$first" simulate --format combined --events 100000 --out "$work/seed.log" >/dev/null
[ -f "$work/push.ndjson" ] || "$first" simulate --format rampart --events 200000 --seed 7 --out "$work/push.ndjson" >/dev/null
printf '| binary | GET /api/v1/incidents req/s | p50 | p99 | events pushed meanwhile (events/s) |\n|---|---|---|---|---|\n'
for bin in "$@"; do
  d=$(mktemp -d)
  "$bin" replay --data "$d" "$work/seed.log" >/dev/null 2>&1
  # RAMPART_TOML: extra configuration for the server (e.g. "[server]\nlist_cache_ms = 0").
  [ -z "${RAMPART_TOML:-}" ] || printf '%b\n' "$RAMPART_TOML" > "$d/rampart.toml"
  tok=$("$bin" token create --data "$d" --name bench --role admin)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin" serve --data "$d" --listen "127.0.0.1:$port" > "$d/serve.log" 2>&1 &
  spid=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
  python3 - "$port" "$tok" "$work/push.ndjson" "$d/pushed" <<'PY' &
import http.client, sys, time
port, tok, path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
lines = open(path, "rb").read().split(b"\n")
batches = [b"\n".join(lines[i:i + 1000]) for i in range(0, len(lines), 1000)]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
n, t0, i = 0, time.time(), 0
deadline = t0 + float(sys.argv[5]) if len(sys.argv) > 5 else None
try:
    while True:
        b = batches[i % len(batches)]; i += 1
        c.request("POST", "/api/v1/events", body=b, headers={"Authorization": "Bearer " + tok, "Content-Type": "application/x-ndjson"})
        r = c.getresponse(); r.read()
        if r.status == 202:
            n += b.count(b"\n") + 1
        with open(out, "w") as f:
            f.write(f"{n} {time.time() - t0}\n")
except Exception:
    pass
PY
  ppid=$!
  res=$(wrk -t2 -c32 -d"$dur" --latency -H "Authorization: Bearer $tok" "http://127.0.0.1:$port/api/v1/incidents")
  kill "$ppid" 2>/dev/null || true; wait "$ppid" 2>/dev/null || true
  kill -INT "$spid"; wait "$spid" 2>/dev/null || true
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$res")
  p50=$(awk '$1=="50%" {print $2}' <<< "$res")
  p99=$(awk '$1=="99%" {print $2}' <<< "$res")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<< "$res")
  read -r pushed secs < "$d/pushed" || { pushed=0; secs=1; }
  name=$(basename "$(dirname "$(dirname "$(dirname "$bin")")")")
  printf '| %s | %s%s | %s | %s | %s (%s) |\n' "$name" "$rps" "${non2xx:+ ($non2xx non-2xx)}" "$p50" "$p99" "$pushed" "$(python3 -c "print(round($pushed/$secs))")"
  rm -rf "$d"
done
