//! `/api/autoresponder`, `/api/beacon` (with start, stop and test) and
//! `/api/message-filter`, in the original's file formats (`autoresponder.json`,
//! `beacon.json`, `message_filter.json`). A POST changes only the fields it gives (the
//! original replaces the whole file, so its page's toggles wiped the rules and lists).
//! Settings are per radio: before a radio is connected a GET shows a new radio's defaults.

use axum::extract::State;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{overlay, ApiJson};
use crate::error::{AppError, Result};
use crate::radio::automation::{Filter, State as Automation};
use crate::radio::{beacon, LinkHandle};
use crate::time::{iso, iso_us};
use crate::web::ops::automation as ops;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/autoresponder", get(responder).post(save_responder))
        .route("/api/beacon", get(beacon_get).post(save_beacon))
        .route("/api/beacon/start", post(start_beacon))
        .route("/api/beacon/stop", post(stop_beacon))
        .route("/api/beacon/test", post(test_beacon))
        .route("/api/message-filter", get(filter).post(save_filter))
        .route_layer(from_fn(access::operate))
}

/// What the auto-responder's templates may use, as the original's file describes them.
const RESPONDER_VARIABLES: [(&str, &str); 9] = [
    ("{sender_name}", "Full name of the sender"),
    ("{sender_short}", "Short name of the sender"),
    ("{sender_id}", "Node ID of the sender (e.g. '!02ed4dfc')"),
    ("{my_name}", "Your node's full name"),
    ("{my_id}", "Your node's ID"),
    ("{message}", "The original message text"),
    ("{message_type}", "Either 'broadcast' or 'direct'"),
    ("{source_type}", "Either 'RF' or 'MQTT'"),
    ("{hops}", "Number of hops the message traveled"),
];

/// What the beacon's template may use.
const BEACON_VARIABLES: [(&str, &str); 10] = [
    ("{my_name}", "Your node's full name"),
    ("{my_id}", "Your node's ID"),
    ("{battery}", "Battery level percentage"),
    ("{uptime}", "Device uptime"),
    ("{time}", "Current time (UTC, HH:MM)"),
    ("{voltage}", "Battery voltage"),
    ("{temp}", "Device temperature (if available)"),
    ("{lat}", "Latitude (if GPS available)"),
    ("{lon}", "Longitude (if GPS available)"),
    ("{alt}", "Altitude (if GPS available)"),
];

fn variables(list: &[(&str, &str)]) -> Value {
    let map: Map<String, Value> = list
        .iter()
        .map(|(k, v)| ((*k).to_string(), json!(v)))
        .collect();
    Value::Object(map)
}

