#!/usr/bin/env bash
# The infra/ checks, offline, as CI runs them (scripts/test.sh calls this after the Rust tests):
#   1. terraform fmt -check; init -backend=false + validate for every module example and both
#      environments, against this machine's provider mirror (never the network);
#   2. terraform test for every module (mock provider, plan-time assertions);
#   3. plan staging and production against a fresh moto_server and check that they share no
#      name or network and differ only where the seeds say (infra/scripts/isolation_check.py);
#   4. apply staging to moto through its real S3 backend (bootstrapped in moto), check with
#      `conveyor provision` that Terraform and config/conveyor.toml describe the same queues,
#      run `conveyor worker` + `conveyor smoke` against what was created, then destroy it all;
#   5. apply infra/stacks/migrationai to the same moto (what moto cannot create switched off),
#      check it does not drift, ask AWS whether each queue triggers its function, and check with
#      `conveyor provision` that it and config/migrationai.toml agree; destroy it;
#   6. check infra/stacks/snsd's plan and its apply to moto against the seed resource by resource,
#      run `conveyor api --config config/snsd.toml` on its bucket (upload, list, download as a
#      tenant), destroy it.
# Needs: terraform, the hashicorp/aws 5.x mirror, moto_server (scripts/test-deps.sh), and the
# conveyor binary (CONVEYOR_BIN, default target/debug/conveyor, built by the Rust tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# shellcheck source=../infra/scripts/offline-cli-config.sh
source infra/scripts/offline-cli-config.sh
infra_cli_config

conveyor="${CONVEYOR_BIN:-$root/target/debug/conveyor}"
[ -x "$conveyor" ] || {
    echo "error: $conveyor is missing: build it first (cargo build -p conveyor), or set CONVEYOR_BIN" >&2
    exit 1
}

