//! `/v1/admin/alarms`: the alarms this process evaluates, with their state, and each one's
//! history of state changes from the store. The alarm loop (in the binary) writes the board;
//! the API only reads it, so the routes answer even while an evaluation runs.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::openapi::ErrorBody;
use crate::{ApiError, ApiState};

/// The current view of every alarm, by name: what `GET /v1/admin/alarms` lists.
#[derive(Clone, Default)]
pub struct AlarmBoard(Arc<RwLock<BTreeMap<String, Value>>>);

impl AlarmBoard {
    /// Put (or replace) an alarm's view: its rule, state, since when and why. What its
    /// channels last did with it (`notifications`) is kept.
    pub fn set(&self, name: &str, mut view: Value) {
        let mut board = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(told) = board.get(name).and_then(|v| v.get("notifications")) {
            view["notifications"] = told.clone();
        }
        board.insert(name.to_string(), view);
    }

    /// Record what `channel` last did with the alarm's notification (sent, retrying with the
    /// error and the next attempt's time, or failed), so a delivery failure is visible.
    pub fn note_delivery(&self, name: &str, channel: &str, delivery: Value) {
        let mut board = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = board.get_mut(name) {
            if !view["notifications"].is_object() {
                view["notifications"] = json!({});
            }
            view["notifications"][channel] = delivery;
        }
    }

    pub(crate) fn list(&self) -> Vec<Value> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn knows(&self, name: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }
}

/// The store prefix of an alarm's history; alarm names are queue names and a metric.
pub fn history_prefix(alarm: &str) -> String {
    format!("_conveyor/alarms/history/{alarm}/")
}

#[utoipa::path(get, path = "/v1/admin/alarms", tag = "admin",
    responses((status = 200, description = "Every alarm this process evaluates", body = serde_json::Value)),
    security(("api_key" = [])))]
pub async fn list(State(state): State<ApiState>) -> Json<Value> {
    Json(json!({ "alarms": state.alarms.list() }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The newest this many changes (1–1000, default 100).
    max: Option<usize>,
}

#[utoipa::path(get, path = "/v1/admin/alarms/{name}/history", tag = "admin",
    params(("name" = String, Path, description = "The alarm: {queue}-{metric}"), HistoryQuery),
    responses((status = 200, description = "Its state changes, newest first", body = serde_json::Value),
        (status = 404, description = "No such alarm", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn history(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
    if !state.alarms.knows(&name) {
        return Err(ApiError::NotFound(format!(
            "no alarm {name:?}; GET /v1/admin/alarms (or `conveyor alarms ls`) lists them"
        )));
    }
    let max = q.max.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(ApiError::BadRequest(format!(
            "max {max} is out of range: use 1 to 1000"
        )));
    }
    let mut keys = state
        .store
        .list(&history_prefix(&name))
        .await
        .map_err(ApiError::Store)?;
    // `{at}.json`, Unix milliseconds: newest first.
    keys.sort_by_key(|k| {
        std::cmp::Reverse(
            k.rsplit('/')
                .next()
                .and_then(|f| f.strip_suffix(".json"))
                .and_then(|t| t.parse::<i64>().ok())
                .unwrap_or(0),
        )
    });
    let mut changes = Vec::new();
    for key in keys.into_iter().take(max) {
        match state.store.get(&key).await {
            Ok(bytes) => changes.extend(serde_json::from_slice::<Value>(&bytes).ok()),
            Err(conveyor_store::StoreError::NotFound(_)) => {}
            Err(e) => return Err(ApiError::Store(e)),
        }
    }
    Ok(Json(json!({ "alarm": name, "changes": changes })))
}
