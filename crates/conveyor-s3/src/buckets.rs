//! Buckets as local stores: the environment's bucket is the environment's own object store
//! (the same files the workers and the files API read and write); buckets users create are
//! directories beside it. Each object's S3 attributes live in the [`Sidecar`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use conveyor_store::{ObjectInfo, Store, StoreError};
use futures_util::StreamExt;
use s3s::{s3_error, S3Error, S3Result};

use crate::digests::{hex, Digests};
use crate::sidecar::{ObjectRecord, Sidecar, SidecarError};

/// Where an environment's buckets live.
#[derive(Debug, Clone)]
pub struct BucketsLayout {
    /// The environment's bucket: its name, and its store's directory (`data/<env>/objects`).
    pub env_bucket: String,
    pub env_root: PathBuf,
    /// Directory of the buckets users create (`data/<env>/buckets`), one subdirectory each.
    pub created_root: PathBuf,
    /// The metadata database (`data/<env>/s3.db`).
    pub sidecar: PathBuf,
    /// Parts of multipart uploads under way (`data/<env>/s3-uploads`), on the buckets'
    /// filesystem.
    pub uploads_root: PathBuf,
}

#[derive(Clone)]
pub struct Buckets {
    layout: Arc<BucketsLayout>,
    sidecar: Sidecar,
    stores: Arc<Mutex<HashMap<String, Store>>>,
    regions: crate::multipart::Regions,
}

/// One bucket's objects.
#[derive(Clone)]
pub struct Bucket {
    pub name: String,
    pub store: Store,
    sidecar: Sidecar,
}

/// A file's modification time as records name it (ns since 1970).
fn modified_ns(info: &ObjectInfo) -> i64 {
    info.last_modified.timestamp_nanos_opt().unwrap_or(0)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Buckets {
    pub fn open(layout: BucketsLayout) -> Result<Buckets, crate::S3SetupError> {
        for dir in [&layout.env_root, &layout.created_root, &layout.uploads_root] {
            std::fs::create_dir_all(dir).map_err(|e| {
                crate::S3SetupError(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let sidecar =
            Sidecar::open(&layout.sidecar).map_err(|e| crate::S3SetupError(e.to_string()))?;
        let env_store = Store::local_durable(&layout.env_root)
            .map_err(|e| crate::S3SetupError(e.to_string()))?;
        let stores = HashMap::from([(layout.env_bucket.clone(), env_store)]);
        Ok(Buckets {
            layout: Arc::new(layout),
            sidecar,
            stores: Arc::new(Mutex::new(stores)),
            regions: Default::default(),
        })
    }

    pub fn uploads(&self) -> crate::multipart::Uploads {
        crate::multipart::Uploads {
            root: self.layout.uploads_root.clone(),
            sidecar: self.sidecar.clone(),
            regions: self.regions.clone(),
        }
    }

    /// Every bucket with its creation time (ms); the environment's bucket is dated by its
    /// directory.
    pub async fn list(&self) -> S3Result<Vec<(String, i64)>> {
        let mut all = self.sidecar.buckets().await.map_err(internal)?;
        let env_created = std::fs::metadata(&self.layout.env_root)
            .and_then(|m| m.created().or_else(|_| m.modified()))
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64);
        all.push((self.layout.env_bucket.clone(), env_created));
        all.sort();
        Ok(all)
    }

    /// The bucket called `name`, or `NoSuchBucket`.
    pub async fn get(&self, name: &str) -> S3Result<Bucket> {
        if let Some(store) = self.cached(name) {
            return Ok(self.bucket(name, store));
        }
        if self
            .sidecar
            .bucket_created(name)
            .await
            .map_err(internal)?
            .is_none()
        {
            return Err(s3_error!(NoSuchBucket, "there is no bucket called {name}"));
        }
        let store =
            Store::local_durable(self.layout.created_root.join(name)).map_err(store_error)?;
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), store.clone());
        Ok(self.bucket(name, store))
    }

    fn cached(&self, name: &str) -> Option<Store> {
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn bucket(&self, name: &str, store: Store) -> Bucket {
        Bucket {
            name: name.to_string(),
            store,
            sidecar: self.sidecar.clone(),
        }
    }

    /// Create the bucket `name`; `false` when it exists already (it is always the caller's:
    /// every bucket here belongs to the one account).
    pub async fn create(&self, name: &str) -> S3Result<bool> {
        if let Some(problem) = crate::names::bucket_name_problem(name) {
            return Err(s3_error!(InvalidBucketName, "{problem}"));
        }
        if name == self.layout.env_bucket {
            return Ok(false);
        }
        let dir = self.layout.created_root.join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| internal_message(format!("cannot create {}: {e}", dir.display())))?;
        self.sidecar
            .add_bucket(name, now_ms())
            .await
            .map_err(internal)
    }

    /// Delete an empty bucket the user created.
    pub async fn delete(&self, name: &str) -> S3Result<()> {
        if name == self.layout.env_bucket {
            return Err(s3_error!(
                AccessDenied,
                "{name} is this environment's bucket, where its workers keep results; it cannot be deleted over S3"
            ));
        }
        let bucket = self.get(name).await?;
        let listing = bucket
            .store
            .list_sorted("", true)
            .await
            .map_err(store_error)?;
        if !listing.objects.is_empty() {
            return Err(s3_error!(
                BucketNotEmpty,
                "the bucket {name} holds {} objects; delete them first",
                listing.objects.len()
            ));
        }
        self.sidecar.remove_bucket(name).await.map_err(internal)?;
        self.stores
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        let dir = self.layout.created_root.join(name);
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "a deleted bucket's directory stays behind");
        }
        Ok(())
    }
}

