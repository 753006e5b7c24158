#!/usr/bin/env bash
# SQS protocol benchmark (issue 4): `conveyor bench sqs` (the Rust AWS SDK: SendMessageBatch /
# ReceiveMessage / DeleteMessageBatch, batches of 10) against Conveyor's SQS endpoint and against
# moto_server, and BullMQ on Redis measured with its own client, all in the same run.
# Needs a release build, moto_server (scripts/test-deps.sh), node + npm, and redis-server
# (Debian: apt-get install redis-server). Environment: CLIENTS (32), MESSAGES (60000),
# MOTO_MESSAGES (1000), RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/conveyor
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
for tool in moto_server node npm redis-server; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (see the header of $0)" >&2; exit 1; }
done
clients=${CLIENTS:-32}
messages=${MESSAGES:-60000}
moto_messages=${MOTO_MESSAGES:-1000}
runs=${RUNS:-3}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" --log-format text serve --listen 127.0.0.1:0 --sqs-listen 127.0.0.1:0 --data-dir "$work/conveyor" > "$work/out" 2> "$work/err" &
pids+=($!)
moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=($!)
redis_port=$(free_port)
# Two Redis set-ups: in memory only, and with an append-only file fsynced every second (its
# durable setting; Conveyor fsyncs every commit before answering).
redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" > "$work/redis.log" 2>&1 &
pids+=($!)
redis_aof_port=$(free_port)
mkdir -p "$work/aof"
redis-server --port "$redis_aof_port" --save '' --appendonly yes --appendfsync everysec --dir "$work/aof" > "$work/redis-aof.log" 2>&1 &
pids+=($!)
(cd scripts/bench/bullmq && [ -d node_modules/bullmq ] || npm install --no-audit --no-fund --silent)
for _ in $(seq 100); do grep -q "conveyor listening" "$work/out" 2>/dev/null && break; sleep 0.1; done
conveyor_url=$(grep -o 'sqs listening on http://[0-9.:]*' "$work/out" | awk '{print $4}')
sleep 1
echo "conveyor $conveyor_url, moto :$moto_port, redis :$redis_port and :$redis_aof_port (AOF); $clients clients, $runs runs"
for i in $(seq "$runs"); do
    echo "-- run $i"
    "$bin" bench sqs --endpoint "$conveyor_url" --clients "$clients" --messages "$messages"
    node scripts/bench/bullmq/bench.mjs "$redis_port" "$clients" "$messages" 256 | sed 's/bullmq+redis/bullmq+redis(memory)/'
    node scripts/bench/bullmq/bench.mjs "$redis_aof_port" "$clients" "$messages" 256 | sed 's/bullmq+redis/bullmq+redis(aof-everysec)/'
    "$bin" bench sqs --endpoint "http://127.0.0.1:$moto_port" --clients 8 --messages "$moto_messages" --wait-seconds 0
done
