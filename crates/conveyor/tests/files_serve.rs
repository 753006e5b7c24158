//! The files API as a user meets it: `conveyor serve` on the embedded default with a JWT
//! secret, a token from `conveyor token`, and the seeds' upload / download / presigned flow
//! (whose URLs are those of the S3 endpoint `serve` runs beside the API).

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
    // The environment's bucket on the S3 endpoint, path-style.
    assert!(url.starts_with(&format!("{}/", server.s3)), "{url}");
    assert!(
        url.contains("/tenants/acme/documents/contract.pdf?"),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature="), "{url}");
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap(), &b"%PDF-1.7 contract"[..]);

    // A browser form, posted straight to the S3 endpoint with no token.
    let presigned: serde_json::Value = http
        .post(format!(
            "{base}/files/presigned-upload?file_path=documents/scan.png&max_bytes=100"
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in presigned["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_string());
    }
    form = form.part(
        "file",
        reqwest::multipart::Part::bytes(b"\x89PNG scan".to_vec()).file_name("scan.png"),
    );
    let posted = http
        .post(presigned["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        posted.status().is_success(),
        "{}",
        posted.text().await.unwrap()
    );
    let listed: serde_json::Value = http
        .get(format!("{base}/files/metadata/documents/scan.png"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["size"], 9, "{listed}");

    // Another tenant's token sees nothing of it.
    let other = http
        .get(format!("{base}/files/download/documents/contract.pdf"))
        .bearer_auth(token("bravo"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_s3_access_keys_the_files_api_links_are_verified_by_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            ("CONVEYOR_JWT_SECRET", SECRET),
            (
                "CONVEYOR_S3_ACCESS_KEYS",
                "AKIALOCAL:a-long-enough-secret-value",
            ),
        ],
        None,
    );
    let base = format!("http://{}", server.address);
    let http = reqwest::Client::new();
    let t = token("acme");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"acme's note".to_vec()).file_name("note.txt"),
    );
    let uploaded = http
        .post(format!("{base}/files/upload?folder=docs"))
        .bearer_auth(&t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    let link: serde_json::Value = http
        .get(format!("{base}/files/presigned-url/docs/note.txt"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap(), &b"acme's note"[..]);
    // The same URL for another tenant's key, or with no signature, is refused.
    for altered in [
        url.replace("tenants/acme/", "tenants/bravo/"),
        url.split("&X-Amz-Signature").next().unwrap().to_string(),
    ] {
        let refused = reqwest::get(&altered).await.unwrap();
        assert_eq!(refused.status(), 403, "{altered}");
    }
    // Unsigned requests are refused outright.
    let anonymous = reqwest::get(url.split('?').next().unwrap()).await.unwrap();
    assert_eq!(anonymous.status(), 403);
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
