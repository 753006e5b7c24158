//! S3 for one environment: the object store (through `object_store`, signing with ring) with
//! presigned URLs and upload forms (`extras`), and the calls `object_store` does not make (does
//! the bucket exist, create it, an object's storage class), signed with its SigV4 signer so no
//! second AWS SDK is compiled in.

mod extras;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use conveyor_store::{BackendExtras, Store};
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::client::HttpRequest;
use object_store::CredentialProvider;

use crate::connect::{is_denial, root_cause};
use crate::{Aws, AwsError};

/// What a request is signed for, and how its failures name the service.
#[derive(Clone, Copy)]
pub(crate) struct Signing<'a> {
    /// SigV4's service name (`s3`, `sns`).
    pub service: &'static str,
    /// The service as an error names it.
    pub label: &'static str,
    pub region: &'a str,
    pub endpoint: &'a str,
}

/// Credentials are fetched again this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// object_store's credential interface over the SDK's credential chain, so S3 and SQS use the
/// same credentials (environment, profile files, web identity, ECS, instance metadata).
#[derive(Debug)]
struct ChainCredentials {
    provider: aws_credential_types::provider::SharedCredentialsProvider,
    cached: Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

#[async_trait::async_trait]
impl CredentialProvider for ChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        if let Some((credential, expiry)) = self.cached.lock().ok().and_then(|c| c.clone()) {
            let fresh = expiry.is_none_or(|e| {
                e.duration_since(SystemTime::now())
                    .is_ok_and(|left| left > REFRESH_BEFORE_EXPIRY)
            });
            if fresh {
                return Ok(credential);
            }
        }
        let c = self.provider.provide_credentials().await.map_err(|e| {
            object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            }
        })?;
        let credential = Arc::new(AwsCredential {
            key_id: c.access_key_id().to_string(),
            secret_key: c.secret_access_key().to_string(),
            token: c.session_token().map(str::to_string),
        });
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((credential.clone(), c.expiry()));
        }
        Ok(credential)
    }
}

