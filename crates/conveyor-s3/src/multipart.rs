//! Multipart uploads: each upload is a directory `{data_dir}/s3-uploads/{upload id}/` whose
//! parts land in one assembly file at their offsets, or in files of their own
//! ([`assembly`] says which and why), fsynced before they are recorded in the sidecar;
//! completion makes the parts asked, in order, one object of the bucket, which appears whole
//! (staged, then renamed) with S3's ETag for such objects, `md5-of-part-md5s-N`.

mod assembly;

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use futures_util::StreamExt;
use s3s::dto::StreamingBlob;
use s3s::{s3_error, S3Error, S3Result};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::buckets::{multipart_e_tag, now_ms, store_error, Bucket};
use crate::digests::Digests;
use crate::sidecar::{ObjectRecord, PartRecord, Sidecar, UploadRow};

pub use assembly::Regions;
use assembly::{Plan, ASSEMBLY_FILE};

/// S3's limits: part numbers 1 to 10,000; every part but the last at least 5 MiB, none over 5 GiB.
pub const MAX_PART_NUMBER: i32 = 10_000;
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_PART_BYTES: i64 = 5 * 1024 * 1024 * 1024;
const READ_BLOCK: usize = 1024 * 1024;

#[derive(Clone)]
pub struct Uploads {
    pub(crate) root: PathBuf,
    pub(crate) sidecar: Sidecar,
    pub(crate) regions: Regions,
}

fn internal(detail: impl std::fmt::Display) -> S3Error {
    tracing::warn!(error = %detail, "S3 multipart upload failed");
    S3Error::with_message(s3s::S3ErrorCode::InternalError, detail.to_string())
}

fn no_such_upload(id: &str) -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified multipart upload {id} does not exist: it was completed, aborted, or never created"
    )
}

/// An upload id names a directory: only the ids this module makes are accepted.
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

impl Uploads {
    fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// The upload `id` of `bucket`'s `key`, or `NoSuchUpload`.
    pub async fn get(&self, bucket: &str, key: &str, id: &str) -> S3Result<UploadRow> {
        if !valid_id(id) {
            return Err(no_such_upload(id));
        }
        match self.sidecar.upload(id).await.map_err(internal)? {
            Some(row) if row.bucket == bucket && row.key == key => Ok(row),
            _ => Err(no_such_upload(id)),
        }
    }

