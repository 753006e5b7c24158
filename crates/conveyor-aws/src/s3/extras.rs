//! What S3 offers beyond `ObjectStore`: presigned URLs (object_store's signer), browser upload
//! forms with a signed POST policy (S3 enforces the key, content type and size), and an
//! object's storage class (a signed HEAD, since object_store does not report it). The same
//! code signs for Amazon S3 and for Conveyor's own S3 endpoint in front of a local store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use conveyor_store::{BackendExtras, Presign, StoreError, UploadForm, UploadPolicy};
use hmac::{Hmac, Mac};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::signer::Signer;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;

use crate::Aws;

/// Characters S3 keys keep unescaped in a URL path: RFC 3986's unreserved set.
const KEY_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The longest a SigV4 presignature may live.
const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

pub(super) struct S3Extras {
    /// Signs URLs, and holds the credentials upload forms are signed with.
    s3: Arc<AmazonS3>,
    bucket: String,
    bucket_url: String,
    region: String,
    /// Amazon S3 (or a peer), asked for storage classes; `None` for Conveyor's endpoint, whose
    /// local store has none.
    classes: Option<Aws>,
}

impl S3Extras {
    /// On Amazon S3 (or the configured S3 endpoint).
    pub(super) fn new(aws: Aws, s3: Arc<AmazonS3>, bucket: &str) -> S3Extras {
        S3Extras {
            s3,
            bucket: bucket.to_string(),
            bucket_url: aws.bucket_url(bucket),
            region: aws.region.clone(),
            classes: Some(aws),
        }
    }

    /// For Conveyor's S3 endpoint at `endpoint`, path-style, with fixed keys.
    pub(super) fn fixed(s3: Arc<AmazonS3>, endpoint: &str, region: &str, bucket: &str) -> S3Extras {
        S3Extras {
            s3,
            bucket: bucket.to_string(),
            bucket_url: format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            region: region.to_string(),
            classes: None,
        }
    }

    fn failure(&self, key: &str, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            store: format!("S3 bucket {}", self.bucket),
            key: key.to_string(),
            detail: detail.to_string(),
        }
    }

    fn object_url(&self, key: &str) -> String {
        let encoded: Vec<String> = key
            .split('/')
            .map(|segment| utf8_percent_encode(segment, KEY_SEGMENT).to_string())
            .collect();
        format!("{}/{}", self.bucket_url, encoded.join("/"))
    }
}

#[async_trait::async_trait]
impl BackendExtras for S3Extras {
    async fn presigned_url(
        &self,
        method: Presign,
        key: &str,
        expires_in: Duration,
    ) -> Result<String, StoreError> {
        let method = match method {
            Presign::Get => http::Method::GET,
            Presign::Put => http::Method::PUT,
        };
        let path = Path::parse(key).map_err(|e| StoreError::InvalidKey(e.to_string()))?;
        self.s3
            .signed_url(method, &path, expires_in.min(MAX_EXPIRY))
            .await
            .map(|url| url.to_string())
            .map_err(|e| self.failure(key, e))
    }

    async fn upload_form(&self, policy: &UploadPolicy) -> Result<UploadForm, StoreError> {
        let credential = self
            .s3
            .credentials()
            .get_credential()
            .await
            .map_err(|e| self.failure(&policy.key, e))?;
        let now = Utc::now();
        let expires = now
            + chrono::Duration::from_std(policy.expires_in.min(MAX_EXPIRY))
                .unwrap_or(chrono::Duration::hours(1));
        let date = now.format("%Y%m%d").to_string();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut fields = BTreeMap::from([
            ("key".to_string(), policy.key.clone()),
            ("Content-Type".to_string(), policy.content_type.clone()),
            (
                "x-amz-algorithm".to_string(),
                "AWS4-HMAC-SHA256".to_string(),
            ),
            (
                "x-amz-credential".to_string(),
                format!("{}/{scope}", credential.key_id),
            ),
            ("x-amz-date".to_string(), amz_date),
        ]);
        if let Some(token) = &credential.token {
            fields.insert("x-amz-security-token".to_string(), token.clone());
        }
        let mut conditions = vec![
            serde_json::json!({ "bucket": self.bucket }),
            serde_json::json!(["content-length-range", 0, policy.max_bytes]),
        ];
        conditions.extend(
            fields
                .iter()
                .map(|(name, value)| serde_json::json!({ name: value })),
        );
        let document = serde_json::json!({
            "expiration": expires.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "conditions": conditions,
        });
        let encoded = base64::engine::general_purpose::STANDARD.encode(document.to_string());
        let signature = sign_policy(&credential.secret_key, &date, &self.region, &encoded);
        fields.insert("policy".to_string(), encoded);
        fields.insert("x-amz-signature".to_string(), signature);
        Ok(UploadForm {
            url: self.bucket_url.clone(),
            fields,
        })
    }

    async fn storage_class(&self, key: &str) -> Result<Option<String>, StoreError> {
        let Some(aws) = &self.classes else {
            return Ok(None);
        };
        let response = aws
            .signed_request(
                http::Method::HEAD,
                &self.object_url(key),
                Default::default(),
            )
            .await
            .map_err(|e| self.failure(key, e))?;
        match response.status().as_u16() {
            200..=299 => Ok(Some(
                response
                    .headers()
                    .get("x-amz-storage-class")
                    .and_then(|v| v.to_str().ok())
                    // S3 leaves the header out for the default class.
                    .unwrap_or("STANDARD")
                    .to_string(),
            )),
            404 => Err(StoreError::NotFound(key.to_string())),
            status => Err(self.failure(key, format!("HEAD answered HTTP {status}"))),
        }
    }
}

/// SigV4's signature of a POST policy: the policy (base64) under the day's derived key.
fn sign_policy(secret: &str, date: &str, region: &str, policy: &str) -> String {
    let mac = |key: &[u8], data: &str| {
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let day = mac(format!("AWS4{secret}").as_bytes(), date);
    let signing_key = mac(&mac(&mac(&day, region), "s3"), "aws4_request");
    mac(&signing_key, policy)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of AWS's "POST policy" signature documentation.
    #[test]
    fn signs_a_post_policy_as_aws_documents() {
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        assert_eq!(
            sign_policy(
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "20151229",
                "us-east-1",
                policy
            ),
            "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
        );
    }
}
