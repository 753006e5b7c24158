use super::*;

pub(super) async fn list_buckets(
    s3: &LocalS3,
    _req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let buckets = s3
        .buckets
        .list()
        .await?
        .into_iter()
        .map(|(name, created_ms)| s3s::dto::Bucket {
            name: Some(name),
            creation_date: Some(timestamp_ms(created_ms)),
            bucket_region: Some(s3.region.clone()),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        ..Default::default()
    }))
}

pub(super) async fn create_bucket(
    s3: &LocalS3,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let name = &req.input.bucket;
    // S3 answers a second creation of one's own bucket with an error everywhere but in
    // us-east-1, where it succeeds (for compatibility with its first API).
    if !s3.buckets.create(name).await? && s3.region != "us-east-1" {
        return Err(s3_error!(
            BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
        ));
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{name}")),
    }))
}

pub(super) async fn head_bucket(
    s3: &LocalS3,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    s3.buckets.get(&req.input.bucket).await?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(s3.region.clone()),
        ..Default::default()
    }))
}

pub(super) async fn delete_bucket(
    s3: &LocalS3,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    s3.buckets.delete(&req.input.bucket).await?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub(super) async fn get_bucket_location(
    s3: &LocalS3,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    s3.buckets.get(&req.input.bucket).await?;
    // S3 answers an empty constraint for us-east-1.
    let location_constraint =
        (s3.region != "us-east-1").then(|| BucketLocationConstraint::from(s3.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

pub(super) async fn list_objects_v2(
    s3: &LocalS3,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let resume = match &input.continuation_token {
        Some(token) => Some(Resume::from_token(token).ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })?),
        None => None,
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    let request = PageRequest {
        prefix: &prefix,
        delimiter: input.delimiter.as_deref(),
        start_after: input.start_after.as_deref(),
        resume,
        max_keys: max_keys(input.max_keys)?,
    };
    let (contents, common_prefixes, next) = list_page(&bucket, &request).await?;
    let max_keys = request.max_keys;
    drop(request);
    let key_count = (contents.len() + common_prefixes.len()) as i32;
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: input.prefix,
        delimiter: input.delimiter,
        max_keys: Some(max_keys as i32),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        start_after: input.start_after,
        is_truncated: Some(next.is_some()),
        next_continuation_token: next.map(|n| n.token()),
        contents: Some(contents),
        common_prefixes: Some(common_prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

pub(super) async fn list_objects(
    s3: &LocalS3,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let bucket = s3.buckets.get(&input.bucket).await?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let max_keys = max_keys(input.max_keys)?;
    let request = PageRequest {
        prefix: &prefix,
        delimiter: input.delimiter.as_deref(),
        start_after: input.marker.as_deref(),
        resume: None,
        max_keys,
    };
    let (contents, common_prefixes, next) = list_page(&bucket, &request).await?;
    drop(request);
    // Version 1 names the next marker only when a delimiter is given; clients use the
    // last key otherwise.
    let next_marker = match (&next, &input.delimiter) {
        (Some(Resume::AfterKey(k) | Resume::AfterPrefix(k)), Some(_)) => Some(k.clone()),
        _ => None,
    };
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: input.prefix,
        marker: input.marker,
        delimiter: input.delimiter,
        max_keys: Some(max_keys as i32),
        is_truncated: Some(next.is_some()),
        next_marker,
        contents: Some(contents),
        common_prefixes: Some(common_prefixes),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}
