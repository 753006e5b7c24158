//! The S3 operations over [`Buckets`]: what each request means for the local store. The trait
//! implementation here only dispatches; the operations are in `bucket_ops` (buckets and
//! listings), `object_ops` (objects and their tags) and `upload_ops` (multipart uploads), and
//! share the helpers of this module.

use std::collections::BTreeMap;
use std::time::SystemTime;

use conveyor_store::ObjectInfo;
use futures_util::StreamExt;
use s3s::dto::*;
use s3s::{s3_error, S3Request, S3Response, S3Result, S3};

use crate::body::SyncBody;
use crate::buckets::{store_error, Bucket, Buckets};
use crate::digests::{self, Digests};
use crate::listing::{self, PageRequest, Resume};
use crate::multipart;
use crate::names::key_problem;
use crate::sidecar::ObjectRecord;
use crate::unsigned::TrailerSlot;

/// Where a streaming upload's trailer (checksums sent after the body) is read from: s3s's
/// handle when it verified the signature, ours when the signature was taken off unverified.
pub(crate) enum Trailer {
    Verified(s3s::TrailingHeaders),
    Unsigned(TrailerSlot),
    None,
}

impl Trailer {
    fn of<T>(req: &S3Request<T>) -> Trailer {
        match (&req.trailing_headers, req.extensions.get::<TrailerSlot>()) {
            (Some(verified), _) => Trailer::Verified(verified.clone()),
            (None, Some(slot)) => Trailer::Unsigned(slot.clone()),
            (None, None) => Trailer::None,
        }
    }

    /// The trailer, once the body has been read.
    fn take(&self) -> Option<http::HeaderMap> {
        match self {
            Trailer::Verified(t) => t.take(),
            Trailer::Unsigned(slot) => slot.take(),
            Trailer::None => None,
        }
    }
}

/// The largest object one PUT may carry, as on S3 (larger ones go in multipart uploads).
const MAX_PUT_BYTES: i64 = 5 * 1024 * 1024 * 1024;

pub struct LocalS3 {
    pub(crate) buckets: Buckets,
    pub(crate) region: String,
}

/// The output DTOs carry the same five checksum fields, by the same names.
macro_rules! set_checksums {
    ($output:expr, $checksums:expr) => {{
        let c: Checksum = $checksums;
        $output.checksum_crc32 = c.checksum_crc32;
        $output.checksum_crc32c = c.checksum_crc32c;
        $output.checksum_crc64nvme = c.checksum_crc64nvme;
        $output.checksum_sha1 = c.checksum_sha1;
        $output.checksum_sha256 = c.checksum_sha256;
    }};
}

/// The digests an upload's body is checked against: its `Content-MD5`, the algorithm it
/// announced and the `x-amz-checksum-*` values it sent (PUT, POST and UploadPart name them
/// alike).
macro_rules! upload_digests {
    ($input:expr) => {{
        let sent = digests::from_dto(&Checksum {
            checksum_crc32: $input.checksum_crc32,
            checksum_crc32c: $input.checksum_crc32c,
            checksum_crc64nvme: $input.checksum_crc64nvme,
            checksum_sha1: $input.checksum_sha1,
            checksum_sha256: $input.checksum_sha256,
            checksum_type: None,
        });
        let announced = $input.checksum_algorithm.as_ref().map(|a| a.as_str());
        Digests::new($input.content_md5.as_deref(), announced, sent)
    }};
}

/// GET and HEAD inputs name their conditional headers alike.
macro_rules! read_conditions {
    ($input:expr) => {
        ReadConditions {
            if_match: $input.if_match.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
        }
    };
}

// After the macros, which the operations use (macro_rules are in scope from their definition on).
mod bucket_ops;
mod object_ops;
mod upload_ops;

/// Why reading a request body failed, as S3 says it: a chunk whose signature does not follow
/// from the request's (s3s names that error only in its message), or a body cut short.
pub(crate) fn body_error(e: &(dyn std::error::Error + 'static)) -> s3s::S3Error {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        s3_error!(
            SignatureDoesNotMatch,
            "a chunk of the body does not carry the signature its predecessor and the request's key call for"
        )
    } else {
        s3_error!(
            IncompleteBody,
            "the request body ended before the object was received: {text}"
        )
    }
}

fn checked_key(key: &str) -> S3Result<()> {
    match key_problem(key) {
        Some(problem) => Err(s3_error!(InvalidArgument, "{problem}")),
        None => Ok(()),
    }
}

/// `ms` milliseconds after 1970 as an S3 timestamp.
fn timestamp_ms(ms: i64) -> Timestamp {
    Timestamp::from(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64))
}

