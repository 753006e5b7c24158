//! The idempotency-key contract on the object store: the local filesystem, and S3 on a real
//! moto_server (conditional writes with `If-None-Match: *`).

use std::sync::Arc;

use conveyor_api::StoreKeys;
use conveyor_queue::idempotency::contract;
use conveyor_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_store_keeps_the_idempotency_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(dir.path()).unwrap();
    contract(Arc::new(StoreKeys::new(store))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keeps_the_idempotency_contract() {
    let moto = conveyor_aws::testing::start_moto();
    // nextest runs every test in its own process, so these reach only this test.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let dir = tempfile::tempdir().unwrap();
    let settings = conveyor_config::load(
        None,
        [
            (
                "CONVEYOR_DATA_DIR".to_string(),
                dir.path().display().to_string(),
            ),
            ("CONVEYOR_STORE_BACKEND".into(), "s3".into()),
            ("CONVEYOR_AWS_ENDPOINT".into(), moto.url.clone()),
        ],
    )
    .unwrap()
    .selected;
    let aws = conveyor_aws::Aws::connect(&settings)
        .await
        .unwrap()
        .unwrap();
    aws.ensure_bucket(&settings.bucket).await.unwrap();
    let store = aws.s3_store(&settings.bucket).unwrap();
    contract(Arc::new(StoreKeys::new(store))).await;
}
