//! The JSON API for scripts, compatible with the original dashboard's paths, methods and
//! field names (SPEC.md "The JSON API"), one file per area of its table, each with its
//! router and the access its routes need. Same session cookie as the browser; errors are
//! `{"error": "..."}` with a fitting status (see `respond`).

mod automation;
mod connect;
mod device;
mod history;
mod messages;
mod sessions;
mod status;
mod traceroute;

use std::time::SystemTime;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::AppState;
use crate::error::{AppError, Result};
use crate::ids::NodeNum;
use crate::radio::trace::Trace;
use crate::time::iso;

pub fn router() -> Router<AppState> {
    let areas = [
        connect::router(),
        status::router(),
        messages::router(),
        traceroute::router(),
        automation::router(),
        device::router(),
        sessions::router(),
        history::router(),
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

fn parse_since(s: &str) -> Result<SystemTime> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            AppError::BadRequest(format!(
                "since must be ISO-8601 (e.g. 2026-01-01T00:00:00Z), not {s:?}"
            ))
        })?;
    let secs = u64::try_from(t.unix_timestamp()).unwrap_or(0);
    Ok(SystemTime::UNIX_EPOCH
        + std::time::Duration::from_secs(secs)
        + std::time::Duration::from_nanos(u64::from(t.nanosecond())))
}

/// A trace as the original's API shows it.
fn trace_json(t: &Trace) -> Value {
    let ids = |v: &[NodeNum]| v.iter().map(NodeNum::to_string).collect::<Vec<_>>();
    let mut v = json!({
        "status": t.status.name(),
        "route": ids(&t.route),
        "routeBack": ids(&t.route_back),
        "snrTowards": t.snr_towards,
        "snrBack": t.snr_back,
        "hopLimit": t.hop_limit,
        "timestamp": iso(t.done_at.or(t.sent_at).unwrap_or(t.queued_at)),
    });
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
