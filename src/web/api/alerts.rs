//! Our extension of the API: alert rules per radio and the alerts they fired.
//! `GET`/`POST /api/alerts/rules`, `DELETE /api/alerts/rules/{id}`, `POST
//! /api/alerts/rules/{id}/mute` (`{"minutes"?}`: none mutes until unmuted) and `/unmute`;
//! `GET /api/alerts` (newest first), `POST /api/alerts/{id}/ack` and `/api/alerts/ack` (all).
//! Before a radio is connected the GETs answer `[]`; changes say 400 `Not connected`.

use std::time::SystemTime;

use axum::extract::{Path, Query};
use axum::middleware::from_fn;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::ApiJson;
use crate::alerts::{AlertRule, Draft, Fired};
use crate::error::{AppError, Result};
use crate::time::iso_us;
use crate::web::ops::alerts::{mute_until, radio};
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/alerts/rules", get(rules).post(add_rule))
        .route("/api/alerts/rules/{id}", delete(delete_rule))
        .route("/api/alerts/rules/{id}/mute", post(mute))
        .route("/api/alerts/rules/{id}/unmute", post(unmute))
        .route("/api/alerts", get(alerts))
        .route("/api/alerts/ack", post(ack_all))
        .route("/api/alerts/{id}/ack", post(ack))
        .route_layer(from_fn(access::operate))
}

fn rule_json(ctx: &Ctx, r: &AlertRule) -> Value {
    let now = SystemTime::now();
    let delivery = ctx.app.alerts.delivery(r.id).map(|d| match d {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    });
    let muted = r.muted(now);
    let forever = r.muted_until == Some(crate::store::alerts::muted_for_good());
    json!({
        "id": r.id,
        "kind": r.kind.name(),
        "node": r.node.map(|n| n.to_string()),
        "minutes": r.minutes,
        "percent": r.percent,
        "text": r.text,
        "webhook": r.webhook,
        "muted": muted,
        "mutedUntil": r.muted_until.filter(|_| muted && !forever).map(iso_us),
        "lastDelivery": delivery,
    })
}

pub fn alert_json(a: &Fired) -> Value {
    json!({
        "id": a.id,
        "time": iso_us(a.time),
        "kind": a.kind.name(),
        "node": a.node.to_string(),
        "message": a.message,
        "acknowledged": a.acknowledged,
        "rule": a.rule,
    })
}

async fn rules(ctx: Ctx) -> Result<Json<Value>> {
    let Some(link) = ctx.link() else {
        return Ok(Json(json!([])));
    };
    let list = ctx.app.alerts.rules(radio(&link)).await?;
    Ok(Json(Value::Array(
        list.iter().map(|r| rule_json(&ctx, r)).collect(),
    )))
}

/// A field as a draft has it: a string as given, a number as its digits; anything else
/// is a clear error.
fn field(body: &Map<String, Value>, name: &str) -> Result<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        Some(_) => Err(AppError::BadRequest(format!(
            "{name} must be {}",
            match name {
                "node" => "!xxxxxxxx (hex) or a node number",
                "minutes" | "percent" => "a whole number",
                _ => "a string",
            }
        ))),
    }
}

async fn add_rule(ctx: Ctx, ApiJson(body): ApiJson<Map<String, Value>>) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let kind = match body.get("kind") {
        Some(Value::String(k)) => k.clone(),
        _ => return Err(AppError::BadRequest("kind is required".into())),
    };
    let draft = Draft {
        kind,
        node: field(&body, "node")?,
        minutes: field(&body, "minutes")?,
        percent: field(&body, "percent")?,
        text: field(&body, "text")?,
        webhook: field(&body, "webhook")?,
    };
    let rule = ctx.app.alerts.add_rule(radio(&link), &draft).await?;
    Ok(Json(rule_json(&ctx, &rule)))
}

fn parse_id(id: &str, what: &str) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::NotFound(format!("no {what} {id:?}")))
}

async fn delete_rule(ctx: Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let id = parse_id(&id, "alert rule")?;
    ctx.app.alerts.delete_rule(radio(&link), id).await?;
    Ok(Json(json!({"status": "deleted", "id": id})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MuteBody {
    minutes: Option<u32>,
    #[serde(rename = "session_name")]
    _session_name: Option<String>,
}

async fn mute(
    ctx: Ctx,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MuteBody>,
) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let id = parse_id(&id, "alert rule")?;
    let until = mute_until(body.minutes, SystemTime::now())?;
    ctx.app.alerts.mute(radio(&link), id, Some(until)).await?;
    Ok(Json(json!({"status": "muted", "id": id})))
}

async fn unmute(ctx: Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let id = parse_id(&id, "alert rule")?;
    ctx.app.alerts.mute(radio(&link), id, None).await?;
    Ok(Json(json!({"status": "unmuted", "id": id})))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<u32>,
}

async fn alerts(ctx: Ctx, Query(q): Query<ListQuery>) -> Result<Json<Value>> {
    let Some(link) = ctx.link() else {
        return Ok(Json(json!([])));
    };
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    let list = ctx.app.alerts.fired(radio(&link), limit).await?;
    Ok(Json(Value::Array(list.iter().map(alert_json).collect())))
}

async fn ack(ctx: Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let id = parse_id(&id, "alert")?;
    ctx.app.alerts.acknowledge(radio(&link), Some(id)).await?;
    Ok(Json(json!({"status": "acknowledged", "id": id})))
}

async fn ack_all(ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    ctx.app.alerts.acknowledge(radio(&link), None).await?;
    Ok(Json(json!({"status": "acknowledged"})))
}
