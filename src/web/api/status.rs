//! `/api/status`, `/api/nodes` and `/api/node/{id}`: the link, my node and the node DB.

use std::time::{Duration, SystemTime};

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::trace_json;
use crate::error::{AppError, Result};
use crate::ids::NodeNum;
use crate::radio::{LinkHandle, LinkStatus};
use crate::read::nodes::{self, NodeFilter, NodeRow};
use crate::read::summary::Summary;
use crate::time::iso_us;
use crate::web::ops::trace;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/nodes", get(list))
        .route("/api/node/{id}", get(node))
        .route_layer(from_fn(access::operate))
}

/// A node as the original's API shows it: placeholder names for a node known only by its
/// number, and `rssi` (which a node DB entry never has).
pub fn node_json(row: NodeRow) -> Value {
    let mut v = serde_json::to_value(row.with_placeholder_names()).unwrap_or(Value::Null);
    v["rssi"] = Value::Null;
    v
}

/// My node (its row, or just its id and number when the DB has no entry for it) and the
/// count of the nodes, mine included (as the original counts them).
fn my_node_json(s: &Summary, node_count: usize) -> (Value, usize) {
    let me = match &s.my_node {
        Some(row) => {
            let mut v = node_json(row.clone());
            if let Value::Object(m) = &mut v {
                m.remove("distance_km");
            }
            v
        }
        None => json!({ "id": s.my_id, "num": s.my_num }),
    };
    (me, node_count)
}

/// `myNode` and `nodeCount` of a link, as the status and connect replies show them.
pub fn link_json(link: &LinkHandle) -> (Value, usize) {
    let st = link.state();
    my_node_json(&Summary::of(&st, link.addr().to_string()), st.nodes.len())
}

async fn status(ctx: Ctx) -> Json<Value> {
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let Some(link) = ctx.link() else {
        let mut v = json!({"connected": false, "myNode": null, "nodeCount": 0});
        if ctx.expired {
            v["sessionExpired"] = json!(true);
            v["message"] = json!("session expired, reconnect");
        } else if let Some(n) = notice {
            v["message"] = json!(n);
        }
        return Json(v);
    };
    let (s, count) = {
        let st = link.state();
        (Summary::of(&st, link.addr().to_string()), st.nodes.len())
    };
    let (up, detail) = match &s.status {
        LinkStatus::Connected => (true, None),
        LinkStatus::Reconnecting { error, .. } => (false, Some(format!("reconnecting: {error}"))),
        LinkStatus::Closed { reason } => (false, Some(reason.clone())),
    };
    let ago = s.last_packet.map(|t| {
        SystemTime::now()
            .duration_since(t)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    });
    let (my_node, node_count) = my_node_json(&s, count);
    Json(json!({
        "connected": up,
        "myNode": my_node,
        "nodeCount": node_count,
        "last_packet_ago": ago,
        "radio": s.address,
        "connectedSince": iso_us(s.connected_since),
        "lastPacket": s.last_packet.map(iso_us),
        "linkState": detail,
        "notice": notice,
    }))
}

#[derive(Deserialize)]
struct NodesQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    q: String,
}

/// Every node, mine included; none before a radio is connected. An unknown filter is all
/// of them, as the original takes it. Without a search the list is encoded once per change
/// of the node DB (pages poll it) and revalidates by its `ETag`.
async fn list(ctx: Ctx, headers: HeaderMap, Query(q): Query<NodesQuery>) -> Response {
    let filter: NodeFilter = q.filter.parse().unwrap_or_default();
    let Some(link) = ctx.link() else {
        return Json(Vec::<Value>::new()).into_response();
    };
    let json = |rows: Vec<NodeRow>| {
        rows.into_iter()
            .filter(|r| nodes::matches(r, &q.q))
            .map(node_json)
            .collect::<Vec<_>>()
    };
    if !q.q.is_empty() {
        return Json(json(nodes::all_rows(&link.state(), filter))).into_response();
    }
    let generation = {
        let st = link.state();
        (st.nodes.generation(), st.my_node_num.0)
    };
    let key = (link.addr(), filter.body_name());
    let made = ctx.app.encoded.get(key, generation, || {
        let rows = nodes::all_rows(&link.state(), filter);
        serde_json::to_vec(&json(rows)).ok()
    });
    match made.await {
        Some(body) => body.respond(&headers, "application/json"),
        None => {
            AppError::Internal(anyhow::anyhow!("encoding the node list failed")).into_response()
        }
    }
}

async fn node(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let num: NodeNum = id.parse()?;
    let link = ctx.require_link()?;
    let (latest, history) = trace::of_node(&state, &link, num).await?;
    let row = {
        let st = link.state();
        let me = nodes::my_row(&st).and_then(|r| r.lat.zip(r.lon));
        st.nodes.get(num).map(|n| nodes::row(n, me))
    };
    let row = row.ok_or_else(|| AppError::NotFound(format!("Node not found: {id}")))?;
    let mut v = node_json(row);
    v["traceroute"] = latest.as_ref().map(trace_json).unwrap_or(Value::Null);
    v["traceHistory"] = history.iter().map(trace_json).collect();
    Ok(Json(v))
}
