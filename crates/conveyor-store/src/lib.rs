//! Conveyor's object storage: where every processed message's result and every raw event goes.
//!
//! `Store` wraps any `object_store` backend (the local filesystem by default; S3 through
//! `conveyor-aws`) behind the few operations Conveyor needs. Keys follow the seeds' Athena
//! partition layout (`partition`). This crate knows nothing about queues.

mod extras;
pub mod jobs;
mod objects;
pub mod partition;
pub mod retention;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub use extras::{BackendExtras, Presign, UploadForm, UploadPolicy};
pub use jobs::{
    attempt_key, attempts_prefix, checkpoint_key, mark_key, AttemptOutcome, AttemptRecord, JobMark,
    MarkState,
};
pub use objects::{Download, Listing, ObjectInfo, Upload};
pub use partition::{event_key, result_key, Hour};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot use {path} as the object store: {detail}")]
    Setup { path: PathBuf, detail: String },
    #[error("{0}")]
    InvalidKey(String),
    #[error("no object at {0}")]
    NotFound(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Conflict(String),
    /// The filesystem under the local store has no space left; writes work again once it does.
    #[error("the object store ({store}) has no space left to write {key}; free space on it")]
    Full { store: String, key: String },
    #[error("the object store ({store}) failed on {key}: {detail}")]
    Backend {
        store: String,
        key: String,
        detail: String,
    },
}

/// An object store with Conveyor's operations.
#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Presigned URLs, upload forms and storage classes, where the backend has them (S3).
    extras: Option<Arc<dyn BackendExtras>>,
    /// Whether objects keep a `Content-Type` (S3 does; the local filesystem keeps bytes only).
    keeps_attributes: bool,
    description: String,
    /// The filesystem behind a local store, to name an object's file (`local_file`).
    local: Option<Arc<LocalFileSystem>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.description)
            .finish()
    }
}

impl Store {
    /// Objects as files under `root`, created if missing.
    pub fn local(root: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::local_with(root.as_ref(), false)
    }

    /// The same files, but every write is on disk before it returns: the file and the
    /// directory entry that names it are fsynced. For writers that acknowledge that the object
    /// is stored or act on it being stored (the S3 endpoint, the files API, workers' results:
    /// `conveyor serve` opens every local store this way).
    pub fn local_durable(root: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::local_with(root.as_ref(), true)
    }