    pub async fn create(
        &self,
        bucket: &Bucket,
        key: &str,
        record: ObjectRecord,
    ) -> S3Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.dir(&id);
        tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
        tokio::fs::File::create(dir.join(ASSEMBLY_FILE))
            .await
            .map_err(internal)?;
        sync_dir(&dir).await.map_err(internal)?;
        sync_dir(&self.root).await.map_err(internal)?;
        let row = UploadRow {
            id: id.clone(),
            bucket: bucket.name.clone(),
            key: key.to_string(),
            created_ms: now_ms(),
            record,
        };
        self.sidecar.add_upload(&row).await.map_err(internal)?;
        self.regions.open(&id);
        Ok(id)
    }

    /// Store part `number` of `upload` from `body` (`declared` bytes long, if the request
    /// said), checked against `digests`; a part sent again replaces the earlier one.
    pub async fn put_part(
        &self,
        upload: &UploadRow,
        number: i32,
        declared: Option<u64>,
        body: Option<StreamingBlob>,
        mut digests: Digests,
        trailer: impl FnOnce() -> Option<http::HeaderMap>,
    ) -> S3Result<PartRecord> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
            ));
        }
        let dir = self.dir(&upload.id);
        let claim = self.regions.claim(&upload.id, number as u32, declared);
        let own_file = claim
            .is_none()
            .then(|| format!("{number}.part-{}", uuid::Uuid::new_v4().simple()));
        let (path, offset, limit) = match (&claim, &own_file) {
            (Some(claim), _) => (dir.join(ASSEMBLY_FILE), claim.offset, claim.limit),
            (None, Some(name)) => (dir.join(name), 0, u64::MAX),
            (None, None) => unreachable!("a part without a region has a file of its own"),
        };
        let mut size = 0u64;
        let written: S3Result<()> = async {
            let mut file = match claim {
                Some(_) => tokio::fs::OpenOptions::new().write(true).open(&path).await,
                None => tokio::fs::File::create(&path).await,
            }
            .map_err(internal)?;
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(internal)?;
            if let Some(mut body) = body {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| crate::service::body_error(&*e))?;
                    if size + chunk.len() as u64 > limit {
                        return Err(s3_error!(
                            IncompleteBody,
                            "The part's body is longer than the {} bytes its request declared",
                            declared.unwrap_or(limit)
                        ));
                    }
                    digests.update(&chunk);
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await.map_err(internal)?;
                }
            }
            file.sync_all().await.map_err(internal)?;
            if own_file.is_some() {
                sync_dir(&dir).await.map_err(internal)?;
            }
            Ok(())
        }
        .await;
        let checked = written.and_then(|()| digests.finish(trailer().as_ref()));
        let (md5, checksums) = match checked {
            Ok(done) => done,
            Err(e) => {
                if own_file.is_some() {
                    let _ = tokio::fs::remove_file(&path).await;
                }
                return Err(e);
            }
        };
        let part = PartRecord {
            size,
            md5,
            modified_ms: now_ms(),
            checksums,
            offset: claim.as_ref().map(|c| c.offset),
            file: own_file,
        };
        self.sidecar
            .set_part(&upload.id, number as u32, &part)
            .await
            .map_err(internal)?;
        if let Some(claim) = claim {
            claim.keep();
        }
        Ok(part)
    }

    pub async fn parts(&self, upload: &UploadRow) -> S3Result<Vec<(u32, PartRecord)>> {
        self.sidecar.parts(&upload.id).await.map_err(internal)
    }

    /// Join the parts `asked` (number and ETag, in the order the client listed them) into the
    /// upload's object; the upload is gone afterwards.
    pub async fn complete(
        &self,
        bucket: &Bucket,
        upload: &UploadRow,
        asked: &[(i32, String)],
    ) -> S3Result<ObjectRecord> {
        if asked.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema: name at least one part"
            ));
        }
        if asked.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number."
            ));
        }
        let stored = self.parts(upload).await?;
        let mut chosen = Vec::with_capacity(asked.len());
        for (i, (number, e_tag)) in asked.iter().enumerate() {
            let part = stored
                .iter()
                .find(|(n, _)| i64::from(*n) == i64::from(*number))
                .map(|(_, p)| p)
                .filter(|p| p.md5 == e_tag.trim_matches('"'))
                .ok_or_else(|| {
                    s3_error!(
                        InvalidPart,
                        "One or more of the specified parts could not be found, or its entity tag did not match (part {number})"
                    )
                })?;
            if i + 1 < asked.len() && part.size < MIN_PART_BYTES {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed size: part {number} has {} bytes, and every part but the last needs 5 MiB",
                    part.size
                ));
            }
            chosen.push((*number, part.clone()));
        }
        let writers_active = self
            .regions
            .begin_completion(&upload.id)
            .map_err(|assembly::CompletionUnderWay| {
                s3_error!(
                    OperationAborted,
                    "Another CompleteMultipartUpload of upload {} is under way; try again when it has answered",
                    upload.id
                )
            })?;
        let joined = self.join(bucket, upload, &chosen, writers_active).await;
        if let Err(e) = joined {
            self.regions.end_failed_completion(&upload.id);
            return Err(e);
        }
        let md5s = chosen
            .iter()
            .map(|(number, p)| {
                crate::digests::md5_from_hex(&p.md5).ok_or_else(|| {
                    internal(format!("part {number}'s recorded MD5 is not 32 hex digits"))
                })
            })
            .collect::<S3Result<Vec<_>>>()?;
        let record = ObjectRecord {
            e_tag: multipart_e_tag(&md5s),
            ..upload.record.clone()
        };
        let record = bucket.keep(&upload.key, record).await?;
        self.remove(&upload.id).await?;
        Ok(record)
    }

    /// Make the parts `chosen` the object of `upload.key`: built in the upload's directory and
    /// renamed into the bucket, or streamed through the store when that cannot be.
    async fn join(
        &self,
        bucket: &Bucket,
        upload: &UploadRow,
        chosen: &[(i32, PartRecord)],
        writers_active: bool,
    ) -> S3Result<()> {
        let dir = self.dir(&upload.id);
        let target = bucket.store.local_file(&upload.key).map_err(store_error)?;
        if let Some(target) = &target {
            // Refused before the assembly file is touched, so the parts stay as they are.
            clash(target).map_err(|detail| clash_error(&upload.key, &detail))?;
        }
        let plan = assembly::plan(&dir, chosen, writers_active);
        let (plan, built) = tokio::task::spawn_blocking(move || {
            let built = assembly::assemble(&dir, &plan);
            (plan, built)
        })
        .await
        .map_err(internal)?;
        let staged = match built {
            Ok(staged) => staged,
            Err(e) => {
                self.spoiled(upload, &plan).await;
                return Err(internal(e));
            }
        };
        let placed = match target {
            Some(target) => place(staged.clone(), target).await,
            None => Err(JoinError::OtherFilesystem),
        };
        let outcome = match placed {
            Ok(()) => Ok(()),
            Err(JoinError::Clash(detail)) => Err(clash_error(&upload.key, &detail)),
            // Another filesystem (or another backend): stream the staged file through the store.
            Err(JoinError::OtherFilesystem) => stream_file(bucket, &upload.key, &staged).await,
            Err(JoinError::Io(e)) => Err(internal(e)),
        };
        if outcome.is_err() {
            self.spoiled(upload, &plan).await;
        }
        outcome
    }

    /// A completion that failed after extending the assembly file may have written over the
    /// regions of parts it did not keep: forget those parts (a retry names them as missing,
    /// and the client sends them again) rather than serve other bytes under their ETags.
    async fn spoiled(&self, upload: &UploadRow, plan: &Plan) {
        let Some(from) = assembly::touched_from(plan) else {
            return;
        };
        let forgotten = async {
            let parts = self.parts(upload).await?;
            let numbers = parts
                .into_iter()
                .filter(|(_, p)| p.offset.is_some_and(|o| o + p.size > from))
                .map(|(n, _)| n)
                .collect();
            self.sidecar
                .remove_parts(&upload.id, numbers)
                .await
                .map_err(internal)
        }
        .await;
        if let Err(e) = forgotten {
            tracing::warn!(upload = upload.id, error = %e, "a failed completion's parts could not be forgotten");
        }
    }

    /// Forget the upload and delete its parts.
    pub async fn remove(&self, id: &str) -> S3Result<()> {
        self.sidecar.remove_upload(id).await.map_err(internal)?;
        self.regions.forget(id);
        match tokio::fs::remove_dir_all(self.dir(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                tracing::warn!(upload = id, error = %e, "an upload's parts stay behind");
                Ok(())
            }
        }
    }

    pub async fn list(&self, bucket: &str) -> S3Result<Vec<UploadRow>> {
        self.sidecar.uploads(bucket).await.map_err(internal)
    }
}

