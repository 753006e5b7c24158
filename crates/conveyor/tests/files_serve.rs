//! The files API as a user meets it: `conveyor serve` on the embedded default with a JWT
//! secret, a token from `conveyor token`, and the seeds' upload / download / presigned flow.

mod common;

use std::process::Command;

use common::*;

const SECRET: &str = "serve-test-secret-serve-test-secret-0123456789";

fn token(tenant: &str) -> String {
    let output = Command::new(BIN)
        .args(["token", "--tenant", tenant, "--valid-for", "10m"])
        .env_remove("CONVEYOR_ENVIRONMENT")
        .env("CONVEYOR_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_the_files_api_with_tokens_from_conveyor_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[("CONVEYOR_JWT_SECRET", SECRET)], None);
    let base = format!("http://{}", server.address);
    let http = reqwest::Client::new();
    let t = token("acme");

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.7 contract".to_vec()).file_name("contract.pdf"),
    );
    let uploaded = http
        .post(format!("{base}/files/upload?folder=documents"))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let on_disk = dir
        .path()
        .join("objects/tenants/acme/documents/contract.pdf");
    assert!(
        on_disk.is_file(),
        "the local store keeps {}",
        on_disk.display()
    );

    let download = http
        .get(format!("{base}/files/download/documents/contract.pdf"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(download.bytes().await.unwrap(), &b"%PDF-1.7 contract"[..]);

    let link: serde_json::Value = http
        .get(format!("{base}/files/presigned-url/documents/contract.pdf"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{base}/files/signed/")), "{url}");
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap(), &b"%PDF-1.7 contract"[..]);

    // Another tenant's token sees nothing of it.
    let other = http
        .get(format!("{base}/files/download/documents/contract.pdf"))
        .bearer_auth(token("bravo"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[test]
fn conveyor_token_without_a_secret_says_what_to_set() {
    let output = Command::new(BIN)
        .args(["token", "--tenant", "acme"])
        .env_remove("CONVEYOR_ENVIRONMENT")
        .env_remove("CONVEYOR_JWT_SECRET")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("CONVEYOR_JWT_SECRET"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
}
