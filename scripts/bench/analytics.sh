#!/usr/bin/env bash
# Analytics pipeline benchmark (issue 17), on the embedded default with a release build:
#   1. events/s from POST /v1/analytics/events (500 events of ~200 bytes per request, 16
#      connections) until every event is in published Parquet, counted with DuckDB; and in the
#      same run the per-event JSON peer (one message and one JSON result per event);
#   2. Parquet bytes per event;
#   3. peak RSS of the server while it buffers 1,000,000 events (max_age and max_bytes raised so
#      that one buffer holds them all).
# Needs the test clients (bash scripts/test-deps.sh: DuckDB) and cargo build --release -p conveyor.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/target/release/conveyor
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
runs=${RUNS:-3}
events=${EVENTS:-1000000}
peer_events=${PEER_EVENTS:-50000}
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

config() { # max_age max_bytes visibility
    cat <<TOML
instance = "bench"
use_case = "ops"
environment = "local"

[queues.analytics]
visibility = "$3"
handler = { kind = "analytics", max_age = "$1", max_bytes = $2, columns = [{ name = "plan", type = "string" }] }

[queues.rawevents]
visibility = "1m"
handler = "log"
worker = { concurrency = 16 }

[environments.local]
data_dir = "unused"
bucket_suffix = "data"
TOML
}

start() { # data dir, config
    "$bin" --log-format text serve --listen 127.0.0.1:0 --sqs-listen 127.0.0.1:0 --s3-listen off --data-dir "$1" --config "$2" \
        >"$1.out" 2>"$1.err" &
    pid=$!
    for _ in $(seq 100); do grep -q 'conveyor listening' "$1.out" 2>/dev/null && break; sleep 0.1; done
    url=$(grep -o 'conveyor listening on http://[0-9.:]*' "$1.out" | grep -o 'http://.*')
    sqs=$(grep -o 'conveyor sqs listening on http://[0-9.:]*' "$1.out" | grep -o 'http://.*')
}

stop() {
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

config 1s 67108864 1m >"$work/throughput.toml"
for run in $(seq "$runs"); do
    data="$work/run$run"
    mkdir -p "$data"
    start "$data" "$work/throughput.toml"
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench "$bin" bench analytics --url "$url" \
        --queue bench-local-ops-analytics --events "$events" --connections 16 --per-request 500 \
        --sqs "$sqs" --peer-queue bench-local-ops-rawevents --peer-events "$peer_events" | sed "s/^/run $run: /"
    stop
    python3 - "$data" "$run" <<'PY'
import glob, os, sys, duckdb
data, run = sys.argv[1], sys.argv[2]
files = glob.glob(f"{data}/objects/events/**/*.parquet", recursive=True)
size = sum(os.path.getsize(f) for f in files)
rows, ids = duckdb.sql(f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{data}/objects/events/**/*.parquet', hive_partitioning = true)").fetchone()
json_results = len(glob.glob(f"{data}/objects/results/bench-local-ops-rawevents/**/*.json", recursive=True))
json_bytes = sum(os.path.getsize(f) for f in glob.glob(f"{data}/objects/results/bench-local-ops-rawevents/**/*.json", recursive=True))
print(f"run {run}: DuckDB counts {rows} rows, {ids} distinct event ids, in {len(files)} Parquet files: {size / rows:.1f} bytes/event"
      f" (the peer's JSON results: {json_results} files, {json_bytes / max(json_results, 1):.0f} bytes/event)")
PY
    rm -rf "$data"
done

echo "== peak RSS while buffering $events events (one buffer: max_age 10m, max_bytes 1 GiB)"
config 10m 1073741824 30m >"$work/buffer.toml"
data="$work/buffer"
mkdir -p "$data"
start "$data" "$work/buffer.toml"
before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
"$bin" bench analytics --url "$url" --queue bench-local-ops-analytics --events "$events" \
    --connections 16 --per-request 500 --until-buffered
echo "server RSS: $((before / 1024)) MiB idle; peak $(( $(awk '/VmHWM/ {print $2}' /proc/$pid/status) / 1024 )) MiB with $events events buffered"
started=$(date +%s.%N)
stop
echo "graceful stop flushed the buffer in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$started" "$(date +%s.%N)") s"
python3 -c "import duckdb, sys; print('DuckDB counts', duckdb.sql(f\"SELECT count(*) FROM read_parquet('{sys.argv[1]}/objects/events/**/*.parquet')\").fetchone()[0], 'events after the stop')" "$data"
