//! What is checked on the local store only: that Conveyor's S3 endpoint, which serves the files
//! API's presigned URLs and forms there, refuses altered and expired ones as S3 does (moto does
//! not check presignatures, so S3's side of this is S3's); and the settings that switch the API
//! off or open it to browsers.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{json, token, App};
use crate::security::post_form;

#[tokio::test]
async fn altered_or_expired_signed_links_are_refused() {
    let app = App::local().await;
    let t = token("acme");
    app.upload(&t, "docs", "a.txt", b"acme's", "text/plain")
        .await;
    app.upload(&token("bravo"), "docs", "b.txt", b"bravo's", "text/plain")
        .await;
    let before = app.snapshot().await;
    let link = json(
        app.get("/files/presigned-url/docs/a.txt", &t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let url = link["url"].as_str().unwrap().to_string();
    assert_eq!(
        app.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "acme's"
    );

    assert!(!url.contains("/files/"), "an S3 URL, not the API's: {url}");
    let signature = url.rsplit("X-Amz-Signature=").next().unwrap();
    let flipped = format!(
        "{}{}",
        &signature[..signature.len() - 1],
        if signature.ends_with('0') { "1" } else { "0" }
    );
    for altered in [
        url.replace("tenants/acme/docs/a.txt", "tenants/bravo/docs/b.txt"),
        url.replace(signature, &flipped),
        url.replace("X-Amz-Expires=", "X-Amz-Expires=9"),
        url.split("&X-Amz-Signature").next().unwrap().to_string(),
    ] {
        let response = app.http.get(&altered).send().await.unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ),
            "{altered}: {}",
            response.status()
        );
        assert!(!response.text().await.unwrap().contains("bravo's"));
    }
    let short = json(
        app.get("/files/presigned-url/docs/a.txt?expires_in=1", &t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = app
        .http
        .get(short["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    let answer = expired.text().await.unwrap();
    assert!(answer.contains("<Code>AccessDenied</Code>"), "{answer}");
    assert!(answer.contains("expired"), "{answer}");

    // Upload forms: a changed key, content type or policy, or an old form, writes nothing.
    let form = json(
        app.post(
            "/files/presigned-upload?file_path=docs/new.txt&content_type=text/plain&max_bytes=100",
            &t,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let widened = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::STANDARD;
        let policy = engine
            .decode(form["fields"]["policy"].as_str().unwrap())
            .unwrap();
        let policy = String::from_utf8(policy)
            .unwrap()
            .replace("100]", "100000]");
        engine.encode(policy)
    };
    for (field, value) in [
        ("key", "tenants/bravo/docs/b.txt"),
        ("Content-Type", "text/html"),
        ("policy", widened.as_str()),
    ] {
        let mut changed = form.clone();
        changed["fields"][field] = json!(value);
        let response = post_form(&app, &changed, b"payload".to_vec()).await;
        let status = response.status();
        let answer = response.text().await.unwrap();
        assert!(
            matches!(status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
            "{field}: {status} {answer}"
        );
        assert!(answer.contains("<Error>"), "{field}: {answer}");
    }
    let short = json(
        app.post(
            "/files/presigned-upload?file_path=docs/new.txt&expires_in=1",
            &t,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        post_form(&app, &short, b"late".to_vec()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.snapshot().await, before);
}

#[tokio::test]
async fn without_a_jwt_secret_the_files_api_says_how_to_switch_it_on() {
    let app = App::local_with(&[("CONVEYOR_JWT_SECRET", "")]).await;
    let response = app.get("/files/list", &token("acme")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(json(response).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("CONVEYOR_JWT_SECRET"));
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "the rest of the API is unaffected"
    );
}

#[tokio::test]
async fn without_the_s3_endpoint_presigning_says_how_to_switch_it_on() {
    let app = App::local_with(&[("CONVEYOR_S3_LISTEN", "off")]).await;
    let t = token("acme");
    app.upload(&t, "docs", "a.txt", b"a", "text/plain").await;
    for response in [
        app.get("/files/presigned-url/docs/a.txt", &t)
            .send()
            .await
            .unwrap(),
        app.post("/files/presigned-upload?file_path=docs/b.txt", &t)
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let message = json(response).await["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains("s3.listen"), "{message}");
    }
}

#[tokio::test]
async fn browsers_from_configured_origins_may_call() {
    let app = App::local_with(&[("CONVEYOR_CORS_ORIGINS", "https://app.example.com")]).await;
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/files/upload"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let other = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/files/upload"))
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The page may post the presigned form to the S3 endpoint too.
    let form = json(
        app.post(
            "/files/presigned-upload?file_path=docs/cors.txt",
            &token("acme"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let s3_preflight = app
        .http
        .request(reqwest::Method::OPTIONS, form["url"].as_str().unwrap())
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(s3_preflight.status().is_success());
    assert_eq!(
        s3_preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let download = app
        .get("/files/list", &token("acme"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        download.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[tokio::test]
async fn a_file_where_a_folder_is_is_a_conflict() {
    let app = App::local().await;
    let t = token("acme");
    app.upload(&t, "docs", "a.txt", b"a", "text/plain").await;
    app.upload(&t, "", "notes.txt", b"n", "text/plain").await;
    let response = app.upload(&t, "", "docs", b"x", "text/plain").await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let moved = app
        .post("/files/move", &t)
        .json(&json!({ "source": "notes.txt", "destination": "docs", "overwrite": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::CONFLICT);
    assert_eq!(app.store.get("tenants/acme/notes.txt").await.unwrap(), "n");
}
