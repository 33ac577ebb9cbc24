//! `/api/send`, `/api/messages` and `/api/packets`: texts out, stored messages and the
//! packet log, the latter two polled with `?since=`.

use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{node_num, ApiJson, SinceQuery};
use crate::error::{AppError, Result};
use crate::ids::{ChannelIndex, Dest};
use crate::radio::packet::PacketEntry;
use crate::store::{Delivery, Message};
use crate::time::iso_us;
use crate::web::ops::text;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/send", post(send))
        .route("/api/messages", get(messages))
        .route("/api/packets", get(packets))
        .route_layer(from_fn(access::operate))
}

/// A packet as the original's API shows it.
fn packet_json(p: &PacketEntry) -> Value {
    let mut v = json!({
        "time": iso_us(p.time()),
        "id": p.id,
        "from": p.from.to_string(),
        "to": Dest::from(p.to).to_string(),
        "channel": p.channel,
        "portnum": p.port_name(),
        "snr": p.heard.snr(),
        "rssi": p.rssi(),
        "hopStart": p.hop_start(),
        "hopLimit": p.hop_limit(),
        "viaMqtt": p.heard.via_mqtt(),
        "source": p.heard.source(),
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

/// The packets strictly after `since`, or the newest 100. With the radio down, as the
/// original, what is stored: a kept radio's texts.
async fn packets(s: State<AppState>, ctx: Ctx, Query(q): Query<SinceQuery>) -> Listed {
    let since = q.time()?;
    let Some(link) = ctx.link() else {
        return stored(&s, &ctx, since, 100).await;
    };
    let list: Vec<PacketEntry> = {
        let st = link.state();
        match since {
            Some(t) => st
                .packets
                .iter()
                .filter(|p| p.time() > t)
                .map(|p| p.entry())
                .collect(),
            None => {
                let skip = st.packets.len().saturating_sub(100);
                st.packets.iter().skip(skip).map(|p| p.entry()).collect()
            }
        }
    };
    Ok(Json(list.iter().map(packet_json).collect()))
}

#[derive(Deserialize)]
struct SendBody {
    text: String,
    #[serde(default)]
    dest: Option<Value>,
    #[serde(default)]
    channel: Option<u32>,
}

async fn send(ctx: Ctx, ApiJson(b): ApiJson<SendBody>) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    // As the original: no dest, "", 0 or "^all" is a broadcast.
    let to = match b.dest.unwrap_or(Value::Null) {
        Value::Null => Dest::Broadcast,
        Value::String(s) if s.trim().is_empty() => Dest::Broadcast,
        Value::Number(n) if n.as_u64() == Some(0) => Dest::Broadcast,
        v => node_num(&v, "dest must be a node number")?
            .map(Dest::from)
            .ok_or_else(|| {
                AppError::BadRequest("dest must be !xxxxxxxx, a node number or ^all".into())
            })?,
    };
    let channel = ChannelIndex::from_radio(b.channel.unwrap_or(0));
    let q = text::send(&link, &b.text, to, channel).await?;
    Ok(Json(json!({
        "status": "sent",
        "id": q.packet_id,
        "queued": q.ahead,
        "sendsIn": q.sends_in.as_secs_f64(),
    })))
}

/// A message as the original's API shows it (its stored shape: all twelve keys), with ours.
fn message_json(m: &Message) -> Value {
    let heard = m.heard.unwrap_or_default();
    let mut v = json!({
        "id": m.packet_id,
        "time": iso_us(m.at),
        "from": m.from.to_string(),
        "to": Dest::from(m.to).to_string(),
        "channel": m.channel,
        "portnum": "TEXT_MESSAGE_APP",
        "text": m.text,
        "snr": heard.snr(),
        "rssi": heard.rssi(),
        "hopStart": m.heard.map(|h| h.hops().0),
        "hopLimit": m.heard.map(|h| h.hops().1),
        "source": heard.source(),
        "outgoing": m.outgoing,
        "conversation": m.convo.to_string(),
        "state": m.state.name(),
    });
    if let Some(e) = m.state.error() {
        v["error"] = json!(e);
    }
    if m.outgoing {
        v["delivered"] = json!(m.state == Delivery::Delivered);
        if let Some(why) = m.state.explain() {
            v["stateText"] = json!(why);
        }
    }
    v
}

async fn messages(s: State<AppState>, ctx: Ctx, Query(q): Query<SinceQuery>) -> Listed {
    stored(&s, &ctx, q.time()?, 500).await
}

/// A list answer of the polling routes.
type Listed = Result<Json<Vec<Value>>>;

/// The newest `limit` stored texts after `since` of the radio the request addresses. As the
/// original, they answer with the radio down too (a kept radio's node number is known once
/// it was connected); nothing before any radio.
async fn stored(state: &AppState, ctx: &Ctx, since: Option<SystemTime>, limit: u32) -> Listed {
    let radio = match ctx.link() {
        Some(link) => Some(link.state().radio_key),
        None => ctx
            .named
            .as_ref()
            .and_then(|n| state.kept.get(&n.name))
            .and_then(|k| k.rec.radio),
    };
    let Some(radio) = radio else {
        return Ok(Json(Vec::new()));
    };
    let list = state.store.messages_since(radio, since, limit).await?;
    Ok(Json(list.iter().map(message_json).collect()))
}
