//! `testflight`: invites a beta tester through the App Store Connect API
//! (`POST /v1/betaTesters` with the tester's e-mail and names and the beta group relationship).
//! Signed in with an ES256 JWT made from the team's API key (`.p8`): `kid` = the key id,
//! `iss` = the issuer id, `aud` = `appstoreconnect-v1`, twenty minutes of life (Apple's
//! longest), reused until two minutes are left. "Already a tester" (409) counts as success;
//! 429 and 5xx retry; other 4xx reject with Apple's error text.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use conveyor_config::TestflightConfig;
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

use crate::outbound::{context, Outbound, Reply};
use crate::{BuildError, HandlerEnv};

/// Apple refuses tokens that live longer than twenty minutes.
const TOKEN_LIFETIME_SECONDS: u64 = 20 * 60;
/// A cached token is replaced when less than this is left.
const RENEW_WITHIN_SECONDS: u64 = 2 * 60;

/// The team's key, and the token last made with it.
struct Signer {
    key: Option<EcdsaKeyPair>,
    key_id: String,
    issuer_id: String,
    cached: Mutex<Option<(String, u64)>>,
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The DER inside a `.p8`'s PEM armour.
fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    let inner: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    if !pem.contains("-----BEGIN PRIVATE KEY-----") {
        return Err("it is not PEM text starting -----BEGIN PRIVATE KEY-----".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(inner)
        .map_err(|e| format!("its PEM body is not base64: {e}"))
}

/// A `.p8` as ring reads it: a PKCS#8 P-256 private key.
pub fn app_store_connect_key(pem: &str) -> Result<EcdsaKeyPair, String> {
    let der = pem_body(pem)?;
    EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &der,
        &ring::rand::SystemRandom::new(),
    )
    .map_err(|e| format!("it is not a P-256 private key in PKCS#8 ({e})"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Signer {
    fn token(&self) -> Result<String, HandlerError> {
        let Some(key) = &self.key else {
            // Dry run without the key: nothing is sent, and the record masks the header anyway.
            return Ok("****".into());
        };
        let now = now();
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, exp)) = cached.as_ref() {
            if *exp > now + RENEW_WITHIN_SECONDS {
                return Ok(token.clone());
            }
        }
        let header = json!({ "alg": "ES256", "kid": self.key_id, "typ": "JWT" });
        let exp = now + TOKEN_LIFETIME_SECONDS;
        let claims =
            json!({ "iss": self.issuer_id, "iat": now, "exp": exp, "aud": "appstoreconnect-v1" });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = key
            .sign(&ring::rand::SystemRandom::new(), input.as_bytes())
            .map_err(|_| HandlerError::retry("cannot sign the App Store Connect token"))?;
        let token = format!("{input}.{}", b64url(signature.as_ref()));
        *cached = Some((token.clone(), exp));
        Ok(token)
    }
}

pub struct TestflightHandler {
    out: Outbound,
    endpoint: String,
    default_group: String,
    signer: Signer,
}

impl TestflightHandler {
    pub fn new(config: &TestflightConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let pem = env.secret("testflight", &config.key_secret)?;
        let key = if env.dry_run && pem == "****" {
            None
        } else {
            Some(
                app_store_connect_key(&pem).map_err(|why| BuildError::Setup {
                    kind: "testflight",
                    detail: format!(
                        "the secret {} does not hold an App Store Connect API key (.p8): {why}",
                        config.key_secret
                    ),
                })?,
            )
        };
        Ok(TestflightHandler {
            out: Outbound::new("testflight", config.timeout.0, env.dry_run, vec![pem])?,
            endpoint: format!("{}/v1/betaTesters", config.url.trim_end_matches('/')),
            default_group: config.beta_group_id.clone(),
            signer: Signer {
                key,
                key_id: config.key_id.clone(),
                issuer_id: config.issuer_id.clone(),
                cached: Mutex::new(None),
            },
        })
    }

    fn invitation(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let ctx = context(message);
        let email = ctx
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| e.contains('@'))
            .ok_or_else(|| HandlerError::reject("the message has no tester email"))?;
        let mut attributes = json!({ "email": email });
        for (field, key) in [("first_name", "firstName"), ("last_name", "lastName")] {
            if let Some(v) = ctx.get(field).and_then(Value::as_str) {
                attributes[key] = json!(v);
            }
        }
        let mut groups: Vec<Value> = ctx
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(Value::as_str)
                    .map(|id| json!({ "type": "betaGroups", "id": id }))
                    .collect()
            })
            .unwrap_or_default();
        if groups.is_empty() {
            groups.push(json!({ "type": "betaGroups", "id": self.default_group }));
        }
        Ok(json!({
            "data": {
                "type": "betaTesters",
                "attributes": attributes,
                "relationships": { "betaGroups": { "data": groups } },
            }
        }))
    }
}

#[async_trait::async_trait]
impl Handler for TestflightHandler {
    fn kind(&self) -> &'static str {
        "testflight"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let request = self
            .out
            .client()
            .post(&self.endpoint)
            .bearer_auth(self.signer.token()?)
            .json(&self.invitation(message)?)
            .build()
            .map_err(|e| {
                HandlerError::reject(format!("cannot build the App Store Connect request: {e}"))
            })?;
        // Apple answers 409 when the address is already a tester of the group: done already.
        Ok(match self.out.send_accepting(request, &[], &[409]).await? {
            Reply::Answered { status: 409, .. } => {
                json!({ "status": 409, "already_a_tester": true })
            }
            Reply::Answered { status, body } => {
                json!({ "status": status, "beta_tester_id": body["data"]["id"], "already_a_tester": false })
            }
            Reply::DryRun(request) => json!({ "dry_run": true, "request": request }),
        })
    }
}
