//! Multipart uploads: parts are files under `{data_dir}/s3-uploads/{upload id}/`, fsynced and
//! renamed into place as they arrive, recorded in the sidecar; completion streams them, in the
//! order asked, into one object of the bucket, which appears whole (the store stages it) with
//! S3's ETag for such objects, `md5-of-part-md5s-N`.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use futures_util::StreamExt;
use s3s::dto::StreamingBlob;
use s3s::{s3_error, S3Error, S3Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::buckets::{multipart_e_tag, now_ms, store_error, Bucket};
use crate::digests::Digests;
use crate::sidecar::{ObjectRecord, PartRecord, Sidecar, UploadRow};

/// S3's limits: part numbers 1 to 10,000; every part but the last at least 5 MiB, none over 5 GiB.
pub const MAX_PART_NUMBER: i32 = 10_000;
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
pub const MAX_PART_BYTES: i64 = 5 * 1024 * 1024 * 1024;
const READ_BLOCK: usize = 1024 * 1024;

#[derive(Clone)]
pub struct Uploads {
    pub(crate) root: PathBuf,
    pub(crate) sidecar: Sidecar,
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
        tokio::fs::create_dir_all(self.dir(&id))
            .await
            .map_err(internal)?;
        let row = UploadRow {
            id: id.clone(),
            bucket: bucket.name.clone(),
            key: key.to_string(),
            created_ms: now_ms(),
            record,
        };
        self.sidecar.add_upload(&row).await.map_err(internal)?;
        Ok(id)
    }

    /// Store part `number` of `upload` from `body`, checked against `digests`; a part sent
    /// again replaces the earlier one.
    pub async fn put_part(
        &self,
        upload: &UploadRow,
        number: i32,
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
        let staged = dir.join(format!(
            "{number}.part.incoming-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut file = tokio::fs::File::create(&staged).await.map_err(internal)?;
        let mut size = 0u64;
        let written: S3Result<()> = async {
            if let Some(mut body) = body {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| crate::service::body_error(&*e))?;
                    digests.update(&chunk);
                    size += chunk.len() as u64;
                    file.write_all(&chunk).await.map_err(internal)?;
                }
            }
            file.sync_all().await.map_err(internal)
        }
        .await;
        let checked = written.and_then(|()| digests.finish(trailer().as_ref()));
        let (md5, checksums) = match checked {
            Ok(done) => done,
            Err(e) => {
                drop(file);
                let _ = tokio::fs::remove_file(&staged).await;
                return Err(e);
            }
        };
        drop(file);
        tokio::fs::rename(&staged, dir.join(format!("{number}.part")))
            .await
            .map_err(internal)?;
        sync_dir(&dir).await.map_err(internal)?;
        let part = PartRecord {
            size,
            md5,
            modified_ms: now_ms(),
            checksums,
        };
        self.sidecar
            .set_part(&upload.id, number as u32, &part)
            .await
            .map_err(internal)?;
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
        let dir = self.dir(&upload.id);
        let files: Vec<PathBuf> = chosen
            .iter()
            .map(|(number, _)| dir.join(format!("{number}.part")))
            .collect();
        let joined = match bucket.store.local_file(&upload.key).map_err(store_error)? {
            Some(target) => join_in_place(files.clone(), dir.join("object.incoming"), target).await,
            None => Err(JoinError::NotLocal),
        };
        match joined {
            Ok(()) => {}
            Err(JoinError::Clash(detail)) => {
                return Err(s3_error!(
                    InvalidArgument,
                    "{} cannot be written: {detail} (the local store keeps keys as file paths, so an object cannot also be a folder of others)",
                    upload.key
                ))
            }
            // Another filesystem (or another backend): stream the parts through the store.
            Err(JoinError::NotLocal | JoinError::OtherFilesystem) => {
                stream_parts(bucket, &upload.key, &files).await?
            }
            Err(JoinError::Io(e)) => return Err(internal(e)),
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

    /// Forget the upload and delete its parts.
    pub async fn remove(&self, id: &str) -> S3Result<()> {
        self.sidecar.remove_upload(id).await.map_err(internal)?;
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
    NotLocal,
    /// The parts' directory and the object's are on different filesystems: no rename.
    OtherFilesystem,
    /// A file where a folder of the key must be, or a folder where the object must be.
    Clash(String),
    Io(std::io::Error),
}

/// Concatenate `parts` into `staged` in the kernel (`std::io::copy` between files is
/// `copy_file_range` on Linux), fsync it, and rename it to `target`, creating (and fsyncing)
/// the folders it needs: the object appears whole, once, and stays after a crash.
async fn join_in_place(
    parts: Vec<PathBuf>,
    staged: PathBuf,
    target: PathBuf,
) -> Result<(), JoinError> {
    tokio::task::spawn_blocking(move || {
        let io = JoinError::Io;
        let mut out = std::fs::File::create(&staged).map_err(io)?;
        for part in &parts {
            let mut input = std::fs::File::open(part).map_err(io)?;
            std::io::copy(&mut input, &mut out).map_err(io)?;
        }
        out.sync_all().map_err(io)?;
        drop(out);
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
        if !parent.is_dir() {
            return Err(JoinError::Clash(format!("{} is a file", parent.display())));
        }
        if target.is_dir() {
            return Err(JoinError::Clash(format!(
                "{} is a folder",
                target.display()
            )));
        }
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

/// The parts, in order, through the store as one upload (any backend, any filesystem).
async fn stream_parts(bucket: &Bucket, key: &str, parts: &[PathBuf]) -> S3Result<()> {
    let mut object = bucket.store.upload(key, None).map_err(store_error)?;
    for part in parts {
        let copied = async {
            let mut file = tokio::fs::File::open(part).await.map_err(internal)?;
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
    }
    object.finish().await.map_err(store_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_ids_name_directories() {
        assert!(valid_id(&uuid::Uuid::new_v4().simple().to_string()));
        for bad in ["", "../../etc", "0123456789abcdef0123456789abcdeg", "short"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
