//! A `kind = "function"` queue in a real `conveyor serve`: the example Python function runs
//! through the runner, SIGTERM kills a function still running when the grace runs out, and
//! `conveyor config check` names the file, the queue and the key of a mistake.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(dir: &Path, handler: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            r#"
instance = "acme"
use_case = "jobs"
environment = "test"
[queues.work]
visibility = "30s"
handler = {handler}
[environments.test]
data_dir = "unused"
bucket_suffix = "data"
"#
        ),
    )
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

async fn send(server: &Server, body: &str) {
    let (status, answer) = http(
        &server.address,
        "POST",
        "/v1/queues/work/messages",
        &[("content-type", "application/json")],
        &format!(r#"{{"body":{body}}}"#),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_function_serves_a_queue() {
    let dir = tempfile::tempdir().unwrap();
    let handler = format!(
        r#"{{ kind = "function", command = ["python3", "{}", "{}:handler"], report_batch_item_failures = true }}"#,
        repo().join("functions/lambda_runner.py").display(),
        repo().join("functions/example/app.py").display()
    );
    let data = dir.path().join("data");
    let server = start(&data, &[], Some(&config(dir.path(), &handler)));
    send(&server, r#"{"text":"to be or not to be"}"#).await;
    until_within(
        "the message has its result",
        Duration::from_secs(30),
        || !result_files(&data).is_empty(),
    )
    .await;
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&result_files(&data)[0]).unwrap()).unwrap();
    assert_eq!(record["handler"], "function", "{record}");
    assert_eq!(record["status"], "processed", "{record}");
    assert_eq!(
        record["output"]["answer"]["batchItemFailures"],
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_kills_a_running_function_once_the_grace_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let handler = format!(
        r#"{{ kind = "function", command = ["sh", "-c", "cat > /dev/null; echo $$ > {}; exec sleep 600"], timeout = "10m" }}"#,
        pidfile.display()
    );
    let data = dir.path().join("data");
    let mut server = start(&data, &[], Some(&config(dir.path(), &handler)));
    send(&server, r#""work""#).await;
    until_within("the function runs", Duration::from_secs(30), || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| !s.trim().is_empty())
    })
    .await;
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    let status = terminate(&mut server);
    assert!(status.success(), "{status:?}");
    until_within("the function is gone", Duration::from_secs(5), || {
        !alive(pid)
    })
    .await;
}

#[test]
fn config_check_names_the_file_the_queue_and_the_key_of_a_bad_function() {
    let dir = tempfile::tempdir().unwrap();
    for (handler, says) in [
        (
            r#"{ kind = "function", command = ["x"], timout = "1s" }"#,
            "timout",
        ),
        (
            r#"{ kind = "function", command = ["x"], batch_size = 0 }"#,
            "batch_size",
        ),
        (r#"{ kind = "lambda", command = ["x"] }"#, "lambda"),
        (r#"{ kind = "function", command = "x" }"#, "command"),
    ] {
        let path = config(dir.path(), handler);
        let out = std::process::Command::new(BIN)
            .args(["config", "check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{handler} is refused");
        assert!(
            err.contains(&*path.to_string_lossy()) || err.contains("conveyor.toml"),
            "{handler}: the file is named: {err}"
        );
        assert!(
            err.contains("work") && err.contains(says),
            "{handler}: {err}"
        );
    }
}
