#!/usr/bin/env bash
# Files API benchmark (issue 6): a 100 MiB file uploaded to and downloaded from `conveyor serve`
# on the local store, against `cp` of the same file on the same disk in the same run (the disk's
# own speed), and the server's peak memory before and after (flat = no whole-file buffering).
# `curl file://` (curl copying the file with no server at all) shows the client's own ceiling.
# Needs curl and a release build (cargo build --release -p conveyor).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v curl >/dev/null || { echo "curl is not installed: apt-get install curl" >&2; exit 1; }
bin=target/release/conveyor
[ -x "$bin" ] || { echo "build first: cargo build --release -p conveyor" >&2; exit 1; }
size_mib=${SIZE_MIB:-100}
runs=${RUNS:-5}
work=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-files-bench.XXXXXX")
export CONVEYOR_JWT_SECRET="files-bench-secret-files-bench-secret-0123456789"
export CONVEYOR_ENVIRONMENTS__LOCAL__FILES__MAX_FILE_BYTES=$((2 * 1024 * 1024 * 1024))
export CONVEYOR_ENVIRONMENTS__LOCAL__FILES__MAX_REQUEST_BYTES=$((2 * 1024 * 1024 * 1024))
"$bin" --log-format text serve --listen 127.0.0.1:0 --sqs-listen off --s3-listen off --data-dir "$work/data" > "$work/out" 2> "$work/err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/out" | head -1)
token=$("$bin" token --tenant bench --data-dir "$work/data")
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$work/file.bin"
cat "$work/file.bin" > /dev/null # in the page cache for every contender alike
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "server $url, ${size_mib} MiB file, $runs runs, work dir $work"
echo "server memory before: rss $(( $(rss_kib) / 1024 )) MiB, peak $(( $(peak_kib) / 1024 )) MiB"
seconds() { # command... -> wall seconds
  local start end
  start=$(date +%s.%N); "$@" > /dev/null; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
for i in $(seq "$runs"); do
  rm -f "$work/copy.bin" "$work/down.bin"
  cp_s=$(seconds cp "$work/file.bin" "$work/copy.bin")
  curl_s=$(seconds curl -sf -o "$work/copy.bin" "file://$work/file.bin")
  up_s=$(seconds curl -sf -H "Authorization: Bearer $token" -F "file=@$work/file.bin" "$url/files/upload?folder=bench")
  down_s=$(seconds curl -sf -H "Authorization: Bearer $token" -o "$work/down.bin" "$url/files/download/bench/file.bin")
  cmp -s "$work/file.bin" "$work/down.bin" || { echo "the downloaded file differs" >&2; exit 1; }
  awk -v i="$i" -v c="$cp_s" -v k="$curl_s" -v u="$up_s" -v d="$down_s" -v m="$size_mib" 'BEGIN {
    printf "run %d: cp %5.0f MiB/s | curl file:// %5.0f MiB/s | upload %5.0f MiB/s (%3.0f%% of cp) | download %5.0f MiB/s (%3.0f%% of cp)\n",
      i, m / c, m / k, m / u, 100 * c / u, m / d, 100 * c / d }'
done
echo "server memory after: rss $(( $(rss_kib) / 1024 )) MiB, peak $(( $(peak_kib) / 1024 )) MiB"
