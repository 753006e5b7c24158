"""The example function against Lambda's documented event shape, and through the runner."""

import json
import os
import subprocess
import sys
import unittest

import app

HERE = os.path.dirname(os.path.abspath(__file__))


def record(message_id, body):
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB" + message_id,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1545082649183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1545082649185",
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
        "awsRegion": "us-east-2",
    }


EVENT = {
    "Records": [
        record("good", json.dumps({"text": "one two three"})),
        record("bad", "not json"),
        record("empty", json.dumps({"other": 1})),
    ]
}


class HandlerTest(unittest.TestCase):
    def test_only_the_messages_it_cannot_count_are_reported_failed(self):
        answer = app.handler(EVENT, None)
        self.assertEqual(
            answer,
            {"batchItemFailures": [{"itemIdentifier": "bad"}, {"itemIdentifier": "empty"}]},
        )

    def test_the_runner_passes_the_event_and_returns_the_answer_alone_on_stdout(self):
        runner = os.path.join(HERE, "..", "lambda_runner.py")
        done = subprocess.run(
            [sys.executable, runner, os.path.join(HERE, "app.py") + ":handler"],
            input=json.dumps(EVENT),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        self.assertEqual(json.loads(done.stdout), app.handler(EVENT, None))
        self.assertIn("message good: 3 words", done.stderr)

    def test_an_exception_is_answered_as_lambda_reports_one(self):
        runner = os.path.join(HERE, "..", "lambda_runner.py")
        done = subprocess.run(
            [sys.executable, runner, os.path.join(HERE, "app.py") + ":handler"],
            input=json.dumps({"no": "records"}),
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.assertEqual(done.returncode, 1)
        error = json.loads(done.stdout)
        self.assertEqual(error["errorType"], "KeyError")


if __name__ == "__main__":
    unittest.main()
