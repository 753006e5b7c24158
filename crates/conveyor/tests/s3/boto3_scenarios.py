"""boto3 against conveyor serve's S3 endpoint: every scenario prints `ok <name>` or raises.

Usage: boto3_scenarios.py ENDPOINT_URL
"""

import base64
import datetime
import hashlib
import sys
import http.client
import urllib.parse
import time
import urllib.error
import urllib.request

import boto3
import forms
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="local",
    aws_secret_access_key="local",
    config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
)


def code(error):
    return error.response["Error"]["Code"]


def refused(expected, call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        assert code(e) == expected, (code(e), expected, e.response)
        return e
    raise AssertionError(f"{call.__name__} {kwargs} succeeded; expected {expected}")


def ok(name):
    print("ok", name, flush=True)


buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
assert len(buckets) == 1, buckets
bucket = buckets[0]
ok("the environment's bucket is listed")

body = b"hello, conveyor" * 100
md5 = hashlib.md5(body).hexdigest()
put = s3.put_object(
    Bucket=bucket,
    Key="docs/hello.txt",
    Body=body,
    ContentType="text/plain",
    Metadata={"colour": "blue"},
    Tagging="team=queues&tier=1",
)
assert put["ETag"] == f'"{md5}"', put["ETag"]
head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
assert head["ContentLength"] == len(body)
assert head["ContentType"] == "text/plain", head
assert head["Metadata"] == {"colour": "blue"}, head["Metadata"]
assert head["ETag"] == f'"{md5}"'
got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
assert got["Body"].read() == body
assert got["TagCount"] == 2, got.get("TagCount")
ok("put, head and get keep the ETag (MD5), content type, metadata and tags")

part = s3.get_object(Bucket=bucket, Key="docs/hello.txt", Range="bytes=7-14")
assert part["Body"].read() == body[7:15]
assert part["ContentRange"] == f"bytes 7-14/{len(body)}", part["ContentRange"]
assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
tail = s3.get_object(Bucket=bucket, Key="docs/hello.txt", Range="bytes=-5")
assert tail["Body"].read() == body[-5:]
refused("InvalidRange", s3.get_object, Bucket=bucket, Key="docs/hello.txt", Range=f"bytes={len(body) + 10}-")
ok("ranges: a slice, a suffix, and one past the end refused")

future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
for kwargs in [{"IfNoneMatch": f'"{md5}"'}, {"IfModifiedSince": future}]:
    e = refused("304", s3.get_object, Bucket=bucket, Key="docs/hello.txt", **kwargs)
for kwargs in [{"IfMatch": '"0123"'}, {"IfUnmodifiedSince": past}]:
    refused("PreconditionFailed", s3.get_object, Bucket=bucket, Key="docs/hello.txt", **kwargs)
assert s3.get_object(Bucket=bucket, Key="docs/hello.txt", IfMatch=f'"{md5}"', IfUnmodifiedSince=past)["Body"].read() == body
refused("PreconditionFailed", s3.put_object, Bucket=bucket, Key="docs/hello.txt", Body=b"x", IfNoneMatch="*")
ok("conditional reads (304, 412, If-Match over If-Unmodified-Since) and If-None-Match: * on put")

wrong_md5 = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
refused("BadDigest", s3.put_object, Bucket=bucket, Key="docs/hello.txt", Body=b"replaced", ContentMD5=wrong_md5)
refused("BadDigest", s3.put_object, Bucket=bucket, Key="docs/hello.txt", Body=b"replaced",
        ChecksumSHA256=base64.b64encode(hashlib.sha256(b"other").digest()).decode())
assert s3.get_object(Bucket=bucket, Key="docs/hello.txt")["Body"].read() == body
sha = base64.b64encode(hashlib.sha256(b"checked").digest()).decode()
s3.put_object(Bucket=bucket, Key="docs/checked.txt", Body=b"checked", ChecksumSHA256=sha)
checked = s3.head_object(Bucket=bucket, Key="docs/checked.txt", ChecksumMode="ENABLED")
assert checked["ChecksumSHA256"] == sha, checked
ok("a wrong Content-MD5 or checksum writes nothing; a right one is kept")

# boto3 sends its default CRC32 in a header over plain HTTP (in a trailer only over TLS);
# SDKs that stream send aws-chunked bodies with the checksum in a trailer. One such upload,
# framed by hand as they frame it, split into two chunks:
port = urllib.parse.urlsplit(endpoint).port
framed = b"2\r\nab\r\n1\r\nc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n"
streaming_headers = {
    "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "content-encoding": "aws-chunked",
    "x-amz-decoded-content-length": "3",
    "x-amz-trailer": "x-amz-checksum-crc32",
    "x-amz-sdk-checksum-algorithm": "CRC32",
    "content-length": str(len(framed)),
}
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
connection.request("PUT", f"/{bucket}/docs/trailer.txt", body=framed, headers=streaming_headers)
answer = connection.getresponse()
assert answer.status == 200, (answer.status, answer.read())
answer.read()
trailed = s3.head_object(Bucket=bucket, Key="docs/trailer.txt", ChecksumMode="ENABLED")
assert trailed["ChecksumCRC32"] == "NSRBwg==" and trailed["ContentLength"] == 3, trailed
assert s3.get_object(Bucket=bucket, Key="docs/trailer.txt")["Body"].read() == b"abc"
wrong = framed.replace(b"NSRBwg==", b"AAAAAA==")
connection.request("PUT", f"/{bucket}/docs/trailer.txt", body=wrong, headers=streaming_headers)
answer = connection.getresponse()
assert answer.status == 400 and b"BadDigest" in answer.read(), answer.status
ok("an aws-chunked upload: its trailer's CRC32 is checked and kept")

s3.copy_object(Bucket=bucket, Key="docs/copy.txt", CopySource={"Bucket": bucket, "Key": "docs/hello.txt"})
copy = s3.head_object(Bucket=bucket, Key="docs/copy.txt")
assert copy["ETag"] == f'"{md5}"' and copy["Metadata"] == {"colour": "blue"}, copy
s3.copy_object(Bucket=bucket, Key="docs/copy.txt", CopySource={"Bucket": bucket, "Key": "docs/hello.txt"},
               MetadataDirective="REPLACE", Metadata={"colour": "red"}, ContentType="text/markdown")
copy = s3.head_object(Bucket=bucket, Key="docs/copy.txt")
assert copy["Metadata"] == {"colour": "red"} and copy["ContentType"] == "text/markdown", copy
refused("PreconditionFailed", s3.copy_object, Bucket=bucket, Key="docs/copy2.txt",
        CopySource={"Bucket": bucket, "Key": "docs/hello.txt"}, CopySourceIfMatch='"nope"')
ok("copies keep or replace metadata, and check the source's conditions")

s3.create_bucket(Bucket="scratch-bucket")
s3.head_bucket(Bucket="scratch-bucket")
s3.create_bucket(Bucket="scratch-bucket")  # us-east-1 answers 200 to a bucket you own, as S3 does there
s3.copy_object(Bucket="scratch-bucket", Key="from-env.txt", CopySource={"Bucket": bucket, "Key": "docs/hello.txt"})
assert s3.get_object(Bucket="scratch-bucket", Key="from-env.txt")["Body"].read() == body
refused("BucketNotEmpty", s3.delete_bucket, Bucket="scratch-bucket")
s3.delete_object(Bucket="scratch-bucket", Key="from-env.txt")
s3.delete_bucket(Bucket="scratch-bucket")
refused("404", s3.head_bucket, Bucket="scratch-bucket")
refused("NoSuchBucket", s3.list_objects_v2, Bucket="scratch-bucket")
refused("AccessDenied", s3.delete_bucket, Bucket=bucket)
ok("buckets: create, copy across, refuse a non-empty delete, delete; the environment's stays")

keys = ["list/a.txt", "list/b/1.txt", "list/b/2.txt", "list/c.txt", "list/d/1.txt", "list/e.txt", "listing.txt"]
for key in keys:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
seen, prefixes, token = [], [], None
while True:
    kwargs = {"ContinuationToken": token} if token else {}
    page = s3.list_objects_v2(Bucket=bucket, Prefix="list/", Delimiter="/", MaxKeys=2, **kwargs)
    seen += [o["Key"] for o in page.get("Contents", [])]
    prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert page["KeyCount"] <= 2
    if not page["IsTruncated"]:
        break
    token = page["NextContinuationToken"]
assert seen == ["list/a.txt", "list/c.txt", "list/e.txt"], seen
assert prefixes == ["list/b/", "list/d/"], prefixes
everything = s3.list_objects_v2(Bucket=bucket, Prefix="list")
assert [o["Key"] for o in everything["Contents"]] == sorted(keys), everything["Contents"]
after = s3.list_objects_v2(Bucket=bucket, Prefix="list/", StartAfter="list/c.txt")
assert [o["Key"] for o in after["Contents"]] == ["list/d/1.txt", "list/e.txt"]
paginator = s3.get_paginator("list_objects")
v1 = [o["Key"] for p in paginator.paginate(Bucket=bucket, Prefix="list/", PaginationConfig={"PageSize": 3}) for o in p.get("Contents", [])]
assert v1 == sorted(k for k in keys if k.startswith("list/")), v1
ok("listings: delimiter, pages of two, a prefix inside a name, start-after, version 1")

deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys] + [{"Key": "never/was.txt"}]})
assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys + ["never/was.txt"]), deleted
assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="list")
ok("delete_objects deletes each, and what was never there")

