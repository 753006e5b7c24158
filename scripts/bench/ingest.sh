#!/usr/bin/env bash
# HTTP ingest benchmark (issues 3 and 20): `conveyor serve` on loopback, its workers consuming.
#   closed loop (wrk): POST /v1/analytics/events with a ~1 KiB event (durable enqueue, then 202) at
#     saturation, and GET /health on the same server as the peer (everything but the enqueue);
#   open loop (oha -q): the same POST paced at RATE req/s, latency corrected for coordinated
#     omission (each request is timed from when it was due, not from when it was sent).
# Needs wrk (Debian: apt-get install wrk), oha (cargo install oha --locked; OHA=path overrides)
# and a release build (cargo build --release -p conveyor). Environment: DURATION (10s), RUNS (3),
# RATE (5000), CONFIG (a configuration file instead of the built-in one).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }
oha=${OHA:-oha}
command -v "$oha" >/dev/null || { echo "oha is not installed: cargo install oha --locked" >&2; exit 1; }
bin=target/release/conveyor
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
duration=${DURATION:-10s}
runs=${RUNS:-3}
rate=${RATE:-5000}
data=$(mktemp -d)
"$bin" --log-format text serve ${CONFIG:+--config "$CONFIG"} --listen 127.0.0.1:0 --sqs-listen off --s3-listen off --data-dir "$data" > "$data/out" 2> "$data/err" &
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
event_body() { # the same event as analytics-event.lua
  printf '{"events":[{"name":"screen_view","user_id":"u-1","properties":{"screen":"home","padding":"%s"}}]}' "$(printf 'x%.0s' $(seq 900))"
}
paced() { # label, connections
  local label=$1 conns=$2
  for i in $(seq "$runs"); do
    "$oha" -z "$duration" -q "$rate" -c "$conns" --latency-correction -w --no-tui --output-format json \
      -m POST -T application/json -d "$(event_body)" "$url/v1/analytics/events" | python3 -c '
import json, sys
r = json.load(sys.stdin)
codes = r.get("statusCodeDistribution", {})
bad = sum(n for code, n in codes.items() if code != "202") + sum(r.get("errorDistribution", {}).values())
p = {k: v * 1000 for k, v in r["latencyPercentiles"].items()}
errors = "".join(f"  [{n}x {e}]" for e, n in r.get("errorDistribution", {}).items())
print("%-34s run %s: %9.0f req/s  p50 %6.2fms  p99 %6.2fms  p99.9 %6.2fms  non-202 %d%s" % (
    sys.argv[1], sys.argv[2], r["summary"]["requestsPerSec"], p["p50"], p["p99"], p["p99.9"], bad, errors))
' "$label" "$i"
  done
}
# Paced first: the saturation runs leave a backlog the workers then drain at full speed, which
# is not the steady state a paced rate the workers keep up with is meant to show.
paced "POST paced at ${rate}/s, 64 conns" 64
run "peer GET /health, 64 conns" 64 "$url/health"
run "POST analytics event, 64 conns" 64 -s scripts/bench/analytics-event.lua "$url/v1/analytics/events"
run "POST analytics event, 8 conns" 8 -s scripts/bench/analytics-event.lua "$url/v1/analytics/events"
