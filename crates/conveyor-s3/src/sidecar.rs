//! What S3 keeps about objects that the local filesystem does not: the buckets users created,
//! and each object's ETag, content type, user metadata, tags and checksums.
//!
//! A record describes the file it was written with: it names that file's size and modification
//! time, and a file that no longer matches (rewritten by a worker or the files API through the
//! store, or a crash between writing the file and its record) is an object without S3
//! attributes, whose ETag is computed from its bytes again. So a record can be stale but never
//! lie about the bytes it is returned with.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("the S3 metadata database {path}: {detail}")]
pub struct SidecarError {
    path: String,
    detail: String,
}

/// The S3 attributes of one object, as written with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The file this record was written with: its size and modification time (ns since 1970).
    pub size: u64,
    pub modified_ns: i64,
    /// The ETag without quotes: an MD5 in hex, or `md5-of-part-md5s-N` for multipart uploads.
    pub e_tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// `x-amz-checksum-<algorithm>` values sent with the object, by algorithm (`crc32`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

impl ObjectRecord {
    /// Whether this record was written with the file that now has `size` and `modified_ns`.
    pub fn describes(&self, size: u64, modified_ns: i64) -> bool {
        self.size == size && self.modified_ns == modified_ns
    }
}

/// The metadata database, one per environment (`s3.db` beside `queue.db`).
#[derive(Clone)]
pub struct Sidecar {
    connection: Arc<Mutex<Connection>>,
    path: Arc<str>,
}

