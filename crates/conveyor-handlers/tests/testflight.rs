//! The testflight handler against a local server with App Store Connect's request and answer
//! shapes, which verifies each request's ES256 JWT with the team key's public half.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine as _;
use conveyor_config::HandlerConfig;
use conveyor_handlers::{build, BuildError, HandlerEnv};
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};

/// A fresh team key as App Store Connect hands it out: PKCS#8 P-256 in PEM, and its public half.
fn team_key() -> (String, Vec<u8>) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    (pem, pair.public_key().as_ref().to_vec())
}

fn b64(part: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap()
}

/// Why a bearer token is not one App Store Connect would take, if it is not.
fn refuse(token: &str, public: &[u8]) -> Option<String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Some("not three parts".into());
    };
    let header: Value = serde_json::from_slice(&b64(h)).ok()?;
    let claims: Value = serde_json::from_slice(&b64(c)).ok()?;
    if header["alg"] != "ES256" || header["kid"] != "KEY123" || header["typ"] != "JWT" {
        return Some(format!("header {header}"));
    }
    let life = claims["exp"].as_u64()? - claims["iat"].as_u64()?;
    if claims["iss"] != "issuer-1" || claims["aud"] != "appstoreconnect-v1" || life > 1200 {
        return Some(format!("claims {claims}"));
    }
    let signed = format!("{h}.{c}");
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
        .verify(signed.as_bytes(), &b64(s))
        .err()
        .map(|_| "bad signature".into())
}

#[derive(Default)]
struct Connect {
    testers: Vec<Value>,
    tokens: Vec<String>,
}

async fn app_store_connect(public: Vec<u8>) -> (String, Arc<Mutex<Connect>>) {
    let state: Arc<Mutex<Connect>> = Default::default();
    let shared = state.clone();
    let app = axum::Router::new().route(
        "/v1/betaTesters",
        axum::routing::post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let (state, public) = (shared.clone(), public.clone());
            async move {
                let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("").to_string();
                if let Some(why) = refuse(&token, &public) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({ "errors": [{ "status": "401", "code": "NOT_AUTHORIZED", "detail": why }] })));
                }
                let mut s = state.lock().unwrap();
                s.tokens.push(token);
                let email = body["data"]["attributes"]["email"].as_str().unwrap_or("").to_string();
                if email.starts_with("busy@") {
                    return (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "errors": [{ "status": "429", "code": "RATE_LIMIT_EXCEEDED" }] })));
                }
                if s.testers.iter().any(|t| t["data"]["attributes"]["email"] == email.as_str()) {
                    return (StatusCode::CONFLICT, Json(json!({ "errors": [{ "status": "409", "code": "ENTITY_ERROR.ATTRIBUTE.INVALID.DUPLICATE", "detail": "This email is already a tester." }] })));
                }
                if body["data"]["relationships"]["betaGroups"]["data"][0]["type"] != "betaGroups" {
                    return (StatusCode::BAD_REQUEST, Json(json!({ "errors": [{ "status": "400", "code": "PARAMETER_ERROR.INVALID" }] })));
                }
                s.testers.push(body);
                (StatusCode::CREATED, Json(json!({ "data": { "type": "betaTesters", "id": format!("bt-{}", s.testers.len()) } })))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, state)
}

fn env(dry_run: bool, pem: Option<&str>) -> HandlerEnv {
    let store =
        conveyor_store::Store::local(std::env::temp_dir().join("conveyor-testflight-tests"))
            .unwrap();
    let env = HandlerEnv::new(store, "testflight").dry_run(dry_run);
    match pem {
        Some(p) => env.with_secret("app_store_connect_key", p),
        None => env,
    }
}

fn config(base: &str) -> HandlerConfig {
    serde_json::from_value(json!({ "kind": "testflight", "url": base, "issuer_id": "issuer-1", "key_id": "KEY123", "beta_group_id": "group-9" })).unwrap()
}

fn invite(email: &str) -> ReceivedMessage {
    ReceivedMessage {
        message_id: format!("m-{email}"),
        body: json!({ "email": email, "first_name": "Ada", "last_name": "Lovelace", "groups": [] })
            .to_string(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tester_is_invited_with_a_verified_es256_token_and_again_is_already_one() {
    let (pem, public) = team_key();
    let (base, state) = app_store_connect(public).await;
    let h: Arc<dyn Handler> = build(&config(&base), &env(false, Some(&pem))).unwrap();
    let first = h.handle(&invite("ada@example.com")).await.unwrap();
    assert_eq!(
        (first["status"].as_u64(), first["beta_tester_id"].as_str()),
        (Some(201), Some("bt-1")),
        "{first}"
    );
    let again = h.handle(&invite("ada@example.com")).await.unwrap();
    assert_eq!(
        again["already_a_tester"], true,
        "already a tester is success"
    );
    match h.handle(&invite("busy@example.com")).await {
        Err(HandlerError::Retry { .. }) => {}
        other => panic!("{other:?}"),
    }
    let s = state.lock().unwrap();
    let t = &s.testers[0]["data"];
    assert_eq!(
        t["attributes"],
        json!({ "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace" })
    );
    assert_eq!(
        t["relationships"]["betaGroups"]["data"],
        json!([{ "type": "betaGroups", "id": "group-9" }])
    );
    assert!(
        s.tokens.windows(2).all(|w| w[0] == w[1]),
        "one token, reused until near its expiry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_key_is_refused() {
    let (pem, _) = team_key();
    let (_, other_public) = team_key();
    let (base, _) = app_store_connect(other_public).await;
    let h = build(&config(&base), &env(false, Some(&pem))).unwrap();
    match h.handle(&invite("ada@example.com")).await {
        Err(HandlerError::Reject { reason }) => assert!(reason.contains("401"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_key_that_is_not_p256_or_is_empty_stops_the_handler_with_one_clear_line() {
    let message = |pem: Option<&str>| match build(&config("http://127.0.0.1:9"), &env(false, pem)) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("built with {pem:?}"),
    };
    let garbage = message(Some(
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    ));
    assert!(
        garbage.contains("app_store_connect_key") && garbage.contains("P-256"),
        "{garbage}"
    );
    let not_pem = message(Some("hello"));
    assert!(not_pem.contains("BEGIN PRIVATE KEY"), "{not_pem}");
    let empty = message(Some(""));
    assert!(
        empty.contains("CONVEYOR_SECRET_APP_STORE_CONNECT_KEY"),
        "{empty}"
    );
    assert!(
        !garbage.contains('\n') && !empty.contains('\n'),
        "one line each"
    );
    assert!(matches!(
        build(&config("http://127.0.0.1:9"), &env(false, None)),
        Err(BuildError::MissingSecret { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_testflight_dry_run_records_the_request_without_the_token() {
    let (base, state) = app_store_connect(Vec::new()).await;
    let h = build(&config(&base), &env(true, None)).unwrap();
    let out = h.handle(&invite("ada@example.com")).await.unwrap();
    assert_eq!(out["request"]["headers"]["authorization"], "Bearer ****");
    assert_eq!(
        out["request"]["body"]["data"]["attributes"]["email"],
        "ada@example.com"
    );
    assert!(state.lock().unwrap().tokens.is_empty());
}
