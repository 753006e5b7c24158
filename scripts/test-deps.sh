#!/usr/bin/env bash
# Makes sure the clients the tests drive are present: python3 with boto3 and moto (moto_server),
# the AWS CLI, aiosmtpd (a real SMTP server) and schemathesis (which fuzzes the served OpenAPI document). Installs the pinned versions from PyPI only when something is missing, so a
# prepared machine pays nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || {
    echo "error: python3 is required by the SQS client tests; install it (apt-get install python3 python3-pip)" >&2
    exit 1
}
user_bin="$(python3 -m site --user-base)/bin"
present() { command -v "$1" >/dev/null || [ -x "$user_bin/$1" ]; }
if python3 -c "import boto3, moto, flask_cors, schemathesis, aiosmtpd" 2>/dev/null && present aws && present moto_server && present schemathesis; then
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
