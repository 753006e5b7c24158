"""Check the MigrationAI stack as moto_server holds it after `terraform apply`, by asking the AWS
APIs rather than Terraform's state: every queue triggers the function of the same name with
partial batch responses, every function runs an image from the stack's repositories, the app
servers have no public address and an encrypted root volume, and Redis admits only the backend
group. Usage: migrationai_check.py ENDPOINT REGION ENVIRONMENT"""

import sys

import boto3

QUEUES = ["contacts", "companies", "deals", "notes", "tasks", "attachments", "users",
          "mappings", "validations", "imports", "exports", "notifications", "reports"]


def main() -> int:
    endpoint, region, environment = sys.argv[1:4]
    prefix = f"{environment}-migrationai"
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=region)
    client = lambda name: session.client(name, endpoint_url=endpoint)  # noqa: E731
    sqs, awslambda, ec2, ecr = client("sqs"), client("lambda"), client("ec2"), client("ecr")
    problems = []

    repositories = {r["repositoryUri"] for r in ecr.describe_repositories()["repositories"]}
    if len(repositories) != 15:
        problems.append(f"{len(repositories)} ECR repositories, not the seed's 15")

    mappings = awslambda.list_event_source_mappings()["EventSourceMappings"]
    by_queue = {m["EventSourceArn"].rsplit(":", 1)[1]: m for m in mappings}
    for q in QUEUES:
        name = f"{prefix}-{q}"
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if f"{name}-dlq" not in attributes.get("RedrivePolicy", ""):
            problems.append(f"{name} does not dead-letter to {name}-dlq")
        mapping = by_queue.get(name)
        if mapping is None:
            problems.append(f"{name} triggers no function")
            continue
        function = mapping["FunctionArn"].rsplit(":", 1)[1]
        if function != f"migrationai-{q}":
            problems.append(f"{name} triggers {function}, not migrationai-{q}")
        if "ReportBatchItemFailures" not in mapping.get("FunctionResponseTypes", []):
            problems.append(f"{name}'s trigger does not report batch item failures")
        config = awslambda.get_function(FunctionName=function)
        image = config["Code"].get("ImageUri", "")
        if image.rsplit(":", 1)[0] not in repositories:
            problems.append(f"{function} runs {image!r}, not an image from the stack's repositories")
        timeout = config["Configuration"]["Timeout"]
        if int(attributes["VisibilityTimeout"]) < timeout:
            problems.append(f"{name}'s visibility {attributes['VisibilityTimeout']} s is below {function}'s timeout {timeout} s")
    if len(mappings) != len(QUEUES):
        problems.append(f"{len(mappings)} event source mappings for {len(QUEUES)} queues")

    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    if len(instances) != 2:
        problems.append(f"{len(instances)} app servers, not 2")
    private = {s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if not s["MapPublicIpOnLaunch"]}
    for i in instances:
        if i.get("PublicIpAddress") or i.get("SubnetId") not in private:
            problems.append(f"app server {i['InstanceId']} is reachable from outside ({i.get('PublicIpAddress')}, {i.get('SubnetId')})")
        volumes = [m["Ebs"]["VolumeId"] for m in i.get("BlockDeviceMappings", [])]
        for v in ec2.describe_volumes(VolumeIds=volumes)["Volumes"] if volumes else []:
            if not v["Encrypted"]:
                problems.append(f"app server {i['InstanceId']}'s volume {v['VolumeId']} is not encrypted")

    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    backend = groups.get(f"migrationai-{environment}-backend")
    redis = groups.get("migrationai-redis-cache-redis")
    if backend is None or redis is None:
        problems.append(f"the backend or the Redis security group is missing (found {sorted(groups)})")
    else:
        sources = [(p.get("FromPort"), [pair["GroupId"] for pair in p.get("UserIdGroupPairs", [])], p.get("IpRanges", []))
                   for p in redis["IpPermissions"]]
        if sources != [(6379, [backend["GroupId"]], [])]:
            problems.append(f"Redis admits {sources}, not only the backend group on 6379")

    for p in problems:
        print(f"   problem: {p}", file=sys.stderr)
    if not problems:
        print(f"   ok: 13 queues each trigger their function (ReportBatchItemFailures, images from the 15 repositories), 2 private encrypted app servers, Redis from the backend group only")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
