//! The MigrationAI stack's shipped configuration (config/migrationai.toml) on the embedded
//! default: thirteen queues, each run by its function from functions/migrationai through the
//! Lambda SQS contract. A good message of each queue is processed; a bad one is reported as a
//! batch item failure and comes back, and the functions' own tests pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_functions_pass_their_own_tests_against_lambdas_event() {
    let out = Command::new("python3")
        .args(["-m", "unittest", "-q", "test_functions"])
        .current_dir(root().join("functions/migrationai"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_of_the_thirteen_queues_runs_its_function() {
    let dir = tempfile::tempdir().unwrap();
    let config = root().join("config/migrationai.toml");
    let server = start_command_in(
        Some(&root()),
        "serve",
        &dir.path().join("data"),
        &[],
        Some(&config),
    );
    let good: [(&str, Value, &str); 13] = [
        (
            "contacts",
            json!({ "email": "Ada@Example.com", "name": "Ada Lovelace" }),
            "ada@example.com",
        ),
        (
            "companies",
            json!({ "name": "Acme", "website": "https://acme.io" }),
            "acme.io",
        ),
        (
            "deals",
            json!({ "title": "Renewal", "amount": 10, "currency": "usd" }),
            "USD",
        ),
        (
            "notes",
            json!({ "parent_id": "c-1", "body": "call back" }),
            "call back",
        ),
        (
            "tasks",
            json!({ "title": "Kickoff", "due": "2026-12-07" }),
            "Monday",
        ),
        (
            "attachments",
            json!({ "filename": "a b.pdf", "size_bytes": 5 }),
            "a_b.pdf",
        ),
        (
            "users",
            json!({ "email": "lin@example.com", "role": "viewer" }),
            "viewer",
        ),
        (
            "mappings",
            json!({ "source_field": "LastName" }),
            "last_name",
        ),
        (
            "validations",
            json!({ "record": { "a": 1 }, "required": ["a", "b"] }),
            "\"missing\":[\"b\"]",
        ),
        (
            "imports",
            json!({ "source": "csv", "records": [{ "type": "contact" }] }),
            "\"records\":1",
        ),
        (
            "exports",
            json!({ "format": "json", "records": [] }),
            "\"rows\":0",
        ),
        (
            "notifications",
            json!({ "to": "ada@example.com", "template": "migration_failed", "values": { "source": "CSV", "reason": "quota" } }),
            "stopped: quota",
        ),
        (
            "reports",
            json!({ "migration_id": "m-1", "counts": { "deals": 2 } }),
            "\"total\":2",
        ),
    ];
    let mut jobs = Vec::new();
    for (key, body, expect) in &good {
        let (status, answer) = http(
            &server.address,
            "POST",
            &format!("/v1/queues/{key}/messages"),
            &[JSON],
            &json!({ "body": body }).to_string(),
        )
        .await;
        assert_eq!(status, 202, "{key}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        jobs.push((
            key,
            answer["status_url"].as_str().unwrap().to_string(),
            *expect,
        ));
    }
    let (status, bad) = http(
        &server.address,
        "POST",
        "/v1/queues/contacts/messages",
        &[JSON],
        &json!({ "body": { "email": "not an address" } }).to_string(),
    )
    .await;
    assert_eq!(status, 202, "{bad}");
    let bad: Value = serde_json::from_str(&bad).unwrap();
    let bad_url = bad["status_url"].as_str().unwrap().to_string();

    for (key, url, expect) in jobs {
        let mut last = Value::Null;
        for _ in 0..300 {
            let (_, job) = http(&server.address, "GET", &url, &[], "").await;
            last = serde_json::from_str(&job).unwrap();
            if last["status"] == "succeeded" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(last["status"], "succeeded", "{key}: {last}");
        let key_path = last["result_key"].as_str().unwrap();
        assert!(
            key_path.starts_with(&format!("results/local-migrationai-{key}/year=")),
            "{key}: {key_path}"
        );
        let record =
            std::fs::read_to_string(dir.path().join("data/objects").join(key_path)).unwrap();
        assert!(record.contains(expect), "{key}: {expect} not in {record}");
    }
    // The refused contact is reported as a batch item failure: not succeeded, and coming back.
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, job) = http(&server.address, "GET", &bad_url, &[], "").await;
        last = serde_json::from_str(&job).unwrap();
        let came_back = last["receive_count"].as_u64().unwrap_or(0) >= 2;
        if came_back || !matches!(last["status"].as_str(), Some("queued") | Some("in_flight")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        last["status"] != "succeeded"
            && (last["receive_count"].as_u64().unwrap_or(0) >= 2
                || matches!(last["status"].as_str(), Some("failed") | Some("retrying"))),
        "the bad contact is retried, not done: {last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_and_smoke_work_for_it_on_sqs_and_s3() {
    let moto = conveyor_aws::testing::start_moto();
    let dir = tempfile::tempdir().unwrap();
    let config = root().join("config/migrationai.toml");
    let env: [(&str, &str); 6] = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("CONVEYOR_AWS_ENDPOINT", moto.url.as_str()),
        ("CONVEYOR_API_KEYS", "test-key"),
        ("CONVEYOR_ENVIRONMENT", "staging"),
    ];
    let conveyor = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.path().join("cli"))
            .current_dir(root())
            .envs(env)
            .output()
            .unwrap()
    };
    let first = conveyor(&["provision"]);
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(
        out.matches(": created").count(),
        27,
        "13 queues, 13 DLQs, the bucket: {out}"
    );
    assert!(
        out.contains("queue staging-migrationai-contacts: created"),
        "{out}"
    );
    let again = conveyor(&["provision"]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout)
            .matches(": unchanged")
            .count(),
        27
    );
    let worker = start_command_in(
        Some(&root()),
        "worker",
        &dir.path().join("worker"),
        &env,
        Some(&config),
    );
    let smoke = conveyor(&["smoke", "--queue", "contacts", "--timeout", "90"]);
    drop(worker);
    assert!(
        smoke.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&smoke.stdout),
        String::from_utf8_lossy(&smoke.stderr)
    );
    assert!(String::from_utf8_lossy(&smoke.stdout).contains("all checks passed"));
}
