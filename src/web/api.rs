//! The JSON API for scripts, compatible with the original dashboard's paths, methods and
//! field names (SPEC.md "The JSON API"). Same session cookie as the browser; errors are
//! `{"error": "..."}` with a fitting status.

use std::time::SystemTime;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::connect::{self, Target};
use super::{AppState, Ctx};
use crate::error::{ApiError, ApiResult, AppError};
use crate::ids::{ChannelIndex, Dest, NodeNum};
use crate::radio::packet::PacketEntry;
use crate::radio::LinkHandle;
use crate::read::nodes::{self, NodeFilter};
use crate::views::iso;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/connect", post(connect))
        .route("/api/disconnect", post(disconnect))
        .route("/api/status", get(status))
        .route("/api/nodes", get(nodes))
        .route("/api/node/{id}", get(node))
        .route("/api/packets", get(packets))
        .route("/api/send", post(send))
        .route("/api/messages", get(messages))
}

/// A JSON body whose rejection is a JSON error.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError(AppError::Unsupported(
                "expected Content-Type: application/json".into(),
            ))),
            Err(e) => Err(ApiError(AppError::BadRequest(e.body_text()))),
        }
    }
}

fn my_node(link: &LinkHandle) -> Value {
    let st = link.state();
    match nodes::my_row(&st) {
        Some(row) => serde_json::to_value(row).unwrap_or(Value::Null),
        None => json!({ "id": st.my_node_num.to_string(), "num": st.my_node_num }),
    }
}

fn node_count(link: &LinkHandle) -> usize {
    let st = link.state();
    st.nodes
        .iter()
        .filter(|n| n.num() != st.my_node_num)
        .count()
}

#[derive(Deserialize)]
struct ConnectBody {
    host: String,
    #[serde(default)]
    port: Option<Value>,
    #[serde(default)]
    takeover: bool,
}

async fn connect(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<ApiJson<ConnectBody>, ApiError>,
) -> Response {
    let fail = |e: AppError| {
        (
            e.status(),
            Json(json!({"status": "error", "message": e.public_message()})),
        )
            .into_response()
    };
    let b = match body {
        Ok(ApiJson(b)) => b,
        Err(ApiError(e)) => return fail(e),
    };
    let port = match b.port {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().or(Some(-1)),
        Some(Value::String(s)) => Some(s.trim().parse::<i64>().unwrap_or(-1)),
        Some(_) => Some(-1),
    };
    let target = match Target::parse(&b.host, port) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    match connect::connect(&state, &ctx, &target, b.takeover).await {
        Ok(link) => Json(json!({"status": "connected", "myNode": my_node(&link), "nodeCount": node_count(&link)})).into_response(),
        Err(e) => fail(e),
    }
}

async fn disconnect(State(state): State<AppState>, ctx: Ctx) -> Json<Value> {
    connect::disconnect(&state, &ctx).await;
    Json(json!({"status": "disconnected"}))
}

async fn status(ctx: Ctx) -> Json<Value> {
    match ctx.link() {
        Some(link) => {
            let (link_state, since, last) = {
                let st = link.state();
                (st.status.clone(), st.connected_since, st.last_packet)
            };
            let (up, detail) = match link_state {
                crate::radio::LinkStatus::Connected => (true, None),
                crate::radio::LinkStatus::Reconnecting { error, .. } => {
                    (false, Some(format!("reconnecting: {error}")))
                }
                crate::radio::LinkStatus::Closed { reason } => (false, Some(reason)),
            };
            Json(json!({
                "connected": up,
                "myNode": my_node(&link),
                "nodeCount": node_count(&link),
                "radio": link.addr().to_string(),
                "connectedSince": iso(since),
                "lastPacket": last.map(iso),
                "linkState": detail,
                "notice": ctx.session.as_ref().and_then(|s| s.notice()),
            }))
        }
        None => {
            let notice = ctx.session.as_ref().and_then(|s| s.notice());
            let mut v = json!({"connected": false, "myNode": null, "nodeCount": 0});
            if ctx.expired {
                v["sessionExpired"] = json!(true);
                v["message"] = json!("session expired, reconnect");
            } else if let Some(n) = notice {
                v["message"] = json!(n);
            }
            Json(v)
        }
    }
}

#[derive(Deserialize)]
struct NodesQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    q: String,
}

