//! `/api/autoresponder`, `/api/beacon` (with start, stop and test) and
//! `/api/message-filter`, in the original's file formats (`autoresponder.json`,
//! `beacon.json`, `message_filter.json`). A POST changes only the fields it gives (the
//! original replaces the whole file, so its page's toggles wiped the rules and lists).
//! Settings are per radio: before a radio is connected a GET shows a new radio's defaults.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
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

/// The radio these settings routes act on: the one the request addresses. The original's
/// settings are one global file its newer page reads and writes without naming a session,
/// so a request that addresses none acts on the kept radio its page was opened for (the
/// page's `/?session=NAME`, as its `Referer` says), else on the kept radio when exactly one is
/// connected.
struct Radio(Option<LinkHandle>);

impl FromRequestParts<AppState> for Radio {
    type Rejection = <Ctx as FromRequestParts<AppState>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        let ctx = Ctx::from_request_parts(parts, s).await?;
        Ok(Radio(resolve(s, &ctx, &parts.headers)))
    }
}

fn resolve(state: &AppState, ctx: &Ctx, headers: &HeaderMap) -> Option<LinkHandle> {
    if ctx.link().is_some() || ctx.named.is_some() {
        return ctx.link();
    }
    if let Some(name) = page_session(headers) {
        return state.kept.link(&name);
    }
    let mut up = state.kept.list().into_iter().filter_map(|k| k.link);
    match (up.next(), up.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

impl Radio {
    fn require(self) -> Result<LinkHandle> {
        self.0.ok_or(AppError::NotConnected)
    }

    /// The radio's automation, or a new radio's defaults when there is none.
    fn current<T>(&self, pick: impl FnOnce(&Automation) -> T) -> T {
        match &self.0 {
            Some(link) => pick(&link.automation().lock()),
            None => pick(&Automation::default()),
        }
    }

    /// The radio's settings `pick` takes, with the fields `body` gives over them.
    fn changed<T: Serialize + DeserializeOwned>(
        self,
        body: Map<String, Value>,
        pick: impl FnOnce(&Automation) -> T,
    ) -> Result<(LinkHandle, T)> {
        let link = self.require()?;
        let now = pick(&link.automation().lock());
        Ok((link, overlay(&now, body)?))
    }
}

/// The `session` of the page a request came from (`/?session=NAME`).
fn page_session(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let query = referer.split_once('?')?.1.split('#').next()?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(k, v)| k == "session" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string())
}

async fn responder(radio: Radio) -> Result<Json<Value>> {
    let r = radio.current(|a| a.responder.clone());
    let mut v = serde_json::to_value(r).map_err(anyhow::Error::from)?;
    v["available_variables"] = variables(&RESPONDER_VARIABLES);
    Ok(Json(v))
}

/// A settings file's POST body: the fields it changes.
type Body = ApiJson<Map<String, Value>>;

async fn save_responder(s: State<AppState>, radio: Radio, ApiJson(b): Body) -> Result<Json<Value>> {
    let (link, r) = radio.changed(b, |a| a.responder.clone())?;
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

async fn beacon_get(radio: Radio) -> Json<Value> {
    radio.current(|a| beacon_json(a, None))
}

async fn save_beacon(s: State<AppState>, radio: Radio, ApiJson(b): Body) -> Result<Json<Value>> {
    let (link, beacon) = radio.changed(b, |a| a.beacon.clone())?;
    ops::save_beacon(&s, &link, beacon).await?;
    Ok(link_beacon(&link, "saved"))
}

async fn start_beacon(State(state): State<AppState>, radio: Radio) -> Result<Json<Value>> {
    let link = radio.require()?;
    ops::run_beacon(&state, &link, true).await?;
    Ok(link_beacon(&link, "started"))
}

/// As the original: stopping always answers, with a radio or without.
async fn stop_beacon(State(state): State<AppState>, radio: Radio) -> Result<Json<Value>> {
    let Some(link) = radio.0 else {
        return Ok(Json(json!({"status": "stopped"})));
    };
    ops::run_beacon(&state, &link, false).await?;
    Ok(link_beacon(&link, "stopped"))
}

async fn test_beacon(radio: Radio) -> Result<Json<Value>> {
    let link = radio.require()?;
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

async fn filter(radio: Radio) -> Result<Json<Value>> {
    let (f, n) = radio.current(|a| (a.filter.clone(), a.filtered));
    Ok(Json(filter_json(&f, n)?))
}

async fn save_filter(s: State<AppState>, radio: Radio, ApiJson(b): Body) -> Result<Json<Value>> {
    let (link, f) = radio.changed(b, |a| a.filter.clone())?;
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
