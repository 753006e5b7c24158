//! Conveyor on SQS and S3, against a real moto_server started per test: `conveyor provision`,
//! separate `conveyor api` and `conveyor worker` processes sharing only SQS and S3, and the
//! one-line errors for a deployment that cannot work.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use conveyor_aws::testing::{start_moto, Moto};
use conveyor_aws::Aws;

const QUEUES: [&str; 4] = ["feedback", "emails", "analytics", "testflight"];

/// Staging, pointed at moto, with 5-second visibility timeouts so a killed worker's messages
/// come back within the test.
fn staging_on(moto: &Moto) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("CONVEYOR_ENVIRONMENT", "staging"),
        ("CONVEYOR_AWS_ENDPOINT", moto.url.as_str()),
        ("CONVEYOR_LISTEN", "127.0.0.1:0"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("CONVEYOR_LOG_FORMAT", "text"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for q in QUEUES {
        env.push((
            format!(
                "CONVEYOR_ENVIRONMENTS__STAGING__QUEUES__{}__VISIBILITY",
                q.to_uppercase()
            ),
            "5s".into(),
        ));
        // These tests are about the runtime on SQS and S3, not the seeds' handlers: every queue
        // records its messages, as fast as it can.
        env.push((
            format!(
                "CONVEYOR_ENVIRONMENTS__STAGING__QUEUES__{}__HANDLER",
                q.to_uppercase()
            ),
            "log".into(),
        ));
    }
    env.push((
        "CONVEYOR_ENVIRONMENTS__STAGING__QUEUES__EMAILS__WORKER__RATE".into(),
        "100000".into(),
    ));
    env
}

fn conveyor(args: &[&str], env: &[(String, String)], data: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("CONVEYOR_ENVIRONMENT")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run conveyor")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn start_on(command: &str, env: &[(String, String)], data: &Path) -> Server {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_command(command, data, &pairs, None)
}

async fn staging_aws(env: &[(String, String)]) -> (conveyor_config::Settings, Aws) {
    let settings = conveyor_config::load(None, env.to_vec()).unwrap().selected;
    // The library reads credentials from the process environment, like the binary.
    for (k, v) in env.iter().filter(|(k, _)| k.starts_with("AWS_")) {
        std::env::set_var(k, v);
    }
    let aws = Aws::load(&settings).await;
    (settings, aws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_two_workers_on_sqs_and_s3_lose_nothing_when_a_worker_dies() {
    let moto = start_moto();
    let env = staging_on(&moto);
    let dir = tempfile::tempdir().unwrap();

    let first = conveyor(&["provision"], &env, dir.path());
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        stdout(&first).matches(": created").count(),
        9,
        "{}",
        stdout(&first)
    );
    let again = conveyor(&["provision"], &env, dir.path());
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stdout(&again).matches(": unchanged").count(),
        9,
        "idempotent: {}",
        stdout(&again)
    );

    let mut api = start_on("api", &env, &dir.path().join("api"));
    let mut doomed = start_on("worker", &env, &dir.path().join("w1"));
    let mut survivor = start_on("worker", &env, &dir.path().join("w2"));

    // 1,000 messages across the four queues, 16 requests at a time, in 50 FIFO groups.
    let address = Arc::new(api.address.clone());
    let mut sent: BTreeMap<String, &str> = BTreeMap::new();
    let mut killed = false;
    for wave in 0..(1000 / 16 + 1) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in (wave * 16)..((wave + 1) * 16).min(1000) {
            let address = address.clone();
            let queue = QUEUES[i % 4];
            tasks.spawn(async move {
                let body = format!(r#"{{"body":{{"n":{i}}},"group_id":"g{}"}}"#, i % 50);
                let path = format!("/v1/queues/{queue}/messages");
                let (status, answer) = http(
                    &address,
                    "POST",
                    &path,
                    &[("content-type", "application/json")],
                    &body,
                )
                .await;
                assert_eq!(status, 202, "{answer}");
                let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
                (v["message_id"].as_str().unwrap().to_string(), queue)
            });
        }
        while let Some(r) = tasks.join_next().await {
            let (id, queue) = r.unwrap();
            sent.insert(id, queue);
        }
        if wave == 25 && !killed {
            // Mid-way, with messages in flight: the worker gets no chance to release them.
            doomed.child.kill().unwrap();
            doomed.child.wait().unwrap();
            killed = true;
        }
    }
    assert_eq!(sent.len(), 1000, "every 202 carried a distinct message id");

    let (settings, aws) = staging_aws(&env).await;
    let store = aws.s3_store(&settings.bucket).unwrap();
    let deadline = Instant::now() + Duration::from_secs(150);
    let results = loop {
        let keys = store.list("results").await.unwrap();
        if keys.len() >= 1000 || Instant::now() > deadline {
            break keys;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let mut per_message: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in &results {
        let id = key
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".json")
            .to_string();
        per_message.entry(id).or_default().push(key.clone());
    }
    let missing: Vec<_> = sent
        .keys()
        .filter(|id| !per_message.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} messages have no result, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    for (id, keys) in &per_message {
        assert!(
            sent.contains_key(id),
            "a result for a message never sent: {id}"
        );
        // Every queue here is FIFO: exactly one result each.
        assert_eq!(keys.len(), 1, "{id} has {} results: {keys:?}", keys.len());
        let queue = sent[id];
        assert!(
            keys[0].contains(&format!("-{queue}.fifo/year=")),
            "{}",
            keys[0]
        );
    }
    let sample = store
        .get(&per_message.values().next().unwrap()[0])
        .await
        .unwrap();
    let record: serde_json::Value = serde_json::from_slice(&sample).unwrap();
    assert_eq!(record["status"], "processed", "{record}");

    // The seeds' smoke tests, as one command, against the same deployment.
    let smoke = conveyor(&["smoke", "--count", "2"], &env, dir.path());
    let report = stdout(&smoke);
    assert!(smoke.status.success(), "{report}{}", stderr(&smoke));
    assert!(!report.contains('❌'), "{report}");
    assert_eq!(report.matches('✅').count(), 1 + 4 * 7, "{report}");

    assert!(terminate(&mut survivor).success());
    assert!(terminate(&mut api).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_passes_against_the_embedded_default_and_fails_loudly_without_workers() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[], None);
    let sqs = server.sqs.trim_start_matches("http://").to_string();
    let s3 = server.s3.trim_start_matches("http://").to_string();
    let smoke = |queue: &str, data: &Path| {
        Command::new(BIN)
            .args([
                "smoke",
                "--queue",
                queue,
                "--timeout",
                "20",
                "--sqs-listen",
                &sqs,
                "--s3-listen",
                &s3,
                "--data-dir",
            ])
            .arg(data)
            .env_remove("CONVEYOR_ENVIRONMENT")
            .output()
            .unwrap()
    };
    let out = smoke("emails", dir.path());
    let report = stdout(&out);
    assert!(out.status.success(), "{report}{}", stderr(&out));
    // The bucket is checked twice: in the local store, and through serve's S3 endpoint.
    assert_eq!(report.matches('✅').count(), 10, "{report}");
    assert_eq!(report.matches("bucket access").count(), 2, "{report}");
    assert!(
        report.contains(&format!(
            "in S3 bucket mht-api-local-data-collection at http://{s3}"
        )),
        "{report}"
    );
    for check in [
        "bucket access",
        "redrive to",
        "sent 3 message(s)",
        "metrics readable",
        "reached",
        "redriven",
        "4 result(s)",
        "partition layout",
    ] {
        assert!(report.contains(check), "{check:?} missing from {report}");
    }
    assert!(terminate(&mut server).success());

    // A serve whose workers are not there (the api alone): the dead-letter and result checks fail.
    let api_only = tempfile::tempdir().unwrap();
    let mut api = start_command("api", api_only.path(), &[], None);
    let sqs_api = api.sqs.trim_start_matches("http://").to_string();
    let s3_api = api.s3.trim_start_matches("http://").to_string();
    let out = Command::new(BIN)
        .args([
            "smoke",
            "--queue",
            "feedback",
            "--timeout",
            "3",
            "--sqs-listen",
            &sqs_api,
            "--s3-listen",
            &s3_api,
            "--data-dir",
        ])
        .arg(api_only.path())
        .env_remove("CONVEYOR_ENVIRONMENT")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report = stdout(&out);
    // The dead-letter check, and the results missing from both views of the bucket.
    assert_eq!(report.matches('❌').count(), 3, "{report}");
    assert!(report.contains("are the workers running"), "{report}");
    assert!(terminate(&mut api).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_refuses_another_environments_queue_and_presigns_real_urls() {
    let moto = start_moto();
    let env = staging_on(&moto);
    let dir = tempfile::tempdir().unwrap();
    let (settings, aws) = staging_aws(&env).await;
    // A queue with a staging name, but tagged by production.
    let sqs = aws.sqs_client();
    sqs.create_queue()
        .queue_name(&settings.queues[0].dlq_name)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .tags("conveyor:environment", "production")
        .send()
        .await
        .unwrap();
    let out = conveyor(&["provision"], &env, dir.path());
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&settings.queues[0].dlq_name)
            && err.contains("production")
            && err.contains("refusing"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );

    // Presigned URLs from the S3 store work for someone without credentials.
    aws.ensure_bucket(&settings.bucket).await.unwrap();
    let store = aws.s3_store(&settings.bucket).unwrap();
    let put = store
        .presigned_url(
            conveyor_store::Presign::Put,
            "uploads/t1/a.txt",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(put.contains("X-Amz-Signature="), "{put}");
    let client = reqwest::Client::new();
    let r = client.put(&put).body("hello").send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let get = store
        .presigned_url(
            conveyor_store::Presign::Get,
            "uploads/t1/a.txt",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        client.get(&get).send().await.unwrap().text().await.unwrap(),
        "hello"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_cannot_work_says_why_in_one_line() {
    let moto = start_moto();
    let env = staging_on(&moto);
    let dir = tempfile::tempdir().unwrap();
    let one_line = |out: &Output, wanted: &[&str]| {
        assert!(!out.status.success());
        let err = stderr(out);
        // Logs may precede it; the error itself is one line, and nothing panicked.
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "one error line: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        for w in wanted {
            assert!(lines[0].contains(w), "{w:?} missing from {err}");
        }
    };
    // Nothing provisioned: the worker names the queue and the fix.
    one_line(
        &conveyor(&["worker"], &env, dir.path()),
        &[
            "queue mht-api-staging-api-processing-",
            "does not exist",
            "conveyor provision --env staging",
        ],
    );
    // Queues but no bucket: the API names the bucket.
    let (settings, aws) = staging_aws(&env).await;
    let queue = aws.sqs();
    let engine_less = conveyor_config::load(None, env.clone()).unwrap().selected;
    for q in &engine_less.queues {
        for (name, attrs) in [
            (&q.dlq_name, q.dlq_attributes()),
            (&q.name, q.attributes(None)),
        ] {
            conveyor_queue::Queue::create_queue(&queue, name, &attrs, &BTreeMap::new())
                .await
                .unwrap();
        }
    }
    one_line(
        &conveyor(&["api"], &env, dir.path()),
        &[
            &format!("bucket {} does not exist", settings.bucket),
            "conveyor provision",
        ],
    );
    // No credentials anywhere in the chain.
    let mut anonymous: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .cloned()
        .collect();
    anonymous.push(("HOME".into(), dir.path().display().to_string()));
    let out = Command::new(BIN)
        .args(["worker", "--data-dir"])
        .arg(dir.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .envs(anonymous.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    one_line(&out, &["no AWS credentials", "AWS_ACCESS_KEY_ID"]);
    // An endpoint nobody listens on.
    let mut nowhere = env.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    nowhere.push((
        "CONVEYOR_AWS_ENDPOINT".into(),
        format!("http://127.0.0.1:{port}"),
    ));
    one_line(
        &conveyor(&["provision"], &nowhere, dir.path()),
        &[
            "cannot reach SQS",
            &format!("127.0.0.1:{port}"),
            "CONVEYOR_AWS_ENDPOINT",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_hold_on_sqs_and_s3() {
    let moto = start_moto();
    let env = staging_on(&moto);
    let dir = tempfile::tempdir().unwrap();
    let provisioned = conveyor(&["provision"], &env, dir.path());
    assert!(provisioned.status.success(), "{}", stderr(&provisioned));
    let api = start_on("api", &env, &dir.path().join("api"));
    let headers = [
        ("content-type", "application/json"),
        ("idempotency-key", "welcome-ada"),
    ];
    let body = r#"{"to":"ada@example.com","subject":"Welcome"}"#;
    let (s1, first) = http(&api.address, "POST", "/v1/emails", &headers, body).await;
    let (s2, again) = http(&api.address, "POST", "/v1/emails", &headers, body).await;
    assert_eq!((s1, s2), (202, 202), "{first} {again}");
    assert_eq!(first, again, "the retry gets the first answer");
    let (status, refused) = http(
        &api.address,
        "POST",
        "/v1/emails",
        &headers,
        r#"{"to":"bob@example.com","subject":"Welcome"}"#,
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let (settings, aws) = staging_aws(&env).await;
    let emails = settings.queue("emails").unwrap().name.clone();
    let counts = conveyor_queue::Queue::counts(&aws.sqs(), &emails)
        .await
        .unwrap();
    assert_eq!(counts.visible, 1, "enqueued once");
    let keys = aws
        .s3_store(&settings.bucket)
        .unwrap()
        .list("_conveyor/idempotency")
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "the key is kept in the bucket: {keys:?}");
}
