"""Check infra/stacks/snsd against the SnSD seed, resource by resource, nested modules included:
what the stack's terraform test cannot reach through the modules' outputs. Given a plan
(`terraform show -json PLAN`), a value known only after the apply (an ARN inside a task
definition, a bucket id) is skipped; given the applied state (`terraform show -json`) every
value must be there, and only what the run switched off (autoscaling on moto) is skipped.
Usage: snsd_check.py PLAN_OR_STATE_JSON"""

import json
import sys


def resources(module: dict):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def main() -> int:
    plan = json.load(open(sys.argv[1]))
    applied = "planned_values" not in plan
    found: dict[str, list[dict]] = {}
    for r in resources((plan["values"] if applied else plan["planned_values"])["root_module"]):
        found.setdefault(r["type"], []).append(r.get("values") or {})
    one = lambda kind, **match: next((v for v in found.get(kind, []) if all(v.get(k) == x for k, x in match.items())), None)  # noqa: E731
    problems: list[str] = []

    skipped: list[str] = []

    def expect(what: str, ok: bool, *needs) -> None:
        if not applied and any(n is None for n in needs):
            skipped.append(what)  # known only once applied
        elif not ok:
            problems.append(what)

    variables = {k: v["value"] for k, v in plan.get("variables", {}).items()}
    if applied:
        # The state keeps no variables: what the stack was applied with shows in what exists.
        variables["aws_region"] = "us-east-1" if any("us-east-1" in str(v.get("arn", "")) for v in found.get("aws_ecs_cluster", [])) else "?"
        variables["single_nat_gateway"] = False  # CI applies the seed's production: a NAT per zone
        variables["enable_autoscaling"] = bool(found.get("aws_appautoscaling_target"))
    expect("region us-east-1", variables.get("aws_region") == "us-east-1")
    expect("VPC 10.0.0.0/16", one("aws_vpc", cidr_block="10.0.0.0/16") is not None)
    nats = len(found.get("aws_nat_gateway", []))
    expect(f"two NAT gateways (one with single_nat_gateway), found {nats}", nats == (1 if variables.get("single_nat_gateway") else 2))
    expect("two public and two private subnets", len(found.get("aws_subnet", [])) == 4)
    expect("an S3 gateway endpoint", one("aws_vpc_endpoint", vpc_endpoint_type="Gateway") is not None)

    task = one("aws_ecs_task_definition", family="snsd-production-api") or {}
    definitions = task.get("container_definitions")
    container = json.loads(definitions or "[{}]")[0]
    expect("Fargate 256 CPU / 512 MB", task.get("cpu") == "256" and task.get("memory") == "512")
    expect("the container listens on 8000", [p.get("containerPort") for p in container.get("portMappings", [])] == [8000], definitions)
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    expect("the tasks run config/snsd.toml on 0.0.0.0:8000", env.get("CONVEYOR_CONFIG") == "/etc/conveyor/snsd.toml" and env.get("CONVEYOR_LISTEN") == "0.0.0.0:8000", definitions)
    secrets = {s["name"]: s["valueFrom"] for s in container.get("secrets", [])}
    expect("the JWT secret is SUPABASE_JWT_SECRET", str(secrets.get("CONVEYOR_JWT_SECRET", "")).endswith(":SUPABASE_JWT_SECRET::"), definitions)
    expect("ECS service snsd-production-service, one task to start", one("aws_ecs_service", name="snsd-production-service", desired_count=1) is not None)
    expect("no worker service", len(found.get("aws_ecs_service", [])) == 1)
    expect("cluster snsd-production-cluster", one("aws_ecs_cluster", name="snsd-production-cluster") is not None)
    expect("log group /ecs/snsd-production, 30 days", one("aws_cloudwatch_log_group", name="/ecs/snsd-production", retention_in_days=30) is not None)

    scaling = variables.get("enable_autoscaling", True)
    target = one("aws_appautoscaling_target") or {}
    expect("1 to 4 tasks", (target.get("min_capacity"), target.get("max_capacity")) == (1, 4) or not scaling)
    policies = {}
    for p in found.get("aws_appautoscaling_policy", []):
        c = p["target_tracking_scaling_policy_configuration"][0]
        policies[c["predefined_metric_specification"][0]["predefined_metric_type"]] = (c["target_value"], c["scale_out_cooldown"], c["scale_in_cooldown"])
    expect(f"CPU 70 % and memory 80 %, cooldowns 60 s out / 300 s in, found {policies}", not scaling or policies == {
        "ECSServiceAverageCPUUtilization": (70, 60, 300),
        "ECSServiceAverageMemoryUtilization": (80, 60, 300),
    })
    if not scaling:
        skipped.append("autoscaling (switched off for this run)")

    https = one("aws_lb_listener", port=443) or {}
    expect("HTTPS on 443 with a certificate", https.get("protocol") == "HTTPS" and bool(https.get("certificate_arn")))
    http = one("aws_lb_listener", port=80) or {}
    redirect = (http.get("default_action") or [{}])[0]
    expect("HTTP redirects to HTTPS", redirect.get("type") == "redirect" and redirect["redirect"][0]["protocol"] == "HTTPS")
    group = one("aws_lb_target_group", name="snsd-production-api") or {}
    expect("tasks on 8000, health checked at /health", group.get("port") == 8000 and group.get("health_check", [{}])[0].get("path") == "/health")
    record = one("aws_route53_record", name="api.snsdconsultant.com") or {}
    expect("api.snsdconsultant.com, an A alias of the load balancer", record.get("type") == "A" and bool(record.get("alias")))
    metrics = sorted(a["metric_name"] for a in found.get("aws_cloudwatch_metric_alarm", []))
    expect(f"alarms on response time and unhealthy hosts, found {metrics}", metrics == ["TargetResponseTime", "UnHealthyHostCount"])

    repo = one("aws_ecr_repository", name="snsd-production") or {}
    expect("ECR snsd-production, scanned on push", repo.get("image_scanning_configuration", [{}])[0].get("scan_on_push") is True)
    rules = [r["selection"] for p in found.get("aws_ecr_lifecycle_policy", []) for r in json.loads(p["policy"])["rules"]]
    expect(f"ECR keeps 10 tagged images and drops untagged ones after 7 days, found {rules}",
           any(r["tagStatus"] == "untagged" and r["countType"] == "sinceImagePushed" and r["countNumber"] == 7 for r in rules)
           and any(r["tagStatus"] != "untagged" and r["countType"] == "imageCountMoreThan" and r["countNumber"] == 10 for r in rules))

    buckets = {b["bucket"] for b in found.get("aws_s3_bucket", [])}
    expect(f"buckets snsd-file-uploads-production and -logs, found {buckets}", {"snsd-file-uploads-production", "snsd-file-uploads-production-logs"} <= buckets)
    versioning = [v["versioning_configuration"][0]["status"] for v in found.get("aws_s3_bucket_versioning", [])]
    expect("versioning on", versioning == ["Enabled"])
    sse = [r["apply_server_side_encryption_by_default"][0]["sse_algorithm"] for s in found.get("aws_s3_bucket_server_side_encryption_configuration", []) for r in s["rule"]]
    expect(f"AES256 at rest, found {sse}", sse and all(a == "AES256" for a in sse))
    expect("CORS", len(found.get("aws_s3_bucket_cors_configuration", [])) == 1)
    transitions = [[(t["days"], t["storage_class"]) for t in rule.get("transition", [])]
                   for lc in found.get("aws_s3_bucket_lifecycle_configuration", [])
                   for rule in lc["rule"] if rule.get("transition")]
    expect(f"IA at 30 days, Glacier at 90, found {transitions}", transitions == [[(30, "STANDARD_IA"), (90, "GLACIER")]])
    logging = one("aws_s3_bucket_logging") or {}
    expect("access logs to the -logs bucket", logging.get("target_bucket") == "snsd-file-uploads-production-logs", logging.get("target_bucket"))
    expect("secret snsd-production-secrets", one("aws_secretsmanager_secret", name="snsd-production-secrets") is not None)

    for p in problems:
        print(f"   problem: not as the seed says: {p}", file=sys.stderr)
    for what in skipped:
        print(f"   not checked here: {what}")
    if not problems:
        print(f"   the {'applied stack' if applied else 'plan'} is the seed's: 10.0.0.0/16, Fargate 256/512 on 8000, 1-4 tasks on CPU 70 / memory 80, HTTPS 443 + redirect, /health, ECR 10/7, the buckets, tiering, CORS, the secret, the name, the alarms")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
