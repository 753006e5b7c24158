"""Run an AWS Lambda Python handler once, as Conveyor's `function` handler asks.

    command = ["python3", "functions/lambda_runner.py", "functions/example/app.py:handler"]

The event arrives on stdin exactly as Lambda passes it; the handler's return value goes to
stdout as JSON. Whatever the handler prints goes to stderr, which Conveyor logs line by line
(as Lambda sends prints to CloudWatch), so stdout carries only the answer. An exception is
answered the way Lambda reports one ({"errorMessage", "errorType", "stackTrace"}) with exit
status 1. The handler itself is the same code the Lambda image runs: nothing here is imported
by it. Standard library only.
"""

import importlib.util
import json
import os
import sys
import time
import traceback


class Context:
    """The parts of Lambda's context object a handler may read."""

    def __init__(self):
        env = os.environ
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.aws_request_id = env.get("CONVEYOR_REQUEST_ID", "")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        region = env.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = (
            f"arn:aws:lambda:{region}:000000000000:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "conveyor"
        self._deadline_ms = int(env.get("CONVEYOR_DEADLINE_MS", "0") or 0)

    def get_remaining_time_in_millis(self):
        if not self._deadline_ms:
            return 0
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load(target):
    path, _, name = target.rpartition(":")
    if not path or not name:
        raise SystemExit(f"usage: lambda_runner.py path/to/module.py:handler (got {target!r})")
    directory = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(
        os.path.splitext(os.path.basename(path))[0], path
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: lambda_runner.py path/to/module.py:handler")
    # The answer gets the real stdout; prints (and the module's import) see stderr instead.
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        handler = load(argv[1])
        event = json.load(sys.stdin)
        result = handler(event, Context())
    except Exception as error:  # noqa: BLE001 - every error is the function's answer
        json.dump(
            {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_exception(error),
            },
            answer,
        )
        answer.close()
        traceback.print_exc()
        return 1
    json.dump(result, answer)
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
