//! Browser sessions for the dashboard: an operator signs in once with an operator key and gets
//! an opaque session id in an `HttpOnly; SameSite=Strict` cookie (script cannot read it, and no
//! other site's page can make the browser send it). Each session also has a CSRF token, which
//! the page reads from its own HTML and sends as `X-CSRF-Token` with every change: a forged
//! cross-site form can send neither. Sessions live in this process's memory and end after
//! `SESSION_LIFETIME` or at sign-out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

/// The cookie's name.
pub const COOKIE: &str = "conveyor_session";
/// The header a changing request carries the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a sign-in lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Most sessions kept at once; the oldest go first.
const MAX_SESSIONS: usize = 1000;

#[derive(Clone)]
struct Session {
    csrf: String,
    expires: Instant,
}

/// The signed-in browsers.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, Session>>>);

impl Sessions {
    /// A new session: its id (for the cookie) and its CSRF token (for the page).
    pub fn open(&self) -> (String, String) {
        let id = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let csrf = uuid::Uuid::new_v4().simple().to_string();
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        all.retain(|_, s| s.expires > now);
        if all.len() >= MAX_SESSIONS {
            if let Some(oldest) = all
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
            {
                all.remove(&oldest);
            }
        }
        all.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                expires: now + SESSION_LIFETIME,
            },
        );
        (id, csrf)
    }

    /// The CSRF token of the live session this request's cookie names.
    pub fn csrf_of(&self, headers: &HeaderMap) -> Option<String> {
        let id = cookie(headers, COOKIE)?;
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that signs a browser in (`secure` when served over HTTPS).
pub fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that signs it out.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::COOKIE, value.parse().unwrap());
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_at_sign_out() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.open();
        let headers = with_cookie(&format!("theme=dark; {COOKIE}={id}"));
        assert_eq!(sessions.csrf_of(&headers), Some(csrf));
        assert_eq!(
            sessions.csrf_of(&with_cookie(&format!("{COOKIE}=guess"))),
            None
        );
        sessions.close(&headers);
        assert_eq!(sessions.csrf_of(&headers), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let c = set_cookie("abc", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(set_cookie("abc", true).ends_with("; Secure"));
    }
}
