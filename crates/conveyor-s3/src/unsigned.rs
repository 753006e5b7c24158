//! Loopback development without access keys: any signature is accepted, as on the SQS endpoint.
//!
//! `s3s` verifies every signature it sees and needs the signer's secret to do so, which a
//! development server does not have. So with no keys configured, a request's signature is
//! taken off before `s3s` sees it (the `Authorization` header, the presigned query
//! parameters) and the request is served as an anonymous one. What the signature carried
//! besides authentication stays: a streaming upload's `aws-chunked` framing is decoded here,
//! and its trailer (the checksums sent after the body) is handed to the operation through a
//! request extension.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;

/// The query parameters of a presigned URL (SigV4, and SigV2's).
const SIGNING_PARAMETERS: [&str; 10] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
];

/// A chunk header line (`<hex size>;chunk-signature=<64 hex>`) is far shorter than this.
const MAX_CHUNK_HEADER: usize = 4096;
const MAX_TRAILER: usize = 16 * 1024;

/// The trailer of a streaming upload, filled in once its body has been read.
#[derive(Clone, Default)]
pub struct TrailerSlot(Arc<Mutex<Option<HeaderMap>>>);

impl TrailerSlot {
    pub fn take(&self) -> Option<HeaderMap> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn fill(&self, trailer: HeaderMap) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(trailer);
    }
}

/// A presigned URL whose time is up: refused even when its signature is not checked, since its
/// expiry is part of what the URL says.
#[derive(Debug, PartialEq, Eq)]
pub struct Expired;

/// Days from 1970-01-01 to the civil date `y-m-d` (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYYMMDDTHHMMSSZ` (SigV4's `X-Amz-Date`) as seconds since 1970.
fn amz_date_seconds(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let days = days_from_civil(n(0..4)?, n(4..6)?, n(6..8)?);
    Some(days * 86_400 + n(9..11)? * 3_600 + n(11..13)? * 60 + n(13..15)?)
}

/// When a presigned URL's query says it expires, in seconds since 1970 (SigV4: `X-Amz-Date` plus
/// `X-Amz-Expires`; SigV2: `Expires`).
fn presigned_expiry(query: &str) -> Option<i64> {
    let value = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    };
    if let (Some(date), Some(expires)) = (value("X-Amz-Date"), value("X-Amz-Expires")) {
        return Some(amz_date_seconds(date)? + expires.parse::<i64>().ok()?);
    }
    if value("Signature").is_some() {
        return value("Expires")?.parse().ok();
    }
    None
}

/// The request without its signature, its body unframed if it was sent `aws-chunked`; `Expired`
/// for a presigned URL past its time (`now`, seconds since 1970).
pub fn strip_signature(request: Request, now: i64) -> Result<Request, Expired> {
    let (mut parts, body) = request.into_parts();
    if parts
        .uri
        .query()
        .and_then(presigned_expiry)
        .is_some_and(|expiry| now > expiry)
    {
        return Err(Expired);
    }
    if let Some(query) = parts.uri.query() {
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                !SIGNING_PARAMETERS.contains(&name)
            })
            .collect();
        let path_and_query = if kept.is_empty() {
            parts.uri.path().to_string()
        } else {
            format!("{}?{}", parts.uri.path(), kept.join("&"))
        };
        let mut uri = http::uri::Parts::from(parts.uri.clone());
        if let Ok(pq) = path_and_query.parse() {
            uri.path_and_query = Some(pq);
            if let Ok(rebuilt) = http::Uri::from_parts(uri) {
                parts.uri = rebuilt;
            }
        }
    }
    let headers = &mut parts.headers;
    headers.remove(AUTHORIZATION);
    headers.remove("x-amz-security-token");
    let streaming = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("STREAMING-"));
    headers.remove("x-amz-content-sha256");
    if !streaming {
        return Ok(Request::from_parts(parts, body));
    }
    if let Some(decoded) = headers.remove("x-amz-decoded-content-length") {
        headers.insert(CONTENT_LENGTH, decoded);
    } else {
        headers.remove(CONTENT_LENGTH);
    }
    let encodings: Vec<String> = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("aws-chunked"))
        .map(str::to_string)
        .collect();
    headers.remove(CONTENT_ENCODING);
    if let Ok(value) = HeaderValue::from_str(&encodings.join(", ")) {
        if !encodings.is_empty() {
            headers.insert(CONTENT_ENCODING, value);
        }
    }
    let slot = TrailerSlot::default();
    parts.extensions.insert(slot.clone());
    let decoded = Unchunked {
        inner: body.into_data_stream().boxed(),
        buffer: BytesMut::new(),
        state: State::Header,
        slot,
        ended: false,
    };
    Ok(Request::from_parts(parts, Body::from_stream(decoded)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading `<hex size>[;extensions]\r\n`.
    Header,
    /// This many bytes of chunk data are still to come.
    Data(u64),
    /// The `\r\n` after a chunk's data.
    DataEnd,
    /// After the zero-size chunk: `name:value\r\n` lines until an empty one.
    Trailer,
    Done,
}

/// The payload of an `aws-chunked` body: chunk framing and signatures removed.
struct Unchunked {
    inner: futures_util::stream::BoxStream<'static, Result<Bytes, axum::Error>>,
    buffer: BytesMut,
    state: State,
    slot: TrailerSlot,
    ended: bool,
}

fn malformed(detail: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the aws-chunked request body is malformed: {detail}"),
    )
}

