//! The JSON API for scripts, compatible with the original dashboard's paths, methods and
//! field names (SPEC.md "The JSON API"), one file per area of its table, each with its
//! router and the access its routes need. Same session cookie as the browser; errors are
//! `{"error": "..."}` with a fitting status (see `respond`).

mod alerts;
mod automation;
mod connect;
mod device;
mod history;
mod messages;
mod sessions;
mod status;
mod topology;
mod traceroute;

use std::time::SystemTime;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::AppState;
use crate::error::{AppError, Result};
use crate::ids::NodeNum;
use crate::radio::trace::{Trace, TraceStatus};
use crate::time::iso_us;

pub fn router() -> Router<AppState> {
    let areas = [
        connect::router(),
        status::router(),
        messages::router(),
        traceroute::router(),
        automation::router(),
        alerts::router(),
        device::router(),
        sessions::router(),
        history::router(),
        topology::router(),
    ];
    areas.into_iter().fold(Router::new(), Router::merge)
}

/// A JSON body whose rejection is a JSON error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::Unsupported(
                "expected Content-Type: application/json".into(),
            )),
            Err(e) => Err(AppError::BadRequest(e.body_text())),
        }
    }
}

/// A node number as scripts send it: a JSON number, or a string (`!a1b2c3d4`, `^all`).
fn node_num(v: &Value, what: &str) -> Result<Option<NodeNum>> {
    match v {
        Value::String(s) => Ok(Some(s.parse::<crate::ids::Dest>()?.num())),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| Some(NodeNum(n)))
            .ok_or_else(|| AppError::BadRequest(what.to_string())),
        _ => Ok(None),
    }
}

/// `?since=` of the polling routes.
#[derive(Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

impl SinceQuery {
    fn time(&self) -> Result<Option<SystemTime>> {
        self.since.as_deref().map(parse_since).transpose()
    }
}

/// A `since` cursor (see [`crate::time::parse_iso`]).
fn parse_since(s: &str) -> Result<SystemTime> {
    crate::time::parse_iso(s).ok_or_else(|| {
        AppError::BadRequest(format!(
            "since must be ISO-8601 (e.g. 2026-01-01T00:00:00.000000+00:00), not {s:?}"
        ))
    })
}

/// `current` with the fields `body` gives replaced (a POST that changes only what it names);
/// a field of the wrong type is a clear error.
fn overlay<T: Serialize + DeserializeOwned>(current: &T, body: Map<String, Value>) -> Result<T> {
    let mut v = serde_json::to_value(current).map_err(anyhow::Error::from)?;
    if let Value::Object(fields) = &mut v {
        fields.extend(body.into_iter().filter(|(k, _)| k != "session_name"));
    }
    // The error names the field (`rules[0].cooldownSeconds: ...`).
    serde_path_to_error::deserialize(v).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// A signal in the original's traceroute units: quarter-dB integers, -128 when unknown.
fn quarter_db(v: &[Option<f32>]) -> Vec<i32> {
    v.iter()
        .map(|s| s.map_or(-128, |db| (db * 4.0).round() as i32))
        .collect()
}

/// A trace as the original's API shows it: a queued one is `pending` (with `queued`), hops
/// are node numbers, SNRs quarter-dB; the route fields only once it is complete.
fn trace_json(t: &Trace) -> Value {
    let nums = |v: &[NodeNum]| v.iter().map(|n| n.0).collect::<Vec<_>>();
    let open = t.status.is_open();
    let mut v = json!({
        "status": if open { "pending" } else { t.status.name() },
        "timestamp": iso_us(t.done_at.or(t.sent_at).unwrap_or(t.queued_at)),
        "hopLimit": t.hop_limit,
    });
    if open {
        v["command"] = json!(format!(
            "sendTraceRoute({}, hopLimit={})",
            t.dest, t.hop_limit
        ));
        v["queued"] = json!(t.status == TraceStatus::Queued);
    }
    if t.status == TraceStatus::Complete {
        v["route"] = json!(nums(&t.route));
        v["routeBack"] = json!(nums(&t.route_back));
        v["snrTowards"] = json!(quarter_db(&t.snr_towards));
        v["snrBack"] = json!(quarter_db(&t.snr_back));
    }
    if let Some(e) = &t.error {
        v["error"] = json!(e);
    }
    v
}

/// Traces keyed by their destination's id.
fn traces_by_node<'a>(list: impl IntoIterator<Item = &'a Trace>) -> Value {
    let map: serde_json::Map<String, Value> = list
        .into_iter()
        .map(|t| (t.dest.to_string(), trace_json(t)))
        .collect();
    Value::Object(map)
}
