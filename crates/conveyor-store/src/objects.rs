//! Objects as files: streamed uploads and ranged downloads, metadata, sorted listings, copies,
//! moves and prefix deletes, on any backend. Nothing here holds a whole object in memory.

use std::ops::Range;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::buffered::BufWriter;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResultPayload, ObjectMeta, ObjectStoreExt,
};

use crate::{Store, StoreError};

/// Uploads are sent in parts of this size (S3's smallest multipart part is 5 MiB; smaller
/// objects go in one request).
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight at once per upload: with the part size, this bounds an upload's memory.
const PARTS_IN_FLIGHT: usize = 2;
/// Local files are read in blocks of this size: big enough that a 100 MiB download is a
/// hundred reads, not twelve thousand.
const READ_BLOCK: usize = 1024 * 1024;

/// What the store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
    pub e_tag: Option<String>,
    /// The `Content-Type` stored with the object, on backends that store one.
    pub content_type: Option<String>,
}

impl ObjectInfo {
    fn from_meta(meta: ObjectMeta, attributes: &Attributes) -> ObjectInfo {
        ObjectInfo {
            key: meta.location.to_string(),
            size: meta.size,
            last_modified: meta.last_modified,
            e_tag: meta.e_tag,
            content_type: attributes
                .get(&Attribute::ContentType)
                .map(|v| v.as_ref().to_string()),
        }
    }
}

/// One level of a listing (or everything below a prefix), sorted by key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub objects: Vec<ObjectInfo>,
    /// Prefixes one level down that hold objects; empty for a recursive listing.
    pub folders: Vec<String>,
}

/// An object being written. Nothing is visible at its key until `finish`; `abort` (or
/// dropping it) leaves the store as it was.
pub struct Upload {
    writer: BufWriter,
    key: String,
    written: u64,
    store: Store,
}

impl Upload {
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StoreError> {
        self.written += chunk.len() as u64;
        self.writer
            .put(chunk)
            .await
            .map_err(|e| self.store.backend_error(&self.key, e))
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Complete the object; returns its size.
    pub async fn finish(mut self) -> Result<u64, StoreError> {
        use tokio::io::AsyncWriteExt;
        self.writer
            .shutdown()
            .await
            .map_err(|e| self.store.io_error(&self.key, e))?;
        Ok(self.written)
    }

    /// Throw the partial object away.
    pub async fn abort(mut self) {
        // What a failed abort leaves behind is an incomplete multipart upload, which the
        // bucket's lifecycle rule expires, or a staging file the local store never lists.
        if let Err(e) = self.writer.abort().await {
            tracing::warn!(key = %self.key, error = %e, "could not abort an upload");
        }
    }
}

/// An object's bytes, streamed.
pub struct Download {
    pub info: ObjectInfo,
    /// The bytes of the object this body holds.
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl Store {
    /// Start writing the object at `key`. `content_type` is stored with it where the backend
    /// keeps attributes (S3); the local filesystem keeps bytes only.
    pub fn upload(&self, key: &str, content_type: Option<&str>) -> Result<Upload, StoreError> {
        let path = Self::path(key)?;
        let mut writer = BufWriter::with_capacity(self.inner.clone(), path, PART_BYTES)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        if let (true, Some(content_type)) = (self.keeps_attributes, content_type) {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_string().into());
            writer = writer.with_attributes(attributes);
        }
        Ok(Upload {
            writer,
            key: key.to_string(),
            written: 0,
            store: self.clone(),
        })
    }

