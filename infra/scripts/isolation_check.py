"""Compare the plans of staging and production (`terraform show -json` of each) and fail if
(1) any name, bucket, queue, role, alarm or other identity appears in both, or their networks
overlap (only the Route53 zone may be shared: it is looked up, never planned), or
(2) their settings differ anywhere the seeds do not say they should: production parity.
Usage: isolation_check.py STAGING_PLAN_JSON PRODUCTION_PLAN_JSON"""

import ipaddress
import json
import sys

# Attributes that name a thing in AWS: two environments holding the same value share it.
IDENTITY_ATTRIBUTES = (
    "name", "bucket", "alarm_name", "family", "repository", "name_prefix", "bucket_prefix",
)
# Names only unique inside a parent that is itself checked (a Glue table in its database).
SCOPED = {
    "aws_glue_catalog_table": "database_name",
    "aws_s3_bucket_intelligent_tiering_configuration": "bucket",
    "aws_iam_role_policy": "role",
    "aws_appautoscaling_policy": "resource_id",
}

# The settings the seeds have staging and production differ in (multi-environment plan):
# names, network blocks, queue retention/visibility/receive counts, retention of logs and
# objects, sizes, alarm targets, DNS names, the NAT layout, deletion protection, CORS origins,
# and how the API is deployed (blue/green in production).
ALLOWED_DIFFERENCES = {
    "environment", "omit_environment_in_names",
    "vpc_cidr", "public_subnet_cidrs", "private_subnet_cidrs", "single_nat_gateway",
    "queues", "sqs_alarm_actions",
    "s3_lifecycle_transitions", "s3_log_retention_days", "log_retention_days",
    "s3_record_expiration_days",
    "services", "alb_deletion_protection", "blue_green_enabled",
    "api_dns_names", "cors_origins",
}


def resources(module: dict):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from resources(child)


def identities(plan: dict) -> dict[str, str]:
    """Every identity value in the plan, mapped to the resource address holding it."""
    found = {}
    for r in resources(plan["planned_values"]["root_module"]):
        if r.get("mode") != "managed":
            continue
        values = r.get("values") or {}
        for attr in IDENTITY_ATTRIBUTES:
            v = values.get(attr)
            if isinstance(v, str) and v:
                scope = SCOPED.get(r["type"])
                if scope and values.get(scope) is None:
                    # The parent is only known after apply: it is created by this plan, so it
                    # cannot be the other environment's.
                    continue
                key = f"{values[scope]}/{v}" if scope else v
                found[key] = f"{r['address']}.{attr}"
    return found


def networks(plan: dict) -> dict[str, ipaddress.IPv4Network]:
    found = {}
    for r in resources(plan["planned_values"]["root_module"]):
        cidr = (r.get("values") or {}).get("cidr_block")
        if r["type"] in ("aws_vpc", "aws_subnet") and cidr:
            found[r["address"]] = ipaddress.ip_network(cidr)
    return found


def main() -> int:
    staging, production = (json.load(open(p)) for p in sys.argv[1:3])
    problems = []

    s_ids, p_ids = identities(staging), identities(production)
    for shared in sorted(s_ids.keys() & p_ids.keys()):
        problems.append(f"shared name {shared!r}: staging {s_ids[shared]}, production {p_ids[shared]}")

    s_nets, p_nets = networks(staging), networks(production)
    for sa, sn in s_nets.items():
        for pa, pn in p_nets.items():
            if sn.overlaps(pn):
                problems.append(f"overlapping networks: staging {sa} {sn}, production {pa} {pn}")

    s_vars = {k: v.get("value") for k, v in staging["variables"].items()}
    p_vars = {k: v.get("value") for k, v in production["variables"].items()}
    for name in sorted(s_vars.keys() | p_vars.keys()):
        if s_vars.get(name) != p_vars.get(name) and name not in ALLOWED_DIFFERENCES:
            problems.append(
                f"staging and production differ in {name} ({s_vars.get(name)!r} vs {p_vars.get(name)!r}), "
                "which the seeds keep identical (production parity): align them, or add it to "
                "ALLOWED_DIFFERENCES in infra/scripts/isolation_check.py and infra/README.md with the reason"
            )

    if problems:
        print("isolation check FAILED:")
        for p in problems:
            print(f"  - {p}")
        return 1
    differing = sorted(k for k in s_vars if s_vars.get(k) != p_vars.get(k))
    print(
        f"isolation check passed: {len(s_ids)} staging and {len(p_ids)} production names, none shared; "
        f"{len(s_nets)}+{len(p_nets)} networks, none overlapping; settings differ only in {', '.join(differing)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
