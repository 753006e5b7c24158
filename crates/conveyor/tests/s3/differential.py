"""Differential test: one scripted S3 scenario run with boto3 against moto_server's S3 and
against Conveyor's S3 endpoint; the normalised outcome of every step must be equal, except the
divergences listed in KNOWN_DIVERGENCES, each explained. A listed divergence that no longer
occurs fails too, so the list stays true.

Usage: python3 differential.py CONVEYOR_S3_URL MOTO_URL
"""

import base64
import hashlib
import os
import sys
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from differential_report import report  # noqa: E402

# step -> why Conveyor and moto answer differently, and who is right.
KNOWN_DIVERGENCES = {
    "create_bad_bucket_name": (
        "moto is wrong: it creates a bucket named `Not_A_Bucket`; S3 refuses uppercase letters and "
        "underscores in new bucket names with InvalidBucketName, and Conveyor does too."
    ),
    "put_bad_content_md5": (
        "moto is wrong: it does not check Content-MD5 and stores the object. S3 answers BadDigest "
        "when 'the Content-MD5 you specified did not match what we received', and stores nothing; "
        "Conveyor does too."
    ),
    "after_bad_content_md5": "follows from put_bad_content_md5: moto stored the object, Conveyor did not.",
    "complete_out_of_order": (
        "they check in another order: given parts 2 (100 bytes) then 1 (5 MiB), moto reports "
        "EntityTooSmall, Conveyor InvalidPartOrder, which S3 documents for a part list not in "
        "ascending order; both refuse the completion. Real S3's choice here is not recorded."
    ),
    "part_after_abort": (
        "moto is wrong: an UploadPart to an aborted upload fails with an internal error (500) "
        "there; S3 answers NoSuchUpload (404), and Conveyor does too."
    ),
    "key_with_dot_dot": (
        "by design: S3 (and moto) take any UTF-8 key, `../x` included; Conveyor keeps objects as "
        "files of the local store, so a key must be a relative path inside the bucket, and others "
        "are refused with InvalidArgument (saying why) rather than written anywhere else."
    ),
    "key_with_empty_segment": (
        "by design, as key_with_dot_dot: `a//b` has an empty path segment, which a file path "
        "cannot hold; S3 and moto accept it."
    ),
    "folder_marker_key": (
        "by design, as key_with_dot_dot: consoles create `folder/` marker objects (a key ending "
        "in /), which a file cannot be; S3 and moto accept them."
    ),
}

RUN = uuid.uuid4().hex[:8]
MiB = 1024 * 1024