# Multipart: boto3's own transfer manager splits a 12 MiB file into three 5 MiB-or-less parts,
# uploaded in parallel; the object is whole, its ETag S3's md5-of-part-md5s-N.
from boto3.s3.transfer import TransferConfig
import os
import tempfile

MiB = 1024 * 1024
big = os.urandom(12 * MiB)
with tempfile.TemporaryDirectory() as scratch:
    source, back = os.path.join(scratch, "big.bin"), os.path.join(scratch, "back.bin")
    with open(source, "wb") as f:
        f.write(big)
    transfer = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)
    s3.upload_file(source, bucket, "big/file.bin", Config=transfer)
    s3.download_file(bucket, "big/file.bin", back, Config=transfer)
    with open(back, "rb") as f:
        assert f.read() == big
chunks = [big[i:i + 5 * MiB] for i in range(0, len(big), 5 * MiB)]
expected = hashlib.md5(b"".join(hashlib.md5(c).digest() for c in chunks)).hexdigest() + f"-{len(chunks)}"
assert s3.head_object(Bucket=bucket, Key="big/file.bin")["ETag"] == f'"{expected}"'
assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "the finished upload is gone"
ok("upload_file and download_file in parts: whole, with S3's multipart ETag")

upload = s3.create_multipart_upload(Bucket=bucket, Key="parts/obj.bin", ContentType="application/x-test",
                                    Metadata={"source": "parts"})["UploadId"]
