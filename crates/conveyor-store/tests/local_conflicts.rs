//! The local filesystem cannot hold a file and a folder of the same name, which S3 can: such
//! writes are conflicts (409 to the files API), not store failures.

use conveyor_store::{Store, StoreError};

#[tokio::test]
async fn a_file_and_a_folder_of_one_name_conflict_on_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(dir.path()).unwrap();
    store.put("t/docs/inner.txt", "x").await.unwrap();
    store.put("t/file.txt", "y").await.unwrap();
    for attempt in [
        store.put("t/docs", "over a folder").await,
        store.put("t/file.txt/below", "under a file").await,
        store.copy("t/file.txt", "t/docs").await,
        store.rename("t/file.txt", "t/docs").await,
        async {
            let mut upload = store.upload("t/docs", None)?;
            upload.write("z".into()).await?;
            upload.finish().await.map(|_| ())
        }
        .await,
    ] {
        match attempt {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
    assert_eq!(store.get("t/file.txt").await.unwrap(), "y");
    assert_eq!(store.get("t/docs/inner.txt").await.unwrap(), "x");
}
