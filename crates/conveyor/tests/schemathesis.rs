//! schemathesis (from PyPI) generates requests from the served OpenAPI document, for every
//! operation, and finds no server error: `conveyor serve` on the embedded default, with a
//! JWT secret so the files routes are live and a token from `conveyor token`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const SECRET: &str = "schemathesis-secret-schemathesis-secret-0123";

/// `schemathesis` as `scripts/test-deps.sh` installed it (pip's user bin may not be on PATH).
fn schemathesis() -> Command {
    let user_base = Command::new("python3")
        .args(["-m", "site", "--user-base"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let user_bin = std::path::Path::new(&user_base).join("bin/schemathesis");
    Command::new(if user_bin.exists() {
        user_bin
    } else {
        "schemathesis".into()
    })
}

#[test]
fn schemathesis_finds_no_server_error_in_any_operation() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("CONVEYOR_JWT_SECRET", SECRET)], None);
    let token = Command::new(BIN)
        .args(["token", "--tenant", "fuzz"])
        .env_remove("CONVEYOR_ENVIRONMENT")
        .env("CONVEYOR_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap();
    let report = dir.path().join("schemathesis.txt");
    let mut run = schemathesis()
        .args([
            "run",
            &format!("http://{}/openapi.json", server.address),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--request-timeout",
            "10",
            "--no-color",
            "--header",
            &format!("Authorization: Bearer {}", token.trim()),
        ])
        // Into a file, not a pipe: a full pipe would stall the run while we wait on it.
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run schemathesis: {e}; run scripts/test-deps.sh to install it")
        });
    // Bounded: a hung run fails the test instead of the CI job.
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = run.kill();
            panic!("schemathesis did not finish within 300 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(status.success(), "schemathesis found failures:\n{text}");
    let operations = operations_served(&server.address);
    assert!(
        text.contains(&format!("Tested: {operations}")),
        "every one of the {operations} operations was exercised:\n{text}"
    );
    // The summary's "Test cases:" line counts failures; warnings elsewhere may say "failed".
    let cases = text
        .lines()
        .skip_while(|l| !l.starts_with("Test cases:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no test case summary:\n{text}"));
    assert!(
        cases.contains(" passed") && !cases.contains("failed"),
        "{cases}\n{text}"
    );
}

/// How many operations the served OpenAPI document lists.
fn operations_served(address: &str) -> usize {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (status, body) = runtime.block_on(http(address, "GET", "/openapi.json", &[], ""));
    assert_eq!(status, 200);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "put", "post", "delete", "patch", "head"].contains(&k.as_str()))
                .count()
        })
        .sum()
}