fn timestamp(info: &ObjectInfo) -> Timestamp {
    Timestamp::from(SystemTime::from(info.last_modified))
}

fn seconds(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

fn quoted(e_tag: &str) -> ETag {
    ETag::Strong(e_tag.to_string())
}

fn matches(condition: &ETagCondition, e_tag: &str) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(tag) => tag.value() == e_tag,
    }
}

/// The conditional headers of a read, in the order RFC 9110 evaluates them (S3 follows it:
/// a true If-Match overrides a false If-Unmodified-Since, a false If-None-Match a true
/// If-Modified-Since).
struct ReadConditions<'a> {
    if_match: Option<&'a ETagCondition>,
    if_unmodified_since: Option<&'a Timestamp>,
    if_none_match: Option<&'a ETagCondition>,
    if_modified_since: Option<&'a Timestamp>,
}

impl ReadConditions<'_> {
    fn check(&self, info: &ObjectInfo, record: &ObjectRecord) -> S3Result<()> {
        let modified = info.last_modified.timestamp();
        let failed = || {
            s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            )
        };
        match (self.if_match, self.if_unmodified_since) {
            (Some(c), _) if !matches(c, &record.e_tag) => return Err(failed()),
            (None, Some(t)) if modified > seconds(t) => return Err(failed()),
            _ => {}
        }
        let not_modified = || s3_error!(NotModified);
        match (self.if_none_match, self.if_modified_since) {
            (Some(c), _) if matches(c, &record.e_tag) => Err(not_modified()),
            (None, Some(t)) if modified <= seconds(t) => Err(not_modified()),
            _ => Ok(()),
        }
    }
}

/// What an upload's headers say of the object it creates: content type, user metadata, tags.
fn new_record(
    content_type: Option<ContentType>,
    metadata: Option<Metadata>,
    tagging: Option<&str>,
) -> S3Result<ObjectRecord> {
    Ok(ObjectRecord {
        content_type: content_type.map(|c| c.to_string()),
        metadata: metadata.unwrap_or_default().into_iter().collect(),
        tags: parse_tagging(tagging)?,
        ..ObjectRecord::default()
    })
}

/// The object's content type: as it was sent, or S3's default for objects sent without one.
fn content_type(record: &ObjectRecord) -> Option<ContentType> {
    record
        .content_type
        .as_deref()
        .unwrap_or("binary/octet-stream")
        .parse()
        .ok()
}

fn metadata(record: &ObjectRecord) -> Option<Metadata> {
    (!record.metadata.is_empty()).then(|| record.metadata.clone().into_iter().collect())
}

fn byte_range(range: Option<Range>, size: u64) -> S3Result<Option<std::ops::Range<u64>>> {
    match range {
        None => Ok(None),
        Some(range) => range.check(size).map(Some).map_err(|_| {
            s3_error!(
                InvalidRange,
                "The requested range is not satisfiable: the object has {size} bytes"
            )
        }),
    }
}

impl LocalS3 {
    /// What a GET or HEAD reads: the object, its attributes, and the byte range asked for, once
    /// its conditions hold.
    async fn read(
        &self,
        bucket: &str,
        key: &str,
        conditions: ReadConditions<'_>,
        range: Option<Range>,
    ) -> S3Result<(
        Bucket,
        ObjectInfo,
        ObjectRecord,
        Option<std::ops::Range<u64>>,
    )> {
        checked_key(key)?;
        let bucket = self.buckets.get(bucket).await?;
        let (info, record) = bucket.head(key).await?;
        conditions.check(&info, &record)?;
        let range = byte_range(range, info.size)?;
        Ok((bucket, info, record, range))
    }

    /// Stream `body` into `key`, checked against its digests; nothing is visible at `key`
    /// unless every byte arrived and every digest matched.
    async fn write(
        &self,
        bucket: &Bucket,
        key: &str,
        body: Option<StreamingBlob>,
        mut digests: Digests,
        trailer: Trailer,
        mut record: ObjectRecord,
    ) -> S3Result<ObjectRecord> {
        let mut upload = bucket.store.upload(key, None).map_err(store_error)?;
        if let Some(mut body) = body {
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => {
                        upload.abort().await;
                        return Err(body_error(&*e));
                    }
                };
                digests.update(&chunk);
                if let Err(e) = upload.write(chunk).await {
                    upload.abort().await;
                    return Err(store_error(e));
                }
            }
        }
        let trailer = trailer.take();
        let (e_tag, checksums) = match digests.finish(trailer.as_ref()) {
            Ok(done) => done,
            Err(e) => {
                upload.abort().await;
                return Err(e);
            }
        };
        upload.finish().await.map_err(store_error)?;
        record.e_tag = e_tag;
        // A copy arrives with the source's checksums; an upload with none yet.
        record.checksums.extend(checksums);
        bucket.keep(key, record).await
    }
}

