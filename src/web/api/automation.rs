//! `/api/autoresponder`, `/api/beacon` (with start, stop and test) and
//! `/api/message-filter`, in the original's file formats.

use axum::extract::State;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::ApiJson;
use crate::error::Result;
use crate::radio::automation::{Beacon, Filter, Responder};
use crate::radio::{beacon, LinkHandle};
use crate::time::iso;
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

fn saved() -> Json<Value> {
    Json(json!({"status": "saved"}))
}

async fn responder(ctx: Ctx) -> Result<Json<Responder>> {
    let link = ctx.require_link()?;
    let r = link.automation().lock().responder.clone();
    Ok(Json(r))
}

async fn save_responder(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(r): ApiJson<Responder>,
) -> Result<Json<Value>> {
    ops::save_responder(&state, &ctx.require_link()?, r).await?;
    Ok(saved())
}

/// The beacon's settings and schedule, with `status` when an action changed it.
fn beacon_json(link: &LinkHandle, status: Option<&str>) -> Json<Value> {
    let a = link.automation().lock();
    let mut v = json!({
        "enabled": a.beacon.enabled,
        "interval_minutes": a.beacon.interval_minutes,
        "message_template": a.beacon.message_template,
        "channel": a.beacon.channel,
        "running": a.beacon.enabled,
        "last_sent": a.beacon_last.map(iso),
        "next_due": if a.beacon.enabled { a.beacon_next.map(iso) } else { None },
    });
    if let Some(s) = status {
        v["status"] = json!(s);
    }
    Json(v)
}

async fn beacon_get(ctx: Ctx) -> Result<Json<Value>> {
    Ok(beacon_json(&ctx.require_link()?, None))
}

async fn save_beacon(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(b): ApiJson<Beacon>,
) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    ops::save_beacon(&state, &link, b).await?;
    Ok(beacon_json(&link, Some("saved")))
}

async fn start_beacon(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    ops::run_beacon(&state, &link, true).await?;
    Ok(beacon_json(&link, Some("started")))
}

async fn stop_beacon(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    ops::run_beacon(&state, &link, false).await?;
    Ok(beacon_json(&link, Some("stopped")))
}

async fn test_beacon(ctx: Ctx) -> Result<Json<Value>> {
    let text = beacon::send(&ctx.require_link()?).await?;
    Ok(Json(json!({"status": "sent", "message": text})))
}

async fn filter(ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let a = link.automation().lock();
    let mut v = serde_json::to_value(&a.filter).map_err(anyhow::Error::from)?;
    v["filtered"] = json!(a.filtered);
    Ok(Json(v))
}

async fn save_filter(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(f): ApiJson<Filter>,
) -> Result<Json<Value>> {
    ops::save_filter(&state, &ctx.require_link()?, f).await?;
    Ok(saved())
}