    fn local_with(root: &Path, fsync: bool) -> Result<Store, StoreError> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::Setup {
            path: root.to_path_buf(),
            detail: e.to_string(),
        })?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| StoreError::Setup {
                path: root.to_path_buf(),
                detail: e.to_string(),
            })?
            .with_fsync(fsync);
        let fs = Arc::new(fs);
        Ok(Store {
            inner: fs.clone(),
            extras: None,
            keeps_attributes: false,
            description: format!("local directory {}", root.display()),
            local: Some(fs),
        })
    }

    /// Any other backend (used by the S3 backend and by tests).
    pub fn from_backend(inner: Arc<dyn ObjectStore>, description: impl Into<String>) -> Store {
        Store {
            inner,
            extras: None,
            keeps_attributes: false,
            description: description.into(),
            local: None,
        }
    }

    /// The same store, with a backend's cloud features; it stores content types too.
    pub fn with_extras(mut self, extras: Arc<dyn BackendExtras>) -> Store {
        self.extras = Some(extras);
        self.keeps_attributes = true;
        self
    }

    /// The same store, its URLs and upload forms signed by `signer` for the S3 endpoint that
    /// serves it (Conveyor's own, in front of a local store), which keeps no content types of
    /// its own through this store.
    pub fn with_url_signer(mut self, signer: Arc<dyn BackendExtras>) -> Store {
        self.extras = Some(signer);
        self
    }

    /// Whether presigned URLs and upload forms can be made for this store (S3, or a local
    /// store served by Conveyor's S3 endpoint).
    pub fn signs_urls(&self) -> bool {
        self.extras.is_some()
    }

    /// Whether the store keeps each object's content type.
    pub fn keeps_content_types(&self) -> bool {
        self.keeps_attributes
    }

    /// A URL that lets its holder `method` the object at `key` for `expires_in`, without
    /// credentials of their own.
    pub async fn presigned_url(
        &self,
        method: Presign,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<String, StoreError> {
        Self::path(key)?;
        self.extras()?.presigned_url(method, key, expires_in).await
    }

    /// A browser upload form for one object, held by the store to `policy`.
    pub async fn upload_form(&self, policy: &UploadPolicy) -> Result<UploadForm, StoreError> {
        Self::path(&policy.key)?;
        self.extras()?.upload_form(policy).await
    }

    fn extras(&self) -> Result<&Arc<dyn BackendExtras>, StoreError> {
        self.extras.as_ref().ok_or_else(|| {
            StoreError::Unsupported(format!(
                "the object store ({}) cannot presign URLs: serve it over S3 (conveyor serve's S3 endpoint, s3.listen) or use the s3 store backend",
                self.description
            ))
        })
    }

    /// Remove the object at `key`; removing a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = Self::path(key)?;
        match self.inner.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend_error(key, e)),
        }
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The file that holds (or would hold) the object at `key`, on a local store; `None` on
    /// other backends. For writers that build an object's file themselves and rename it into
    /// place (the S3 endpoint's multipart completion), so it lands where the store reads it.
    pub fn local_file(&self, key: &str) -> Result<Option<PathBuf>, StoreError> {
        let Some(fs) = &self.local else {
            return Ok(None);
        };
        let path = Self::path(key)?;
        fs.path_to_filesystem(&path)
            .map(Some)
            .map_err(|e| StoreError::InvalidKey(format!("{key:?} is not a valid object key: {e}")))
    }

    fn path(key: &str) -> Result<ObjectPath, StoreError> {
        ObjectPath::parse(key)
            .map_err(|e| StoreError::InvalidKey(format!("{key:?} is not a valid object key: {e}")))
    }

    fn io_error(&self, key: &str, e: std::io::Error) -> StoreError {
        // object_store's async writer reports its own errors wrapped in io::Error.
        if e.get_ref()
            .is_some_and(|inner| inner.is::<object_store::Error>())
        {
            if let Some(Ok(inner)) = e.into_inner().map(|i| i.downcast::<object_store::Error>()) {
                return self.backend_error(key, *inner);
            }
            unreachable!("checked to hold an object_store::Error");
        }
        StoreError::Backend {
            store: self.description.clone(),
            key: key.to_string(),
            detail: e.to_string(),
        }
    }

    fn backend_error(&self, key: &str, e: object_store::Error) -> StoreError {
        if is_out_of_space(&e) {
            return StoreError::Full {
                store: self.description.clone(),
                key: key.to_string(),
            };
        }
        if is_file_folder_clash(&e) {
            return StoreError::Conflict(format!(
                "{key} cannot be written: a file and a folder of that name would clash"
            ));
        }
        match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound(key.to_string()),
            object_store::Error::AlreadyExists { .. } => StoreError::Conflict(format!(
                "{key} cannot be written: an object or folder of that name is in the way"
            )),
            other => StoreError::Backend {
                store: self.description.clone(),
                key: key.to_string(),
                detail: other.to_string(),
            },
        }
    }

    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> Result<(), StoreError> {
        let path = Self::path(key)?;
        self.inner
            .put(&path, PutPayload::from_bytes(bytes.into()))
            .await
            .map(|_| ())
            .map_err(|e| self.backend_error(key, e))
    }

    /// Write `key` only if no object is there; `false` when one already was. Atomic on both
    /// backends (a no-clobber link on the filesystem, `If-None-Match: *` on S3).
    pub async fn put_if_absent(
        &self,
        key: &str,
        bytes: impl Into<Bytes>,
    ) -> Result<bool, StoreError> {
        let path = Self::path(key)?;
        let options = object_store::PutOptions::from(object_store::PutMode::Create);
        match self
            .inner
            .put_opts(&path, PutPayload::from_bytes(bytes.into()), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.backend_error(key, e)),
        }
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let path = Self::path(key)?;
        let result = self
            .inner
            .get(&path)
            .await
            .map_err(|e| self.backend_error(key, e))?;
        result.bytes().await.map_err(|e| self.backend_error(key, e))
    }

    /// Every key under `prefix`, in no particular order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        use futures_util::TryStreamExt;
        let path = Self::path(prefix)?;
        let objects: Vec<object_store::ObjectMeta> = self
            .inner
            .list(Some(&path))
            .try_collect()
            .await
            .map_err(|e| self.backend_error(prefix, e))?;
        Ok(objects
            .into_iter()
            .map(|o| o.location.to_string())
            .collect())
    }

    /// Whether the store answers: for `/ready`. Writes and reads back a probe object.
    pub async fn check(&self) -> Result<(), StoreError> {
        let key = "_conveyor/ready-probe";
        self.put(key, Bytes::from_static(b"ok")).await?;
        self.get(key).await.map(|_| ())
    }
}

/// Whether a filesystem refused because a file stands where a folder must go or the other way
/// round (S3 has no folders, so only the local store says this).
/// The first I/O error in the chain of `e`.
fn io_cause(e: &object_store::Error) -> Option<&std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = error.source();
    }
    None
}

fn is_file_folder_clash(e: &object_store::Error) -> bool {
    use std::io::ErrorKind;
    io_cause(e).is_some_and(|io| {
        matches!(
            io.kind(),
            ErrorKind::IsADirectory | ErrorKind::NotADirectory | ErrorKind::DirectoryNotEmpty
        )
    })
}

fn is_out_of_space(e: &object_store::Error) -> bool {
    io_cause(e).is_some_and(|io| {
        matches!(
            io.kind(),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_store_round_trips_under_partition_paths() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path().join("objects")).unwrap();
        let key = result_key("feedback", "m1", 1_737_553_500_000).unwrap();
        store
            .put(&key, Bytes::from_static(b"{\"ok\":true}"))
            .await
            .unwrap();
        assert_eq!(&store.get(&key).await.unwrap()[..], b"{\"ok\":true}");
        let on_disk = dir
            .path()
            .join("objects/results/feedback/year=2025/month=01/day=22/hour=13/m1.json");
        assert!(
            on_disk.is_file(),
            "the file sits at the Athena partition path"
        );
        assert_eq!(
            store.list("results/feedback").await.unwrap(),
            vec![key.clone()]
        );
        assert!(matches!(
            store.get("results/none.json").await,
            Err(StoreError::NotFound(_))
        ));
        store.check().await.unwrap();
    }
}