#[async_trait::async_trait]
impl S3 for LocalS3 {
    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        bucket_ops::list_buckets(self, req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        bucket_ops::create_bucket(self, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        bucket_ops::head_bucket(self, req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        bucket_ops::delete_bucket(self, req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        bucket_ops::get_bucket_location(self, req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        object_ops::put_object(self, req).await
    }

    async fn post_object(
        &self,
        req: S3Request<PostObjectInput>,
    ) -> S3Result<S3Response<PostObjectOutput>> {
        object_ops::post_object(self, req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        object_ops::get_object(self, req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        object_ops::head_object(self, req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        object_ops::delete_object(self, req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        object_ops::delete_objects(self, req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        object_ops::copy_object(self, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        bucket_ops::list_objects_v2(self, req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        bucket_ops::list_objects(self, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        upload_ops::create_multipart_upload(self, req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        upload_ops::upload_part(self, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        upload_ops::complete_multipart_upload(self, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        upload_ops::abort_multipart_upload(self, req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        upload_ops::list_parts(self, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        upload_ops::list_multipart_uploads(self, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        object_ops::get_object_tagging(self, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        object_ops::put_object_tagging(self, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        object_ops::delete_object_tagging(self, req).await
    }
}

async fn delete_one(bucket: &Bucket, key: &str) -> S3Result<()> {
    match bucket.store.delete(key).await {
        // Deleting what is not there succeeds on S3.
        Ok(()) | Err(conveyor_store::StoreError::NotFound(_)) => {}
        Err(e) => return Err(store_error(e)),
    }
    bucket.forget(key).await
}

fn max_keys(asked: Option<i32>) -> S3Result<usize> {
    match asked {
        None => Ok(listing::MAX_KEYS),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must be 0 or more")),
        Some(n) => Ok((n as usize).min(listing::MAX_KEYS)),
    }
}

/// One page of the bucket's keys under the request's prefix, with each object's ETag.
async fn list_page(
    bucket: &Bucket,
    request: &PageRequest<'_>,
) -> S3Result<(Vec<Object>, Vec<CommonPrefix>, Option<Resume>)> {
    // The store lists folders; a prefix may end inside a name, so list its folder and filter.
    let folder = match request.prefix.rfind('/') {
        Some(at) => &request.prefix[..at],
        None => "",
    };
    let under = if folder.is_empty() || key_problem(folder).is_none() {
        bucket
            .store
            .list_sorted(folder, true)
            .await
            .map_err(store_error)?
            .objects
    } else {
        // No stored key can start with a prefix that is not a valid folder.
        Vec::new()
    };
    let under = under
        .into_iter()
        .filter(|o| o.key.starts_with(request.prefix));
    let page = listing::page(under, |o| o.key.as_str(), request);
    let records = bucket.attributes_of(&page.objects).await?;
    let mut contents = Vec::with_capacity(page.objects.len());
    for (info, record) in page.objects.into_iter().zip(records) {
        // None: deleted between the listing and now.
        let Some(record) = record else { continue };
        contents.push(Object {
            key: Some(info.key.clone()),
            size: Some(info.size as i64),
            e_tag: Some(quoted(&record.e_tag)),
            last_modified: Some(timestamp(&info)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            ..Default::default()
        });
    }
    let common_prefixes = page
        .common_prefixes
        .into_iter()
        .map(|p| CommonPrefix { prefix: Some(p) })
        .collect();
    Ok((contents, common_prefixes, page.next))
}

/// `x-amz-tagging: k1=v1&k2=v2` as pairs, with S3's limits (10 tags, keys ≤ 128 and values
/// ≤ 256 characters, no key twice).
pub(crate) fn parse_tagging(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else {
        return Ok(Vec::new());
    };
    let tags: Vec<(String, String)> = url::form_urlencoded::parse(header.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    check_tags(&tags)?;
    Ok(tags)
}

pub(crate) fn check_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > 10 {
        return Err(s3_error!(
            InvalidTag,
            "Object tags cannot be greater than 10"
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "a tag key has 1 to 128 characters and a value at most 256"
            ));
        }
        if !seen.insert(k) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key ({k})"
            ));
        }
    }
    Ok(())
}
