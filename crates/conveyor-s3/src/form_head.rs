//! What a browser POST upload's fields say that `s3s` does not pass on, read before it sees
//! the form. S3 requires the file to be the form's last field, so only the small fields before
//! it (and the file part's headers) are read, and the file streams through untouched.
//!
//! - The file's name, for a key with `${filename}` in it ([`FormFileName`]).
//! - Without access keys, the form's signature: `s3s` verifies `x-amz-signature` (SigV2:
//!   `signature`) whenever the field is there, and a development server has no secret to
//!   verify it with. The field is renamed `x-ignore-…`, so the form is served as an anonymous
//!   one and is still held to its policy (key, content type, size range, expiry), which `s3s`
//!   checks whether or not a signature is.

use axum::body::Body;
use axum::extract::Request;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Method};

/// The fields before the file are read up to this much; a form whose fields are longer is
/// passed on as it came (and its signature is then checked, and fails).
const MAX_FIELDS_BYTES: usize = 256 * 1024;

/// Field names S3 does not hold to the policy, which the renamed signatures take.
const RENAMES: [(&str, &str); 2] = [
    ("x-amz-signature", "x-ignore-x-amz-signature"),
    ("signature", "x-ignore-signature"),
];

/// The name of the file a POST form carries, as its part's `filename` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormFileName(pub String);

/// A POST form with its file's name as a [`FormFileName`] extension and, if `unsigned`, its
/// signature fields renamed `x-ignore-…`; any other request as it came.
pub async fn read_form_head(request: Request, unsigned: bool) -> Request {
    if request.method() != Method::POST {
        return request;
    }
    let Some(boundary) = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(form_boundary)
    else {
        return request;
    };
    let (mut parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut read = BytesMut::new();
    let mut failure = None;
    let fields_end = loop {
        if let Some(end) = fields_end(&read, &boundary) {
            break Some(end);
        }
        if read.len() > MAX_FIELDS_BYTES {
            break None;
        }
        match stream.next().await {
            Some(Ok(chunk)) => read.extend_from_slice(&chunk),
            Some(Err(e)) => {
                failure = Some(e);
                break None;
            }
            None => break None,
        }
    };
    let mut head = read.freeze();
    if let Some((start, end)) = fields_end {
        if let Some(name) = param_value(&head[start..end], "filename") {
            parts.extensions.insert(FormFileName(name));
        }
    }
    if let Some((_, end)) = fields_end.filter(|_| unsigned) {
        let (renamed, grew) = renamed_fields(&head[..end], &boundary);
        if grew > 0 {
            let mut rebuilt = BytesMut::from(&renamed[..]);
            rebuilt.extend_from_slice(&head[end..]);
            head = rebuilt.freeze();
            let declared = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(length) = declared {
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(length + grew as u64));
            }
        }
    }
    let first = futures_util::stream::iter([Ok::<Bytes, axum::Error>(head)]);
    let body = match failure {
        Some(e) => Body::from_stream(first.chain(futures_util::stream::iter([Err(e)]))),
        None => Body::from_stream(first.chain(stream)),
    };
    Request::from_parts(parts, body)
}

/// The boundary of a `multipart/form-data` content type.
fn form_boundary(content_type: &str) -> Option<Vec<u8>> {
    let mut params = content_type.split(';');
    if !params
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').as_bytes().to_vec())
            .filter(|b| !b.is_empty())
    })
}

/// Each part of `body` as (where its headers start, where they end, its field name), up to the
/// first whose headers are not complete yet.
fn part_headers(body: &[u8], boundary: &[u8]) -> Vec<(usize, usize, String)> {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    delimiter.extend_from_slice(b"\r\n");
    let mut parts = Vec::new();
    let mut at = 0;
    while let Some(found) = find(&body[at..], &delimiter) {
        let start = at + found + delimiter.len();
        let Some(length) = find(&body[start..], b"\r\n\r\n") else {
            break;
        };
        let end = start + length + 4;
        let name = field_name(&body[start..end]).unwrap_or_default();
        parts.push((start, end, name));
        at = end;
    }
    parts
}

/// Where the file's part headers are: everything before them is the small fields, and its
/// content begins at their end.
fn fields_end(body: &[u8], boundary: &[u8]) -> Option<(usize, usize)> {
    part_headers(body, boundary)
        .into_iter()
        .find(|(_, _, name)| name.eq_ignore_ascii_case("file"))
        .map(|(start, end, _)| (start, end))
}

