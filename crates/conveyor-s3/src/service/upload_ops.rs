use super::*;

pub(super) async fn create_multipart_upload(
    s3: &LocalS3,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let input = req.input;
    checked_key(&input.key)?;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let record = new_record(input.content_type, input.metadata, input.tagging.as_deref())?;
    let id = s3
        .buckets
        .uploads()
        .create(&bucket, &input.key, record)
        .await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id),
        ..Default::default()
    }))
}

pub(super) async fn upload_part(
    s3: &LocalS3,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let trailer = Trailer::of(&req);
    // The body's length once unframed (aws-chunked), or as sent.
    let declared = req
        .headers
        .get("x-amz-decoded-content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .or_else(|| req.input.content_length.and_then(|n| u64::try_from(n).ok()));
    let input = req.input;
    if input
        .content_length
        .is_some_and(|n| n > multipart::MAX_PART_BYTES)
    {
        return Err(s3_error!(EntityTooLarge, "a part carries at most 5 GiB"));
    }
    let uploads = s3.buckets.uploads();
    let upload = uploads
        .get(&input.bucket, &input.key, &input.upload_id)
        .await?;
    let digests = upload_digests!(input)?;
    let part = uploads
        .put_part(
            &upload,
            input.part_number,
            declared,
            input.body,
            digests,
            || trailer.take(),
        )
        .await?;
    let mut output = UploadPartOutput {
        e_tag: Some(quoted(&part.md5)),
        ..Default::default()
    };
    set_checksums!(output, digests::to_dto(&part.checksums));
    Ok(S3Response::new(output))
}

pub(super) async fn complete_multipart_upload(
    s3: &LocalS3,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let uploads = s3.buckets.uploads();
    let upload = uploads
        .get(&input.bucket, &input.key, &input.upload_id)
        .await?;
    let asked = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default()
        .into_iter()
        .map(|p| match (p.part_number, p.e_tag) {
            (Some(n), Some(tag)) => Ok((n, tag.value().to_string())),
            _ => Err(s3_error!(
                MalformedXML,
                "every Part of the list needs a PartNumber and an ETag"
            )),
        })
        .collect::<S3Result<Vec<_>>>()?;
    let record = uploads.complete(&bucket, &upload, &asked).await?;
    Ok(S3Response::new(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(quoted(&record.e_tag)),
        location: Some(format!("/{}/{}", input.bucket, input.key)),
        ..Default::default()
    }))
}

pub(super) async fn abort_multipart_upload(
    s3: &LocalS3,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    let uploads = s3.buckets.uploads();
    let upload = uploads
        .get(&input.bucket, &input.key, &input.upload_id)
        .await?;
    uploads.remove(&upload.id).await?;
    Ok(S3Response::with_status(
        AbortMultipartUploadOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub(super) async fn list_parts(
    s3: &LocalS3,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    let uploads = s3.buckets.uploads();
    let upload = uploads
        .get(&input.bucket, &input.key, &input.upload_id)
        .await?;
    let after = input.part_number_marker.unwrap_or(0).max(0) as u32;
    let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
    let mut parts: Vec<(u32, crate::sidecar::PartRecord)> = uploads
        .parts(&upload)
        .await?
        .into_iter()
        .filter(|(n, _)| *n > after)
        .collect();
    let truncated = parts.len() > max;
    parts.truncate(max);
    let next = truncated
        .then(|| parts.last().map(|(n, _)| *n as i32))
        .flatten();
    let parts = parts
        .into_iter()
        .map(|(number, part)| {
            let mut out = Part {
                part_number: Some(number as i32),
                e_tag: Some(quoted(&part.md5)),
                size: Some(part.size as i64),
                last_modified: Some(timestamp_ms(part.modified_ms)),
                ..Default::default()
            };
            set_checksums!(out, digests::to_dto(&part.checksums));
            out
        })
        .collect();
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next,
        max_parts: Some(max as i32),
        is_truncated: Some(truncated),
        parts: Some(parts),
        ..Default::default()
    }))
}

pub(super) async fn list_multipart_uploads(
    s3: &LocalS3,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    s3.buckets.get(&input.bucket).await?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input.upload_id_marker.clone().unwrap_or_default();
    let mut uploads: Vec<_> = s3
        .buckets
        .uploads()
        .list(&input.bucket)
        .await?
        .into_iter()
        .filter(|u| u.key.starts_with(&prefix))
        .filter(|u| {
            key_marker.is_empty()
                || u.key > key_marker
                || (u.key == key_marker && !id_marker.is_empty() && u.id > id_marker)
        })
        .collect();
    let truncated = uploads.len() > max;
    uploads.truncate(max);
    let (next_key, next_id) = match (truncated, uploads.last()) {
        (true, Some(last)) => (Some(last.key.clone()), Some(last.id.clone())),
        _ => (None, None),
    };
    let uploads = uploads
        .into_iter()
        .map(|u| MultipartUpload {
            key: Some(u.key),
            upload_id: Some(u.id),
            initiated: Some(timestamp_ms(u.created_ms)),
            ..Default::default()
        })
        .collect();
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: input.prefix,
        key_marker: input.key_marker,
        upload_id_marker: input.upload_id_marker,
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(max as i32),
        is_truncated: Some(truncated),
        uploads: Some(uploads),
        ..Default::default()
    }))
}
