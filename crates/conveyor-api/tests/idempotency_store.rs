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
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = conveyor_aws::testing::s3_store_on(
        &moto,
        vec![("CONVEYOR_DATA_DIR".into(), dir.path().display().to_string())],
    )
    .await;
    contract(Arc::new(StoreKeys::new(store))).await;
}