def client(url):
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def outcome(call, **kwargs):
    """What a call answered, without what legitimately differs (request ids, dates, hosts)."""
    try:
        answer = call(**kwargs)
    except ClientError as e:
        return {"error": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
    kept = {}
    for field in ["ETag", "ContentLength", "ContentType", "ContentRange", "Metadata", "KeyCount", "IsTruncated",
                  "TagSet", "TagCount"]:
        if field in answer:
            kept[field] = answer[field]
    if "Body" in answer:
        kept["Body"] = answer["Body"].read()
    if "Contents" in answer:
        kept["Contents"] = [(o["Key"], o["Size"], o["ETag"]) for o in answer["Contents"]]
    if "CommonPrefixes" in answer:
        kept["CommonPrefixes"] = [p["Prefix"] for p in answer["CommonPrefixes"]]
    if "Deleted" in answer:
        kept["Deleted"] = sorted(d["Key"] for d in answer["Deleted"])
    if "Errors" in answer:
        kept["Errors"] = sorted((e["Key"], e["Code"]) for e in answer["Errors"])
    if "Parts" in answer:
        kept["Parts"] = [(p["PartNumber"], p["Size"], p["ETag"]) for p in answer["Parts"]]
    kept["status"] = answer["ResponseMetadata"]["HTTPStatusCode"]
    return kept


def scenario(s3):
    bucket = f"diff-{RUN}"
    yield "create_bucket", outcome(s3.create_bucket, Bucket=bucket)
    yield "create_bucket_again", outcome(s3.create_bucket, Bucket=bucket)
    yield "create_bad_bucket_name", outcome(s3.create_bucket, Bucket="Not_A_Bucket")
    yield "head_bucket", outcome(s3.head_bucket, Bucket=bucket)
    yield "head_missing_bucket", outcome(s3.head_bucket, Bucket=f"missing-{RUN}")
    body = b"the quick brown fox jumps over the lazy dog"
    yield "put", outcome(s3.put_object, Bucket=bucket, Key="a/fox.txt", Body=body, ContentType="text/plain",
                         Metadata={"colour": "brown"})
    yield "head", outcome(s3.head_object, Bucket=bucket, Key="a/fox.txt")
    yield "get", outcome(s3.get_object, Bucket=bucket, Key="a/fox.txt")
    yield "get_range", outcome(s3.get_object, Bucket=bucket, Key="a/fox.txt", Range="bytes=4-8")
    yield "get_suffix_range", outcome(s3.get_object, Bucket=bucket, Key="a/fox.txt", Range="bytes=-3")
    yield "get_range_past_end", outcome(s3.get_object, Bucket=bucket, Key="a/fox.txt", Range="bytes=1000-")
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    yield "get_if_none_match", outcome(s3.get_object, Bucket=bucket, Key="a/fox.txt", IfNoneMatch=etag)
    yield "get_if_match_other", outcome(s3.get_object, Bucket=bucket, Key="a/fox.txt", IfMatch='"abc"')
    yield "get_missing_key", outcome(s3.get_object, Bucket=bucket, Key="a/none.txt")
    yield "head_missing_key", outcome(s3.head_object, Bucket=bucket, Key="a/none.txt")
    yield "get_missing_bucket", outcome(s3.get_object, Bucket=f"missing-{RUN}", Key="k")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    yield "put_bad_content_md5", outcome(s3.put_object, Bucket=bucket, Key="a/bad.txt", Body=b"x", ContentMD5=wrong)
    yield "after_bad_content_md5", outcome(s3.head_object, Bucket=bucket, Key="a/bad.txt")
    yield "copy", outcome(s3.copy_object, Bucket=bucket, Key="b/copy.txt",
                          CopySource={"Bucket": bucket, "Key": "a/fox.txt"})
    yield "head_copy", outcome(s3.head_object, Bucket=bucket, Key="b/copy.txt")
    yield "copy_missing_source", outcome(s3.copy_object, Bucket=bucket, Key="b/none.txt",
                                         CopySource={"Bucket": bucket, "Key": "a/none.txt"})
    for key in ["c/1.txt", "c/2.txt", "c/d/3.txt", "c/e/4.txt", "c/5.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    yield "list_delimited", outcome(s3.list_objects_v2, Bucket=bucket, Prefix="c/", Delimiter="/")
    first = s3.list_objects_v2(Bucket=bucket, Prefix="c/", MaxKeys=2)
    yield "list_page_one", outcome(lambda: first)
    yield "list_page_two", outcome(s3.list_objects_v2, Bucket=bucket, Prefix="c/", MaxKeys=2,
                                   ContinuationToken=first["NextContinuationToken"])
    yield "list_start_after", outcome(s3.list_objects_v2, Bucket=bucket, Prefix="c/", StartAfter="c/2.txt")
    yield "list_v1", outcome(s3.list_objects, Bucket=bucket, Prefix="c/", Delimiter="/")
    yield "delete_objects", outcome(s3.delete_objects, Bucket=bucket,
                                    Delete={"Objects": [{"Key": "c/1.txt"}, {"Key": "c/none.txt"}]})
    yield "delete_missing", outcome(s3.delete_object, Bucket=bucket, Key="c/never.txt")
    yield "tagging_put", outcome(s3.put_object_tagging, Bucket=bucket, Key="a/fox.txt",
                                 Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    yield "tagging_get", outcome(s3.get_object_tagging, Bucket=bucket, Key="a/fox.txt")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m/big.bin")["UploadId"]
    one, two = b"1" * (5 * MiB), b"2" * 100
    e1 = s3.upload_part(Bucket=bucket, Key="m/big.bin", UploadId=upload, PartNumber=1, Body=one)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="m/big.bin", UploadId=upload, PartNumber=2, Body=two)["ETag"]
    yield "part_etags", [e1, e2]
    yield "list_parts", outcome(s3.list_parts, Bucket=bucket, Key="m/big.bin", UploadId=upload)
    yield "complete_out_of_order", outcome(
        s3.complete_multipart_upload, Bucket=bucket, Key="m/big.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    yield "complete_wrong_etag", outcome(
        s3.complete_multipart_upload, Bucket=bucket, Key="m/big.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e2}, {"PartNumber": 2, "ETag": e2}]})
    yield "complete", outcome(
        s3.complete_multipart_upload, Bucket=bucket, Key="m/big.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    yield "head_multipart", outcome(s3.head_object, Bucket=bucket, Key="m/big.bin")
    yield "parts_after_complete", outcome(s3.list_parts, Bucket=bucket, Key="m/big.bin", UploadId=upload)
    small = s3.create_multipart_upload(Bucket=bucket, Key="m/small.bin")["UploadId"]
    tags = [s3.upload_part(Bucket=bucket, Key="m/small.bin", UploadId=small, PartNumber=n, Body=b"x")["ETag"]
            for n in (1, 2)]
    yield "complete_too_small", outcome(
        s3.complete_multipart_upload, Bucket=bucket, Key="m/small.bin", UploadId=small,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t} for n, t in zip((1, 2), tags)]})
    yield "abort", outcome(s3.abort_multipart_upload, Bucket=bucket, Key="m/small.bin", UploadId=small)
    yield "part_after_abort", outcome(s3.upload_part, Bucket=bucket, Key="m/small.bin", UploadId=small,
                                      PartNumber=3, Body=b"x")
    yield "key_with_dot_dot", outcome(s3.put_object, Bucket=bucket, Key="../escape.txt", Body=b"x")
    yield "key_with_empty_segment", outcome(s3.put_object, Bucket=bucket, Key="a//b.txt", Body=b"x")
    yield "folder_marker_key", outcome(s3.put_object, Bucket=bucket, Key="folder/", Body=b"")
    yield "delete_non_empty_bucket", outcome(s3.delete_bucket, Bucket=bucket)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})
    yield "delete_bucket", outcome(s3.delete_bucket, Bucket=bucket)
    yield "head_deleted_bucket", outcome(s3.head_bucket, Bucket=bucket)


def main():
    report(dict(scenario(client(sys.argv[1]))), dict(scenario(client(sys.argv[2]))), KNOWN_DIVERGENCES)


if __name__ == "__main__":
    main()