one, two = os.urandom(5 * MiB), b"the last part may be small"
e2 = s3.upload_part(Bucket=bucket, Key="parts/obj.bin", UploadId=upload, PartNumber=2, Body=two)["ETag"]
e1 = s3.upload_part(Bucket=bucket, Key="parts/obj.bin", UploadId=upload, PartNumber=1, Body=one)["ETag"]
assert e1 == f'"{hashlib.md5(one).hexdigest()}"'
listed = s3.list_parts(Bucket=bucket, Key="parts/obj.bin", UploadId=upload)
assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, len(one)), (2, len(two))], listed["Parts"]
assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="parts/")["Uploads"]] == [upload]
refused("InvalidPartOrder", s3.complete_multipart_upload, Bucket=bucket, Key="parts/obj.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
refused("InvalidPart", s3.complete_multipart_upload, Bucket=bucket, Key="parts/obj.bin", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}, {"PartNumber": 2, "ETag": e2}]})
s3.complete_multipart_upload(Bucket=bucket, Key="parts/obj.bin", UploadId=upload,
                             MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
whole = s3.get_object(Bucket=bucket, Key="parts/obj.bin")
assert whole["Body"].read() == one + two and whole["ContentType"] == "application/x-test" and whole["Metadata"] == {"source": "parts"}
refused("NoSuchUpload", s3.list_parts, Bucket=bucket, Key="parts/obj.bin", UploadId=upload)
# A key below an object is a folder inside a file on the local store: refused at completion.
inner = s3.create_multipart_upload(Bucket=bucket, Key="parts/obj.bin/inner.bin")["UploadId"]
e_inner = s3.upload_part(Bucket=bucket, Key="parts/obj.bin/inner.bin", UploadId=inner, PartNumber=1, Body=b"x")["ETag"]
refused("InvalidArgument", s3.complete_multipart_upload, Bucket=bucket, Key="parts/obj.bin/inner.bin", UploadId=inner,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e_inner}]})
assert s3.get_object(Bucket=bucket, Key="parts/obj.bin")["Body"].read() == one + two
s3.abort_multipart_upload(Bucket=bucket, Key="parts/obj.bin/inner.bin", UploadId=inner)
small = s3.create_multipart_upload(Bucket=bucket, Key="parts/small.bin")["UploadId"]
tags = [s3.upload_part(Bucket=bucket, Key="parts/small.bin", UploadId=small, PartNumber=n, Body=b"tiny")["ETag"] for n in (1, 2)]
refused("EntityTooSmall", s3.complete_multipart_upload, Bucket=bucket, Key="parts/small.bin", UploadId=small,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": t} for n, t in zip((1, 2), tags)]})
s3.abort_multipart_upload(Bucket=bucket, Key="parts/small.bin", UploadId=small)
refused("NoSuchUpload", s3.upload_part, Bucket=bucket, Key="parts/small.bin", UploadId=small, PartNumber=3, Body=b"x")
refused("404", s3.head_object, Bucket=bucket, Key="parts/small.bin")
ok("multipart by hand: parts out of order, a wrong ETag, a small middle part refused; complete, abort")

s3.put_object_tagging(Bucket=bucket, Key="docs/hello.txt", Tagging={"TagSet": [{"Key": "stage", "Value": "done"}]})
assert s3.get_object_tagging(Bucket=bucket, Key="docs/hello.txt")["TagSet"] == [{"Key": "stage", "Value": "done"}]
s3.delete_object_tagging(Bucket=bucket, Key="docs/hello.txt")
assert s3.get_object_tagging(Bucket=bucket, Key="docs/hello.txt")["TagSet"] == []
refused("InvalidTag", s3.put_object_tagging, Bucket=bucket, Key="docs/hello.txt",
        Tagging={"TagSet": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]})
