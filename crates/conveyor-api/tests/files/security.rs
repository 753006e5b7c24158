//! Refusals: other tenants, paths that step out, bad tokens, oversized uploads, altered links.
//! Each is refused and leaves the store exactly as it was.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{json, now, token, token_with, App};

/// Every endpoint, as (method, path, JSON body), with `{p}` where a path goes.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("GET", "/files/download/{p}", ""),
    ("DELETE", "/files/delete/{p}", ""),
    ("GET", "/files/metadata/{p}", ""),
    ("GET", "/files/presigned-url/{p}", ""),
    ("GET", "/files/list?folder={p}", ""),
    ("GET", "/files/list?folder={p}&recursive=true", ""),
    ("POST", "/files/folder/create", r#"{"folder": {p}}"#),
    ("DELETE", "/files/folder/delete?folder={p}", ""),
    (
        "POST",
        "/files/copy",
        r#"{"source": {p}, "destination": "mine.txt"}"#,
    ),
    (
        "POST",
        "/files/copy",
        r#"{"source": "docs/mine.txt", "destination": {p}}"#,
    ),
    (
        "POST",
        "/files/move",
        r#"{"source": {p}, "destination": "mine.txt"}"#,
    ),
    (
        "POST",
        "/files/move",
        r#"{"source": "docs/mine.txt", "destination": {p}}"#,
    ),
    ("POST", "/files/delete-multiple", r#"{"paths": [{p}]}"#),
    ("POST", "/files/presigned-upload?file_path={p}", ""),
];

/// An endpoint's URL and body with `path` put in (URL-encoded as given, JSON-quoted decoded).
fn fill(path: &str, body: &str, encoded: &str) -> (String, String) {
    let quoted = serde_json::to_string(&percent_decode(encoded)).unwrap();
    (path.replace("{p}", encoded), body.replace("{p}", &quoted))
}

async fn call(
    app: &App,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: &str,
) -> reqwest::Response {
    let mut request = app.http.request(method.parse().unwrap(), app.url(path));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    request.send().await.unwrap()
}

async fn upload_form(app: &App, token: Option<&str>, route: &str, name: &str) -> reqwest::Response {
    let field = if route.contains("multiple") {
        "files"
    } else {
        "file"
    };
    let form = Form::new().part(
        field,
        Part::bytes(b"x".to_vec()).file_name(name.to_string()),
    );
    let mut request = app.http.post(app.url(route)).multipart(form);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().await.unwrap()
}

pub async fn tenants_cannot_reach_each_other(app: &App) {
    let (acme, bravo) = (token("acme"), token("bravo"));
    app.upload(&acme, "docs", "secret.txt", b"acme only", "text/plain")
        .await;
    app.upload(&bravo, "docs", "mine.txt", b"bravo's", "text/plain")
        .await;
    let before = app.snapshot().await;
    for (method, path, body) in ENDPOINTS {
        let (url, body) = fill(path, body, "docs/secret.txt");
        let names_acme_as_source = !(path.contains("folder/create")
            || path.contains("presigned-upload")
            || body.contains(r#""destination": "docs/secret.txt""#));
        if !names_acme_as_source {
            continue; // These write bravo's own space; checked below.
        }
        let response = call(app, Some(&bravo), method, &url, &body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("acme only"),
            "{method} {path} leaked: {text}"
        );
        if path.contains("list") {
            let page: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                (&page["files"], &page["folders"]),
                (&json!([]), &json!([])),
                "{path}"
            );
        } else if path.contains("delete-multiple") {
            let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(answer["not_found"], json!(["docs/secret.txt"]));
        } else {
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "{method} {path} {body}: {text}"
            );
        }
    }
    // Writing to the same path writes bravo's own file.
    let copied = app
        .post("/files/copy", &bravo)
        .json(&json!({ "source": "docs/mine.txt", "destination": "docs/secret.txt" }))
        .send()
        .await
        .unwrap();
    assert_eq!(copied.status(), StatusCode::OK);
    assert_eq!(
        app.store
            .get("tenants/bravo/docs/secret.txt")
            .await
            .unwrap(),
        "bravo's"
    );
    // A path naming the other tenant's prefix stays inside the caller's own.
    for path in [
        "/files/download/tenants/acme/docs/secret.txt",
        "/files/download/..%2Facme%2Fdocs%2Fsecret.txt",
    ] {
        let response = call(app, Some(&bravo), "GET", path, "").await;
        assert!(
            matches!(
                response.status(),
                StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
            ),
            "{path}"
        );
    }
    let after: Vec<_> = app
        .snapshot()
        .await
        .into_iter()
        .filter(|(k, _)| k.starts_with("tenants/acme/"))
        .collect();
    let acme_before: Vec<_> = before
        .into_iter()
        .filter(|(k, _)| k.starts_with("tenants/acme/"))
        .collect();
    assert_eq!(after, acme_before, "acme's files are untouched");
}

const TRAVERSALS: &[&str] = &[
    "..%2F..%2Fbravo%2Fdocs%2Fmine.txt",
    "docs%2F..%2F..%2F..%2Fx",
    "%2Fetc%2Fpasswd",
    "docs%5C..%5C..%5Cx",
    "docs%2F%2Fx",
    "docs%00x",
    "C:%2Fwindows",
];

pub async fn every_path_taking_endpoint_refuses_traversal(app: &App) {
    let t = token("acme");
    app.upload(&t, "docs", "mine.txt", b"mine", "text/plain")
        .await;
    app.upload(
        &token("bravo"),
        "docs",
        "mine.txt",
        b"bravo's",
        "text/plain",
    )
    .await;
    let before = app.snapshot().await;
    for bad in TRAVERSALS {
        let decoded = percent_decode(bad);
        for (method, path, body) in ENDPOINTS {
            let (url, body) = fill(path, body, bad);
            let response = call(app, Some(&t), method, &url, &body).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{method} {url} {body}: {text}"
            );
            assert!(text.contains("not allowed"), "{text}");
        }
        for route in ["/files/upload", "/files/upload-multiple"] {
            let response = upload_form(app, Some(&t), route, &decoded).await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{route} named {decoded:?}"
            );
            let response =
                upload_form(app, Some(&t), &format!("{route}?folder={bad}"), "x.txt").await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{route} into {bad}"
            );
        }
    }
    // A client that does not normalise `..` in the URL itself.
    let raw = raw_get(app, "/files/download/../../bravo/docs/mine.txt", &t).await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert_eq!(app.snapshot().await, before);
}

