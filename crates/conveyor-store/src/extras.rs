//! What an S3 endpoint offers beyond `ObjectStore`: URLs that let someone without credentials
//! read or write one object, browser upload forms with conditions the endpoint itself
//! enforces, and storage classes. `conveyor-aws` implements it for Amazon S3, and for
//! Conveyor's own S3 endpoint in front of the local store (which has no storage classes).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::StoreError;

/// What a presigned URL lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presign {
    Get,
    Put,
}

/// The conditions a browser upload form is held to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    /// The one key the form may write.
    pub key: String,
    /// The only `Content-Type` the upload may declare.
    pub content_type: String,
    /// The largest body the store accepts through this form.
    pub max_bytes: u64,
    pub expires_in: Duration,
}

/// A form a browser posts as `multipart/form-data` to `url`: every field, then the file as
/// the last field, named `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadForm {
    pub url: String,
    pub fields: BTreeMap<String, String>,
}

/// Cloud features a backend may have; every method answers for one object key.
#[async_trait::async_trait]
pub trait BackendExtras: Send + Sync {
    async fn presigned_url(
        &self,
        method: Presign,
        key: &str,
        expires_in: Duration,
    ) -> Result<String, StoreError>;

    async fn upload_form(&self, policy: &UploadPolicy) -> Result<UploadForm, StoreError>;

    /// The object's storage class (`STANDARD`, `STANDARD_IA`, `GLACIER`, …); `None` where the
    /// store has no storage classes.
    async fn storage_class(&self, key: &str) -> Result<Option<String>, StoreError>;
}
