//! The SQS endpoint of `conveyor serve` driven by real clients: boto3 (JSON protocol), the AWS
//! CLI, and hand-built query-protocol requests. Each test starts its own server on free loopback
//! ports and stops it. The client scenarios live in `tests/sqs/*.py`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use conveyor_aws::testing::start_moto;

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sqs")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn boto3_scenarios_pass_against_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], None);
    let out = run_client(
        "python3",
        &[&script("boto3_scenarios.py"), &server.sqs],
        &[],
    );
    let report = assert_success(&out, "the boto3 scenarios");
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        14,
        "every scenario ran: {report}"
    );
}

#[test]
fn query_protocol_requests_get_xml_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], None);
    let out = run_client("python3", &[&script("query_protocol.py"), &server.sqs], &[]);
    assert_success(&out, "the query-protocol scenario");
}

#[test]
fn the_aws_cli_works_unchanged_and_shares_queues_with_conveyor() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], None);
    let aws = |args: &[&str]| {
        let mut all = vec!["--endpoint-url", server.sqs.as_str(), "--output", "json"];
        all.extend_from_slice(args);
        run_client("aws", &all, &[])
    };
    // Queues from the configuration are visible to SDKs.
    let listed = assert_success(&aws(&["sqs", "list-queues"]), "aws sqs list-queues");
    assert!(
        listed.contains("/000000000000/mht-api-local-api-processing-feedback.fifo"),
        "{listed}"
    );
    let created = assert_success(
        &aws(&["sqs", "create-queue", "--queue-name", "from-the-cli"]),
        "aws sqs create-queue",
    );
    let url = serde_json::from_str::<serde_json::Value>(&created).unwrap()["QueueUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_success(
        &aws(&[
            "sqs",
            "send-message",
            "--queue-url",
            &url,
            "--message-body",
            "hello from the cli",
        ]),
        "aws sqs send-message",
    );
    // Queues created over the protocol are real Conveyor queues.
    let ls = queue_cli(&server, &["ls"]);
    let row = ls
        .lines()
        .find(|l| l.contains("from-the-cli"))
        .unwrap_or_else(|| panic!("conveyor queue ls does not show the queue:\n{ls}"));
    assert!(row.split_whitespace().any(|c| c == "1"), "{row}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, metrics) = runtime.block_on(http(&server.address, "GET", "/metrics", &[], ""));
    assert_eq!(status, 200);
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("conveyor_queue_messages{")
                && l.contains(r#"queue="from-the-cli""#)
                && l.contains(r#"state="visible""#)
                && l.ends_with(" 1")),
        "the queue is missing from /metrics:\n{metrics}"
    );
    let received = assert_success(
        &aws(&[
            "sqs",
            "receive-message",
            "--queue-url",
            &url,
            "--attribute-names",
            "All",
        ]),
        "aws sqs receive-message",
    );
    let v: serde_json::Value = serde_json::from_str(&received).unwrap();
    assert_eq!(v["Messages"][0]["Body"], "hello from the cli", "{received}");
    // A message sent over SQS to a configured queue is processed by that queue's worker.
    let feedback = listed
        .split('"')
        .find(|u| u.ends_with("/mht-api-local-api-processing-feedback.fifo"))
        .unwrap()
        .to_string();
    let sent = assert_success(
        &aws(&[
            "sqs",
            "send-message",
            "--queue-url",
            &feedback,
            "--message-body",
            r#"{"user_id":"u1","message":"sent with the AWS CLI","email":"u1@example.com"}"#,
            "--message-group-id",
            "u1",
            "--message-deduplication-id",
            "cli-1",
        ]),
        "aws sqs send-message to a configured queue",
    );
    let id = serde_json::from_str::<serde_json::Value>(&sent).unwrap()["MessageId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !result_files(&server.data)
        .iter()
        .any(|f| f.ends_with(format!("{id}.json")))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the feedback worker stored no result for {id}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // Errors come back with SQS's codes, which the CLI prints.
    let missing = aws(&["sqs", "get-queue-url", "--queue-name", "no-such-queue"]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{stderr}"
    );
}

#[test]
fn access_keys_make_the_endpoint_verify_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[(
            "CONVEYOR_SQS_ACCESS_KEYS",
            "AKIACONVEYORTEST:correct-secret",
        )],
        None,
    );
    let check = r#"
import sys, boto3
from botocore.exceptions import ClientError
def client(key, secret, region="us-east-1"):
    return boto3.client("sqs", endpoint_url=sys.argv[1], region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret)
assert "QueueUrls" in client("AKIACONVEYORTEST", "correct-secret").list_queues()
# Another region is another set of queues: signed correctly, it is served, and empty.
assert "QueueUrls" not in client("AKIACONVEYORTEST", "correct-secret", "eu-west-1").list_queues()
for key, secret, region, code in [
    ("AKIACONVEYORTEST", "wrong-secret", "us-east-1", "SignatureDoesNotMatch"),
    ("AKIAUNKNOWN", "correct-secret", "us-east-1", "InvalidClientTokenId"),
    ("AKIACONVEYORTEST", "wrong-secret", "eu-west-1", "SignatureDoesNotMatch"),
]:
    try:
        client(key, secret, region).list_queues()
        raise SystemExit(f"{key}/{secret}/{region} was accepted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, (key, e.response)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, e.response
print("ok")
"#;
    let out = run_client("python3", &["-c", check, &server.sqs], &[]);
    assert_success(&out, "the signature checks");
    // An unsigned request is refused too.
    let unsigned = run_client(
        "aws",
        &[
            "--endpoint-url",
            &server.sqs,
            "--no-sign-request",
            "sqs",
            "list-queues",
        ],
        &[],
    );
    assert!(!unsigned.status.success());
    assert!(
        String::from_utf8_lossy(&unsigned.stderr).contains("MissingAuthenticationToken"),
        "{}",
        String::from_utf8_lossy(&unsigned.stderr)
    );
}

#[test]
fn a_public_sqs_address_without_access_keys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sqs-listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("CONVEYOR_ENVIRONMENT")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no access keys") && stderr.contains("CONVEYOR_SQS_ACCESS_KEYS"),
        "{stderr}"
    );
}

#[test]
fn conveyor_and_moto_agree_except_where_listed_and_explained() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], None);
    let moto = start_moto();
    let out = run_client(
        "python3",
        &[&script("differential.py"), &server.sqs, &moto.url],
        &[],
    );
    let report = assert_success(&out, "the differential scenario");
    assert!(report.contains("same      fifo_group_blocked"), "{report}");
}
