#!/usr/bin/env bash
# Makes sure the clients the tests drive are present: python3 with boto3 and moto (moto_server),
# and the AWS CLI. Installs the pinned versions from PyPI only when something is missing, so a
# prepared machine pays nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || {
    echo "error: python3 is required by the SQS client tests; install it (apt-get install python3 python3-pip)" >&2
    exit 1
}
if python3 -c "import boto3, moto, flask_cors" 2>/dev/null && command -v aws >/dev/null && command -v moto_server >/dev/null; then
    exit 0
fi
echo "== installing the test clients (scripts/requirements-test.txt)"
python3 -m pip install --quiet --user -r scripts/requirements-test.txt \
    || python3 -m pip install --quiet --user --break-system-packages -r scripts/requirements-test.txt
# pip --user puts console scripts (aws, moto_server) here.
user_bin="$(python3 -m site --user-base)/bin"
for tool in aws moto_server; do
    command -v "$tool" >/dev/null || [ -x "$user_bin/$tool" ] || {
        echo "error: $tool is still missing after installing scripts/requirements-test.txt" >&2
        exit 1
    }
done
