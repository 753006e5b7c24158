"""The CreateDeployment request that moves an environment's API to a new task definition
blue/green (`aws deploy create-deployment --cli-input-json file://…`), from Terraform's outputs:
the CodeDeploy application and group, the container the load balancer sends to, and the task
definition to deploy. The AppSpec is inline, so nothing is uploaded first.
Usage: codedeploy_request.py OUTPUTS_JSON   (terraform output -json)
       codedeploy_request.py --check PLAN_JSON   (CI: production's planned outputs make a request
                                                  botocore's CodeDeploy model accepts)"""

import json
import sys


def request(codedeploy: dict, task_definition_arn: str, description: str) -> dict:
    appspec = {
        "version": 0.0,
        "Resources": [{
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": task_definition_arn,
                    "LoadBalancerInfo": {
                        "ContainerName": codedeploy["container_name"],
                        "ContainerPort": codedeploy["container_port"],
                    },
                },
            },
        }],
    }
    return {
        "applicationName": codedeploy["application"],
        "deploymentGroupName": codedeploy["deployment_group"],
        "description": description,
        "revision": {
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": json.dumps(appspec, separators=(",", ":"))},
        },
    }


def check(plan_path: str) -> int:
    import botocore.session
    from botocore.validate import ParamValidator

    planned = json.load(open(plan_path))["planned_values"]["outputs"]
    codedeploy = planned["codedeploy"]["value"]
    if not codedeploy:
        print("error: the plan deploys the API without CodeDeploy; production should deploy blue/green", file=sys.stderr)
        return 1
    arn = "arn:aws:ecs:us-west-2:123456789012:task-definition/check-api:7"
    made = request(codedeploy, arn, "check")
    model = botocore.session.get_session().get_service_model("codedeploy").operation_model("CreateDeployment")
    report = ParamValidator().validate(made, model.input_shape)
    if report.has_errors():
        print(f"error: the CreateDeployment request is malformed: {report.generate_report()}", file=sys.stderr)
        return 1
    spec = json.loads(made["revision"]["appSpecContent"]["content"])["Resources"][0]["TargetService"]["Properties"]
    assert spec["TaskDefinition"] == arn and spec["LoadBalancerInfo"]["ContainerName"] == "api", spec
    print(f"   CreateDeployment for {codedeploy['application']}/{codedeploy['deployment_group']}: valid, AppSpec names the task definition and container api:{codedeploy['container_port']}")
    return 0


def main() -> int:
    if sys.argv[1] == "--check":
        return check(sys.argv[2])
    outputs = json.load(open(sys.argv[1]))
    codedeploy = outputs["codedeploy"]["value"]
    if codedeploy is None:
        print("error: this environment deploys its API without CodeDeploy (blue_green_enabled = false): ECS rolls it", file=sys.stderr)
        return 1
    arn = outputs["task_definition_arns"]["value"]["api"]
    print(json.dumps(request(codedeploy, arn, f"conveyor api {arn.rsplit('/', 1)[-1]}"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
