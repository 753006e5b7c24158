//! Who is calling the files API: a Bearer JWT, verified with the environment's HS256 secret,
//! whose claims name the tenant. The tenant comes from the verified token only; no request
//! field can name another.
//!
//! `jsonwebtoken` parses and validates (algorithm, `exp`, `nbf`, audience, leeway); its HMAC is
//! provided here by the `hmac` crate already in the build, because its own backends are either
//! aws-lc (a C build) or RustCrypto's whole set including `rsa` (an unfixed advisory), and
//! only HS256 is ever accepted.

use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use conveyor_config::FilesSettings;
use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use sha2::Sha256;

use super::FilesState;
use crate::ApiError;

/// A tenant id is one path segment of the object keys: a UUID, a slug, a number.
const MAX_TENANT_ID: usize = 128;

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub subject: String,
}

impl Tenant {
    /// Where this tenant's objects live: `tenants/{id}`.
    pub fn root(&self) -> String {
        format!("tenants/{}", self.id)
    }
}

/// Verifies tokens for one environment.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
    tenant_claim: Vec<String>,
}

impl TokenVerifier {
    pub fn new(secret: &[u8], settings: &FilesSettings) -> TokenVerifier {
        install_hs256();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = settings.leeway.seconds();
        // jsonwebtoken checks `nbf` only when asked; the same leeway as `exp` applies.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &settings.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        TokenVerifier {
            key: DecodingKey::from_secret(secret),
            validation,
            tenant_claim: settings.tenant_claim.clone(),
        }
    }

    pub fn verify(&self, token: &str) -> Result<Tenant, ApiError> {
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &self.key, &self.validation)
            .map_err(|e| ApiError::Unauthorized(refusal(e.kind()).into()))?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the token's sub claim is empty".into()))?;
        let path = self.tenant_claim.join(".");
        let tenant = self
            .tenant_claim
            .iter()
            .try_fold(&claims, |value, key| value.get(key))
            .and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| {
                ApiError::Unauthorized(format!(
                    "the token has no tenant: the claim {path} is missing"
                ))
            })?;
        let valid = !tenant.is_empty()
            && tenant.len() <= MAX_TENANT_ID
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ApiError::Unauthorized(format!(
                "the token's {path} is not a tenant id: use 1 to {MAX_TENANT_ID} letters, digits, - or _"
            )));
        }
        Ok(Tenant {
            id: tenant,
            subject: subject.to_string(),
        })
    }
}

fn refusal(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired: sign in again",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::InvalidAudience => "the token is for another audience",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            "the token is not signed with HS256 (unsigned and other algorithms are refused)"
        }
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp and sub)",
        _ => "the token is not a valid JWT",
    }
}

impl FromRequestParts<FilesState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &FilesState) -> Result<Tenant, ApiError> {
        let verifier = state.verifier.as_ref().ok_or_else(|| {
            ApiError::Unavailable(
                "the files API is off: set files.jwt_secret for this environment (or CONVEYOR_JWT_SECRET)".into(),
            )
        })?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "send the user's JWT as `Authorization: Bearer <token>`".into(),
                )
            })?;
        verifier.verify(token)
    }
}

/// Sign a token (for `conveyor token` and tests): HS256 over `claims`.
pub fn sign_token(secret: &[u8], claims: &serde_json::Value) -> Result<String, String> {
    install_hs256();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|e| e.to_string())
}

// ---- HS256 for jsonwebtoken, on the `hmac` crate ----------------------------------------

struct Hs256(Hmac<Sha256>);

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        // Constant-time comparison.
        mac.verify_slice(tag).map_err(signature::Error::from_source)
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn hs256(algorithm: &Algorithm, secret: &[u8]) -> JwtResult<Hs256> {
    if *algorithm != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    Hmac::<Sha256>::new_from_slice(secret)
        .map(Hs256)
        .map_err(|_| ErrorKind::InvalidKeyFormat.into())
}

static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: |algorithm, key| Ok(Box::new(hs256(algorithm, key.as_bytes())?)),
    verifier_factory: |algorithm, key| Ok(Box::new(hs256(algorithm, key.try_get_as_bytes()?)?)),
    key_utils: KeyUtils::new_unimplemented(),
};

