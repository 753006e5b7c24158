"""Check that the CloudWatch alarms a Terraform plan creates are the alarms Conveyor evaluates
in process for the same environment: one per configured rule, on the same queue and metric,
with the same threshold, period, evaluation periods, datapoints to alarm and missing-data
treatment, and no other. `error_rate` is a process metric CloudWatch does not have; it is
left out. Usage: alarm_check.py PLAN_JSON CONFIG_TOML (the output of `conveyor config check`)."""

import json
import sys
import tomllib

# Conveyor's metric -> (which queue, CloudWatch's metric).
METRICS = {
    "depth": ("name", "ApproximateNumberOfMessagesVisible"),
    "oldest_age": ("name", "ApproximateAgeOfOldestMessage"),
    "dlq_depth": ("dlq_name", "ApproximateNumberOfMessagesVisible"),
}
TREATMENT = {
    "missing": "missing",
    "ignore": "ignore",
    "breaching": "breaching",
    "not_breaching": "notBreaching",
}


def seconds(span: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total, number = 0, ""
    for ch in span:
        if ch.isdigit():
            number += ch
        else:
            total += int(number) * units[ch]
            number = ""
    return total


def planned_alarms(module: dict):
    for r in module.get("resources", []):
        if r["type"] == "aws_cloudwatch_metric_alarm":
            yield r["values"]
    for child in module.get("child_modules", []):
        yield from planned_alarms(child)


def main() -> int:
    plan = json.load(open(sys.argv[1]))
    text = open(sys.argv[2]).read()
    config = tomllib.loads(text)
    terraform = {}
    for a in planned_alarms(plan["planned_values"]["root_module"]):
        if a.get("namespace") != "AWS/SQS":
            continue
        key = (a["dimensions"]["QueueName"], a["metric_name"])
        terraform[key] = {
            "alarm": a["alarm_name"],
            "threshold": float(a["threshold"]),
            "period": int(a["period"]),
            "evaluation_periods": int(a["evaluation_periods"]),
            "datapoints_to_alarm": int(a.get("datapoints_to_alarm") or a["evaluation_periods"]),
            "treat_missing_data": a["treat_missing_data"],
        }
    conveyor = {}
    for q in config.get("queues", []):
        for rule in q.get("alarms", []):
            if rule["metric"] not in METRICS:
                continue
            which, metric = METRICS[rule["metric"]]
            conveyor[(q[which], metric)] = {
                "rule": f"queues.{q['key']}.alarms.{rule['metric']}",
                "threshold": float(rule["threshold"]),
                "period": seconds(rule["period"]),
                "evaluation_periods": int(rule["evaluation_periods"]),
                "datapoints_to_alarm": int(rule["datapoints_to_alarm"]),
                "treat_missing_data": TREATMENT[rule["treat_missing_data"]],
            }
    problems = []
    for key, want in sorted(conveyor.items()):
        got = terraform.get(key)
        if got is None:
            problems.append(f"{want['rule']}: no CloudWatch alarm on {key[1]} of {key[0]}")
            continue
        for field in ("threshold", "period", "evaluation_periods", "datapoints_to_alarm", "treat_missing_data"):
            if want[field] != got[field]:
                problems.append(
                    f"{want['rule']}: {field} is {want[field]!r} in Conveyor, {got[field]!r} in {got['alarm']}"
                )
    for key, got in sorted(terraform.items()):
        if key not in conveyor:
            problems.append(f"{got['alarm']}: CloudWatch alarms on {key[1]} of {key[0]}, Conveyor has no such rule")
    for p in problems:
        print(f"   alarm drift: {p}", file=sys.stderr)
    if not problems:
        print(f"   {len(conveyor)} alarms agree")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
