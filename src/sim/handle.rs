//! What the simulated radio does with a client's packet: acks texts, answers traceroutes
//! after a delay (some nodes never do), applies admin messages, and enforces the firmware's
//! rate limits on client texts and traceroutes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;

use super::mesh::{answers_traceroute, Rng};
use super::Inner;
use crate::proto::{self, pb, BROADCAST};

use pb::from_radio::PayloadVariant as Out;

/// Queues one message for the client.
pub(super) fn send(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, v: Out) {
    let id = inner.from_id.fetch_add(1, Ordering::Relaxed);
    let _ = out.send(proto::encode(&pb::FromRadio {
        id,
        payload_variant: Some(v),
    }));
}

/// Sends a mesh packet to the client and records it.
pub(super) fn emit(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, p: pb::MeshPacket) {
    inner.record_sent(p.clone());
    send(inner, out, Out::Packet(p));
}

fn decoded(
    port: pb::PortNum,
    payload: Vec<u8>,
    request_id: u32,
) -> Option<pb::mesh_packet::PayloadVariant> {
    Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
        portnum: port as i32,
        payload,
        request_id,
        ..Default::default()
    }))
}

fn routing(inner: &Inner, from: u32, request_id: u32, error: pb::routing::Error) -> pb::MeshPacket {
    pb::MeshPacket {
        from,
        to: inner.my_node_num,
        id: rand_id(),
        rx_time: crate::radio::state::unix_secs(std::time::SystemTime::now()),
        hop_start: 3,
        hop_limit: 3,
        payload_variant: decoded(
            pb::PortNum::RoutingApp,
            pb::Routing {
                variant: Some(pb::routing::Variant::ErrorReason(error as i32)),
            }
            .encode_to_vec(),
            request_id,
        ),
        ..Default::default()
    }
}

fn rand_id() -> u32 {
    rand::random::<u32>() | 1
}

/// Sends `p` after `delay`, if the client is still there.
fn later(
    inner: &Arc<Inner>,
    out: &mpsc::UnboundedSender<Vec<u8>>,
    delay: Duration,
    p: pb::MeshPacket,
) {
    let (inner, out) = (inner.clone(), out.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if !out.is_closed() {
            emit(&inner, &out, p);
        }
    });
}

/// Handles a client's mesh packet; returns why it was rejected, if it was.
pub(super) fn packet(
    inner: &Arc<Inner>,
    p: &pb::MeshPacket,
    out: &mpsc::UnboundedSender<Vec<u8>>,
) -> Option<String> {
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    let me = inner.my_node_num;
    match pb::PortNum::try_from(d.portnum) {
        Ok(pb::PortNum::TextMessageApp) => {
            let interval = inner.cfg.text_interval;
            if let Some(reason) = inner.rate_limited(|s| &mut s.last_text, interval) {
                later(
                    inner,
                    out,
                    Duration::from_millis(20),
                    routing(inner, me, p.id, pb::routing::Error::RateLimitExceeded),
                );
                return Some(reason);
            }
            let error = inner
                .lock()
                .routing_error
                .unwrap_or(pb::routing::Error::None);
            let from = if p.to == BROADCAST { me } else { p.to };
            later(
                inner,
                out,
                Duration::from_millis(150),
                routing(inner, from, p.id, error),
            );
            None
        }
        Ok(pb::PortNum::TracerouteApp) => {
            if p.to == BROADCAST {
                later(
                    inner,
                    out,
                    Duration::from_millis(20),
                    routing(inner, me, p.id, pb::routing::Error::NoChannel),
                );
                return Some("traceroute to broadcast".into());
            }
            let interval = inner.cfg.traceroute_interval;
            if let Some(reason) = inner.rate_limited(|s| &mut s.last_traceroute, interval) {
                later(
                    inner,
                    out,
                    Duration::from_millis(20),
                    routing(inner, me, p.id, pb::routing::Error::RateLimitExceeded),
                );
                return Some(reason);
            }
            if answers_traceroute(p.to) {
                if let Some(reply) = traceroute_reply(inner, p.to, p.id) {
                    later(inner, out, inner.cfg.traceroute_delay, reply);
                }
            }
            None
        }
        Ok(pb::PortNum::AdminApp) if p.to == me || p.to == 0 => {
            if let Ok(admin) = pb::AdminMessage::decode(d.payload.as_slice()) {
                super::admin::apply(inner, admin, p.id, out);
            }
            None
        }
        _ => None,
    }
}

/// The reply a destination sends: intermediate hops picked deterministically from the DB.
fn traceroute_reply(inner: &Inner, dest: u32, request_id: u32) -> Option<pb::MeshPacket> {
    let st = inner.lock();
    let node = st.nodes.iter().find(|n| n.num == dest)?;
    let hops = node.hops_away.unwrap_or(2).min(6) as usize;
    let others: Vec<u32> = st
        .nodes
        .iter()
        .map(|n| n.num)
        .filter(|n| *n != dest && *n != inner.my_node_num)
        .collect();
    drop(st);
    let mut rng = Rng::new(u64::from(dest));
    let mut pick = |k: usize| -> Vec<u32> {
        (0..k)
            .filter_map(|_| others.get(rng.below(others.len() as u64) as usize).copied())
            .collect()
    };
    let route = pick(hops.saturating_sub(1));
    let route_back = pick(hops.saturating_sub(1));
    let mut rng = Rng::new(u64::from(dest) ^ 0xABCD);
    let mut snrs = |k: usize| -> Vec<i32> {
        (0..k)
            .map(|i| {
                if i == 1 && k > 2 {
                    -128
                } else {
                    rng.below(80) as i32 - 40
                }
            })
            .collect()
    };
    let r = pb::RouteDiscovery {
        snr_towards: snrs(route.len() + 1),
        snr_back: snrs(route_back.len() + 1),
        route,
        route_back,
    };
    Some(pb::MeshPacket {
        from: dest,
        to: inner.my_node_num,
        id: rand_id(),
        rx_time: crate::radio::state::unix_secs(std::time::SystemTime::now()),
        rx_snr: 6.25,
        rx_rssi: -92,
        hop_start: 7,
        hop_limit: 7 - hops as u32,
        payload_variant: decoded(pb::PortNum::TracerouteApp, r.encode_to_vec(), request_id),
        ..Default::default()
    })
}
