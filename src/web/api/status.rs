//! `/api/status`, `/api/nodes` and `/api/node/{id}`: the link, my node and the node DB.

use axum::extract::{Path, Query, State};
use axum::middleware::from_fn;
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
use crate::time::iso;
use crate::web::ops::trace;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/nodes", get(list))
        .route("/api/node/{id}", get(node))
        .route_layer(from_fn(access::operate))
}

/// My node (its row, or just its id and number when the DB has no entry for it) and the
/// count of the other nodes.
fn my_node_json(s: &Summary) -> (Value, usize) {
    let me = match &s.my_node {
        Some(row) => serde_json::to_value(row).unwrap_or(Value::Null),
        None => json!({ "id": s.my_id, "num": s.my_num }),
    };
    (me, s.node_count)
}

/// `myNode` and `nodeCount` of a link, as the status and connect replies show them.
pub fn link_json(link: &LinkHandle) -> (Value, usize) {
    my_node_json(&Summary::of(&link.state(), link.addr().to_string()))
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
    let s = Summary::of(&link.state(), link.addr().to_string());
    let (up, detail) = match &s.status {
        LinkStatus::Connected => (true, None),
        LinkStatus::Reconnecting { error, .. } => (false, Some(format!("reconnecting: {error}"))),
        LinkStatus::Closed { reason } => (false, Some(reason.clone())),
    };
    let (my_node, node_count) = my_node_json(&s);
    Json(json!({
        "connected": up,
        "myNode": my_node,
        "nodeCount": node_count,
        "radio": s.address,
        "connectedSince": iso(s.connected_since),
        "lastPacket": s.last_packet.map(iso),
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

async fn list(ctx: Ctx, Query(q): Query<NodesQuery>) -> Result<Json<Vec<NodeRow>>> {
    let filter: NodeFilter = q.filter.parse().map_err(AppError::BadRequest)?;
    let link = ctx.require_link()?;
    let rows = nodes::rows(&link.state(), filter, &q.q);
    Ok(Json(rows))
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
    let row = row.ok_or_else(|| AppError::NotFound(format!("unknown node {id}")))?;
    let mut v = serde_json::to_value(row).map_err(anyhow::Error::from)?;
    v["traceroute"] = latest.as_ref().map(trace_json).unwrap_or(Value::Null);
    v["traceHistory"] = history.iter().map(trace_json).collect();
    Ok(Json(v))
}