fn install_hs256() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // An error means a provider is installed already; ours is the only one in the build.
        let _ = HS256_ONLY.install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    const SECRET: &[u8] = b"a-test-secret-that-is-long-enough-for-hs256";

    fn settings() -> FilesSettings {
        conveyor_config::load(None, []).unwrap().selected.files
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(SECRET, &settings())
    }

    fn claims(tenant: serde_json::Value, exp: u64) -> serde_json::Value {
        json!({ "sub": "user-1", "exp": exp, "app_metadata": { "tenant_id": tenant } })
    }

    fn refused(token: &str) -> String {
        match verifier().verify(token) {
            Err(ApiError::Unauthorized(why)) => why,
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_supabase_style_token_and_reads_its_tenant() {
        let token = sign_token(SECRET, &claims(json!("acme"), now() + 600)).unwrap();
        let tenant = verifier().verify(&token).unwrap();
        assert_eq!(tenant.id, "acme");
        assert_eq!(tenant.subject, "user-1");
        assert_eq!(tenant.root(), "tenants/acme");
    }

    #[test]
    fn honours_the_leeway_and_refuses_beyond_it() {
        let within = sign_token(SECRET, &claims(json!("acme"), now() - 30)).unwrap();
        assert!(
            verifier().verify(&within).is_ok(),
            "30 s late is inside 60 s of leeway"
        );
        let late = sign_token(SECRET, &claims(json!("acme"), now() - 120)).unwrap();
        assert!(refused(&late).contains("expired"));
    }

    #[test]
    fn refuses_a_token_that_is_not_valid_yet_beyond_the_leeway() {
        let mut early = claims(json!("acme"), now() + 7200);
        early["nbf"] = json!(now() + 3600);
        assert!(refused(&sign_token(SECRET, &early).unwrap()).contains("not valid yet"));
        let mut within = claims(json!("acme"), now() + 7200);
        within["nbf"] = json!(now() + 30);
        assert!(
            verifier()
                .verify(&sign_token(SECRET, &within).unwrap())
                .is_ok(),
            "30 s early is inside 60 s of leeway"
        );
    }

    #[test]
    fn refuses_forged_unsigned_and_foreign_tokens() {
        let wrong = sign_token(
            b"another-secret-another-secret-another",
            &claims(json!("acme"), now() + 600),
        )
        .unwrap();
        assert!(refused(&wrong).contains("signature"));

        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let body = b64(claims(json!("acme"), now() + 600));
        let none = format!("{}.{body}.", b64(json!({ "alg": "none", "typ": "JWT" })));
        assert!(refused(&none).contains("not"), "alg none is refused");
        // An HS512 token with a valid HMAC under the same secret: still refused.
        let hs512 = format!(
            "{}.{body}.AAAA",
            b64(json!({ "alg": "HS512", "typ": "JWT" }))
        );
        assert!(refused(&hs512).contains("HS256"));
        // A token whose payload was changed after signing.
        let good = sign_token(SECRET, &claims(json!("acme"), now() + 600)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(claims(json!("other"), now() + 600)),
            parts[2]
        );
        assert!(refused(&tampered).contains("signature"));
        assert!(refused("not-a-jwt").contains("not a valid JWT"));
    }

    #[test]
    fn refuses_tokens_without_a_usable_tenant() {
        let none = sign_token(SECRET, &json!({ "sub": "u", "exp": now() + 600 })).unwrap();
        assert!(refused(&none).contains("app_metadata.tenant_id is missing"));
        for bad in [
            json!(""),
            json!("../other"),
            json!("a/b"),
            json!({"id": 1}),
            json!("x".repeat(129)),
        ] {
            let token = sign_token(SECRET, &claims(bad.clone(), now() + 600)).unwrap();
            refused(&token);
        }
        let no_exp = sign_token(
            SECRET,
            &json!({ "sub": "u", "app_metadata": { "tenant_id": "a" } }),
        )
        .unwrap();
        assert!(refused(&no_exp).contains("required claim"));
    }
}