/// The fields with their signatures renamed, and how many bytes longer they became.
fn renamed_fields(fields: &[u8], boundary: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(fields.len() + 64);
    let mut copied = 0;
    for (start, end, name) in part_headers(fields, boundary) {
        let Some((_, new_name)) = RENAMES
            .iter()
            .find(|(old, _)| name.eq_ignore_ascii_case(old))
        else {
            continue;
        };
        let headers = &fields[start..end];
        let Some(at) = param_position(headers, "name") else {
            continue;
        };
        out.extend_from_slice(&fields[copied..start + at.0]);
        out.extend_from_slice(new_name.as_bytes());
        copied = start + at.1;
    }
    out.extend_from_slice(&fields[copied..]);
    let grew = out.len() - fields.len();
    (out, grew)
}

/// The `name` parameter of a part's `Content-Disposition`.
fn field_name(headers: &[u8]) -> Option<String> {
    param_value(headers, "name")
}

/// A parameter of a part's `Content-Disposition` (`name`, `filename`).
fn param_value(headers: &[u8], param: &str) -> Option<String> {
    let (from, to) = param_position(headers, param)?;
    String::from_utf8(headers[from..to].to_vec()).ok()
}

/// Where, within a part's headers, a `Content-Disposition` parameter's value is.
fn param_position(headers: &[u8], param: &str) -> Option<(usize, usize)> {
    let text = std::str::from_utf8(headers).ok()?;
    let lower = text.to_ascii_lowercase();
    let line_start = lower.find("content-disposition:")?;
    let line_end = line_start + lower[line_start..].find("\r\n")?;
    let line = &lower[line_start..line_end];
    let mut offset = 0;
    for piece in line.split(';') {
        let trimmed = piece.trim_start();
        let lead = piece.len() - trimmed.len();
        let value = trimmed
            .strip_prefix(param)
            .and_then(|rest| rest.strip_prefix('='));
        if let Some(value) = value {
            let from = line_start + offset + lead + param.len() + 1;
            return Some(match value.strip_prefix('"') {
                Some(quoted) => (from + 1, from + 1 + quoted.find('"')?),
                None => (from, from + value.trim_end().len()),
            });
        }
        offset += piece.len() + 1;
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)], file: &[u8]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n",
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    }

    async fn renamed(body: Vec<u8>, chunk: usize) -> (Vec<u8>, Option<String>) {
        let length = body.len();
        let chunks: Vec<Result<Bytes, std::io::Error>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let request = Request::builder()
            .method(Method::POST)
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .header(CONTENT_LENGTH, length)
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
        let request = read_form_head(request, true).await;
        if let Some(FormFileName(name)) = request.extensions().get::<FormFileName>() {
            assert_eq!(name, "a.txt");
        }
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap();
        (bytes.to_vec(), declared)
    }

    #[tokio::test]
    async fn signatures_are_renamed_and_the_file_is_untouched_at_any_chunking() {
        // The file mentions a signature field, which must stay as it is.
        let file = b"name=\"x-amz-signature\" stays in the file";
        let body = form(
            &[
                ("key", "docs/a.txt"),
                ("X-Amz-Signature", "abc123"),
                ("policy", "eyJ9"),
                ("Signature", "v2sig"),
            ],
            file,
        );
        for chunk in [1, 7, 64, body.len()] {
            let (out, declared) = renamed(body.clone(), chunk).await;
            let text = String::from_utf8_lossy(&out).to_string();
            assert!(
                text.contains("name=\"x-ignore-x-amz-signature\"\r\n\r\nabc123"),
                "{text}"
            );
            assert!(
                text.contains("name=\"x-ignore-signature\"\r\n\r\nv2sig"),
                "{text}"
            );
            assert!(text.contains("name=\"key\"\r\n\r\ndocs/a.txt"));
            assert!(out.windows(file.len()).any(|w| w == file));
            assert_eq!(declared, Some(out.len().to_string()), "chunk {chunk}");
        }
    }

    #[tokio::test]
    async fn other_requests_and_forms_without_a_file_pass_as_they_came() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"x-amz-signature\"\r\n\r\nabc\r\n--XyZ--\r\n".to_vec();
        let (out, _) = renamed(body.clone(), 5).await;
        assert_eq!(out, body);
        let put = Request::builder()
            .method(Method::PUT)
            .header(CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .body(Body::from(body.clone()))
            .unwrap();
        let put = read_form_head(put, true).await;
        let bytes = axum::body::to_bytes(put.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(bytes.to_vec(), body);
    }

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(
            form_boundary("multipart/form-data; boundary=\"a b\""),
            Some(b"a b".to_vec())
        );
        assert_eq!(form_boundary("text/plain; boundary=x"), None);
        assert_eq!(form_boundary("multipart/form-data"), None);
    }
}
