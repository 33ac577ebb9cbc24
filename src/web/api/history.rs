//! Node history for scripts: `/api/node/{id}/telemetry` (samples over time),
//! `/api/node/{id}/history` (first and last heard, names, roles, positions) and the CSV
//! exports `/api/export/{messages,nodes,telemetry}.csv`, streamed. Same session and
//! `session_name` addressing as the rest of the API; the radio is the link's node number.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::header;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::parse_since;
use crate::error::Result;
use crate::ids::NodeNum;
use crate::radio::observe::Metric;
use crate::read::history::{nodes_csv, role_names};
use crate::read::nodes::{all_rows, NodeFilter};
use crate::store::export::Export;
use crate::store::history_read::{Every, Point};
use crate::time::iso;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let node = Router::new()
        .route("/telemetry", get(telemetry))
        .route("/history", get(history));
    let export = Router::new()
        .route("/messages.csv", get(messages_csv))
        .route("/nodes.csv", get(nodes_export))
        .route("/telemetry.csv", get(telemetry_csv));
    Router::new()
        .nest("/api/node/{id}", node)
        .nest("/api/export", export)
        .route_layer(from_fn(access::operate))
}

/// The radio the request addresses, by the key of its stored data.
fn radio(ctx: &Ctx) -> Result<crate::ids::RadioKey> {
    Ok(ctx.require_link()?.state().radio_key)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Range {
    since: Option<String>,
    until: Option<String>,
}

/// A point as the API shows it: the means of a bucket, or a sample's values.
fn point_json(p: &Point) -> Value {
    // Values kept in whole units (battery, RSSI, hops) are whole numbers.
    let v = |m: Metric| {
        p.mean.get(m).map(|x| {
            if m.scale() == 1.0 {
                json!(x.round() as i64)
            } else {
                json!(x)
            }
        })
    };
    let mut out = json!({
        "time": iso(p.at),
        "batteryLevel": v(Metric::Battery),
        "voltage": v(Metric::Voltage),
        "channelUtil": v(Metric::ChannelUtil),
        "airUtilTx": v(Metric::AirUtilTx),
        "snr": v(Metric::Snr),
        "rssi": v(Metric::Rssi),
        "hops": v(Metric::Hops),
        "tier": p.tier.name(),
    });
    for (key, m) in [
        ("temperature", Metric::Temperature),
        ("humidity", Metric::Humidity),
        ("pressure", Metric::Pressure),
    ] {
        if let Some(x) = v(m) {
            out[key] = json!(x);
        }
    }
    if p.samples > 1 {
        out["samples"] = json!(p.samples);
    }
    out
}

/// Samples of a node from `since` (default: a day ago) to `until` (default: now), oldest first.
async fn telemetry(
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<Range>,
) -> Result<Json<Vec<Value>>> {
    let node: NodeNum = id.parse()?;
    let radio = radio(&ctx)?;
    let now = SystemTime::now();
    let since = q.since.as_deref().map(parse_since).transpose()?;
    let until = q
        .until
        .as_deref()
        .map(parse_since)
        .transpose()?
        .unwrap_or(now + Duration::from_secs(1));
    let since = since.unwrap_or(now - Duration::from_secs(86_400));
    let points = ctx
        .app
        .store
        .node_points(radio, node, since, until, Every::Sample)
        .await?;
    Ok(Json(points.iter().map(point_json).collect()))
}

async fn history(ctx: Ctx, Path(id): Path<String>) -> Result<Json<Value>> {
    let node: NodeNum = id.parse()?;
    let radio = radio(&ctx)?;
    let h = ctx.app.store.node_history(radio, node).await?;
    let names: Vec<Value> = h
        .names
        .iter()
        .map(|(t, long, short)| json!({"time": iso(*t), "longName": long, "shortName": short}))
        .collect();
    let roles: Vec<Value> = h
        .roles
        .iter()
        .map(|(t, role, hw)| {
            let (role, hw) = role_names(*role, *hw);
            json!({"time": iso(*t), "role": role, "hwModel": hw})
        })
        .collect();
    let positions: Vec<Value> = h
        .positions
        .iter()
        .map(|(t, lat, lon, alt)| json!({"time": iso(*t), "lat": lat, "lon": lon, "alt": alt}))
        .collect();
    Ok(Json(json!({
        "id": node.to_string(),
        "firstSeen": h.first_seen.map(iso),
        "lastSeen": h.last_seen.map(iso),
        "names": names,
        "roles": roles,
        "positions": positions,
    })))
}

/// A CSV download from chunks as they come.
fn csv(name: &str, chunks: tokio::sync::mpsc::Receiver<String>) -> Response {
    let body = tokio_stream::wrappers::ReceiverStream::new(chunks).map(Ok::<_, Infallible>);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

async fn messages_csv(ctx: Ctx) -> Result<Response> {
    let radio = radio(&ctx)?;
    Ok(csv(
        "messages.csv",
        ctx.app.store.export_csv(radio, Export::Messages),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeQuery {
    node: Option<String>,
}

async fn telemetry_csv(ctx: Ctx, Query(q): Query<NodeQuery>) -> Result<Response> {
    let node = q
        .node
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<NodeNum>)
        .transpose()?;
    let radio = radio(&ctx)?;
    Ok(csv(
        "telemetry.csv",
        ctx.app.store.export_csv(radio, Export::Telemetry(node)),
    ))
}

async fn nodes_export(ctx: Ctx) -> Result<Response> {
    let (radio, list) = {
        let link = ctx.require_link()?;
        let st = link.state();
        (st.radio_key, all_rows(&st, NodeFilter::All))
    };
    let first = ctx.app.store.first_seen(radio).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let _ = tx.try_send(nodes_csv(&list, &first));
    Ok(csv("nodes.csv", rx))
}
