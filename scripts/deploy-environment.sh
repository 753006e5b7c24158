#!/usr/bin/env bash
# Deploy one environment: terraform apply of infra/environments/ENV with the image tag, then
# wait for the ECS services to settle, then scripts/validate-environment.sh. ECS's circuit
# breaker rolls back a deployment whose tasks never become healthy; this script then fails.
# Where the API deploys blue/green (production: blue_green_enabled), Terraform only registers
# the new task definition and this script hands it to CodeDeploy, which starts it on the idle
# target group, moves the listener, rolls back by itself on failure, and keeps the old tasks
# for the rollback window (infra/scripts/codedeploy_request.py builds the request).
#
#   scripts/deploy-environment.sh staging|production [--image-tag TAG] [--auto-approve] [-- TERRAFORM ARGS…]
#
# Needs terraform, the AWS CLI and credentials for that environment's account/role. The first
# time, create the environment's state backend:
#   (cd infra/bootstrap && terraform init && terraform apply -var environment=ENV -state=ENV.tfstate)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 staging|production [--image-tag TAG] [--auto-approve] [-- extra terraform arguments]" >&2
    exit 2
}
env="${1:-}"
case "$env" in
staging | production) shift ;;
*) usage ;;
esac
image_tag=""
approve=()
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --image-tag) image_tag="${2:?--image-tag needs a value}"; shift 2 ;;
    --auto-approve) approve=(-auto-approve); shift ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
    esac
done
for tool in terraform aws; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done

dir="infra/environments/$env"
vars=()
[ -n "$image_tag" ] && vars+=(-var "image_tag=$image_tag")

echo "== $env: terraform init ($dir/backend.tf)"
terraform -chdir="$dir" init -input=false
echo "== $env: terraform apply"
terraform -chdir="$dir" apply -input=false "${approve[@]}" "${vars[@]}" "${extra[@]}"

cluster="$(terraform -chdir="$dir" output -raw ecs_cluster_name)"
mapfile -t services < <(terraform -chdir="$dir" output -json ecs_service_names | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).values()))')
secret="$(terraform -chdir="$dir" output -raw secret_name)"

# Terraform creates the secret's keys empty and never writes them: say so rather than deploy
# tasks that will refuse to serve.
if aws secretsmanager get-secret-value --secret-id "$secret" --query SecretString --output text \
    | python3 -c 'import json,sys; sys.exit(0 if all(json.load(sys.stdin).values()) else 1)'; then
    :
else
    cat >&2 <<MSG
warning: $secret still has empty keys; the API refuses to listen without API keys, and the
workers refuse to start without their handlers' credentials. Set them:
  aws secretsmanager put-secret-value --secret-id $secret \\
    --secret-string '{"jwt_secret":"<32+ random characters>","api_keys":"<key1>,<key2>","operator_keys":"<operator key>",
                      "zendesk_api_token":"<Zendesk API token>","sendgrid_api_key":"SG.<key>",
                      "app_store_connect_key":"<the .p8 file's text>"}'
MSG
fi

terraform -chdir="$dir" output -json >"$dir/.deploy-outputs.json"
if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["codedeploy"]["value"] else 1)' "$dir/.deploy-outputs.json"; then
    request="$(python3 infra/scripts/codedeploy_request.py "$dir/.deploy-outputs.json")"
    echo "== $env: blue/green deployment of the API through CodeDeploy"
    deployment="$(aws deploy create-deployment --cli-input-json "$request" --query deploymentId --output text)"
    echo "   $deployment (aws deploy get-deployment --deployment-id $deployment)"
    aws deploy wait deployment-successful --deployment-id "$deployment" || {
        echo "error: deployment $deployment did not succeed; CodeDeploy rolled the API back to the previous tasks: aws deploy get-deployment --deployment-id $deployment" >&2
        exit 1
    }
fi
rm -f "$dir/.deploy-outputs.json"

echo "== $env: waiting for ${services[*]} in $cluster to settle"
aws ecs wait services-stable --cluster "$cluster" --services "${services[@]}" || {
    echo "error: the services did not settle; ECS rolls a failed deployment back; see: aws ecs describe-services --cluster $cluster --services ${services[*]}" >&2
    exit 1
}
scripts/validate-environment.sh "$env"
