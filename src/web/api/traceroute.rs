//! `/api/traceroute` (send, results, cancel) and `/api/sweep` (start, status, stop).

use std::time::Duration;

use axum::extract::State;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{node_num, traces_by_node, ApiJson};
use crate::error::{AppError, Result};
use crate::ids::NodeNum;
use crate::read::traces::latest_first;
use crate::web::ops::{sweep, trace};
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/traceroute", post(send))
        .route("/api/traceroute/results", get(results))
        .route("/api/traceroute/cancel", post(cancel))
        .route("/api/sweep", post(start_sweep))
        .route("/api/sweep/status", get(sweep_status))
        .route("/api/sweep/stop", post(stop_sweep))
        .route_layer(from_fn(access::operate))
}

/// A traceroute's target: `!xxxxxxxx` or a node number.
fn target(v: &Value) -> Result<NodeNum> {
    node_num(v, "bad node number")?
        .ok_or_else(|| AppError::BadRequest("dest must be !xxxxxxxx or a node number".into()))
}

fn ids(nodes: &[NodeNum]) -> Vec<String> {
    nodes.iter().map(NodeNum::to_string).collect()
}

#[derive(Deserialize)]
struct TraceBody {
    #[serde(default)]
    dest: Value,
    #[serde(rename = "hopLimit", default)]
    hop_limit: Option<u32>,
}

async fn send(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(b): ApiJson<TraceBody>,
) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    if b.dest.is_null() {
        return Err(AppError::BadRequest("No destination specified".into()));
    }
    let dest = target(&b.dest)?;
    let sends_in = trace::queue(&state, &ctx, &link, dest, b.hop_limit).await?;
    let id = dest.to_string();
    if sends_in < Duration::from_millis(500) {
        Ok(Json(json!({"status": "sent", "dest": id})))
    } else {
        let secs = sends_in.as_secs_f64().ceil();
        Ok(Json(
            json!({"status": "queued", "dest": id, "sendsIn": secs}),
        ))
    }
}

/// Always an answer, as the original: `{}` before a radio is connected.
async fn results(ctx: Ctx) -> Result<Json<Value>> {
    let Some(link) = ctx.link() else {
        return Ok(Json(json!({})));
    };
    let mut list = latest_first(&link.state());
    list.retain(|t| ctx.sees_trace(t.dest));
    Ok(Json(traces_by_node(&list)))
}

#[derive(Deserialize)]
struct CancelBody {
    #[serde(rename = "nodeId", default)]
    node_id: Value,
}

async fn cancel(ctx: Ctx, ApiJson(b): ApiJson<CancelBody>) -> Result<Json<Value>> {
    if b.node_id.is_null() {
        return Err(AppError::BadRequest("No nodeId specified".into()));
    }
    let link = ctx.require_link()?;
    let dest = target(&b.node_id)?;
    trace::cancel(&ctx, &link, dest).await?;
    Ok(Json(
        json!({"status": "cancelled", "nodeId": dest.to_string()}),
    ))
}

async fn start_sweep(State(state): State<AppState>, ctx: Ctx) -> Result<Json<Value>> {
    let nodes = sweep::start(&state, &ctx).await?;
    Ok(Json(json!({
        "status": "started",
        "total": nodes.len(),
        "candidates": ids(&nodes),
        "estimatedSeconds": sweep::estimate(&state, nodes.len()).as_secs(),
    })))
}

/// Always an answer, as the original: an idle sweep before any ran.
async fn sweep_status(ctx: Ctx) -> Result<Json<Value>> {
    let Some(p) = ctx
        .session
        .as_ref()
        .and_then(|s| s.sweep())
        .map(|s| s.progress())
    else {
        return Ok(Json(
            json!({"running": false, "current": null, "total": 0, "completed": 0, "results": {}}),
        ));
    };
    let remaining = p.candidates.get(p.completed..).unwrap_or_default();
    Ok(Json(json!({
        "running": p.running,
        "current": p.current.map(|n| n.to_string()),
        "total": p.total,
        "completed": p.completed,
        "results": traces_by_node(&p.results),
        "remaining": ids(remaining),
        "secondsLeft": p.time_left().as_secs(),
    })))
}

/// Always an answer, as the original: stopping no sweep is stopped too.
async fn stop_sweep(ctx: Ctx) -> Json<Value> {
    // Its only errors are "no session" and "no sweep running": nothing to stop either way.
    sweep::stop(&ctx).ok();
    Json(json!({"status": "stopped"}))
}