/// object_store's reqwest is built without a TLS crypto provider (so that aws-lc is not
/// compiled); ring, which the rest of the binary already uses, is installed for the process.
fn install_tls_provider() {
    // An error means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// object_store's S3 client on `bucket` at `endpoint` with fixed keys, path-style.
fn fixed_key_client(
    endpoint: &str,
    region: &str,
    key: &str,
    secret: &str,
    bucket: &str,
) -> Result<AmazonS3, AwsError> {
    install_tls_provider();
    AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_access_key_id(key)
        .with_secret_access_key(secret)
        .with_endpoint(endpoint)
        .with_allow_http(endpoint.starts_with("http://"))
        .with_virtual_hosted_style_request(false)
        .build()
        .map_err(|e| AwsError::Service {
            service: "S3",
            endpoint: endpoint.to_string(),
            resource: format!("the bucket {bucket}"),
            detail: e.to_string(),
        })
}

/// A store on `bucket` at an S3 endpoint with fixed keys (`conveyor bench s3`: Conveyor's own
/// endpoint, moto, any S3), path-style.
pub fn static_s3_store(
    endpoint: &str,
    region: &str,
    key: &str,
    secret: &str,
    bucket: &str,
) -> Result<Store, AwsError> {
    let s3 = fixed_key_client(endpoint, region, key, secret, bucket)?;
    Ok(Store::from_backend(
        Arc::new(s3),
        format!("S3 bucket {bucket} at {endpoint}"),
    ))
}

/// Presigned URLs and upload forms for `bucket` on Conveyor's own S3 endpoint at `endpoint`
/// (as browsers reach it), signed with one of the keys that endpoint accepts: the files API's
/// browser flow is then the same code on the local store as on Amazon S3.
pub fn static_s3_signer(
    endpoint: &str,
    region: &str,
    key: &str,
    secret: &str,
    bucket: &str,
) -> Result<Arc<dyn BackendExtras>, AwsError> {
    let s3 = fixed_key_client(endpoint, region, key, secret, bucket)?;
    Ok(Arc::new(extras::S3Extras::fixed(
        Arc::new(s3),
        endpoint,
        region,
        bucket,
    )))
}

impl Aws {
    fn chain(&self) -> Result<Arc<ChainCredentials>, AwsError> {
        Ok(Arc::new(ChainCredentials {
            provider: self.credential_chain()?,
            cached: Mutex::new(None),
        }))
    }

    /// The object store on `bucket`, with presigned URLs.
    pub fn s3_store(&self, bucket: &str) -> Result<Store, AwsError> {
        install_tls_provider();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&self.region)
            .with_credentials(self.chain()?)
            .with_virtual_hosted_style_request(!self.s3_path_style);
        if let Some(endpoint) = &self.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let s3 = builder.build().map_err(|e| AwsError::Service {
            service: "S3",
            endpoint: self.s3_endpoint(),
            resource: format!("the bucket {bucket}"),
            detail: e.to_string(),
        })?;
        let s3 = Arc::new(s3);
        let description = format!("S3 bucket {bucket} at {}", self.s3_endpoint());
        let extras = extras::S3Extras::new(self.clone(), s3.clone(), bucket);
        Ok(Store::from_backend(s3, description).with_extras(Arc::new(extras)))
    }

    /// The bucket's URL, path-style or virtual-hosted as configured.
    pub(crate) fn bucket_url(&self, bucket: &str) -> String {
        match (&self.s3_endpoint, self.s3_path_style) {
            (Some(endpoint), true) => format!("{endpoint}/{bucket}"),
            (Some(endpoint), false) => match endpoint.split_once("://") {
                Some((scheme, host)) => format!("{scheme}://{bucket}.{host}"),
                None => format!("{endpoint}/{bucket}"),
            },
            (None, true) => format!("https://s3.{}.amazonaws.com/{bucket}", self.region),
            (None, false) => format!("https://{bucket}.s3.{}.amazonaws.com", self.region),
        }
    }

    /// One SigV4-signed S3 request on the bucket; returns the status and body.
    async fn bucket_request(
        &self,
        method: http::Method,
        bucket: &str,
        body: Bytes,
    ) -> Result<(u16, String), AwsError> {
        let response = self
            .signed_request(method, &self.bucket_url(bucket), body)
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.unwrap_or_default()))
    }

    /// The SDK credential chain's current credentials, in object_store's form.
    async fn object_store_credential(&self) -> Result<AwsCredential, AwsError> {
        let credentials = self.credentials().await?;
        Ok(AwsCredential {
            key_id: credentials.access_key_id().to_string(),
            secret_key: credentials.secret_access_key().to_string(),
            token: credentials.session_token().map(str::to_string),
        })
    }

    /// One SigV4-signed S3 request.
    async fn signed_request(
        &self,
        method: http::Method,
        url: &str,
        body: Bytes,
    ) -> Result<reqwest::Response, AwsError> {
        let endpoint = self.s3_endpoint();
        self.signed_call(
            Signing {
                service: "s3",
                label: "S3",
                region: &self.region,
                endpoint: &endpoint,
            },
            method,
            url,
            None,
            body,
        )
        .await
    }

    /// One SigV4-signed request to any AWS service, signed by object_store's signer (so no
    /// second AWS SDK is compiled in for the few calls made outside the two clients).
    pub(crate) async fn signed_call(
        &self,
        signing: Signing<'_>,
        method: http::Method,
        url: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<reqwest::Response, AwsError> {
        let credential = self.object_store_credential().await?;
        let unreachable = |detail: String| AwsError::Unreachable {
            service: signing.label,
            endpoint: signing.endpoint.to_string(),
            detail,
        };
        let mut builder = http::Request::builder().method(method.clone()).uri(url);
        if let Some(content_type) = content_type {
            builder = builder.header(http::header::CONTENT_TYPE, content_type);
        }
        let mut request: HttpRequest = builder
            .body(body.clone().into())
            .map_err(|e| unreachable(format!("cannot build a request for {url}: {e}")))?;
        install_tls_provider();
        AwsAuthorizer::new(&credential, signing.service, signing.region)
            .try_authorize(&mut request, None)
            .map_err(|e| unreachable(format!("cannot sign the request: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| unreachable(e.to_string()))?;
        client
            .request(method, url)
            .headers(request.headers().clone())
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(root_cause(&e)))
    }

    fn s3_answer(&self, bucket: &str, status: u16, body: &str) -> AwsError {
        let code = xml_value(body, "Code").unwrap_or_default();
        let detail = match xml_value(body, "Message") {
            Some(m) => format!("{status} {code}: {m}"),
            None => format!("HTTP {status} {code}"),
        };
        if status == 404 || code == "NoSuchBucket" {
            AwsError::Missing {
                kind: "bucket",
                name: bucket.to_string(),
                endpoint: self.s3_endpoint(),
                environment: self.environment.clone(),
            }
        } else if status == 403 || is_denial(&code) {
            AwsError::Denied {
                service: "S3",
                endpoint: self.s3_endpoint(),
                resource: format!("the bucket {bucket}"),
                detail,
            }
        } else {
            AwsError::Service {
                service: "S3",
                endpoint: self.s3_endpoint(),
                resource: format!("the bucket {bucket}"),
                detail,
            }
        }
    }

    /// Ok when the bucket exists and these credentials may use it.
    pub async fn verify_bucket(&self, bucket: &str) -> Result<(), AwsError> {
        match self
            .bucket_request(http::Method::HEAD, bucket, Bytes::new())
            .await?
        {
            (200..=299, _) => Ok(()),
            (status, body) => Err(self.s3_answer(bucket, status, &body)),
        }
    }

    /// Create the bucket if it is missing; true when this call created it.
    pub async fn ensure_bucket(&self, bucket: &str) -> Result<bool, AwsError> {
        match self.verify_bucket(bucket).await {
            Ok(()) => return Ok(false),
            Err(AwsError::Missing { .. }) => {}
            Err(e) => return Err(e),
        }
        // us-east-1 is the one region that refuses an explicit location constraint.
        let body = if self.region == "us-east-1" {
            Bytes::new()
        } else {
            Bytes::from(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.region
            ))
        };
        match self.bucket_request(http::Method::PUT, bucket, body).await? {
            (200..=299, _) => Ok(true),
            (_, body) if xml_value(&body, "Code").as_deref() == Some("BucketAlreadyOwnedByYou") => {
                Ok(false)
            }
            (status, body) => Err(self.s3_answer(bucket, status, &body)),
        }
    }
}

/// The text of the first `<tag>…</tag>` in an S3 error document.
pub(crate) fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_s3_error_documents() {
        let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>";
        assert_eq!(xml_value(xml, "Code").as_deref(), Some("NoSuchBucket"));
        assert_eq!(
            xml_value(xml, "Message").as_deref(),
            Some("The specified bucket does not exist")
        );
        assert_eq!(xml_value(xml, "BucketName"), None);
    }
}
