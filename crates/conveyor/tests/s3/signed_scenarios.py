"""The S3 endpoint with access keys: every request's SigV4 is verified. Prints `ok <name>` per
scenario or raises.

Usage: signed_scenarios.py ENDPOINT_URL ACCESS_KEY_ID SECRET
"""

import datetime
import hashlib
import hmac
import http.client
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import forms
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, key_id, secret = sys.argv[1:4]
port = urllib.parse.urlsplit(endpoint).port


def client(key, secret_key):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret_key,
        # SigV4 everywhere, presigned URLs too (boto3 presigns S3 URLs with SigV2 by default).
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4"),
    )


def ok(name):
    print("ok", name, flush=True)


def refused(expected, call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        assert e.response["Error"]["Code"] == expected, (e.response["Error"], expected)
        return
    raise AssertionError(f"{call.__name__} succeeded; expected {expected}")


s3 = client(key_id, secret)
bucket = s3.list_buckets()["Buckets"][0]["Name"]
s3.put_object(Bucket=bucket, Key="signed/a.txt", Body=b"signed body")
assert s3.get_object(Bucket=bucket, Key="signed/a.txt")["Body"].read() == b"signed body"
ok("requests signed with a configured key are served")

refused("SignatureDoesNotMatch", client(key_id, secret + "x").get_object, Bucket=bucket, Key="signed/a.txt")
refused("InvalidAccessKeyId", client("AKIDUNKNOWN", secret).get_object, Bucket=bucket, Key="signed/a.txt")
try:
    urllib.request.urlopen(f"{endpoint}/{bucket}/signed/a.txt")
    raise AssertionError("an anonymous GET was served")
except urllib.error.HTTPError as e:
    assert e.code == 403 and b"AccessDenied" in e.read(), e.code
ok("a wrong secret, an unknown key and no signature are refused")

url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "signed/a.txt"}, ExpiresIn=60)
assert "X-Amz-Signature=" in url, url
assert urllib.request.urlopen(url).read() == b"signed body"
tampered = url.replace("signed/a.txt", "signed/b.txt")
for bad in [tampered, url[:-4] + ("0000" if not url.endswith("0000") else "1111")]:
    try:
        urllib.request.urlopen(bad)
        raise AssertionError(f"a tampered presigned URL was served: {bad}")
    except urllib.error.HTTPError as e:
        assert e.code == 403, e.code
put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "signed/put.txt"}, ExpiresIn=60)
urllib.request.urlopen(urllib.request.Request(put_url, data=b"put by url", method="PUT"))
assert s3.get_object(Bucket=bucket, Key="signed/put.txt")["Body"].read() == b"put by url"
short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "signed/a.txt"}, ExpiresIn=1)
time.sleep(2)
try:
    urllib.request.urlopen(short)
    raise AssertionError("an expired presigned URL was served")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
ok("presigned GET and PUT; a tampered or expired URL is refused")


# STREAMING-AWS4-HMAC-SHA256-PAYLOAD: each chunk signed, chained from the request's signature,
# as the AWS documentation describes it (SDKs that stream over plain HTTP send this).
def sign(key, message):
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def streaming_put(object_key, chunks, tamper=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    signing_key = sign(sign(sign(sign(("AWS4" + secret).encode(), day), "us-east-1"), "s3"), "aws4_request")
    payload = b"".join(chunks)
    sizes = [len(c) for c in chunks] + [0]
    framed_length = sum(len(f"{s:x};chunk-signature=") + 64 + 2 + s + 2 for s in sizes)
    headers = {
        "host": f"127.0.0.1:{port}",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-date": amz_date,
        "x-amz-decoded-content-length": str(len(payload)),
        "content-encoding": "aws-chunked",
        "content-length": str(framed_length),
    }
    signed = sorted(headers)
    canonical = "\n".join([
        "PUT",
        f"/{bucket}/{object_key}",
        "",
        "".join(f"{h}:{headers[h]}\n" for h in signed),
        ";".join(signed),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    ])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    previous = hmac.new(signing_key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(signed)}, Signature={previous}"
    )
    body = b""
    empty = hashlib.sha256(b"").hexdigest()
    for chunk in chunks + [b""]:
        string = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                            hashlib.sha256(chunk).hexdigest()])
        previous = hmac.new(signing_key, string.encode(), hashlib.sha256).hexdigest()
        sent = chunk.replace(b"a", b"b") if tamper and chunk else chunk
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    assert len(body) == framed_length
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("PUT", f"/{bucket}/{object_key}", body=body, headers=headers)
    answer = connection.getresponse()
    return answer.status, answer.read()


chunks = [b"a" * 70_000, b"second chunk with a", b"a"]
status, text = streaming_put("signed/streamed.txt", chunks)
assert status == 200, (status, text)
assert s3.get_object(Bucket=bucket, Key="signed/streamed.txt")["Body"].read() == b"".join(chunks)
status, text = streaming_put("signed/tampered.txt", chunks, tamper=True)
assert status == 403 and b"SignatureDoesNotMatch" in text, (status, text)
refused("NoSuchKey", s3.get_object, Bucket=bucket, Key="signed/tampered.txt")
ok("a signed aws-chunked upload is verified chunk by chunk; a tampered chunk writes nothing")

post = s3.generate_presigned_post(bucket, "signed/posted-note.txt", Conditions=[["content-length-range", 1, 1000]],
                                  ExpiresIn=60)


def post_form(fields, filename, content):
    return forms.post_form(post["url"], fields, filename, content)


status, _ = post_form(post["fields"], "note.txt", b"posted from a browser")
assert status == 204, status
assert s3.get_object(Bucket=bucket, Key="signed/posted-note.txt")["Body"].read() == b"posted from a browser"
status, text = post_form(post["fields"], "big.txt", b"x" * 2000)
assert status == 400 and b"EntityTooLarge" in text, (status, text)
# ${filename} in the key is the name the browser gave the file, as on S3.
with_placeholder = s3.generate_presigned_post(bucket, "signed/${filename}", ExpiresIn=60)
status, text = post_form(with_placeholder["fields"], "Named Note.txt", b"named by the browser")
assert status == 204, (status, text)
assert s3.get_object(Bucket=bucket, Key="signed/Named Note.txt")["Body"].read() == b"named by the browser"
status, text = post_form(with_placeholder["fields"], "../escape.txt", b"x")
assert status == 400 and b"InvalidArgument" in text, (status, text)
forged = dict(post["fields"], key="elsewhere/note.txt")
status, text = post_form(forged, "note.txt", b"forged")
# s3s answers a failed policy condition with 400 InvalidPolicyDocument (S3 itself says 403
# AccessDenied); either way nothing is written.
assert status == 400 and b"InvalidPolicyDocument" in text, (status, text)
refused("NoSuchKey", s3.get_object, Bucket=bucket, Key="elsewhere/note.txt")
ok("a browser POST with a signed policy, ${filename} filled in; too large, a changed key or a bad file name is refused")
