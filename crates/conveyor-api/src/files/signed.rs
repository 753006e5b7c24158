//! URLs Conveyor signs for itself when the store cannot (the local filesystem): a download
//! link and a browser upload form with the same conditions S3 enforces (one key, one content
//! type, a size limit, an expiry). HMAC-SHA256 under a key derived from the environment's JWT
//! secret, so no extra secret is needed and a token-signing key is never used directly.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ApiError;

/// Signs and checks one environment's URLs.
#[derive(Clone)]
pub struct UrlSigner {
    key: Hmac<Sha256>,
}

/// A browser upload's conditions as the form carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    pub key: String,
    pub content_type: String,
    pub max_bytes: u64,
    pub expires: u64,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl UrlSigner {
    pub fn new(jwt_secret: &[u8]) -> UrlSigner {
        let mut derive = Hmac::<Sha256>::new_from_slice(jwt_secret).expect("any key length");
        derive.update(b"conveyor files url signing v1");
        let key = derive.finalize().into_bytes();
        UrlSigner {
            key: Hmac::<Sha256>::new_from_slice(&key).expect("any key length"),
        }
    }

    fn mac(&self, parts: &[&str]) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        for part in parts {
            // Length-prefixed, so no two different field lists sign the same bytes.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    fn sign(&self, parts: &[&str]) -> String {
        hex(&self.mac(parts).finalize().into_bytes())
    }

    fn check(&self, parts: &[&str], signature: &str, expires: u64) -> Result<(), ApiError> {
        let tag = unhex(signature)
            .ok_or_else(|| ApiError::Forbidden("the link's signature is malformed".into()))?;
        self.mac(parts).verify_slice(&tag).map_err(|_| {
            ApiError::Forbidden("the link's signature does not match: it was altered".into())
        })?;
        if unix_now() > expires {
            return Err(ApiError::Forbidden(
                "the link has expired: ask for a new one".into(),
            ));
        }
        Ok(())
    }

    /// The query string that lets its holder download `key` until `expires`.
    pub fn download_query(&self, key: &str, expires: u64) -> String {
        let expires = expires.to_string();
        let signature = self.sign(&["GET", key, &expires]);
        format!("expires={expires}&signature={signature}")
    }

    pub fn check_download(&self, key: &str, expires: u64, signature: &str) -> Result<(), ApiError> {
        self.check(&["GET", key, &expires.to_string()], signature, expires)
    }

    /// The form fields of a browser upload.
    pub fn upload_fields(&self, grant: &UploadGrant) -> BTreeMap<String, String> {
        let (max, expires) = (grant.max_bytes.to_string(), grant.expires.to_string());
        let signature = self.sign(&["POST", &grant.key, &grant.content_type, &max, &expires]);
        BTreeMap::from([
            ("key".to_string(), grant.key.clone()),
            ("Content-Type".to_string(), grant.content_type.clone()),
            ("max_bytes".to_string(), max),
            ("expires".to_string(), expires),
            ("signature".to_string(), signature),
        ])
    }

    /// The grant a posted form carries, if its signature and expiry hold.
    pub fn check_upload(&self, fields: &BTreeMap<String, String>) -> Result<UploadGrant, ApiError> {
        let field = |name: &str| {
            fields.get(name).cloned().ok_or_else(|| {
                ApiError::Forbidden(format!(
                    "the upload form lacks its {name} field: send every field the presigned-upload answer gave"
                ))
            })
        };
        let number = |name: &str| -> Result<u64, ApiError> {
            field(name)?
                .parse()
                .map_err(|_| ApiError::Forbidden(format!("the form's {name} is not a number")))
        };
        let grant = UploadGrant {
            key: field("key")?,
            content_type: field("Content-Type")?,
            max_bytes: number("max_bytes")?,
            expires: number("expires")?,
        };
        let (max, expires) = (grant.max_bytes.to_string(), grant.expires.to_string());
        self.check(
            &["POST", &grant.key, &grant.content_type, &max, &expires],
            &field("signature")?,
            grant.expires,
        )?;
        Ok(grant)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(b"a-test-secret-that-is-long-enough-for-hs256")
    }

    fn query_value<'a>(query: &'a str, name: &str) -> &'a str {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap()
    }

    #[test]
    fn download_links_hold_only_for_their_key_and_time() {
        let expires = unix_now() + 60;
        let query = signer().download_query("tenants/a/x.txt", expires);
        let signature = query_value(&query, "signature");
        signer()
            .check_download("tenants/a/x.txt", expires, signature)
            .unwrap();
        for (key, when) in [
            ("tenants/b/x.txt", expires),
            ("tenants/a/x.txt", expires + 1),
        ] {
            assert!(matches!(
                signer().check_download(key, when, signature),
                Err(ApiError::Forbidden(m)) if m.contains("altered")
            ));
        }
        let other = UrlSigner::new(b"another-secret-another-secret-another-secret");
        assert!(other
            .check_download("tenants/a/x.txt", expires, signature)
            .is_err());
        let past = unix_now() - 1;
        let old = signer().download_query("tenants/a/x.txt", past);
        assert!(matches!(
            signer().check_download("tenants/a/x.txt", past, query_value(&old, "signature")),
            Err(ApiError::Forbidden(m)) if m.contains("expired")
        ));
    }

    #[test]
    fn upload_forms_cannot_be_widened() {
        let grant = UploadGrant {
            key: "tenants/a/images/photo.jpg".into(),
            content_type: "image/jpeg".into(),
            max_bytes: 1000,
            expires: unix_now() + 60,
        };
        let fields = signer().upload_fields(&grant);
        assert_eq!(signer().check_upload(&fields).unwrap(), grant);
        for (name, value) in [
            ("key", "tenants/b/images/photo.jpg"),
            ("Content-Type", "text/html"),
            ("max_bytes", "1000000"),
            ("expires", "99999999999"),
            ("signature", "00"),
        ] {
            let mut widened = fields.clone();
            widened.insert(name.into(), value.into());
            assert!(
                signer().check_upload(&widened).is_err(),
                "{name} was changed"
            );
        }
        let mut missing = fields.clone();
        missing.remove("signature");
        assert!(signer().check_upload(&missing).is_err());
    }
}