ok("object tags: put, get, delete; a key twice refused")

for bad in ["../escape.txt", "docs/../../escape.txt", "a//b.txt", "ctl\x01.txt"]:
    refused("InvalidArgument", s3.put_object, Bucket=bucket, Key=bad, Body=b"no")
ok("keys that are not file paths inside the bucket are refused")

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt"}, ExpiresIn=60)
with urllib.request.urlopen(url) as answer:
    assert answer.read() == body
# Without access keys a signature is not checked, but a presigned URL's expiry still holds
# (SigV2 URLs, boto3's default for S3, and SigV4 ones).
v4 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="local",
                  aws_secret_access_key="local", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
short = [c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt"}, ExpiresIn=1)
         for c in (s3, v4)]
time.sleep(2.1)
for expired in short:
    try:
        urllib.request.urlopen(expired)
        raise AssertionError(f"an expired presigned URL was served: {expired}")
    except urllib.error.HTTPError as e:
        assert e.code == 403 and b"Request has expired" in e.read(), e.code
ok("a presigned GET; expired ones (SigV2 and SigV4) refused")

# A browser POST: without access keys its signature is not checked, but its policy still is.
post = v4.generate_presigned_post(bucket, "posted/note.txt", Conditions=[["content-length-range", 1, 100]],
                                  ExpiresIn=60)


def post_form(fields, content):
    return forms.post_form(post["url"], fields, "note.txt", content)


status, text = post_form(post["fields"], b"posted without keys")
assert status == 204, (status, text)
assert s3.get_object(Bucket=bucket, Key="posted/note.txt")["Body"].read() == b"posted without keys"
status, text = post_form(post["fields"], b"x" * 101)
assert status == 400 and b"EntityTooLarge" in text, (status, text)
status, text = post_form(dict(post["fields"], key="posted/elsewhere.txt"), b"moved")
assert status == 400 and b"InvalidPolicyDocument" in text, (status, text)
refused("NoSuchKey", s3.get_object, Bucket=bucket, Key="posted/elsewhere.txt")
ok("a browser POST without keys: its policy holds (size range, key)")

# Virtual-hosted style: the bucket in the Host header. Sent to the loopback address with that
# header, so the test does not depend on the resolver answering *.localhost.
port = urllib.parse.urlsplit(endpoint).port
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
connection.request("GET", "/docs/hello.txt", headers={"Host": f"{bucket}.localhost:{port}"})
answer = connection.getresponse()
assert answer.status == 200 and answer.read() == body, answer.status
connection.request("GET", "/?list-type=2&prefix=docs/", headers={"Host": f"{bucket}.localhost:{port}"})
answer = connection.getresponse()
listing = answer.read().decode()
assert answer.status == 200 and "<Key>docs/hello.txt</Key>" in listing, listing
ok("virtual-hosted style (bucket.localhost)")
