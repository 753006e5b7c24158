//! A full disk under `conveyor serve`: the data directory and the object store each on a small
//! tmpfs this test mounts (it runs as root, as CI does) and fills. Sends and uploads are refused
//! with a clear error, nothing acknowledged before is lost, the process stays up, a result that
//! cannot be written leaves its message in the queue, and work is taken again once space returns.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A tmpfs mounted for the test's lifetime.
struct Mounted(PathBuf);

impl Mounted {
    fn new(at: &Path, size: &str) -> Mounted {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it, which needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mounted(at.to_path_buf())
    }

    /// Write a filler file until the filesystem refuses more.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        loop {
            if file.write_all(&block).is_err() {
                break;
            }
        }
        // Whatever a partial block left: the filesystem is now full to the byte.
        let _ = file.write_all(&[0u8; 512]);
        let _ = file.sync_all();
        path
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

const SECRET: &str = "disk-full-test-secret-0123456789abcdefghij";

async fn sqs(server: &Server, target: &str, body: &str) -> (u16, String) {
    http(
        server.sqs.trim_start_matches("http://"),
        "POST",
        "/",
        &[
            ("x-amz-target", &format!("AmazonSQS.{target}")),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        body,
    )
    .await
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn results(objects: &Path) -> usize {
    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            walk(&p)
                        } else {
                            usize::from(p.extension().is_some_and(|x| x == "json"))
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&objects.join("results"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_new_work_loses_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_fs = Mounted::new(&data, "6m");
    let objects_fs = Mounted::new(&data.join("objects"), "1m");
    let server = start(
        &data,
        &[
            ("CONVEYOR_JWT_SECRET", SECRET),
            ("CONVEYOR_QUEUES__FEEDBACK__VISIBILITY", "2s"),
        ],
        None,
    );

    // Acknowledged before anything fills: 20 messages on a queue no worker reads.
    let (status, answer) = sqs(&server, "CreateQueue", r#"{"QueueName":"kept"}"#).await;
    assert_eq!(status, 200, "{answer}");
    let url = format!("{}/000000000000/kept", server.sqs);
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (status, answer) = sqs(
            &server,
            "SendMessage",
            &format!(r#"{{"QueueUrl":"{url}","MessageBody":"m{i}"}}"#),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        acknowledged.push(format!("m{i}"));
    }

    // The object store fills: a result cannot be written, so its message stays in the queue.
    let objects_filler = objects_fs.fill();
    let feedback =
        r#"{"user_id":"u-1","message":"kept in the queue","rating":5,"email":"u1@example.com"}"#;
    let (status, answer) = http(
        &server.address,
        "POST",
        "/v1/feedback",
        &[("content-type", "application/json")],
        feedback,
    )
    .await;
    assert_eq!(status, 202, "the queue still takes work: {answer}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(results(&data.join("objects")), 0);
    let (_, metrics) = http(&server.address, "GET", "/metrics", &[], "").await;
    let waiting: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("conveyor_queue_messages{queue=\"feedback\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(waiting, 1.0, "the message waits in the queue:\n{metrics}");
    // Uploads are refused with 507.
    let token = Command::new(BIN)
        .args(["token", "--tenant", "acme"])
        .env("CONVEYOR_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&token.stdout).trim().to_string();
    let upload = reqwest::Client::new()
        .post(format!(
            "http://{}/files/upload?folder=docs",
            server.address
        ))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(vec![7u8; 256 * 1024]).file_name("big.bin"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 507);
    let body = upload.text().await.unwrap();
    assert!(body.contains("insufficient_storage"), "{body}");
    // Space returns: the result is written and the queue drains.
    std::fs::remove_file(objects_filler).unwrap();
    wait_for("the feedback result once the store has space", async || {
        results(&data.join("objects")) == 1
    })
    .await;

    // The queue database's disk fills: sends are refused as the service being unavailable.
    let data_filler = data_fs.fill();
    let (status, answer) = sqs(
        &server,
        "SendMessage",
        &format!(r#"{{"QueueUrl":"{url}","MessageBody":"refused"}}"#),
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("ServiceUnavailable"), "{answer}");
    let (status, answer) = http(
        &server.address,
        "POST",
        "/v1/feedback",
        &[("content-type", "application/json")],
        feedback,
    )
    .await;
    assert_eq!(status, 503, "{answer}");
    assert!(answer.contains("unavailable"), "{answer}");
    let (status, _) = http(&server.address, "GET", "/health", &[], "").await;
    assert_eq!(status, 200, "the process is still up");

    // Space returns: work is taken again, and every acknowledged message is there.
    std::fs::remove_file(data_filler).unwrap();
    wait_for("a send once the disk has space", async || {
        let (status, _) = sqs(
            &server,
            "SendMessage",
            &format!(r#"{{"QueueUrl":"{url}","MessageBody":"after"}}"#),
        )
        .await;
        status == 200
    })
    .await;
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let (status, answer) = sqs(
            &server,
            "ReceiveMessage",
            &format!(r#"{{"QueueUrl":"{url}","MaxNumberOfMessages":10,"VisibilityTimeout":60}}"#),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
        let got = answer["Messages"].as_array().cloned().unwrap_or_default();
        if got.is_empty() {
            break;
        }
        bodies.extend(got.iter().map(|m| m["Body"].as_str().unwrap().to_string()));
    }
    for m in &acknowledged {
        assert!(
            bodies.contains(m),
            "{m} was acknowledged and is lost: {bodies:?}"
        );
    }
    assert!(bodies.iter().any(|b| b == "after"), "{bodies:?}");
    drop(server);
    drop(objects_fs);
    drop(data_fs);
}
