//! Dead-letter triage in a real `conveyor serve`: messages a failing handler sends to the
//! dead-letter queue are peeked (and are still there), show their source and last error, have
//! a timeline of every attempt, and are redriven one by one or all together.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const CONFIG: &str = r#"
instance = "acme"
use_case = "ops"
environment = "test"

[queues.work]
visibility = "1s"
max_receive_count = 2
handler = "fail"
worker = { backoff = { initial = "1s", max = "1s" } }

[queues.done]
handler = "log"

[environments.test]
data_dir = "unused"
bucket_suffix = "data"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_peeked_traced_and_redriven() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let data = dir.path().join("data");
    let server = start(&data, &[], Some(&config));
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, body) = http(
            &server.address,
            "POST",
            "/v1/queues/work/messages",
            &[JSON],
            &format!(r#"{{"body":{{"n":{n}}}}}"#),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(message_id(&body));
    }
    let dlq = "acme-test-ops-work-dlq";
    let peek = |max: u32| {
        let address = server.address.clone();
        async move {
            let (status, body) = http(
                &address,
                "GET",
                &format!("/v1/admin/queues/{dlq}/messages?max={max}"),
                &[],
                "",
            )
            .await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    // Two failed receives each, then the third receive moves them (redrive policy).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while peek(10).await["messages"].as_array().unwrap().len() < 3 {
        assert!(std::time::Instant::now() < deadline, "not dead-lettered");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let first = peek(10).await;
    let again = peek(10).await;
    assert_eq!(
        first["messages"], again["messages"],
        "a peek changes nothing"
    );
    assert_eq!(first["counted_as_receive"], false);
    let m = &first["messages"][0];
    assert_eq!(m["message_id"], ids[0].as_str(), "in queue order: {first}");
    assert_eq!(m["body"]["n"], 0);
    assert_eq!(m["source_queue"], "acme-test-ops-work");
    assert_eq!(m["state"], "visible");
    assert!(
        m["last_error"].as_str().unwrap().contains("fail handler"),
        "{m}"
    );
    // Pages continue where the last ended.
    let page = peek(2).await;
    let next = page["next"].as_str().expect("a next page").to_string();
    let (_, rest) = http(
        &server.address,
        "GET",
        &format!("/v1/admin/queues/{dlq}/messages?max=2&after={next}"),
        &[],
        "",
    )
    .await;
    let rest: Value = serde_json::from_str(&rest).unwrap();
    assert_eq!(rest["messages"][0]["message_id"], ids[2].as_str());

    let table = queue_cli(&server, &["peek", dlq]);
    assert!(
        table.starts_with("MESSAGE ID")
            && table.contains(&ids[1])
            && table.contains("fail handler"),
        "{table}"
    );

    let timeline = queue_cli(&server, &["timeline", "acme-test-ops-work", &ids[0]]);
    for event in [
        "sent",
        "received",
        "failed",
        "visibility_changed",
        "dead_lettered",
    ] {
        assert!(timeline.contains(event), "{event}: {timeline}");
    }
    assert!(timeline.contains("redrive policy"), "{timeline}");

    // One chosen message to `done`, where it succeeds; its timeline ends with the result.
    let moved = queue_cli(
        &server,
        &[
            "redrive",
            dlq,
            "--message",
            &ids[0],
            "--to",
            "acme-test-ops-done",
        ],
    );
    assert!(moved.contains("moved 1 to acme-test-ops-done"), "{moved}");
    // The result is stored just before the message is deleted: wait for both.
    until("the redriven message succeeds", || {
        queue_cli(&server, &["timeline", "acme-test-ops-done", &ids[0]])
            .trim_end()
            .ends_with("status: succeeded")
    })
    .await;
    assert!(result_files(&data)
        .iter()
        .any(|p| p.to_string_lossy().contains(&ids[0])));
    let timeline = queue_cli(&server, &["timeline", "acme-test-ops-done", &ids[0]]);
    assert!(
        timeline.contains("redriven")
            && timeline.contains("succeeded")
            && timeline.trim_end().ends_with("status: succeeded"),
        "{timeline}"
    );
    let left = peek(10).await;
    assert_eq!(left["messages"].as_array().unwrap().len(), 2, "{left}");

    // The rest together, followed to the end.
    let all = queue_cli(
        &server,
        &["redrive", dlq, "--to", "acme-test-ops-done", "--wait"],
    );
    assert!(all.contains("redrive completed: 2 moved"), "{all}");
    let purged = queue_cli(&server, &["purge", dlq]);
    assert!(
        purged.contains("purged acme-test-ops-work-dlq (0 messages)"),
        "{purged}"
    );
}