impl Unchunked {
    /// Advance over what the buffer holds; `Some` when there is data to give or an error.
    fn step(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        loop {
            match self.state {
                State::Header => {
                    let Some(end) = find_crlf(&self.buffer) else {
                        if self.buffer.len() > MAX_CHUNK_HEADER {
                            return Some(Err(malformed("a chunk header is too long")));
                        }
                        return None;
                    };
                    let line = self.buffer.split_to(end + 2);
                    let text = std::str::from_utf8(&line[..end]).unwrap_or("");
                    let size_text = text.split(';').next().unwrap_or("").trim();
                    let Ok(size) = u64::from_str_radix(size_text, 16) else {
                        return Some(Err(malformed("a chunk size is not hexadecimal")));
                    };
                    self.state = if size == 0 {
                        State::Trailer
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if self.buffer.is_empty() {
                        return None;
                    }
                    let take = left.min(self.buffer.len() as u64) as usize;
                    let data = self.buffer.split_to(take).freeze();
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Some(Ok(data));
                }
                State::DataEnd => {
                    if self.buffer.len() < 2 {
                        return None;
                    }
                    if &self.buffer[..2] != b"\r\n" {
                        return Some(Err(malformed("a chunk's data is longer than its size")));
                    }
                    self.buffer.advance(2);
                    self.state = State::Header;
                }
                State::Trailer => {
                    // The whole trailer is small: wait for its end (an empty line) or the body's.
                    let complete = self.buffer.windows(4).any(|w| w == b"\r\n\r\n")
                        || self.buffer.starts_with(b"\r\n")
                        || self.ended;
                    if !complete {
                        if self.buffer.len() > MAX_TRAILER {
                            return Some(Err(malformed("the trailer is too long")));
                        }
                        return None;
                    }
                    let mut trailer = HeaderMap::new();
                    let text = String::from_utf8_lossy(&self.buffer).to_string();
                    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
                        let Some((name, value)) = line.split_once(':') else {
                            return Some(Err(malformed("a trailer line has no ':'")));
                        };
                        if let (Ok(name), Ok(value)) = (
                            HeaderName::from_bytes(name.trim().as_bytes()),
                            HeaderValue::from_str(value.trim()),
                        ) {
                            trailer.append(name, value);
                        }
                    }
                    self.buffer.clear();
                    self.slot.fill(trailer);
                    self.state = State::Done;
                }
                State::Done => return None,
            }
        }
    }
}

fn find_crlf(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|w| w == b"\r\n")
}