pub async fn tokens_are_verified_on_every_endpoint(app: &App) {
    app.upload(&token("acme"), "docs", "mine.txt", b"mine", "text/plain")
        .await;
    let before = app.snapshot().await;
    let claims =
        |exp: u64| json!({ "sub": "u", "exp": exp, "app_metadata": { "tenant_id": "acme" } });
    let b64 = |v: serde_json::Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let good = token("acme");
    let signature = good.rsplit('.').next().unwrap();
    let refused = [
        None,
        Some("not-a-token".to_string()),
        Some(token_with(claims(now() - 3600))),
        Some(format!(
            "{}.{}.",
            b64(json!({ "alg": "none", "typ": "JWT" })),
            b64(claims(now() + 600))
        )),
        Some(format!(
            "{}.{}.{signature}",
            b64(json!({ "alg": "HS256", "typ": "JWT" })),
            b64(
                json!({ "sub": "u", "exp": now() + 600, "app_metadata": { "tenant_id": "bravo" } })
            )
        )),
        Some(jsonwebtoken_with_other_secret(claims(now() + 600))),
        Some(token_with(json!({ "sub": "u", "exp": now() + 600 }))),
        // Not valid for another hour: beyond the 60 s leeway.
        Some(token_with(
            json!({ "sub": "u", "exp": now() + 7200, "nbf": now() + 3600, "app_metadata": { "tenant_id": "acme" } }),
        )),
    ];
    for t in &refused {
        for (method, path, body) in ENDPOINTS {
            let (url, body) = fill(path, body, "docs/mine.txt");
            let response = call(app, t.as_deref(), method, &url, &body).await;
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {t:?}"
            );
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
        for route in ["/files/upload", "/files/upload-multiple"] {
            let response = upload_form(app, t.as_deref(), route, "new.txt").await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{route}");
        }
    }
    assert_eq!(app.snapshot().await, before);
}

fn jsonwebtoken_with_other_secret(claims: serde_json::Value) -> String {
    conveyor_api::files::sign_token(b"some-other-secret-some-other-secret-123", &claims).unwrap()
}

pub async fn oversized_uploads_are_refused_and_leave_nothing(app: &App) {
    // The harness allows 1 MiB per file and 3 MiB per request.
    let t = token("acme");
    app.upload(&t, "docs", "kept.txt", b"kept", "text/plain")
        .await;
    let before = app.snapshot().await;
    let big = vec![7u8; 1024 * 1024 + 1];
    let response = app
        .upload(&t, "docs", "big.bin", &big, "application/octet-stream")
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(json(response).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_file_bytes"));
    // Same name as a kept file: the old bytes survive a refused replacement.
    let response = app.upload(&t, "docs", "kept.txt", &big, "text/plain").await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // All or nothing: a good file then an oversized one stores neither.
    let form = Form::new()
        .part(
            "files",
            Part::bytes(b"small".to_vec()).file_name("small.txt"),
        )
        .part("files", Part::bytes(big.clone()).file_name("big.bin"));
    let response = app
        .post("/files/upload-multiple?folder=docs", &t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // More than a request may carry, in files each under the per-file limit.
    let part = || Part::bytes(vec![1u8; 1024 * 1024 - 1024]).file_name("part.bin");
    let mut form = Form::new();
    for i in 0..4 {
        form = form.part("files", part().file_name(format!("p{i}.bin")));
    }
    let response = app
        .post("/files/upload-multiple?folder=docs", &t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let too_big_form = app
        .post(
            "/files/presigned-upload?file_path=docs/x.bin&max_bytes=99999999",
            &t,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(too_big_form.status(), StatusCode::BAD_REQUEST);
    if !app.s3 {
        // S3 enforces a form's content-length-range itself; moto does not, so this part runs
        // on Conveyor's S3 endpoint only.
        let presigned = json(
            app.post(
                "/files/presigned-upload?file_path=docs/x.bin&max_bytes=10",
                &t,
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        let response = post_form(app, &presigned, b"eleven bytes".to_vec()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("<Code>EntityTooLarge</Code>"));
    }
    assert_eq!(app.snapshot().await, before);
    assert!(
        app.store
            .list("_conveyor/staging")
            .await
            .unwrap()
            .is_empty(),
        "nothing left staged"
    );
}

pub async fn post_form(
    app: &App,
    presigned: &serde_json::Value,
    file: Vec<u8>,
) -> reqwest::Response {
    let mut form = Form::new();
    for (name, value) in presigned["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_string());
    }
    form = form.part("file", Part::bytes(file).file_name("upload"));
    app.http
        .post(presigned["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// One GET written by hand, so the path reaches the server exactly as given.
async fn raw_get(app: &App, path: &str, token: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}