/// The radio these settings routes act on: the one the request addresses; else, as the
/// original's settings are one global file its page reads without naming a session, the
/// kept radio when exactly one is connected.
fn settings_link(state: &AppState, ctx: &Ctx) -> Option<LinkHandle> {
    if let Some(link) = ctx.link() {
        return Some(link);
    }
    if ctx.named.is_some() {
        return None;
    }
    let mut up = state.kept.list().into_iter().filter_map(|k| k.link);
    match (up.next(), up.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

fn require(state: &AppState, ctx: &Ctx) -> Result<LinkHandle> {
    settings_link(state, ctx).ok_or(AppError::NotConnected)
}

/// The radio's automation, or a new radio's defaults when the request has none.
fn current<T>(state: &AppState, ctx: &Ctx, pick: impl FnOnce(&Automation) -> T) -> T {
    match settings_link(state, ctx) {
        Some(link) => pick(&link.automation().lock()),
        None => pick(&Automation::default()),
    }
}

async fn responder(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let r = current(&state, &ctx, |a| a.responder.clone());
    let mut v = serde_json::to_value(r).map_err(anyhow::Error::from)?;
    v["available_variables"] = variables(&RESPONDER_VARIABLES);
    Ok(Json(v))
}

/// A settings file's POST body: the fields it changes.
type Body = ApiJson<Map<String, Value>>;

/// The radio's settings `pick` takes, with the fields `body` gives over them.
fn changed<T: Serialize + DeserializeOwned>(
    state: &AppState,
    ctx: &Ctx,
    body: Map<String, Value>,
    pick: impl FnOnce(&Automation) -> T,
) -> Result<(LinkHandle, T)> {
    let link = require(state, ctx)?;
    let now = pick(&link.automation().lock());
    Ok((link, overlay(&now, body)?))
}

async fn save_responder(s: State<AppState>, ctx: Ctx, ApiJson(b): Body) -> Result<Json<Value>> {
    let (link, r) = changed(&s, &ctx, b, |a| a.responder.clone())?;
    ops::save_responder(&s, &link, r).await?;
    Ok(Json(json!({"status": "saved"})))
}

/// The beacon's settings and schedule, with `status` when an action changed it.
fn beacon_json(a: &Automation, status: Option<&str>) -> Json<Value> {
    let mut v = json!({
        "enabled": a.beacon.enabled,
        "interval_minutes": a.beacon.interval_minutes,
        "message_template": a.beacon.message_template,
        "channel": a.beacon.channel,
        "available_variables": variables(&BEACON_VARIABLES),
        "last_beacon_time": a.beacon_last.map(iso_us),
        "running": a.beacon.enabled,
        "last_sent": a.beacon_last.map(iso),
        "next_due": if a.beacon.enabled { a.beacon_next.map(iso) } else { None },
    });
    if let Some(s) = status {
        v["status"] = json!(s);
    }
    Json(v)
}

fn link_beacon(link: &LinkHandle, status: &str) -> Json<Value> {
    beacon_json(&link.automation().lock(), Some(status))
}

async fn beacon_get(State(state): State<AppState>, ctx: Ctx) -> Json<Value> {
    current(&state, &ctx, |a| beacon_json(a, None))
}

async fn save_beacon(s: State<AppState>, ctx: Ctx, ApiJson(b): Body) -> Result<Json<Value>> {
    let (link, beacon) = changed(&s, &ctx, b, |a| a.beacon.clone())?;
    ops::save_beacon(&s, &link, beacon).await?;
    Ok(link_beacon(&link, "saved"))
}

async fn start_beacon(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let link = require(&state, &ctx)?;
    ops::run_beacon(&state, &link, true).await?;
    Ok(link_beacon(&link, "started"))
}

/// As the original: stopping always answers, with a radio or without.
async fn stop_beacon(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let Some(link) = settings_link(&state, &ctx) else {
        return Ok(Json(json!({"status": "stopped"})));
    };
    ops::run_beacon(&state, &link, false).await?;
    Ok(link_beacon(&link, "stopped"))
}

async fn test_beacon(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let link = require(&state, &ctx)?;
    if link
        .automation()
        .lock()
        .beacon
        .message_template
        .trim()
        .is_empty()
    {
        return Err(AppError::BadRequest(
            "No beacon message template configured".into(),
        ));
    }
    let text = beacon::send(&link).await?;
    Ok(Json(json!({"status": "sent", "message": text})))
}

fn filter_json(f: &Filter, filtered: u64) -> Result<Value> {
    let mut v = serde_json::to_value(f).map_err(anyhow::Error::from)?;
    v["filtered"] = json!(filtered);
    Ok(v)
}

async fn filter(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let (f, n) = current(&state, &ctx, |a| (a.filter.clone(), a.filtered));
    Ok(Json(filter_json(&f, n)?))
}

async fn save_filter(s: State<AppState>, ctx: Ctx, ApiJson(b): Body) -> Result<Json<Value>> {
    let (link, f) = changed(&s, &ctx, b, |a| a.filter.clone())?;
    ops::save_filter(&s, &link, f).await?;
    let (f, n) = {
        let a = link.automation().lock();
        (a.filter.clone(), a.filtered)
    };
    Ok(Json(json!({
        "status": "success",
        "message": "Message filter updated",
        "filter": filter_json(&f, n)?,
    })))
}
