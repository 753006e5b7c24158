#!/usr/bin/env bash
# Check one deployed environment, as the seeds' deployment validation does:
#   1. no drift: `terraform plan` finds nothing to change (--ignore-drift 'ADDRESS.ATTRIBUTE'
#      accepts a known difference; patterns as in fnmatch);
#   2. isolation: every name it outputs carries the environment, the network is its own;
#   3. the API answers /health on each of its URLs (skip with --no-http);
#   4. `conveyor smoke`: bucket access, every queue, the dead-letter round trip and results
#      in their Athena partitions, against what Terraform created (its workers must be running).
#
#   scripts/validate-environment.sh staging|production [--no-http] [--ignore-drift PATTERN]… [-- TERRAFORM PLAN ARGS…]
# Uses CONVEYOR_BIN (default: conveyor on PATH, else target/release/conveyor).
set -euo pipefail
cd "$(dirname "$0")/.."

env="${1:-}"
case "$env" in
staging | production) shift ;;
*) echo "usage: $0 staging|production [--no-http] [--ignore-drift PATTERN]... [-- terraform plan arguments]" >&2; exit 2 ;;
esac
http=1
extra=()
ignore=()
while [ $# -gt 0 ]; do
    case "$1" in
    --no-http) http=0; shift ;;
    --ignore-drift) ignore+=(--ignore "${2:?--ignore-drift needs a pattern}"); shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "error: unknown argument $1" >&2; exit 2 ;;
    esac
done
conveyor="${CONVEYOR_BIN:-$(command -v conveyor || echo target/release/conveyor)}"
dir="infra/environments/$env"
failed=0
check() { if "$@"; then echo "✅ $label"; else echo "❌ $label"; failed=1; fi; }

# Any change the plan holds is named, attribute by attribute (infra/scripts/drift_check.py).
no_drift() {
    local plan
    plan="$(mktemp)"
    terraform -chdir="$dir" plan -input=false -lock=false -no-color -out="$plan" "${extra[@]}" >/dev/null || return 1
    terraform -chdir="$dir" show -json "$plan" >"$plan.json" && rm -f "$plan" \
        && python3 infra/scripts/drift_check.py "$plan.json" "${ignore[@]}"
}
label="$env: no drift (terraform plan finds nothing to change)"
check no_drift

outputs="$(terraform -chdir="$dir" output -json)"
label="$env: every bucket, queue and role name carries the environment"
check python3 - "$env" "$outputs" <<'PY'
import json, sys
env, out = sys.argv[1], json.loads(sys.argv[2])
names = [out["bucket_name"]["value"], out["api_role_arn"]["value"], out["worker_role_arn"]["value"],
         out["ecs_cluster_name"]["value"], out["secret_name"]["value"], *out["dlq_names"]["value"].values()]
# Production's queues may omit the environment (the seeds' names): they carry no other's either.
other = {"staging": "production", "production": "staging"}[env]
bad = [n for n in names if f"-{other}-" in n or (env == "staging" and "-staging-" not in n)]
bad += [u for u in out["queue_urls"]["value"].values() if f"-{other}-" in u]
for n in bad:
    print(f"   {n} is not {env}'s", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

if [ "$http" = 1 ]; then
    for url in $(echo "$outputs" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["api_urls"]["value"]))'); do
        label="$env: $url/health answers"
        check curl -fsS --max-time 10 -o /dev/null "$url/health"
    done
fi

# What the ECS tasks are given, so the smoke test finds the same queues and bucket.
eval "$(echo "$outputs" | python3 -c '
import json, shlex, sys
for k, v in json.load(sys.stdin)["conveyor_environment"]["value"].items():
    print(f"export {k}={shlex.quote(v)}")')"
label="$env: conveyor smoke"
check "$conveyor" smoke --timeout "${SMOKE_TIMEOUT:-120}"

if [ "$failed" = 1 ]; then
    echo "error: $env failed validation" >&2
    exit 1
fi
echo "$env is valid"
