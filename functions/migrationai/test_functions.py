"""Each MigrationAI function against Lambda's SQS event: a good message is processed, a bad
one is reported as a batch item failure (and only it)."""

import importlib
import json
import unittest

CASES = {
    "contacts": ({"email": " Ada@Example.com ", "name": "Ada Lovelace"}, {"email": "nope", "name": "X"},
                 {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"}),
    "companies": ({"name": "Acme", "website": "https://www.acme.io/about"}, {"name": ""}, {"name": "Acme", "domain": "acme.io"}),
    "deals": ({"title": "Renewal", "amount": 1200.5, "currency": "eur"}, {"title": "X", "amount": -1, "currency": "EUR"},
              {"title": "Renewal", "amount_minor": 120050, "currency": "EUR"}),
    "notes": ({"parent_id": "c-1", "body": "  call back  "}, {"parent_id": "c-1", "body": "   "},
              {"parent_id": "c-1", "body": "call back", "truncated": False}),
    "tasks": ({"title": "Kickoff", "due": "2026-12-07"}, {"title": "Kickoff", "due": "next week"},
              {"title": "Kickoff", "due": "2026-12-07", "weekday": "Monday"}),
    "attachments": ({"filename": "../etc/pass wd.pdf", "size_bytes": 10}, {"filename": "a", "size_bytes": 200 * 1024 * 1024},
                    {"filename": "etc_pass_wd.pdf", "size_bytes": 10}),
    "users": ({"email": "Lin@Example.com", "role": "Admin"}, {"email": "x@y.z", "role": "owner"}, {"email": "lin@example.com", "role": "admin"}),
    "mappings": ({"source_field": "FirstName"}, {"target_field": "x"}, {"source_field": "FirstName", "target_field": "first_name"}),
    "validations": ({"record": {"email": "a@b.c", "name": ""}, "required": ["email", "name"]}, {"record": []},
                    {"valid": False, "missing": ["name"]}),
    "imports": ({"source": "HubSpot", "records": [{"type": "contact"}, {"type": "deal"}]}, {"source": "ftp", "records": []},
                {"source": "hubspot", "records": 2, "kinds": ["contact", "deal"]}),
    "exports": ({"format": "csv", "records": [{"a": 1, "b": 2}]}, {"format": "xml", "records": []}, {"format": "csv", "rows": 1, "bytes": 10}),
    "notifications": ({"to": "ada@example.com", "template": "migration_done", "values": {"source": "HubSpot", "records": 12}},
                      {"to": "x", "template": "migration_done", "values": {}},
                      {"to": "ada@example.com", "text": "Your migration from HubSpot finished: 12 records."}),
    "reports": ({"migration_id": "m-1", "counts": {"contacts": 10, "deals": 3}}, {"migration_id": "m-1", "counts": {"x": -1}},
                {"migration_id": "m-1", "total": 13, "largest": "contacts"}),
}


def event(*bodies):
    return {"Records": [
        {"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
         "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-x", "awsRegion": "us-west-2"}
        for i, body in enumerate(bodies)
    ]}


class Functions(unittest.TestCase):
    def test_thirteen_functions(self):
        self.assertEqual(len(CASES), 13)

    def test_each_processes_the_good_and_reports_only_the_bad(self):
        for name, (good, bad, outcome) in CASES.items():
            with self.subTest(name):
                handler = importlib.import_module(name).handler
                answer = handler(event(json.dumps(good), json.dumps(bad), "not json"), None)
                self.assertEqual(answer["batchItemFailures"], [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}])
                self.assertEqual(answer["processed"], [{"messageId": "m0", "outcome": outcome}])


if __name__ == "__main__":
    unittest.main()