impl Stream for Unchunked {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.step() {
                if item.is_err() {
                    this.state = State::Done;
                }
                return Poll::Ready(Some(item));
            }
            if this.state == State::Done {
                return Poll::Ready(None);
            }
            if this.ended {
                // The body ended mid-chunk (or before the zero-size chunk).
                this.state = State::Done;
                return Poll::Ready(Some(Err(malformed("the body ended before its last chunk"))));
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(bytes))) => this.buffer.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                Poll::Ready(None) => this.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn unchunk(pieces: Vec<&'static [u8]>) -> (Result<Vec<u8>, String>, Option<HeaderMap>) {
        let body = Body::from_stream(futures_util::stream::iter(
            pieces
                .into_iter()
                .map(|p| Ok::<_, std::io::Error>(Bytes::from_static(p))),
        ));
        let request = Request::builder()
            .method("PUT")
            .uri("/bucket/key?X-Amz-Signature=abc&partNumber=1")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00")
            .header("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            .header("content-encoding", "aws-chunked")
            .header("x-amz-decoded-content-length", "11")
            .body(body)
            .unwrap();
        let request = strip_signature(request, 0).unwrap();
        assert_eq!(request.uri().query(), Some("partNumber=1"));
        assert!(request.headers().get("authorization").is_none());
        assert!(request.headers().get("content-encoding").is_none());
        assert_eq!(request.headers()[CONTENT_LENGTH], "11");
        let slot = request.extensions().get::<TrailerSlot>().unwrap().clone();
        let mut stream = request.into_body().into_data_stream();
        let mut out = Vec::new();
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (Err(e.to_string()), slot.take()),
            }
        }
        (Ok(out), slot.take())
    }

    #[tokio::test]
    async fn chunks_split_anywhere_decode_to_the_payload_and_its_trailer() {
        let (body, trailer) = unchunk(vec![
            b"5;chunk-signature=aa\r\nhel",
            b"lo\r\n6\r",
            b"\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
        ])
        .await;
        assert_eq!(body.unwrap(), b"hello world");
        assert_eq!(trailer.unwrap()["x-amz-checksum-crc32"], "DUoRhQ==");
    }

    #[tokio::test]
    async fn a_truncated_or_oversized_chunk_is_an_error_not_a_short_object() {
        let (body, _) = unchunk(vec![b"5\r\nhel"]).await;
        assert!(body.unwrap_err().contains("ended before"));
        let (body, _) = unchunk(vec![b"2\r\nhello\r\n0\r\n\r\n"]).await;
        assert!(body.unwrap_err().contains("longer than its size"));
        let (body, _) = unchunk(vec![b"zz\r\n"]).await;
        assert!(body.unwrap_err().contains("hexadecimal"));
    }

    #[test]
    fn presigned_urls_past_their_time_are_refused_unverified() {
        // 2026-12-03T10:00:00Z, valid for 60 s.
        let at = amz_date_seconds("20261203T100000Z").unwrap();
        assert_eq!(at, 1_796_292_000);
        let v4 = "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261203T100000Z&X-Amz-Expires=60&X-Amz-Signature=ab";
        let v2 = "/b/k?AWSAccessKeyId=a&Signature=x&Expires=1796292060";
        for uri in [v4, v2] {
            let request = || Request::builder().uri(uri).body(Body::empty()).unwrap();
            assert!(strip_signature(request(), at + 60).is_ok(), "{uri}");
            assert_eq!(
                strip_signature(request(), at + 61).err(),
                Some(Expired),
                "{uri}"
            );
        }
        // A query parameter called Expires on an unsigned request is not an expiry.
        let plain = Request::builder()
            .uri("/b/k?Expires=1")
            .body(Body::empty())
            .unwrap();
        assert!(strip_signature(plain, at).is_ok());
        assert_eq!(amz_date_seconds("2026-12-03"), None);
    }

    #[test]
    fn plain_requests_only_lose_their_signature() {
        let request = Request::builder()
            .uri("/b/k?list-type=2&X-Amz-Credential=a%2Fb&prefix=x")
            .header("authorization", "AWS4-HMAC-SHA256 …")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header("content-length", "3")
            .body(Body::from("abc"))
            .unwrap();
        let request = strip_signature(request, 0).unwrap();
        assert_eq!(request.uri().query(), Some("list-type=2&prefix=x"));
        assert_eq!(request.headers()[CONTENT_LENGTH], "3");
        assert!(request.extensions().get::<TrailerSlot>().is_none());
    }
}
