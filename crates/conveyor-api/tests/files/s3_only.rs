//! What only S3 does: large files go up as multipart uploads, a part at a time.

use reqwest::StatusCode;

use crate::harness::{json, token, App};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_goes_to_s3_as_a_multipart_upload() {
    let app = App::s3_with(&[
        (
            "CONVEYOR_ENVIRONMENTS__LOCAL__FILES__MAX_FILE_BYTES",
            "33554432",
        ),
        (
            "CONVEYOR_ENVIRONMENTS__LOCAL__FILES__MAX_REQUEST_BYTES",
            "67108864",
        ),
    ])
    .await;
    let t = token("acme");
    // 12 MiB: three 5 MiB parts (the last one short).
    let body: Vec<u8> = (0..12 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let response = app.upload(&t, "big", "video.mp4", &body, "video/mp4").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let meta = json(
        app.get("/files/metadata/big/video.mp4", &t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(meta["size"], 12 * 1024 * 1024);
    assert_eq!(meta["content_type"], "video/mp4");
    // S3 marks a multipart object's ETag with its part count.
    let etag = meta["etag"].as_str().unwrap();
    assert!(etag.trim_matches('"').ends_with("-3"), "{etag}");
    let download = app
        .get("/files/download/big/video.mp4", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(download.bytes().await.unwrap(), body);
}
