#!/usr/bin/env bash
# Runs every test of the repository: the one command the README and CI both use.
# Rust (fmt, clippy, nextest), then infra/ (Terraform; needs the debug conveyor binary the
# Rust tests build).
set -euo pipefail
cd "$(dirname "$0")/.."

profile=default
[ "${CI:-}" = "true" ] && profile=ci

echo "== test clients (python3, boto3, moto, aws, schemathesis, aiosmtpd, playwright, chromium)"
bash scripts/test-deps.sh
# Console scripts installed with pip --user live here.
PATH="$PATH:$(python3 -m site --user-base)/bin"
export PATH

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo nextest (all crates)"
cargo nextest run --workspace --locked --profile "$profile"

echo "== infra: terraform fmt, validate, test; isolation; staging applied to moto, smoked, destroyed"
CONVEYOR_BIN="$PWD/target/debug/conveyor" bash scripts/test-infra.sh
