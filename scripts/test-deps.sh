#!/usr/bin/env bash
# Makes sure the clients the tests drive are present: python3 with boto3 and moto (moto_server),
# the AWS CLI, aiosmtpd (a real SMTP server), schemathesis (which fuzzes the served OpenAPI document),
# Playwright with Debian's Chromium (the dashboard's browser test), DuckDB with its httpfs
# extension (reads the analytics Parquet, locally and from moto's S3) and sqlglot (parses the
# Athena DDL). Installs the pinned versions from PyPI only when something is missing, so a
# prepared machine pays nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || {
    echo "error: python3 is required by the SQS client tests; install it (apt-get install python3 python3-pip)" >&2
    exit 1
}
user_bin="$(python3 -m site --user-base)/bin"
present() { command -v "$1" >/dev/null || [ -x "$user_bin/$1" ]; }

# The dashboard's browser test drives Debian's Chromium (Playwright's own browser download needs
# the internet; the apt package does not).
if ! command -v chromium >/dev/null; then
    echo "== installing chromium (apt) for the dashboard's browser test"
    as_root=()
    [ "$(id -u)" = 0 ] || as_root=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get install -y --no-install-recommends chromium >/dev/null \
        || { "${as_root[@]}" apt-get update >/dev/null && "${as_root[@]}" apt-get install -y --no-install-recommends chromium >/dev/null; } \
        || { echo "error: cannot install chromium with apt-get; the dashboard's browser test needs it" >&2; exit 1; }
fi

if python3 -c "import boto3, moto, flask_cors, schemathesis, aiosmtpd, playwright, duckdb, duckdb_ext, sqlglot" 2>/dev/null && present aws && present moto_server && present schemathesis; then
    exit 0
fi
echo "== installing the test clients (scripts/requirements-test.txt)"
python3 -m pip install --quiet --user -r scripts/requirements-test.txt \
    || python3 -m pip install --quiet --user --break-system-packages -r scripts/requirements-test.txt
# pip --user puts console scripts (aws, moto_server, schemathesis) in $user_bin.
for tool in aws moto_server schemathesis; do
    present "$tool" || {
        echo "error: $tool is still missing after installing scripts/requirements-test.txt" >&2
        exit 1
    }
done
