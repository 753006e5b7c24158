//! The digests an upload is checked against as it streams: the MD5 that becomes its ETag (and
//! is compared with `Content-MD5`), and the `x-amz-checksum-*` values a client sent in headers
//! or, for streaming uploads, in the trailer after the body.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::Checksum;
use s3s::{s3_error, S3Result};

/// The algorithms S3 checks, by the suffix of their header (`x-amz-checksum-crc32`).
pub const ALGORITHMS: [&str; 5] = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// The `x-amz-checksum-*` values of a request, by algorithm.
pub fn from_dto(c: &Checksum) -> BTreeMap<String, String> {
    let values = [
        &c.checksum_crc32,
        &c.checksum_crc32c,
        &c.checksum_crc64nvme,
        &c.checksum_sha1,
        &c.checksum_sha256,
    ];
    ALGORITHMS
        .iter()
        .zip(values)
        .filter_map(|(name, v)| v.clone().map(|v| (name.to_string(), v)))
        .collect()
}

/// Stored checksums as the DTO answers carry them.
pub fn to_dto(values: &BTreeMap<String, String>) -> Checksum {
    let get = |name: &str| values.get(name).cloned();
    Checksum {
        checksum_crc32: get("crc32"),
        checksum_crc32c: get("crc32c"),
        checksum_crc64nvme: get("crc64nvme"),
        checksum_sha1: get("sha1"),
        checksum_sha256: get("sha256"),
        checksum_type: None,
    }
}

pub struct Digests {
    md5: Md5,
    /// What `Content-MD5` said, decoded.
    expected_md5: Option<[u8; 16]>,
    checksums: ChecksumHasher,
    /// Values sent in headers, by algorithm; algorithms announced for the trailer have none.
    expected: BTreeMap<String, Option<String>>,
}

impl Digests {
    /// `content_md5` is the header as sent; `announced` the algorithm named by
    /// `x-amz-checksum-algorithm` or `x-amz-sdk-checksum-algorithm` (its value may come in the
    /// trailer); `sent` the `x-amz-checksum-*` header values.
    pub fn new(
        content_md5: Option<&str>,
        announced: Option<&str>,
        sent: BTreeMap<String, String>,
    ) -> S3Result<Digests> {
        let expected_md5 = match content_md5 {
            None => None,
            Some(text) => Some(
                STANDARD
                    .decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidDigest,
                            "the Content-MD5 you specified is not the base64 of a 16-byte MD5"
                        )
                    })?,
            ),
        };
        let mut expected: BTreeMap<String, Option<String>> =
            sent.into_iter().map(|(k, v)| (k, Some(v))).collect();
        if let Some(name) = announced {
            let name = name.to_ascii_lowercase();
            if !ALGORITHMS.contains(&name.as_str()) {
                return Err(s3_error!(
                    InvalidRequest,
                    "the checksum algorithm {name:?} is not one S3 supports (CRC32, CRC32C, CRC64NVME, SHA1, SHA256)"
                ));
            }
            expected.entry(name).or_insert(None);
        }
        let mut checksums = ChecksumHasher::default();
        for name in expected.keys() {
            match name.as_str() {
                "crc32" => checksums.crc32 = Some(s3s::crypto::Crc32::new()),
                "crc32c" => checksums.crc32c = Some(s3s::crypto::Crc32c::new()),
                "crc64nvme" => checksums.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
                "sha1" => checksums.sha1 = Some(s3s::crypto::Sha1::new()),
                "sha256" => checksums.sha256 = Some(s3s::crypto::Sha256::new()),
                _ => unreachable!("from_dto and the check above name only known algorithms"),
            }
        }
        Ok(Digests {
            md5: Md5::new(),
            expected_md5,
            checksums,
            expected,
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.checksums.update(data);
    }

    /// The MD5 in hex when every digest matches, with the checksums to keep; `trailer` holds
    /// the values a streaming upload sent after its body.
    pub fn finish(
        self,
        trailer: Option<&http::HeaderMap>,
    ) -> S3Result<(String, BTreeMap<String, String>)> {
        let md5 = self.md5.finalize();
        if self.expected_md5.is_some_and(|e| e != md5) {
            return Err(s3_error!(
                BadDigest,
                "the Content-MD5 you specified did not match what was received"
            ));
        }
        let computed = from_dto(&self.checksums.finalize());
        let mut kept = BTreeMap::new();
        for (name, sent) in self.expected {
            let sent = sent.or_else(|| {
                trailer
                    .and_then(|t| t.get(format!("x-amz-checksum-{name}")))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
            let Some(sent) = sent else {
                return Err(s3_error!(
                    InvalidRequest,
                    "the request announced a {name} checksum but sent no x-amz-checksum-{name} value in its headers or trailer"
                ));
            };
            let ours = computed.get(&name).cloned().unwrap_or_default();
            if sent != ours {
                return Err(s3_error!(
                    BadDigest,
                    "the {name} checksum you specified ({sent}) did not match the calculated checksum ({ours})"
                ));
            }
            kept.insert(name, ours);
        }
        Ok((hex(&md5), kept))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An MD5 written in hex, as bytes.
pub fn md5_from_hex(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 || !text.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 16];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_md5_and_checksums_are_checked() {
        // MD5("abc") and CRC32("abc"), as S3 documents them encoded.
        let md5 = STANDARD.encode(Md5::checksum(b"abc"));
        let crc32 = "NSRBwg==".to_string();
        let mut d = Digests::new(
            Some(&md5),
            None,
            [("crc32".to_string(), crc32.clone())].into(),
        )
        .unwrap();
        d.update(b"ab");
        d.update(b"c");
        let (etag, kept) = d.finish(None).unwrap();
        assert_eq!(etag, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5_from_hex(&etag), Some(Md5::checksum(b"abc")));
        assert_eq!(md5_from_hex("zz"), None);
        assert_eq!(kept.get("crc32"), Some(&crc32));

        let mut d = Digests::new(Some(&md5), None, BTreeMap::new()).unwrap();
        d.update(b"abd");
        assert_eq!(d.finish(None).unwrap_err().code().as_str(), "BadDigest");

        let bad = Digests::new(Some("not-base64!"), None, BTreeMap::new());
        assert_eq!(bad.err().unwrap().code().as_str(), "InvalidDigest");
    }

    #[test]
    fn a_trailer_carries_the_announced_checksum() {
        let mut d = Digests::new(None, Some("CRC32"), BTreeMap::new()).unwrap();
        d.update(b"abc");
        let mut trailer = http::HeaderMap::new();
        trailer.insert("x-amz-checksum-crc32", "NSRBwg==".parse().unwrap());
        assert!(d.finish(Some(&trailer)).is_ok());

        let mut d = Digests::new(None, Some("crc32"), BTreeMap::new()).unwrap();
        d.update(b"abc");
        assert_eq!(
            d.finish(None).unwrap_err().code().as_str(),
            "InvalidRequest"
        );
    }
}
