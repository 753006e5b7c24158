#!/usr/bin/env bash
# SQS protocol benchmark (issue 4): `conveyor bench sqs` (the Rust AWS SDK: SendMessageBatch /
# ReceiveMessage / DeleteMessageBatch, batches of 10) against Conveyor's SQS endpoint and against
# moto_server, and two peers measured with their own clients, all in the same run: BullMQ on Redis,
# and pg-boss on PostgreSQL (the SKIP LOCKED design pg-boss, River and Graphile Worker share).
# Needs a release build, moto_server (scripts/test-deps.sh), node + npm, redis-server and
# PostgreSQL (Debian: apt-get install redis-server postgresql). Environment: CLIENTS (32),
# MESSAGES (60000), PGBOSS_MESSAGES (20000), MOTO_MESSAGES (1000), RUNS (3).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=target/release/conveyor
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
for tool in moto_server node npm redis-server; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (see the header of $0)" >&2; exit 1; }
done
# Debian keeps PostgreSQL's server programs out of PATH.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg_bin/postgres" ] || pg_bin=$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/postgres)")
[ -x "$pg_bin/postgres" ] || { echo "PostgreSQL is not installed (see the header of $0)" >&2; exit 1; }
clients=${CLIENTS:-32}
messages=${MESSAGES:-60000}
pgboss_messages=${PGBOSS_MESSAGES:-20000}
moto_messages=${MOTO_MESSAGES:-1000}
runs=${RUNS:-3}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
pids=()
pg_dir=$(mktemp -d)
as_pg_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    [ -f "$pg_dir/data/postmaster.pid" ] && as_pg_owner "$pg_bin/pg_ctl" -D "$pg_dir/data" stop -m fast > /dev/null 2>&1
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null
    rm -rf "$work" "$pg_dir"
}
trap cleanup EXIT

"$bin" --log-format text serve --listen 127.0.0.1:0 --sqs-listen 127.0.0.1:0 --s3-listen off --data-dir "$work/conveyor" > "$work/out" 2> "$work/err" &
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
# PostgreSQL with its durable defaults (fsync, synchronous_commit), in a fresh cluster. It refuses
# to run as root, so as root the cluster belongs to Debian's `postgres` account.
chmod 755 "$pg_dir"
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
as_pg_owner "$pg_bin/initdb" -D "$pg_dir/data" -U bench --auth=trust > "$work/initdb.log" 2>&1
pg_port=$(free_port)
as_pg_owner "$pg_bin/postgres" -D "$pg_dir/data" -p "$pg_port" -k "$pg_dir" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 > "$work/postgres.log" 2>&1 &
pids+=($!)
(cd scripts/bench/bullmq && [ -d node_modules/bullmq ] || npm install --no-audit --no-fund --silent)
(cd scripts/bench/pgboss && [ -d node_modules/pg-boss ] || npm install --no-audit --no-fund --silent)
for _ in $(seq 100); do grep -q "ready to accept connections" "$work/postgres.log" 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 100); do grep -q "conveyor listening" "$work/out" 2>/dev/null && break; sleep 0.1; done
conveyor_url=$(grep -o 'sqs listening on http://[0-9.:]*' "$work/out" | awk '{print $4}')
sleep 1
echo "conveyor $conveyor_url, moto :$moto_port, redis :$redis_port and :$redis_aof_port (AOF), postgresql :$pg_port; $clients clients, $runs runs"
for i in $(seq "$runs"); do
    echo "-- run $i"
    "$bin" bench sqs --endpoint "$conveyor_url" --clients "$clients" --messages "$messages"
    node scripts/bench/bullmq/bench.mjs "$redis_port" "$clients" "$messages" 256 | sed 's/bullmq+redis/bullmq+redis(memory)/'
    node scripts/bench/bullmq/bench.mjs "$redis_aof_port" "$clients" "$messages" 256 | sed 's/bullmq+redis/bullmq+redis(aof-everysec)/'
    node scripts/bench/pgboss/bench.mjs "postgres://bench@127.0.0.1:$pg_port/postgres" "$clients" "$pgboss_messages" 256
    "$bin" bench sqs --endpoint "http://127.0.0.1:$moto_port" --clients 8 --messages "$moto_messages" --wait-seconds 0
done
