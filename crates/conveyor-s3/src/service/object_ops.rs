use super::*;
use crate::form_head::FormFileName;

pub(super) async fn put_object(
    s3: &LocalS3,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let trailer = Trailer::of(&req);
    let input = req.input;
    checked_key(&input.key)?;
    if input.content_length.is_some_and(|n| n > MAX_PUT_BYTES) {
        return Err(s3_error!(
            EntityTooLarge,
            "one PUT carries at most 5 GiB; upload larger objects in parts (multipart upload)"
        ));
    }
    let bucket = s3.buckets.get(&input.bucket).await?;
    if input.if_none_match.is_some() || input.if_match.is_some() {
        let existing = match bucket.head(&input.key).await {
            Ok((_, record)) => Some(record),
            Err(e) if e.code().as_str() == "NoSuchKey" => None,
            Err(e) => return Err(e),
        };
        let held = match (&input.if_none_match, &input.if_match, &existing) {
            (Some(ETagCondition::Any), _, Some(_)) => false,
            (_, Some(condition), Some(record)) => matches(condition, &record.e_tag),
            (_, Some(_), None) => {
                return Err(s3_error!(
                    NoSuchKey,
                    "If-Match names an object that does not exist"
                ))
            }
            _ => true,
        };
        if !held {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    }
    let digests = upload_digests!(input)?;
    let record = new_record(input.content_type, input.metadata, input.tagging.as_deref())?;
    let record = s3
        .write(&bucket, &input.key, input.body, digests, trailer, record)
        .await?;
    let mut output = PutObjectOutput {
        e_tag: Some(quoted(&record.e_tag)),
        size: Some(record.size as i64),
        ..Default::default()
    };
    set_checksums!(output, digests::to_dto(&record.checksums));
    Ok(S3Response::new(output))
}

pub(super) async fn post_object(
    s3: &LocalS3,
    req: S3Request<PostObjectInput>,
) -> S3Result<S3Response<PostObjectOutput>> {
    // A browser form: s3s has checked its policy (and signature, with keys); what is left is
    // a PUT of the form's file.
    let mut input = req.input;
    if input.key.contains("${filename}") {
        // S3 fills the placeholder with the name the browser gave the file (after the policy
        // was checked against the key as written).
        let Some(FormFileName(name)) = req.extensions.get::<FormFileName>() else {
            return Err(s3_error!(
                InvalidArgument,
                "the key has ${{filename}} but the form's file has no file name: send one, or put the name in the key field"
            ));
        };
        input.key = input.key.replace("${filename}", name);
    }
    checked_key(&input.key)?;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let digests = upload_digests!(input)?;
    let record = new_record(input.content_type, input.metadata, input.tagging.as_deref())?;
    let record = s3
        .write(
            &bucket,
            &input.key,
            input.body,
            digests,
            Trailer::None,
            record,
        )
        .await?;
    Ok(S3Response::new(PostObjectOutput {
        e_tag: Some(quoted(&record.e_tag)),
        size: Some(record.size as i64),
        ..Default::default()
    }))
}

pub(super) async fn get_object(
    s3: &LocalS3,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    let (bucket, info, record, range) = s3
        .read(
            &input.bucket,
            &input.key,
            read_conditions!(input),
            input.range,
        )
        .await?;
    let download = bucket
        .store
        .download(&input.key, range.clone())
        .await
        .map_err(store_error)?;
    if !record.describes(
        download.info.size,
        download
            .info
            .last_modified
            .timestamp_nanos_opt()
            .unwrap_or(0),
    ) {
        return Err(s3_error!(
            InternalError,
            "the object changed while it was being read; try again"
        ));
    }
    let length = download.range.end - download.range.start;
    let content_range = range.map(|r| format!("bytes {}-{}/{}", r.start, r.end - 1, info.size));
    // Checksums describe the whole object, so a part of it is sent without them.
    let checksums = if content_range.is_none() {
        digests::to_dto(&record.checksums)
    } else {
        Checksum::default()
    };
    let mut output = GetObjectOutput {
        body: Some(StreamingBlob::wrap(SyncBody::new(download.body))),
        content_length: Some(length as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: content_type(&record),
        e_tag: Some(quoted(&record.e_tag)),
        last_modified: Some(timestamp(&info)),
        metadata: metadata(&record),
        tag_count: (!record.tags.is_empty()).then_some(record.tags.len() as i32),
        ..Default::default()
    };
    set_checksums!(output, checksums);
    Ok(S3Response::new(output))
}

pub(super) async fn head_object(
    s3: &LocalS3,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    let (_, info, record, range) = s3
        .read(
            &input.bucket,
            &input.key,
            read_conditions!(input),
            input.range,
        )
        .await?;
    let (length, content_range) = match &range {
        Some(r) => (
            r.end - r.start,
            Some(format!("bytes {}-{}/{}", r.start, r.end - 1, info.size)),
        ),
        None => (info.size, None),
    };
    let checksums = digests::to_dto(&record.checksums);
    let mut output = HeadObjectOutput {
        content_length: Some(length as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: content_type(&record),
        e_tag: Some(quoted(&record.e_tag)),
        last_modified: Some(timestamp(&info)),
        metadata: metadata(&record),
        ..Default::default()
    };
    set_checksums!(output, checksums);
    Ok(S3Response::new(output))
}

pub(super) async fn delete_object(
    s3: &LocalS3,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    checked_key(&input.key)?;
    let bucket = s3.buckets.get(&input.bucket).await?;
    if let Some(condition) = &input.if_match {
        match bucket.head(&input.key).await {
            Ok((_, record)) if matches(condition, &record.e_tag) => {}
            Ok(_) => {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ))
            }
            Err(e) => return Err(e),
        }
    }
    delete_one(&bucket, &input.key).await?;
    Ok(S3Response::with_status(
        DeleteObjectOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(super) async fn delete_objects(
    s3: &LocalS3,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for object in input.delete.objects {
        let outcome = match key_problem(&object.key) {
            Some(problem) => Err(s3_error!(InvalidArgument, "{problem}")),
            None => delete_one(&bucket, &object.key).await,
        };
        match outcome {
            Ok(()) if quiet => {}
            Ok(()) => deleted.push(DeletedObject {
                key: Some(object.key),
                ..Default::default()
            }),
            Err(e) => errors.push(Error {
                code: Some(e.code().as_str().to_string()),
                key: Some(object.key),
                message: e.message().map(str::to_string),
                ..Default::default()
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

pub(super) async fn copy_object(
    s3: &LocalS3,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let input = req.input;
    checked_key(&input.key)?;
    let CopySource::Bucket {
        bucket: source_bucket,
        key: source_key,
        ..
    } = &input.copy_source
    else {
        return Err(s3_error!(
            NotImplemented,
            "copying from an access point is not supported here"
        ));
    };
    checked_key(source_key)?;
    let source = s3.buckets.get(source_bucket).await?;
    let target = s3.buckets.get(&input.bucket).await?;
    let (info, source_record) = source.head(source_key).await?;
    ReadConditions {
        if_match: input.copy_source_if_match.as_ref(),
        if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        if_none_match: input.copy_source_if_none_match.as_ref(),
        if_modified_since: input.copy_source_if_modified_since.as_ref(),
    }
    .check(&info, &source_record)
    .map_err(|e| match e.code().as_str() {
        // A copy answers a failed source condition with 412, whichever header it was.
        "NotModified" => s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ),
        _ => e,
    })?;
    let replace_metadata = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    let replace_tags = input
        .tagging_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
    if !replace_metadata
        && source_bucket.as_ref() == input.bucket.as_str()
        && source_key.as_ref() == input.key.as_str()
    {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata"
        ));
    }
    let mut record = ObjectRecord {
        content_type: source_record.content_type.clone(),
        metadata: source_record.metadata.clone(),
        tags: source_record.tags.clone(),
        checksums: source_record.checksums.clone(),
        ..ObjectRecord::default()
    };
    if replace_metadata {
        record.content_type = input.content_type.map(|c| c.to_string());
        record.metadata = input.metadata.unwrap_or_default().into_iter().collect();
    }
    if replace_tags {
        record.tags = parse_tagging(input.tagging.as_deref())?;
    }
    // A copy is one object of the source's bytes: its ETag is their MD5 even when the
    // source was uploaded in parts, so the bytes are read and hashed as they are written.
    let download = source
        .store
        .download(source_key, None)
        .await
        .map_err(store_error)?;
    let body = StreamingBlob::wrap(SyncBody::new(download.body));
    let digests = Digests::new(None, None, BTreeMap::new())?;
    let record = s3
        .write(
            &target,
            &input.key,
            Some(body),
            digests,
            Trailer::None,
            record,
        )
        .await?;
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(quoted(&record.e_tag)),
            last_modified: Some(timestamp_ms(record.modified_ns / 1_000_000)),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

pub(super) async fn get_object_tagging(
    s3: &LocalS3,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = req.input;
    checked_key(&input.key)?;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let (_, record) = bucket.head(&input.key).await?;
    let tag_set = record
        .tags
        .into_iter()
        .map(|(key, value)| Tag {
            key: Some(key),
            value: Some(value),
        })
        .collect();
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set,
        ..Default::default()
    }))
}

pub(super) async fn put_object_tagging(
    s3: &LocalS3,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = req.input;
    checked_key(&input.key)?;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let tags: Vec<(String, String)> = input
        .tagging
        .tag_set
        .into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect();
    check_tags(&tags)?;
    bucket.set_tags(&input.key, tags).await?;
    Ok(S3Response::new(PutObjectTaggingOutput::default()))
}

pub(super) async fn delete_object_tagging(
    s3: &LocalS3,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = req.input;
    checked_key(&input.key)?;
    let bucket = s3.buckets.get(&input.bucket).await?;
    bucket.set_tags(&input.key, Vec::new()).await?;
    Ok(S3Response::with_status(
        DeleteObjectTaggingOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}
