//! The operators' web dashboard at `/dashboard`: one page and its script and style, built into
//! the binary (no CDN: it works offline, and its Content-Security-Policy lets it load nothing
//! from elsewhere). The page draws from the operator routes (`/v1/admin/overview`, alarms,
//! peek, timeline) and acts through them (redrive, purge, pause, resume).
//!
//! Access is the operator routes' own: open where the deployment has no keys at all (the
//! loopback default), else an operator key. A browser signs in with the key once and holds a
//! session cookie (`session.rs`); its changes carry the session's CSRF token.

pub mod samples;
pub mod session;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::ApiState;
pub use samples::{QueueSample, Samples};
pub use session::Sessions;

const PAGE: &str = include_str!("assets/index.html");
const LOGIN: &str = include_str!("assets/login.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// Nothing but this origin: no CDN, no beacon, no inline script.
const POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the dashboard keeps in the process: the sampled picture and the browser sessions.
#[derive(Clone, Default)]
pub struct DashboardState {
    pub samples: Samples,
    pub sessions: Sessions,
}

/// `/dashboard` and its assets (the data comes from the operator routes).
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/dashboard", get(page))
        .route("/dashboard/", get(page))
        .route("/dashboard/login", post(login))
        .route("/dashboard/logout", post(logout))
        .route(
            "/dashboard/app.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/dashboard/app.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .with_state(state)
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Not `no-referrer`: with it Chromium sends `Origin: null` on the sign-in form, which reads
    // as cross-site.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Text safe inside HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn login_page(status: StatusCode, state: &ApiState, problem: &str) -> Response {
    let body = LOGIN
        .replace("{{environment}}", &escape(&state.settings.environment))
        .replace("{{problem}}", &escape(problem));
    html(status, body)
}

/// Whether this deployment's operator routes are open (no keys of any kind configured).
fn open(state: &ApiState) -> bool {
    state.settings.operator_keys.is_empty() && state.settings.api_keys.is_empty()
}

async fn page(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    // A script sending a key: an operator key gets the page, any other key is refused as on
    // every operator route (a browser sends no Authorization header, and signs in instead).
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let Some(key) = presented {
        if crate::one_of(&state.settings.operator_keys, key) {
            let (id, csrf) = state.dashboard.sessions.open();
            let mut response = dashboard_page(&state, &csrf);
            set(&mut response, &session::set_cookie(&id, https(&headers)));
            return response;
        }
        let status = if crate::one_of(&state.settings.api_keys, key) {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        return login_page(
            status,
            &state,
            "that key does not open the dashboard: use an operator key",
        );
    }
    let csrf = match state.dashboard.sessions.csrf_of(&headers) {
        Some(csrf) => csrf,
        None if open(&state) => {
            // Open deployments need no sign-in, but changes still carry a token, so a page of
            // another site cannot drive them.
            let (id, csrf) = state.dashboard.sessions.open();
            let mut response = dashboard_page(&state, &csrf);
            set(&mut response, &session::set_cookie(&id, https(&headers)));
            return response;
        }
        None => return login_page(StatusCode::OK, &state, ""),
    };
    dashboard_page(&state, &csrf)
}

fn dashboard_page(state: &ApiState, csrf: &str) -> Response {
    let body = PAGE
        .replace("{{environment}}", &escape(&state.settings.environment))
        .replace("{{csrf}}", &escape(csrf));
    html(StatusCode::OK, body)
}

fn set(response: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

#[derive(Deserialize)]
struct SignIn {
    key: String,
}

async fn login(
    State(state): State<ApiState>,
    headers: HeaderMap,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if crate::cross_site(&headers) {
        return login_page(
            StatusCode::FORBIDDEN,
            &state,
            "a sign-in from another site is refused",
        );
    }
    let Ok(Form(form)) = form else {
        return login_page(
            StatusCode::BAD_REQUEST,
            &state,
            "send the operator key in the form",
        );
    };
    if !crate::one_of(&state.settings.operator_keys, form.key.trim()) {
        let problem = if state.settings.operator_keys.is_empty() {
            "this deployment has no operator keys, so the dashboard is closed: set operator_keys (or CONVEYOR_OPERATOR_KEYS)"
        } else {
            "that is not an operator key"
        };
        return login_page(StatusCode::UNAUTHORIZED, &state, problem);
    }
    let (id, _) = state.dashboard.sessions.open();
    let mut response = Redirect::to("/dashboard").into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    set(&mut response, &session::set_cookie(&id, https(&headers)));
    response
}

async fn logout(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let token_ok = match (
        state.dashboard.sessions.csrf_of(&headers),
        headers.get(session::CSRF_HEADER),
    ) {
        (Some(expected), Some(given)) => given.as_bytes() == expected.as_bytes(),
        _ => false,
    };
    if !token_ok || crate::cross_site(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "sign-out needs the page's CSRF token",
        )
            .into_response();
    }
    state.dashboard.sessions.close(&headers);
    let mut response = StatusCode::NO_CONTENT.into_response();
    set(&mut response, &session::clear_cookie());
    response
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    /// Include each queue's last hour as series (default true).
    series: Option<bool>,
}

/// What the dashboard draws: every configured queue's latest sample and last hour, the alarms,
/// and the workers' recent failures, all from this process's memory.
#[utoipa::path(get, path = "/v1/admin/overview", tag = "admin", params(OverviewQuery),
    responses((status = 200, description = "The dashboard's data", body = serde_json::Value), crate::openapi::ApiRefusals),
    security(("api_key" = [])))]
pub async fn overview(
    State(state): State<ApiState>,
    axum::extract::Query(q): axum::extract::Query<OverviewQuery>,
) -> Json<OverviewAnswer> {
    Json(OverviewAnswer {
        environment: state.settings.environment.clone(),
        alarms: state.alarms.list(),
        samples: state.dashboard.samples.overview(q.series.unwrap_or(true)),
    })
}

#[derive(serde::Serialize)]
pub struct OverviewAnswer {
    environment: String,
    alarms: Vec<Value>,
    #[serde(flatten)]
    samples: samples::Overview,
}
