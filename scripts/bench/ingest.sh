#!/usr/bin/env bash
# HTTP ingest benchmark (issue 3): wrk against `conveyor serve` on loopback.
#   POST /v1/analytics/events with a ~1 KiB event (durable enqueue, then 202)
#   GET /health on the same server, measured in the same run as the peer (everything but the enqueue)
# Needs wrk (Debian: apt-get install wrk) and a release build (cargo build --release -p conveyor).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
bin=target/release/conveyor
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
duration=${DURATION:-10s}
runs=${RUNS:-3}
data=$(mktemp -d)
"$bin" --log-format text serve --listen 127.0.0.1:0 --sqs-listen off --data-dir "$data" > "$data/out" 2> "$data/err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do grep -q listening "$data/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$data/out")
echo "server: $url (data in $data), wrk ${duration} per run, ${runs} runs"
run() { # label, connections, extra wrk args...
  local label=$1 conns=$2; shift 2
  for i in $(seq "$runs"); do
    wrk -t2 -c"$conns" -d"$duration" --latency "$@" | awk -v l="$label" -v i="$i" '
      /Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF}
      END {printf "%-34s run %d: %9s req/s  p50 %8s  p99 %8s  non-2xx %s\n", l, i, rps, p50, p99, (bad==""?0:bad)}'
  done
}
run "peer GET /health, 64 conns" 64 "$url/health"
run "POST analytics event, 64 conns" 64 -s scripts/bench/analytics-event.lua "$url/v1/analytics/events"
run "POST analytics event, 8 conns" 8 -s scripts/bench/analytics-event.lua "$url/v1/analytics/events"
