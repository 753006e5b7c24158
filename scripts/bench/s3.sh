#!/usr/bin/env bash
# S3 endpoint benchmark (issue 21): PUT and GET of 1 MiB and 100 MiB objects through the S3
# protocol, with a Rust S3 client (`conveyor bench s3`, object_store's), against `conveyor serve`'s
# endpoint on the local store and against moto_server in the same run, alternated; and the
# server's memory before and after (flat = no whole-object buffering).
# Needs moto_server (scripts/test-deps.sh), the AWS CLI (to create moto's bucket) and a release
# build (cargo build --release -p conveyor). Environment: CONVEYOR_BIN (the binary, by default
# target/release/conveyor), RUNS (3), SMALL (objects of 1 MiB per
# run, 200), LARGE (objects of 100 MiB per run, 4), CLIENTS (8).
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH="$PATH:$(python3 -m site --user-base)/bin"
bin=${CONVEYOR_BIN:-target/release/conveyor}
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
command -v moto_server >/dev/null || { echo "moto_server is missing: bash scripts/test-deps.sh" >&2; exit 1; }
runs=${RUNS:-3}
small=${SMALL:-200}
large=${LARGE:-4}
clients=${CLIENTS:-8}
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-s3-bench.XXXXXX")
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
moto_port=$(free_port)
"$bin" --log-format text serve --listen 127.0.0.1:0 --sqs-listen off --s3-listen 127.0.0.1:0 --data-dir "$work/data" > "$work/out" 2> "$work/err" &
pid=$!
moto_server -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
moto_pid=$!
trap 'kill -TERM $pid $moto_pid 2>/dev/null; wait $pid $moto_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q 'conveyor listening' "$work/out" 2>/dev/null && break; sleep 0.1; done
conveyor=$(sed -n 's/^conveyor s3 listening on //p' "$work/out")
moto="http://127.0.0.1:$moto_port"
for _ in $(seq 100); do curl -s -o /dev/null "$moto" && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
# The environment's bucket, the one Conveyor's endpoint lists; moto gets one of the same name.
bucket=$(aws --endpoint-url "$conveyor" s3 ls | awk '{print $3; exit}')
aws --endpoint-url "$moto" s3 mb "s3://$bucket" > /dev/null
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
echo "conveyor $conveyor, moto $moto, bucket $bucket, $runs runs, $clients clients, work dir $work"
echo "server memory before: rss $(( $(rss_kib) / 1024 )) MiB, peak $(( $(peak_kib) / 1024 )) MiB"
for i in $(seq "$runs"); do
  for target in conveyor moto; do
    url=$([ "$target" = conveyor ] && echo "$conveyor" || echo "$moto")
    printf 'run %d %-8s 1 MiB:   ' "$i" "$target"
    "$bin" bench s3 --endpoint "$url" --bucket "$bucket" --object-bytes $((1024 * 1024)) --objects "$small" --clients "$clients"
    printf 'run %d %-8s 100 MiB: ' "$i" "$target"
    "$bin" bench s3 --endpoint "$url" --bucket "$bucket" --object-bytes $((100 * 1024 * 1024)) --objects "$large" --clients 2
  done
done
echo "server memory after: rss $(( $(rss_kib) / 1024 )) MiB, peak $(( $(peak_kib) / 1024 )) MiB"
