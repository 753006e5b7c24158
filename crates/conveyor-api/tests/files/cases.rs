//! What a tenant's client does, on either store.

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{json, token, App};

pub async fn upload_then_download_metadata_and_ranges(app: &App) {
    let t = token("acme");
    let body: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let response = app
        .upload(&t, "documents", "contract.pdf", &body, "application/pdf")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        json(response).await,
        json!({ "path": "documents/contract.pdf", "size": 100_000, "content_type": "application/pdf" })
    );
    // It sits under the tenant's prefix, and nowhere else.
    assert!(app
        .store
        .exists("tenants/acme/documents/contract.pdf")
        .await
        .unwrap());

    let response = app
        .get("/files/download/documents/contract.pdf", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["content-length"], "100000");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"contract.pdf\""));
    assert_eq!(response.bytes().await.unwrap(), body);

    let inline = app
        .get(
            "/files/download/documents/contract.pdf?disposition=inline",
            &t,
        )
        .send()
        .await
        .unwrap();
    assert!(inline.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));

    for (range, expected, content_range) in [
        ("bytes=10-19", &body[10..20], "bytes 10-19/100000"),
        ("bytes=99990-", &body[99_990..], "bytes 99990-99999/100000"),
        ("bytes=-5", &body[99_995..], "bytes 99995-99999/100000"),
    ] {
        let response = app
            .get("/files/download/documents/contract.pdf", &t)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(response.headers()["content-range"], content_range);
        assert_eq!(response.bytes().await.unwrap(), expected, "{range}");
    }
    let response = app
        .get("/files/download/documents/contract.pdf", &t)
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(response.headers()["content-range"], "bytes */100000");

    let meta = json(
        app.get("/files/metadata/documents/contract.pdf", &t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meta["path"], "documents/contract.pdf");
    assert_eq!(meta["size"], 100_000);
    assert_eq!(meta["content_type"], "application/pdf");
    assert!(meta["last_modified"].as_str().unwrap().starts_with("20"));
    assert!(meta["etag"].is_string());
    if app.s3 {
        assert_eq!(meta["storage_class"], "STANDARD");
    } else {
        assert!(
            meta["storage_class"].is_null(),
            "the local store has no storage classes"
        );
    }

    // Without a declared type, the name decides.
    let response = app
        .upload(&t, "", "notes.txt", b"hello", "application/octet-stream")
        .await;
    assert_eq!(json(response).await["content_type"], "text/plain");
    let missing = app
        .get("/files/download/documents/none.pdf", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(json(missing).await["error"]["message"]
        .as_str()
        .unwrap()
        .contains("documents/none.pdf"));
}

pub async fn upload_multiple_then_list_and_page(app: &App) {
    let t = token("acme");
    let mut form = Form::new();
    for name in ["a.txt", "b.txt", "c.csv"] {
        form = form.part(
            "files",
            Part::bytes(name.as_bytes().to_vec()).file_name(name),
        );
    }
    let response = app
        .post("/files/upload-multiple?folder=data", &t)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let paths: Vec<String> = json(response).await["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["data/a.txt", "data/b.txt", "data/c.csv"]);
    assert!(
        app.store
            .list("_conveyor/staging")
            .await
            .unwrap()
            .is_empty(),
        "nothing left staged"
    );
    app.upload(&t, "data/2026", "d.txt", b"d", "text/plain")
        .await;
    app.upload(&t, "", "top.txt", b"t", "text/plain").await;

    let root = json(app.get("/files/list", &t).send().await.unwrap()).await;
    assert_eq!(root["folders"], json!(["data"]));
    assert_eq!(root["files"][0]["path"], "top.txt");
    assert!(root["next_cursor"].is_null());

    let one_level = json(app.get("/files/list?folder=data", &t).send().await.unwrap()).await;
    assert_eq!(one_level["folders"], json!(["data/2026"]));
    let names: Vec<&str> = one_level["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["data/a.txt", "data/b.txt", "data/c.csv"]);
    assert_eq!(one_level["files"][0]["size"], 5);

    // Recursive, two at a time: every file once, in path order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = "/files/list?folder=data&recursive=true&limit=2".to_string();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page = json(app.get(&url, &t).send().await.unwrap()).await;
        assert!(page["folders"].as_array().unwrap().is_empty());
        for f in page["files"].as_array().unwrap() {
            seen.push(f["path"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["data/2026/d.txt", "data/a.txt", "data/b.txt", "data/c.csv"]
    );
    let bad = app.get("/files/list?limit=0", &t).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

pub async fn folders_are_created_listed_and_deleted_with_a_count(app: &App) {
    let t = token("acme");
    let response = app
        .post("/files/folder/create", &t)
        .json(&json!({ "folder": "reports/2026/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(json(response).await, json!({ "folder": "reports/2026" }));
    let listed = json(
        app.get("/files/list?folder=reports", &t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        listed["folders"],
        json!(["reports/2026"]),
        "an empty folder is listed"
    );
    let inside = json(
        app.get("/files/list?folder=reports/2026", &t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        inside["files"],
        json!([]),
        "the folder's marker is not a file"
    );

    app.upload(&t, "reports/2026", "q1.csv", b"1", "text/csv")
        .await;
    app.upload(&t, "reports/2026/deep", "q2.csv", b"2", "text/csv")
        .await;
    app.upload(&t, "reports-other", "keep.csv", b"k", "text/csv")
        .await;
    let response = app
        .delete("/files/folder/delete?folder=reports", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json(response).await,
        json!({ "folder": "reports", "deleted_files": 2 })
    );
    assert!(
        app.store
            .exists("tenants/acme/reports-other/keep.csv")
            .await
            .unwrap(),
        "a sibling with the same prefix stays"
    );
    let again = app
        .delete("/files/folder/delete?folder=reports", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let root = app
        .delete("/files/folder/delete?folder=", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        root.status(),
        StatusCode::BAD_REQUEST,
        "the tenant's root is not deleted by accident"
    );
}

pub async fn copy_move_and_delete(app: &App) {
    let t = token("acme");
    app.upload(&t, "a", "one.txt", b"one", "text/plain").await;
    app.upload(&t, "a", "two.txt", b"two", "text/plain").await;
    let copy = |body: serde_json::Value| app.post("/files/copy", &t).json(&body).send();
    let response = copy(json!({ "source": "a/one.txt", "destination": "b/one.txt" }))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.store.get("tenants/acme/b/one.txt").await.unwrap(),
        "one"
    );
    let conflict = copy(json!({ "source": "a/two.txt", "destination": "b/one.txt" }))
        .await
        .unwrap();
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.store.get("tenants/acme/b/one.txt").await.unwrap(),
        "one"
    );
    let replaced =
        copy(json!({ "source": "a/two.txt", "destination": "b/one.txt", "overwrite": true }))
            .await
            .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_eq!(
        app.store.get("tenants/acme/b/one.txt").await.unwrap(),
        "two"
    );
    let same = copy(json!({ "source": "a/two.txt", "destination": "a/two.txt" }))
        .await
        .unwrap();
    assert_eq!(same.status(), StatusCode::BAD_REQUEST);
    let missing = copy(json!({ "source": "a/none.txt", "destination": "b/x.txt" }))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let moved = app
        .post("/files/move", &t)
        .json(&json!({ "source": "a/one.txt", "destination": "c/one.txt" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::OK);
    assert!(!app.store.exists("tenants/acme/a/one.txt").await.unwrap());
    assert_eq!(
        app.store.get("tenants/acme/c/one.txt").await.unwrap(),
        "one"
    );

    let deleted = app
        .delete("/files/delete/c/one.txt", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(!app.store.exists("tenants/acme/c/one.txt").await.unwrap());
    let gone = app
        .delete("/files/delete/c/one.txt", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    let many = app
        .post("/files/delete-multiple", &t)
        .json(&json!({ "paths": ["a/two.txt", "b/one.txt", "z/none.txt"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(many.status(), StatusCode::OK);
    assert_eq!(
        json(many).await,
        json!({ "deleted": ["a/two.txt", "b/one.txt"], "not_found": ["z/none.txt"] })
    );
    assert!(app.snapshot().await.is_empty());
    let none = app
        .post("/files/delete-multiple", &t)
        .json(&json!({ "paths": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
}

/// The browser flow of the seeds: ask for a form, post it with the file straight to the URL
/// (no token), then fetch the file through a presigned download URL (no token).
pub async fn browser_upload_through_a_presigned_form_then_presigned_download(app: &App) {
    let t = token("acme");
    let response = app
        .post(
            "/files/presigned-upload?file_path=images/photo.jpg&max_bytes=1000",
            &t,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let presigned = json(response).await;
    assert_eq!(presigned["content_type"], "image/jpeg");
    assert_eq!(presigned["path"], "images/photo.jpg");
    let mut form = Form::new();
    for (name, value) in presigned["fields"].as_object().unwrap() {
        form = form.text(name.clone(), value.as_str().unwrap().to_string());
    }
    let photo = b"\xff\xd8\xff\xe0 a small jpeg".to_vec();
    form = form.part(
        "file",
        Part::bytes(photo.clone())
            .file_name("photo.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let posted = app
        .http
        .post(presigned["url"].as_str().unwrap())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(
        posted.status().is_success(),
        "{}: {}",
        posted.status(),
        posted.text().await.unwrap()
    );
    assert_eq!(
        app.store
            .get("tenants/acme/images/photo.jpg")
            .await
            .unwrap(),
        photo
    );

    let response = app
        .get("/files/presigned-url/images/photo.jpg?expires_in=60", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let link = json(response).await;
    assert_eq!(link["expires_in"], 60);
    let fetched = app
        .http
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap(), photo);

    let missing = app
        .get("/files/presigned-url/images/none.jpg", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let too_long = app
        .get(
            "/files/presigned-url/images/photo.jpg?expires_in=9999999",
            &t,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST);
}

pub use crate::security::{
    every_path_taking_endpoint_refuses_traversal, oversized_uploads_are_refused_and_leave_nothing,
    tenants_cannot_reach_each_other, tokens_are_verified_on_every_endpoint,
};