    /// The object at `key`, or the bytes `range` of it (which must lie inside the object).
    pub async fn download(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<Download, StoreError> {
        let path = Self::path(key)?;
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self
            .inner
            .get_opts(&path, options)
            .await
            .map_err(|e| self.backend_error(key, e))?;
        let info = ObjectInfo::from_meta(result.meta.clone(), &result.attributes);
        let range = result.range.clone();
        let store = self.clone();
        let owned_key = key.to_string();
        let body = match result.payload {
            GetResultPayload::File(file, _) => read_file(file, range.clone(), store, owned_key),
            GetResultPayload::Stream(s) => s
                .map_err(move |e| store.backend_error(&owned_key, e))
                .boxed(),
        };
        Ok(Download { info, range, body })
    }

    /// The object's metadata, without its bytes.
    pub async fn head(&self, key: &str) -> Result<ObjectInfo, StoreError> {
        let path = Self::path(key)?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let result = self
            .inner
            .get_opts(&path, options)
            .await
            .map_err(|e| self.backend_error(key, e))?;
        Ok(ObjectInfo::from_meta(result.meta, &result.attributes))
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The objects under `prefix`, sorted by key: every one below it when `recursive`, else
    /// the objects directly in it and the folders one level down.
    pub async fn list_sorted(&self, prefix: &str, recursive: bool) -> Result<Listing, StoreError> {
        let path = Self::path(prefix)?;
        let mut listing = if recursive {
            let objects: Vec<ObjectMeta> = self
                .inner
                .list(Some(&path))
                .try_collect()
                .await
                .map_err(|e| self.backend_error(prefix, e))?;
            Listing {
                objects: objects
                    .into_iter()
                    .map(|m| ObjectInfo::from_meta(m, &Attributes::new()))
                    .collect(),
                folders: Vec::new(),
            }
        } else {
            let result = self
                .inner
                .list_with_delimiter(Some(&path))
                .await
                .map_err(|e| self.backend_error(prefix, e))?;
            Listing {
                objects: result
                    .objects
                    .into_iter()
                    .map(|m| ObjectInfo::from_meta(m, &Attributes::new()))
                    .collect(),
                folders: result
                    .common_prefixes
                    .into_iter()
                    .map(|p| p.to_string())
                    .collect(),
            }
        };
        // The local filesystem lists in directory order; S3 in key order. Callers page by key.
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        listing.folders.sort();
        Ok(listing)
    }

    /// Copy `from` to `to`, replacing what is at `to`.
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let (source, target) = (Self::path(from)?, Self::path(to)?);
        self.inner
            .copy(&source, &target)
            .await
            .map_err(|e| self.backend_error(from, e))
    }

    /// Move `from` to `to`, replacing what is at `to` (a rename on the filesystem, copy and
    /// delete on S3).
    pub async fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let (source, target) = (Self::path(from)?, Self::path(to)?);
        self.inner
            .rename(&source, &target)
            .await
            .map_err(|e| self.backend_error(from, e))
    }

    /// Delete every object under `prefix`; returns their keys.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let path = Self::path(prefix)?;
        let locations = self.inner.list(Some(&path)).map_ok(|m| m.location).boxed();
        let deleted: Vec<_> = self
            .inner
            .delete_stream(locations)
            .try_collect()
            .await
            .map_err(|e| self.backend_error(prefix, e))?;
        Ok(deleted.into_iter().map(|p| p.to_string()).collect())
    }

    /// The object's storage class where the backend has them (`None` on the filesystem).
    pub async fn storage_class(&self, key: &str) -> Result<Option<String>, StoreError> {
        match &self.extras {
            Some(extras) => extras.storage_class(key).await,
            None => Ok(None),
        }
    }
}

/// A local file's `range`, read in large blocks off the async runtime's threads.
fn read_file(
    file: std::fs::File,
    range: Range<u64>,
    store: Store,
    key: String,
) -> BoxStream<'static, Result<Bytes, StoreError>> {
    let state = Some((file, range.start));
    stream::unfold(state, move |state| {
        let (store, key, end) = (store.clone(), key.clone(), range.end);
        async move {
            let (mut file, position) = state?;
            if position >= end {
                return None;
            }
            let want = READ_BLOCK.min((end - position) as usize);
            let read = tokio::task::spawn_blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                // Read into spare capacity: zeroing a block only to overwrite it cost a tenth
                // of a 1 MiB GET in memset and page faults.
                let mut block = Vec::with_capacity(want);
                file.seek(SeekFrom::Start(position))?;
                (&mut file).take(want as u64).read_to_end(&mut block)?;
                if block.len() < want {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file is shorter than its recorded length",
                    ));
                }
                Ok::<_, std::io::Error>((file, block))
            })
            .await;
            match read {
                Ok(Ok((file, block))) => {
                    Some((Ok(Bytes::from(block)), Some((file, position + want as u64))))
                }
                Ok(Err(e)) => Some((Err(store.io_error(&key, e)), None)),
                Err(e) => Some((Err(store.io_error(&key, std::io::Error::other(e))), None)),
            }
        }
    })
    .boxed()
}