work="$(mktemp -d)"
moto_pid=""
worker_pid=""
cleanup() {
    [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null || true
    [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
    rm -f "$root"/infra/environments/*/ci_backend_override.tf
    rm -rf "$work"
}
trap cleanup EXIT

tf() { terraform "$@" -no-color; }
# Runs a command quietly, showing its output only if it fails.
quiet() {
    local log="$work/quiet.log"
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "error: failed: $*" >&2
        return 1
    fi
}
elapsed() { echo "   ($((SECONDS - $1)) s)"; }
# What a destroy left in moto's region $1: queues, buckets, repositories, functions, running
# instances, MemoryDB clusters, secrets, ECS clusters, and the roles whose names start with $2.
left_behind() {
    python3 - "$endpoint" "$1" "$2" <<'PY'
import sys, boto3
endpoint, region, role_prefix = sys.argv[1:4]
s = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
c = lambda name: s.client(name, endpoint_url=endpoint)  # noqa: E731
left = c("sqs").list_queues().get("QueueUrls", [])
left += [b["Name"] for b in c("s3").list_buckets()["Buckets"]]
left += [r["repositoryName"] for r in c("ecr").describe_repositories()["repositories"]]
left += [f["FunctionName"] for f in c("lambda").list_functions()["Functions"]]
left += [i["InstanceId"] for r in c("ec2").describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running", "pending"]}])["Reservations"] for i in r["Instances"]]
left += [m["Name"] for m in c("memorydb").describe_clusters()["Clusters"]]
left += [x["Name"] for x in c("secretsmanager").list_secrets()["SecretList"]]
# A deleted ECS cluster stays listed as INACTIVE for a while, as on AWS.
arns = c("ecs").list_clusters()["clusterArns"]
left += [x["clusterName"] for x in (c("ecs").describe_clusters(clusters=arns)["clusters"] if arns else []) if x["status"] == "ACTIVE"]
left += [r["RoleName"] for r in c("iam").list_roles()["Roles"] if r["RoleName"].startswith(role_prefix)]
print(" ".join(left))
PY
}
# Empties moto's buckets whose names start with $1, every version and delete marker: moto 5.2
# fails a DeleteObject of one version when its key also has a delete marker (500,
# FakeDeleteMarker has no dispose), and the provider's force_destroy retries it forever; its
# DeleteObjects works, so buckets are emptied that way before a destroy.
empty_buckets() {
    python3 - "$endpoint" "$1" <<'PY'
import sys, boto3
s3 = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-west-2").client("s3", endpoint_url=sys.argv[1])
for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(sys.argv[2])):
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
PY
}

modules=(infra/modules/*/)
stacks=(infra/stacks/*/)
environments=(infra/environments/staging infra/environments/production)

# A previous run's backend settings (moto's, long gone) must not leak into this one.
rm -rf infra/bootstrap/.terraform "${environments[@]/%//.terraform}"

echo "== terraform fmt -check -recursive infra"
terraform fmt -check -recursive infra || {
    echo "error: run 'terraform fmt -recursive infra'" >&2
    exit 1
}

echo "== module READMEs match their variables.tf and outputs.tf"
python3 infra/scripts/module_docs.py --check "${modules[@]}"

echo "== terraform validate: ${#modules[@]} module examples, ${#stacks[@]} stack(s), the bootstrap and both environments"
start=$SECONDS
for dir in "${modules[@]/%/examples/complete}" "${stacks[@]}" infra/bootstrap "${environments[@]}"; do
    (cd "$dir" && quiet tf init -backend=false -input=false && quiet tf validate) || {
        echo "error: $dir does not validate" >&2
        exit 1
    }
    echo "   ok $dir"
done
elapsed $start

echo "== the pipeline module's buildspec and deployspec, run with their AWS and Docker commands written out"
python3 infra/scripts/buildspec_check.py infra/modules/pipeline

echo "== terraform test: every module and stack"
start=$SECONDS
for dir in "${modules[@]}" "${stacks[@]}"; do
    if ! (cd "$dir" && quiet tf init -backend=false -input=false && tf test >"$work/test.log" 2>&1); then
        cat "$work/test.log" >&2
        echo "error: terraform test failed in $dir" >&2
        exit 1
    fi
    echo "   $(grep -E '^(Success|Failure)' "$work/test.log") $dir"
done
elapsed $start

# ---- against moto_server ----------------------------------------------------------------------
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "$endpoint/moto-api/" && break
    sleep 0.1
done
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-west-2
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "== moto_server on $endpoint"
python3 infra/scripts/moto_fixture.py "$endpoint" amygdalas.com us-west-2

echo "== isolation: plan staging and production, compare"
start=$SECONDS
for env in "${environments[@]}"; do
    name="$(basename "$env")"
    # Plans write no state: a local backend spares each environment's S3 backend here.
    printf 'terraform {\n  backend "local" {\n    path = "%s"\n  }\n}\n' "$work/$name-plan.tfstate" \
        >"$env/ci_backend_override.tf"
    (cd "$env" && quiet tf init -reconfigure -input=false \
        && quiet tf plan -input=false -var-file=../moto.tfvars -out="$work/$name.tfplan" \
        && terraform show -json "$work/$name.tfplan" >"$work/$name.plan.json") || {
        echo "error: planning $name failed" >&2
        exit 1
    }
    rm "$env/ci_backend_override.tf"
done
python3 infra/scripts/isolation_check.py "$work/staging.plan.json" "$work/production.plan.json"
elapsed $start

echo "== alarms: the CloudWatch alarms Terraform plans are the rules Conveyor evaluates"
for env in staging production; do
    # Only the effective settings are wanted: keys and dry run spare the refusals to start.
    env CONVEYOR_API_KEYS=ci "CONVEYOR_ENVIRONMENTS__${env^^}__DRY_RUN=true" \
        "$conveyor" config check --env "$env" >"$work/$env.conveyor.toml"
    python3 infra/scripts/alarm_check.py "$work/$env.plan.json" "$work/$env.conveyor.toml" || {
        echo "error: infra/environments/$env and config/conveyor.toml alarm differently" >&2
        exit 1
    }
done

echo "== athena: the Glue tables Terraform plans are the tables conveyor athena ddl prints"
for env in staging production; do
    "$conveyor" athena ddl --env "$env" >"$work/$env.ddl.sql"
    python3 infra/scripts/athena_check.py "$work/$env.plan.json" "$work/$env.ddl.sql" "$work/$env.conveyor.toml" || {
        echo "error: infra/modules/s3's Glue tables or record expiry and conveyor athena ddl --env $env disagree" >&2
        exit 1
    }
done

echo "== blue/green: production's planned CodeDeploy outputs make a valid CreateDeployment request"
python3 infra/scripts/codedeploy_request.py --check "$work/production.plan.json"

echo "== bootstrap staging's state backend (S3 bucket + DynamoDB lock table) in moto"
start=$SECONDS
(cd infra/bootstrap && quiet tf init -input=false \
    && quiet tf apply -auto-approve -input=false -var environment=staging -var force_destroy=true -state="$work/bootstrap.tfstate")
elapsed $start

echo "== apply staging to moto (state in its S3 backend, locked in DynamoDB)"
start=$SECONDS
staging=infra/environments/staging
(cd "$staging" && quiet tf init -reconfigure -input=false -backend-config=use_path_style=true \
    && quiet tf apply -auto-approve -input=false -var-file=../moto.tfvars -var image_tag=ci) || {
    echo "error: applying staging to moto failed" >&2
    exit 1
}
(cd "$staging" && terraform output -json) >"$work/outputs.json"
bucket="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bucket_name"]["value"])' "$work/outputs.json")"
echo "   $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["queue_urls"]["value"]))' "$work/outputs.json") queues, bucket $bucket"
elapsed $start

echo "== scripts/switch-environment.sh: selects staging's backend, refuses production's directory on another backend"
switched="$(scripts/switch-environment.sh staging --no-profile -- -backend-config=use_path_style=true 2>"$work/switch.log")" || {
    cat "$work/switch.log" >&2
    echo "error: switch-environment.sh staging refused staging's own backend" >&2
    exit 1
}
grep -qx 'export CONVEYOR_ENVIRONMENT=staging' <<<"$switched"
# The isolation plans left production initialized against a local backend, not its S3 bucket.
if scripts/switch-environment.sh production --no-profile 2>"$work/switch.log" >/dev/null; then
    echo "error: switch-environment.sh production accepted a directory initialized against another backend" >&2
    exit 1
fi
grep -q "is initialized against a local backend" "$work/switch.log" || {
    cat "$work/switch.log" >&2
    exit 1
}
echo "   staging selected; production refused: $(head -c 120 "$work/switch.log")…"

# What the ECS tasks get (the conveyor_environment output), plus moto.
eval "$(python3 -c '
import json, shlex, sys
for k, v in json.load(open(sys.argv[1]))["conveyor_environment"]["value"].items():
    print(f"export {k}={shlex.quote(v)}")' "$work/outputs.json")"
export CONVEYOR_AWS_ENDPOINT="$endpoint" CONVEYOR_DATA_DIR="$work/data"

echo "== conveyor provision: Terraform and config/conveyor.toml agree on every queue"
"$conveyor" provision | tee "$work/provision.log"
if grep -E '(created|updated)' "$work/provision.log" | grep -v "bucket" ; then
    echo "error: conveyor provision had to change what Terraform created: infra/environments/staging/terraform.tfvars and config/conveyor.toml disagree" >&2
    exit 1
fi

echo "== athena: the applied Glue tables (bucket included) are the ones conveyor athena ddl prints"
(cd "$staging" && terraform show -json) >"$work/staging.state.json"
"$conveyor" athena ddl >"$work/staging.applied.ddl.sql"
python3 infra/scripts/athena_check.py "$work/staging.state.json" "$work/staging.applied.ddl.sql" "$work/staging.conveyor.toml"

echo "== conveyor worker + scripts/validate-environment.sh staging (drift, names, conveyor smoke)"
# Dry run: the handlers would call Zendesk, SendGrid and App Store Connect, which a test never
# reaches; smoke's own probes are answered without them anyway.
CONVEYOR_ENVIRONMENTS__STAGING__DRY_RUN=true CONVEYOR_LISTEN=127.0.0.1:0 CONVEYOR_SQS_LISTEN=off CONVEYOR_S3_LISTEN=off "$conveyor" worker >"$work/worker.log" 2>&1 &
worker_pid=$!
# No /health: moto runs no containers, so nothing answers behind the load balancer.
# moto does not store these attributes, so a fresh plan always wants to set them again; any other
# difference fails (infra/README.md lists these).
if ! CONVEYOR_BIN="$conveyor" SMOKE_TIMEOUT=90 scripts/validate-environment.sh staging --no-http \
    --ignore-drift 'module.ecs.aws_ecs_service.this[[]*[]].availability_zone_rebalancing' \
    --ignore-drift 'module.ecs.aws_ecs_service.this[[]"api"[]].health_check_grace_period_seconds' \
    --ignore-drift 'module.ecs.aws_vpc_security_group_ingress_rule.api_from_alb.description' \
    -- -var-file=../moto.tfvars -var image_tag=ci; then
    echo "--- worker log" >&2
    tail -50 "$work/worker.log" >&2
    exit 1
fi
kill "$worker_pid"
wait "$worker_pid" 2>/dev/null || true
worker_pid=""

echo "== destroy staging and its state backend"
start=$SECONDS
empty_buckets mht-api-staging-
(cd "$staging" && quiet tf destroy -auto-approve -input=false -var-file=../moto.tfvars -var image_tag=ci) || {
    echo "error: destroying staging failed" >&2
    exit 1
}
(cd infra/bootstrap && quiet tf destroy -auto-approve -input=false -var environment=staging -var force_destroy=true -state="$work/bootstrap.tfstate")
left="$(left_behind us-west-2 mht-api-)"
if [ -n "$left" ]; then
    echo "error: destroy left these behind: $left" >&2
    exit 1
fi
elapsed $start

# ---- the MigrationAI stack on the same moto_server ----------------------------------------------
stack=infra/stacks/migrationai
stack_state="$work/migrationai.tfstate"
stack_tf() { (cd "$stack" && quiet tf "$@" -input=false -var-file=moto.tfvars -state="$stack_state"); }
echo "== apply infra/stacks/migrationai to moto (what moto cannot create is off: $stack/moto.tfvars)"
start=$SECONDS
(cd "$stack" && quiet tf init -input=false) && stack_tf apply -auto-approve || {
    echo "error: applying $stack to moto failed" >&2
    exit 1
}
elapsed $start

echo "== migrationai: no drift, and what AWS now holds is the seed's wiring"
stack_tf plan -out="$work/migrationai.tfplan"
(cd "$stack" && terraform show -json "$work/migrationai.tfplan") >"$work/migrationai.plan.json"
# What moto does not store or reports otherwise (infra/README.md): instances say they have a public
# address they do not have (migrationai_check.py asks for it) and lose their groups, metadata and
# volume settings; functions their logging settings; rules their descriptions.
python3 infra/scripts/drift_check.py "$work/migrationai.plan.json" \
    --ignore 'module.ec2[[]0[]].aws_instance.this[[]*[]].associate_public_ip_address' \
    --ignore 'module.ec2[[]0[]].aws_instance.this[[]*[]].credit_specification' \
    --ignore 'module.ec2[[]0[]].aws_instance.this[[]*[]].metadata_options' \
    --ignore 'module.ec2[[]0[]].aws_instance.this[[]*[]].root_block_device' \
    --ignore 'module.ec2[[]0[]].aws_instance.this[[]*[]].vpc_security_group_ids' \
    --ignore 'module.lambda[[]0[]].aws_lambda_function.this[[]*[]].logging_config' \
    --ignore 'module.memorydb[[]0[]].aws_vpc_security_group_ingress_rule.clients[[]*[]].description' \
    >"$work/migrationai.drift.log" || {
    echo "error: $stack drifts right after its apply" >&2
    exit 1
}
echo "   no drift; $(grep -c accepted "$work/migrationai.drift.log") differences moto makes accepted"
python3 infra/scripts/migrationai_check.py "$endpoint" us-west-2 prod

echo "== conveyor provision --config config/migrationai.toml: Terraform and the configuration agree on all 26 queues"
stack_bucket="$(cd "$stack" && terraform output -state="$stack_state" -raw bucket_name)"
CONVEYOR_AWS_ENDPOINT="$endpoint" CONVEYOR_ENVIRONMENT=prod CONVEYOR_BUCKET="$stack_bucket" CONVEYOR_DATA_DIR="$work/migrationai-data" \
    "$conveyor" provision --config config/migrationai.toml >"$work/migrationai.provision.log"
if grep -E '(created|updated)' "$work/migrationai.provision.log"; then
    echo "error: conveyor provision had to change what Terraform created: $stack and config/migrationai.toml disagree" >&2
    exit 1
fi
echo "   $(grep -c '^queue .*: unchanged' "$work/migrationai.provision.log") queues and the bucket unchanged"

echo "== destroy the MigrationAI stack"
start=$SECONDS
# moto removes a deleted MemoryDB cluster at once, but the provider still waits 5 minutes after
# DeleteCluster; so the cluster is deleted here through the API and dropped from the state.
python3 -c 'import sys, boto3; boto3.client("memorydb", endpoint_url=sys.argv[1], region_name="us-west-2").delete_cluster(ClusterName="migrationai-redis-cache")' "$endpoint"
(cd "$stack" && quiet tf state rm -state="$stack_state" 'module.memorydb[0].aws_memorydb_cluster.this')
stack_tf destroy -auto-approve || {
    echo "error: destroying $stack failed" >&2
    exit 1
}
left="$(left_behind us-west-2 migrationai)"
if [ -n "$left" ]; then
    echo "error: destroying $stack left these behind: $left" >&2
    exit 1
fi
elapsed $start
# ---- the SnSD stack on the same moto_server ----------------------------------------------------
snsd=infra/stacks/snsd
snsd_state="$work/snsd.tfstate"
snsd_tf() { (cd "$snsd" && quiet tf "$@" -input=false -state="$snsd_state"); }
echo "== snsd: the seed's production plan (us-east-1, everything on), resource by resource"
start=$SECONDS
python3 infra/scripts/moto_fixture.py "$endpoint" snsdconsultant.com us-east-1
(cd "$snsd" && quiet tf init -input=false) && snsd_tf plan -out="$work/snsd.tfplan"
(cd "$snsd" && terraform show -json "$work/snsd.tfplan") >"$work/snsd.plan.json"
python3 infra/scripts/snsd_check.py "$work/snsd.plan.json"

echo "== apply infra/stacks/snsd to moto ($snsd/moto.tfvars), check what was applied, and that it does not drift"
snsd_tf apply -auto-approve -var-file=moto.tfvars || {
    echo "error: applying $snsd to moto failed" >&2
    exit 1
}
(cd "$snsd" && terraform show -json "$snsd_state") >"$work/snsd.state.json"
python3 infra/scripts/snsd_check.py "$work/snsd.state.json"
snsd_tf plan -var-file=moto.tfvars -out="$work/snsd.drift.tfplan"
(cd "$snsd" && terraform show -json "$work/snsd.drift.tfplan") >"$work/snsd.drift.json"
python3 infra/scripts/drift_check.py "$work/snsd.drift.json" \
    --ignore 'module.ecs.aws_ecs_service.this[[]*[]].availability_zone_rebalancing' \
    --ignore 'module.ecs.aws_ecs_service.this[[]"api"[]].health_check_grace_period_seconds' \
    --ignore 'module.ecs.aws_vpc_security_group_ingress_rule.api_from_alb.description' \
    >"$work/snsd.drift.log" || {
    echo "error: $snsd drifts right after its apply" >&2
    exit 1
}
elapsed $start

echo "== conveyor api --config config/snsd.toml on the applied bucket: a tenant's upload, list and download"
snsd_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
snsd_env=("CONVEYOR_AWS_ENDPOINT=$endpoint" CONVEYOR_ENVIRONMENT=production "CONVEYOR_BUCKET=$(cd "$snsd" && terraform output -state="$snsd_state" -raw bucket_name)"
    CONVEYOR_JWT_SECRET=ci-only-supabase-jwt-secret-0123456789abcdef CONVEYOR_API_KEYS=ci CONVEYOR_OPERATOR_KEYS=ci-operator
    "CONVEYOR_DATA_DIR=$work/snsd-data" "CONVEYOR_LISTEN=127.0.0.1:$snsd_port" CONVEYOR_SQS_LISTEN=off CONVEYOR_S3_LISTEN=off)
env "${snsd_env[@]}" "$conveyor" api --config config/snsd.toml >"$work/snsd-api.log" 2>&1 &
worker_pid=$!
for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$snsd_port/health" && break
    sleep 0.1
done
token="$(env "${snsd_env[@]}" "$conveyor" token --config config/snsd.toml --tenant acme)"
files="http://127.0.0.1:$snsd_port/files"
printf 'contract text\n' >"$work/contract.txt"
curl -sf -F "file=@$work/contract.txt" "$files/upload?folder=documents" -H "authorization: Bearer $token" >/dev/null \
    && curl -sf "$files/list?folder=documents" -H "authorization: Bearer $token" | grep -q '"documents/contract.txt"' \
    && [ "$(curl -sf "$files/download/documents/contract.txt" -H "authorization: Bearer $token")" = "contract text" ] \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' "$files/list" -H "authorization: Bearer not-a-token")" = 401 ] || {
    tail -20 "$work/snsd-api.log" >&2
    echo "error: the files API on the SnSD stack's bucket did not upload, list, download and refuse as it should" >&2
    exit 1
}
python3 - "$endpoint" <<'PY'
import sys, boto3
s3 = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1").client("s3", endpoint_url=sys.argv[1])
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="snsd-file-uploads-production", Prefix="tenants/").get("Contents", [])]
assert keys == ["tenants/acme/documents/contract.txt"], keys
print(f"   uploaded, listed, downloaded; stored as s3://snsd-file-uploads-production/{keys[0]}; a bad token is refused (401)")
PY
kill "$worker_pid"
wait "$worker_pid" 2>/dev/null || true
worker_pid=""

echo "== destroy the SnSD stack"
start=$SECONDS
empty_buckets snsd-file-uploads-
snsd_tf destroy -auto-approve -var-file=moto.tfvars || {
    echo "error: destroying $snsd failed" >&2
    exit 1
}
left="$(left_behind us-east-1 snsd)"
if [ -n "$left" ]; then
    echo "error: destroying $snsd left these behind: $left" >&2
    exit 1
fi
elapsed $start
echo "== infra: all checks passed"