impl Sidecar {
    pub fn open(path: &Path) -> Result<Sidecar, SidecarError> {
        let fail = |e: rusqlite::Error| SidecarError {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        let connection = Connection::open(path).map_err(fail)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 5000;
                 CREATE TABLE IF NOT EXISTS buckets (
                     name TEXT PRIMARY KEY,
                     created_ms INTEGER NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS objects (
                     bucket TEXT NOT NULL,
                     key TEXT NOT NULL,
                     record TEXT NOT NULL,
                     PRIMARY KEY (bucket, key)
                 ) WITHOUT ROWID;
                 CREATE TABLE IF NOT EXISTS uploads (
                     id TEXT PRIMARY KEY,
                     bucket TEXT NOT NULL,
                     key TEXT NOT NULL,
                     created_ms INTEGER NOT NULL,
                     record TEXT NOT NULL
                 );
                 CREATE TABLE IF NOT EXISTS parts (
                     upload TEXT NOT NULL,
                     number INTEGER NOT NULL,
                     part TEXT NOT NULL,
                     PRIMARY KEY (upload, number)
                 ) WITHOUT ROWID;",
            )
            .map_err(fail)?;
        Ok(Sidecar {
            connection: Arc::new(Mutex::new(connection)),
            path: path.display().to_string().into(),
        })
    }

    /// Run `work` on the connection off the async runtime's threads.
    async fn with<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, SidecarError> {
        let connection = self.connection.clone();
        let path = self.path.clone();
        let fail = move |detail: String| SidecarError {
            path: path.to_string(),
            detail,
        };
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().unwrap_or_else(|e| e.into_inner());
            work(&connection)
        })
        .await
        .map_err(|e| fail(e.to_string()))
        .and_then(|r| r.map_err(|e| fail(e.to_string())))
    }

    /// Buckets users created, by name, with their creation time (ms since 1970).
    pub async fn buckets(&self) -> Result<Vec<(String, i64)>, SidecarError> {
        self.with(|c| {
            let mut statement = c.prepare("SELECT name, created_ms FROM buckets ORDER BY name")?;
            let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    pub async fn bucket_created(&self, name: &str) -> Result<Option<i64>, SidecarError> {
        let name = name.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT created_ms FROM buckets WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    /// Record a new bucket; `false` when one of that name exists already.
    pub async fn add_bucket(&self, name: &str, created_ms: i64) -> Result<bool, SidecarError> {
        let name = name.to_string();
        self.with(move |c| {
            let added = c.execute(
                "INSERT OR IGNORE INTO buckets (name, created_ms) VALUES (?1, ?2)",
                params![name, created_ms],
            )?;
            Ok(added == 1)
        })
        .await
    }

    pub async fn remove_bucket(&self, name: &str) -> Result<(), SidecarError> {
        let name = name.to_string();
        self.with(move |c| {
            c.execute("DELETE FROM buckets WHERE name = ?1", [&name])?;
            c.execute("DELETE FROM objects WHERE bucket = ?1", [&name])?;
            Ok(())
        })
        .await
    }

    pub async fn record(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, SidecarError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let text: Option<String> = self
            .with(move |c| {
                c.query_row(
                    "SELECT record FROM objects WHERE bucket = ?1 AND key = ?2",
                    [bucket, key],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        // A record this version cannot read is treated as absent: the object is still served,
        // with an ETag computed from its bytes.
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// The records of `bucket`'s keys from `first` to `last` (inclusive), by key.
    pub async fn records_between(
        &self,
        bucket: &str,
        first: &str,
        last: &str,
    ) -> Result<BTreeMap<String, ObjectRecord>, SidecarError> {
        let (bucket, first, last) = (bucket.to_string(), first.to_string(), last.to_string());
        let rows: Vec<(String, String)> = self
            .with(move |c| {
                let mut statement = c.prepare(
                    "SELECT key, record FROM objects WHERE bucket = ?1 AND key >= ?2 AND key <= ?3",
                )?;
                let rows =
                    statement.query_map([bucket, first, last], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, text)| serde_json::from_str(&text).ok().map(|r| (key, r)))
            .collect())
    }

    pub async fn set_record(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
    ) -> Result<(), SidecarError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        let text = serde_json::to_string(record).expect("a record serializes");
        self.with(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO objects (bucket, key, record) VALUES (?1, ?2, ?3)",
                params![bucket, key, text],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn remove_record(&self, bucket: &str, key: &str) -> Result<(), SidecarError> {
        let (bucket, key) = (bucket.to_string(), key.to_string());
        self.with(move |c| {
            c.execute(
                "DELETE FROM objects WHERE bucket = ?1 AND key = ?2",
                [bucket, key],
            )
            .map(|_| ())
        })
        .await
    }
}

/// A multipart upload under way: where it will land, and the attributes it was created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub created_ms: i64,
    /// Content type, metadata and tags for the object (its ETag and size come at completion).
    pub record: ObjectRecord,
}

/// One stored part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub size: u64,
    /// The part's MD5 in hex: its ETag.
    pub md5: String,
    pub modified_ms: i64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
    /// Where the bytes are: at this offset of the upload's assembly file, or else in `file`
    /// (a name in the upload's directory); neither, in `{number}.part` (older uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRow> {
    let text: String = r.get(4)?;
    Ok(UploadRow {
        id: r.get(0)?,
        bucket: r.get(1)?,
        key: r.get(2)?,
        created_ms: r.get(3)?,
        record: serde_json::from_str(&text).unwrap_or_default(),
    })
}

impl Sidecar {
    pub async fn add_upload(&self, upload: &UploadRow) -> Result<(), SidecarError> {
        let upload = upload.clone();
        let record = serde_json::to_string(&upload.record).expect("a record serializes");
        self.with(move |c| {
            c.execute(
                "INSERT INTO uploads (id, bucket, key, created_ms, record) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![upload.id, upload.bucket, upload.key, upload.created_ms, record],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn upload(&self, id: &str) -> Result<Option<UploadRow>, SidecarError> {
        let id = id.to_string();
        self.with(move |c| {
            c.query_row(
                "SELECT id, bucket, key, created_ms, record FROM uploads WHERE id = ?1",
                [id],
                upload_row,
            )
            .optional()
        })
        .await
    }

    /// The bucket's uploads under way, by key and then id.
    pub async fn uploads(&self, bucket: &str) -> Result<Vec<UploadRow>, SidecarError> {
        let bucket = bucket.to_string();
        self.with(move |c| {
            let mut statement = c.prepare(
                "SELECT id, bucket, key, created_ms, record FROM uploads WHERE bucket = ?1 ORDER BY key, id",
            )?;
            let rows = statement.query_map([bucket], upload_row)?;
            rows.collect()
        })
        .await
    }

    pub async fn set_part(
        &self,
        upload: &str,
        number: u32,
        part: &PartRecord,
    ) -> Result<(), SidecarError> {
        let upload = upload.to_string();
        let text = serde_json::to_string(part).expect("a part serializes");
        self.with(move |c| {
            // Not for an upload completed or aborted meanwhile: its parts are gone.
            c.execute(
                "INSERT OR REPLACE INTO parts (upload, number, part) \
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM uploads WHERE id = ?1)",
                params![upload, number, text],
            )
            .map(|_| ())
        })
        .await
    }

    /// Forget parts `numbers` of the upload.
    pub async fn remove_parts(&self, upload: &str, numbers: Vec<u32>) -> Result<(), SidecarError> {
        let upload = upload.to_string();
        self.with(move |c| {
            let mut statement = c.prepare("DELETE FROM parts WHERE upload = ?1 AND number = ?2")?;
            for number in numbers {
                statement.execute(params![upload, number])?;
            }
            Ok(())
        })
        .await
    }

    /// The upload's parts, by number.
    pub async fn parts(&self, upload: &str) -> Result<Vec<(u32, PartRecord)>, SidecarError> {
        let upload = upload.to_string();
        let rows: Vec<(u32, String)> = self
            .with(move |c| {
                let mut statement =
                    c.prepare("SELECT number, part FROM parts WHERE upload = ?1 ORDER BY number")?;
                let rows = statement.query_map([upload], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect()
            })
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(n, text)| serde_json::from_str(&text).ok().map(|p| (n, p)))
            .collect())
    }

    pub async fn remove_upload(&self, id: &str) -> Result<(), SidecarError> {
        let id = id.to_string();
        self.with(move |c| {
            c.execute("DELETE FROM parts WHERE upload = ?1", [&id])?;
            c.execute("DELETE FROM uploads WHERE id = ?1", [&id])?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn buckets_and_records_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s3.db");
        let sidecar = Sidecar::open(&path).unwrap();
        assert!(sidecar.add_bucket("logs", 1_000).await.unwrap());
        assert!(!sidecar.add_bucket("logs", 2_000).await.unwrap());
        let record = ObjectRecord {
            size: 3,
            modified_ns: 42,
            e_tag: "900150983cd24fb0d6963f7d28e17f72".into(),
            content_type: Some("text/plain".into()),
            metadata: [("colour".to_string(), "blue".to_string())].into(),
            tags: vec![("team".into(), "a".into())],
            checksums: BTreeMap::new(),
        };
        sidecar
            .set_record("logs", "a/b.txt", &record)
            .await
            .unwrap();
        drop(sidecar);

        let sidecar = Sidecar::open(&path).unwrap();
        assert_eq!(
            sidecar.buckets().await.unwrap(),
            vec![("logs".to_string(), 1_000)]
        );
        let read = sidecar.record("logs", "a/b.txt").await.unwrap().unwrap();
        assert_eq!(read, record);
        assert!(read.describes(3, 42) && !read.describes(3, 43) && !read.describes(4, 42));
        sidecar
            .set_record("logs", "a/c.txt", &record)
            .await
            .unwrap();
        sidecar.set_record("logs", "b.txt", &record).await.unwrap();
        let page = sidecar
            .records_between("logs", "a/b.txt", "a/c.txt")
            .await
            .unwrap();
        assert_eq!(page.keys().collect::<Vec<_>>(), ["a/b.txt", "a/c.txt"]);
        sidecar.remove_bucket("logs").await.unwrap();
        assert_eq!(sidecar.record("logs", "a/b.txt").await.unwrap(), None);
        assert_eq!(sidecar.bucket_created("logs").await.unwrap(), None);
    }
}