async fn nodes(ctx: Ctx, Query(q): Query<NodesQuery>) -> ApiResult<Json<Vec<nodes::NodeRow>>> {
    let filter: NodeFilter = q.filter.parse().map_err(AppError::BadRequest)?;
    let link = ctx.require_link()?;
    let rows = nodes::rows(&link.state(), filter, &q.q);
    Ok(Json(rows))
}

async fn node(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let num: NodeNum = id.parse()?;
    let link = ctx.require_link()?;
    let (latest, history) = super::traceroute::node_traces(&state, &link, num).await?;
    let st = link.state();
    let me = nodes::my_row(&st).and_then(|r| r.lat.zip(r.lon));
    let row = st
        .nodes
        .get(num)
        .map(|n| nodes::row(n, me))
        .ok_or_else(|| AppError::NotFound(format!("unknown node {id}")))?;
    let mut v = serde_json::to_value(row).map_err(anyhow::Error::from)?;
    v["traceroute"] = latest
        .as_ref()
        .map(super::traceroute::trace_json)
        .unwrap_or(Value::Null);
    v["traceHistory"] = Value::Array(history.iter().map(super::traceroute::trace_json).collect());
    Ok(Json(v))
}

#[derive(Deserialize)]
struct SinceQuery {
    since: Option<String>,
}

fn parse_since(s: &str) -> Result<SystemTime, AppError> {
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

/// A packet as the original's API shows it.
pub fn packet_json(p: &PacketEntry) -> Value {
    let mut v = json!({
        "time": iso(p.time()),
        "id": p.id,
        "from": p.from.to_string(),
        "to": crate::ids::Dest::from(p.to).to_string(),
        "channel": p.channel,
        "portnum": p.port_name(),
        "snr": p.snr,
        "rssi": p.rssi(),
        "hopStart": p.hop_start(),
        "hopLimit": p.hop_limit(),
        "viaMqtt": p.via_mqtt,
        "summary": p.summary(),
    });
    if let Some(t) = p.text() {
        v["text"] = json!(t);
    }
    if p.outgoing {
        v["outgoing"] = json!(true);
    }
    v
}

async fn packets(ctx: Ctx, Query(q): Query<SinceQuery>) -> ApiResult<Json<Vec<Value>>> {
    let since = q.since.as_deref().map(parse_since).transpose()?;
    let link = ctx.require_link()?;
    let st = link.state();
    let out: Vec<Value> = match since {
        Some(t) => st
            .packets
            .iter()
            .filter(|p| p.time() > t)
            .map(packet_json)
            .collect(),
        None => {
            let skip = st.packets.len().saturating_sub(100);
            st.packets.iter().skip(skip).map(packet_json).collect()
        }
    };
    Ok(Json(out))
}

#[derive(Deserialize)]
struct SendBody {
    text: String,
    #[serde(default)]
    dest: Option<Value>,
    #[serde(default)]
    channel: Option<u32>,
}

async fn send(ctx: Ctx, ApiJson(b): ApiJson<SendBody>) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let to = match b.dest {
        None | Some(Value::Null) => Dest::Broadcast,
        Some(Value::String(s)) => s.parse::<Dest>()?,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|n| Dest::from(NodeNum(n)))
            .ok_or_else(|| AppError::BadRequest("dest must be a node number".into()))?,
        Some(_) => {
            return Err(AppError::BadRequest(
                "dest must be !xxxxxxxx, a node number or ^all".into(),
            )
            .into())
        }
    };
    let channel = ChannelIndex::from_radio(b.channel.unwrap_or(0));
    let q = super::messages::send(&link, &b.text, to, channel).await?;
    Ok(Json(json!({
        "status": "sent",
        "id": q.packet_id,
        "queued": q.ahead,
        "sendsIn": q.sends_in.as_secs_f64(),
    })))
}

/// A message as the original's API shows it.
fn message_json(m: &crate::store::Message) -> Value {
    let mut v = json!({
        "id": m.packet_id,
        "time": iso(m.at),
        "from": m.from.to_string(),
        "to": crate::ids::Dest::from(m.to).to_string(),
        "channel": m.channel,
        "text": m.text,
        "outgoing": m.outgoing,
        "conversation": m.convo.to_string(),
        "state": m.state.name(),
    });
    if let Some(e) = m.state.error() {
        v["error"] = json!(e);
    }
    v
}

async fn messages(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<SinceQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    let since = q.since.as_deref().map(parse_since).transpose()?;
    let link = ctx.require_link()?;
    let radio = link.state().my_node_num;
    let list = state.store.messages_since(radio, since, 1000).await?;
    Ok(Json(list.iter().map(message_json).collect()))
}
