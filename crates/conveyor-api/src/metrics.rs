//! `GET /metrics` in the Prometheus text format.
//!
//! Counters and histograms go through the `metrics` facade (the worker records its outcomes the
//! same way, without knowing about the API); queue gauges are read from the queue service at
//! scrape time, so they are never stale.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{ApiError, ApiState};

/// Latency buckets in seconds: fine below 10 ms, where an enqueue should land.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Install the process-wide Prometheus recorder (once; later calls return the same handle).
pub fn install() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))
        })
        .clone()
}

/// Count and time every request by route template (not raw path, so ids don't explode labels).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("conveyor_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("conveyor_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn render(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let Some(handle) = state.metrics.as_ref() else {
        return Err(ApiError::NotFound(
            "metrics are not enabled in this process".into(),
        ));
    };
    let mut configured = std::collections::HashSet::new();
    for q in &state.settings.queues {
        configured.insert(q.name.as_str());
        configured.insert(q.dlq_name.as_str());
        match state.queue.counts(&q.name).await {
            Ok(c) => record_depth(&q.key, &c),
            Err(e) => {
                tracing::warn!(queue = %q.name, error = %e, "cannot read queue counts for /metrics")
            }
        }
        match state.queue.counts(&q.dlq_name).await {
            Ok(c) => metrics::gauge!("conveyor_dlq_messages", &[("queue", q.key.clone())])
                .set((c.visible + c.in_flight + c.delayed) as f64),
            Err(e) => {
                tracing::warn!(queue = %q.dlq_name, error = %e, "cannot read dead-letter counts for /metrics")
            }
        }
    }
    // Queues created at run time (over the SQS protocol or the admin routes) are reported by
    // their full names.
    let mut token: Option<String> = None;
    loop {
        let page = match state
            .queue
            .list_queues(None, Some(1000), token.as_deref())
            .await
        {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list queues for /metrics");
                break;
            }
        };
        for info in page
            .items
            .iter()
            .filter(|i| !configured.contains(i.name.as_str()))
        {
            if let Ok(c) = state.queue.counts(&info.name).await {
                record_depth(&info.name, &c);
            }
        }
        match page.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok((
        [("content-type", "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

fn record_depth(queue: &str, c: &conveyor_queue::QueueCounts) {
    for (state, value) in [
        ("visible", c.visible),
        ("in_flight", c.in_flight),
        ("delayed", c.delayed),
    ] {
        metrics::gauge!(
            "conveyor_queue_messages",
            &[("queue", queue.to_string()), ("state", state.to_string())]
        )
        .set(value as f64);
    }
    // Amazon SQS does not report it (CloudWatch does): leave the series out rather than say 0.
    if let Some(age) = c.oldest_age_seconds {
        metrics::gauge!(
            "conveyor_queue_oldest_message_age_seconds",
            &[("queue", queue.to_string())]
        )
        .set(age as f64);
    }
}
