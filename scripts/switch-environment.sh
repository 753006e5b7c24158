#!/usr/bin/env bash
# Point this shell at one environment: its Terraform backend (infra/environments/ENV/backend.tf),
# the default workspace (each environment has its own state bucket, so no workspaces share one)
# and its credentials profile. Prints the exports to evaluate, and refuses, changing nothing,
# when the directory is initialized against another backend or the state there is another
# environment's:
#
#   eval "$(scripts/switch-environment.sh staging)"        # profile mht-staging
#   eval "$(scripts/switch-environment.sh production --profile prod-admin)"
#   scripts/switch-environment.sh staging --no-profile -- -backend-config=use_path_style=true
#
# --no-profile keeps the credentials already in the environment (CI); arguments after -- go to
# terraform init.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 staging|production [--profile NAME | --no-profile] [-- terraform init arguments]" >&2
    exit 2
}
env="${1:-}"
case "$env" in
staging | production) shift ;;
*) usage ;;
esac
profile="mht-$env"
init_args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --profile) profile="${2:?--profile needs a name}"; shift 2 ;;
    --no-profile) profile=""; shift ;;
    --) shift; init_args=("$@"); break ;;
    *) usage ;;
    esac
done
for tool in terraform aws python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
refuse() {
    echo "error: $*" >&2
    exit 1
}

dir="infra/environments/$env"
if [ -n "$profile" ]; then
    export AWS_PROFILE="$profile"
else
    unset AWS_PROFILE
fi
[ -z "${TF_WORKSPACE:-}" ] || [ "$TF_WORKSPACE" = default ] \
    || refuse "TF_WORKSPACE=$TF_WORKSPACE: each environment keeps its state in its own backend's default workspace; unset TF_WORKSPACE"

# What backend.tf names, and what the directory was last initialized against (if it was).
read -r bucket table key region < <(python3 - "$dir/backend.tf" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
get = lambda k: re.search(rf'^\s*{k}\s*=\s*"([^"]+)"', text, re.M).group(1)
print(get("bucket"), get("dynamodb_table"), get("key"), get("region"))
PY
)
if [ -f "$dir/.terraform/terraform.tfstate" ]; then
    read -r init_type init_bucket init_table < <(python3 - "$dir/.terraform/terraform.tfstate" <<'PY'
import json, sys
backend = json.load(open(sys.argv[1])).get("backend") or {}
config = backend.get("config") or {}
print(backend.get("type") or "none", config.get("bucket") or "-", config.get("dynamodb_table") or "-")
PY
    )
    [ "$init_type" = s3 ] && [ "$init_bucket" = "$bucket" ] && [ "$init_table" = "$table" ] \
        || refuse "$dir is initialized against a $init_type backend (bucket $init_bucket, lock table $init_table), but $env's backend.tf names s3 bucket $bucket and lock table $table: an apply from here would write the wrong state; check, then run terraform -chdir=$dir init -reconfigure"
fi

identity="$(aws sts get-caller-identity --region "$region" --query Arn --output text 2>&1)" \
    || refuse "no usable credentials${profile:+ in profile $profile}: $identity${profile:+ (aws configure --profile $profile, or --profile NAME)}"
aws s3api head-bucket --region "$region" --bucket "$bucket" >/dev/null 2>&1 \
    || refuse "$identity cannot reach $env's state bucket $bucket: wrong account or profile, or the backend is not bootstrapped yet (infra/bootstrap, -var environment=$env)"

# State already there must be this environment's.
state="$(mktemp)"
trap 'rm -f "$state"' EXIT
if aws s3api get-object --region "$region" --bucket "$bucket" --key "$key" "$state" >/dev/null 2>&1; then
    owner="$(python3 -c '
import json, sys
outputs = json.load(open(sys.argv[1])).get("outputs", {})
print(outputs.get("conveyor_environment", {}).get("value", {}).get("CONVEYOR_ENVIRONMENT", "-"))' "$state")"
    [ "$owner" = "$env" ] || [ "$owner" = "-" ] \
        || refuse "the state in s3://$bucket/$key is environment $owner's, not $env's: its backend is misconfigured; do not apply"
fi

terraform -chdir="$dir" init -input=false "${init_args[@]}" >&2
terraform -chdir="$dir" workspace select default >&2

echo "switched to $env: state s3://$bucket/$key (lock $table), as $identity" >&2
if [ -n "$profile" ]; then
    echo "export AWS_PROFILE=$profile"
else
    echo "unset AWS_PROFILE"
fi
echo "export CONVEYOR_ENVIRONMENT=$env"
echo "unset TF_WORKSPACE"