impl Bucket {
    /// The S3 attributes of the object `info` describes: its record when the record was
    /// written with this file, else the ETag computed from its bytes (kept for next time).
    pub async fn attributes(&self, info: &ObjectInfo) -> S3Result<ObjectRecord> {
        let stored = self
            .sidecar
            .record(&self.name, &info.key)
            .await
            .map_err(internal)?;
        match stored.filter(|r| r.describes(info.size, modified_ns(info))) {
            Some(record) => Ok(record),
            None => self.computed(info).await,
        }
    }

    /// [`Bucket::attributes`] of a page of a listing (sorted by key), with one read of the
    /// sidecar; `None` for an object deleted since it was listed.
    pub async fn attributes_of(&self, infos: &[ObjectInfo]) -> S3Result<Vec<Option<ObjectRecord>>> {
        let (Some(first), Some(last)) = (infos.first(), infos.last()) else {
            return Ok(Vec::new());
        };
        let mut stored = self
            .sidecar
            .records_between(&self.name, &first.key, &last.key)
            .await
            .map_err(internal)?;
        let mut records = Vec::with_capacity(infos.len());
        for info in infos {
            let record = match stored.remove(&info.key) {
                Some(r) if r.describes(info.size, modified_ns(info)) => Some(r),
                _ => match self.computed(info).await {
                    Ok(r) => Some(r),
                    Err(e) if e.code().as_str() == "NoSuchKey" => None,
                    Err(e) => return Err(e),
                },
            };
            records.push(record);
        }
        Ok(records)
    }

    /// The attributes of a file written without S3 (or rewritten since): its MD5, computed
    /// from its bytes and kept for next time.
    async fn computed(&self, info: &ObjectInfo) -> S3Result<ObjectRecord> {
        let modified_ns = modified_ns(info);
        let download = self
            .store
            .download(&info.key, None)
            .await
            .map_err(store_error)?;
        let mut body = download.body;
        let mut md5 = Digests::new(None, None, Default::default())?;
        while let Some(chunk) = body.next().await {
            md5.update(&chunk.map_err(store_error)?);
        }
        let (e_tag, _) = md5.finish(None)?;
        let record = ObjectRecord {
            size: info.size,
            modified_ns,
            e_tag,
            ..ObjectRecord::default()
        };
        self.sidecar
            .set_record(&self.name, &info.key, &record)
            .await
            .map_err(internal)?;
        Ok(record)
    }

    pub async fn head(&self, key: &str) -> S3Result<(ObjectInfo, ObjectRecord)> {
        let info = match self.store.head(key).await {
            Ok(info) => info,
            Err(StoreError::NotFound(_)) => {
                return Err(s3_error!(
                    NoSuchKey,
                    "there is no object {key} in {}",
                    self.name
                ))
            }
            Err(e) => return Err(store_error(e)),
        };
        let record = self.attributes(&info).await?;
        Ok((info, record))
    }

    /// Record the attributes of the object just written at `key`: its file's size and time
    /// are read back, so the record describes exactly that file.
    pub async fn keep(&self, key: &str, mut record: ObjectRecord) -> S3Result<ObjectRecord> {
        let info = self.store.head(key).await.map_err(store_error)?;
        record.size = info.size;
        record.modified_ns = modified_ns(&info);
        self.sidecar
            .set_record(&self.name, key, &record)
            .await
            .map_err(internal)?;
        Ok(record)
    }

    /// Replace the tags of the object at `key`.
    pub async fn set_tags(&self, key: &str, tags: Vec<(String, String)>) -> S3Result<()> {
        let (_, mut record) = self.head(key).await?;
        record.tags = tags;
        self.sidecar
            .set_record(&self.name, key, &record)
            .await
            .map_err(internal)
    }

    pub async fn forget(&self, key: &str) -> S3Result<()> {
        self.sidecar
            .remove_record(&self.name, key)
            .await
            .map_err(internal)
    }
}

/// `md5-of-md5s-N`, the ETag S3 gives a multipart upload of N parts.
pub fn multipart_e_tag(part_md5s: &[[u8; 16]]) -> String {
    use s3s::crypto::{Checksum as _, Md5};
    let joined: Vec<u8> = part_md5s.iter().flatten().copied().collect();
    format!("{}-{}", hex(&Md5::checksum(&joined)), part_md5s.len())
}

pub fn store_error(e: StoreError) -> S3Error {
    match e {
        StoreError::NotFound(key) => s3_error!(NoSuchKey, "there is no object {key}"),
        StoreError::InvalidKey(detail) => s3_error!(InvalidArgument, "{detail}"),
        StoreError::Conflict(detail) => s3_error!(
            InvalidArgument,
            "{detail} (the local store keeps keys as file paths, so an object cannot also be a folder of others)"
        ),
        StoreError::Full { .. } => {
            let mut e = S3Error::with_message(s3s::S3ErrorCode::ServiceUnavailable, e.to_string());
            e.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
            e
        }
        other => internal_message(other.to_string()),
    }
}

fn internal(e: SidecarError) -> S3Error {
    internal_message(e.to_string())
}

fn internal_message(message: String) -> S3Error {
    tracing::warn!(error = %message, "S3 request failed");
    S3Error::with_message(s3s::S3ErrorCode::InternalError, message)
}
