"""Run the pipeline module's buildspec.yml and deployspec.yml the way CodeBuild would, with the
AWS and Docker commands written out instead of run, and check what they would do: every image
built, pushed with the commit's tag and listed in images.json; every function pointed at its
image and every App Runner service updated with its port and access role. A YAML slip (a
command parsed as a mapping) fails here rather than in the first real build.
Usage: buildspec_check.py MODULE_DIR"""

import json
import os
import subprocess
import sys
import tempfile

import yaml


def commands(spec: dict, phase: str) -> list[str]:
    listed = spec["phases"][phase]["commands"]
    for c in listed:
        if not isinstance(c, str):
            raise SystemExit(f"{phase}: a command is not text (YAML read it as {type(c).__name__}): {c!r}")
    return listed


def run(script: str, cwd: str, env: dict) -> None:
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env={**os.environ, **env}, check=True)


def main() -> int:
    module = sys.argv[1]
    build = yaml.safe_load(open(os.path.join(module, "buildspec.yml")))
    deploy = yaml.safe_load(open(os.path.join(module, "deployspec.yml")))
    images = {
        "workers": {"repository_url": "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/w", "dockerfile": "functions/Dockerfile", "context": "functions"},
        "backend": {"repository_url": "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/b", "dockerfile": "Dockerfile", "context": "."},
    }
    with tempfile.TemporaryDirectory() as work:
        env = {"IMAGES": json.dumps(images), "TAG": "0123456789ab", "CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123"}
        for c in commands(build, "pre_build")[:2]:
            run(c, work, env)
        # The build phase writes build.sh, then runs it: keep what it would run.
        generate = commands(build, "build")[0]
        run(generate, work, env)
        script = open(os.path.join(work, "build.sh")).read()
        for name, i in images.items():
            tagged = f"{i['repository_url']}:0123456789ab"
            assert f"docker build -f {i['dockerfile']} -t {tagged} {i['context']}" in script, script
            assert f"docker push {tagged}" in script, script
        for c in commands(build, "post_build"):
            run(c, work, env)
        built = json.load(open(os.path.join(work, "images.json")))
        assert built == {n: f"{i['repository_url']}:0123456789ab" for n, i in images.items()}, built

        env = {
            "CODEBUILD_SRC_DIR": work,
            "FUNCTIONS": json.dumps({"migrationai-contacts": "workers"}),
            "SERVICES": json.dumps({"front": {"arn": "arn:aws:apprunner:us-west-2:1:service/front/1", "image": "backend", "port": 3000}}),
            "APPRUNNER_ACCESS_ROLE": "arn:aws:iam::1:role/access",
        }
        run(commands(deploy, "build")[0], work, env)
        script = open(os.path.join(work, "deploy.sh")).read()
        assert f"aws lambda update-function-code --function-name migrationai-contacts --image-uri {built['workers']}" in script, script
        line = next(l for l in script.splitlines() if l.startswith("aws apprunner update-service"))
        source = json.loads(line.split("--source-configuration ", 1)[1].strip("'"))
        assert "--service-arn arn:aws:apprunner:us-west-2:1:service/front/1 " in line, line
        assert source["ImageRepository"]["ImageIdentifier"] == built["backend"], source
        assert source["ImageRepository"]["ImageConfiguration"]["Port"] == "3000", source
        assert source["AuthenticationConfiguration"]["AccessRoleArn"] == "arn:aws:iam::1:role/access", source
    print("   buildspec.yml and deployspec.yml build, push and deploy what they are given")
    return 0


if __name__ == "__main__":
    sys.exit(main())