enum JoinError {
    /// The uploads directory and the object's are on different filesystems: no rename.
    OtherFilesystem,
    /// A file where a folder of the key must be, or a folder where the object must be.
    Clash(String),
    Io(std::io::Error),
}

fn clash_error(key: &str, detail: &str) -> S3Error {
    s3_error!(
        InvalidArgument,
        "{key} cannot be written: {detail} (the local store keeps keys as file paths, so an object cannot also be a folder of others)"
    )
}

/// Why an object cannot be written at `target` (a file where one of its folders must be, or a
/// folder where it must be), as far as the filesystem says now.
fn clash(target: &Path) -> Result<(), String> {
    if target.is_dir() {
        return Err(format!("{} is a folder", target.display()));
    }
    match target.ancestors().skip(1).find(|d| d.exists()) {
        Some(existing) if !existing.is_dir() => Err(format!("{} is a file", existing.display())),
        _ => Ok(()),
    }
}

/// Rename the fsynced file `staged` to `target`, creating (and fsyncing) the folders it
/// needs: the object appears whole, once, and stays after a crash.
async fn place(staged: PathBuf, target: PathBuf) -> Result<(), JoinError> {
    tokio::task::spawn_blocking(move || {
        let io = JoinError::Io;
        let parent = target
            .parent()
            .ok_or_else(|| JoinError::Clash("the key names no file".into()))?;
        // The folders to create, outermost first, so each is made durable in its parent.
        let missing: Vec<&Path> = parent.ancestors().take_while(|d| !d.exists()).collect();
        for dir in missing.iter().rev() {
            std::fs::create_dir(dir).or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists if dir.is_dir() => Ok(()),
                _ => Err(JoinError::Clash(format!(
                    "{} is not a folder",
                    dir.display()
                ))),
            })?;
        }
        clash(&target).map_err(JoinError::Clash)?;
        match std::fs::rename(&staged, &target) {
            Ok(()) => {}
            // EXDEV: the uploads directory is on another filesystem than the bucket.
            Err(e) if e.raw_os_error() == Some(18) => return Err(JoinError::OtherFilesystem),
            Err(e) => return Err(io(e)),
        }
        let mut synced: Vec<&Path> = vec![parent];
        synced.extend(missing.iter().filter_map(|d| d.parent()));
        for dir in synced {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| JoinError::Io(std::io::Error::other(e)))?
}

/// The staged object through the store as one upload (any backend, any filesystem).
async fn stream_file(bucket: &Bucket, key: &str, staged: &Path) -> S3Result<()> {
    let mut object = bucket.store.upload(key, None).map_err(store_error)?;
    let copied = async {
        let mut file = tokio::fs::File::open(staged).await.map_err(internal)?;
        loop {
            let mut block = BytesMut::with_capacity(READ_BLOCK);
            let read = file.read_buf(&mut block).await.map_err(internal)?;
            if read == 0 {
                return Ok::<(), S3Error>(());
            }
            object.write(block.freeze()).await.map_err(store_error)?;
        }
    }
    .await;
    if let Err(e) = copied {
        object.abort().await;
        return Err(e);
    }
    object.finish().await.map_err(store_error)?;
    Ok(())
}

#[cfg(test)]
mod tests;
