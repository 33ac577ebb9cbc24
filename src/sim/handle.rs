//! What the simulated radio does with a client's packet: acks texts that ask for it, answers
//! traceroutes after a delay (some nodes never do), applies admin messages, and enforces the
//! firmware's rate limits on client texts and traceroutes.

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

/// Sends a mesh packet to the client and records it (a stalled radio sends nothing).
pub(super) fn emit(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, p: pb::MeshPacket) {
    if inner.lock().fault == super::Fault::Stall {
        return;
    }
    inner.record_sent(p.clone());
    send(inner, out, Out::Packet(p));
}

/// A warning for the client about one of its packets, as firmware sends when it refuses one.
fn notify(inner: &Inner, out: &mpsc::UnboundedSender<Vec<u8>>, reply_id: u32, message: &str) {
    send(
        inner,
        out,
        Out::ClientNotification(pb::ClientNotification {
            reply_id: Some(reply_id),
            time: crate::time::unix_secs(std::time::SystemTime::now()),
            level: pb::log_record::Level::Warning as i32,
            message: message.into(),
            payload_variant: None,
        }),
    );
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

/// A packet from `from` to `to` as the radio hands it over: a fresh id, received now,
/// `payload` decoded on `port`, answering the client's packet `request_id` (0: none).
pub(super) fn received(
    from: u32,
    to: u32,
    port: pb::PortNum,
    payload: Vec<u8>,
    request_id: u32,
) -> pb::MeshPacket {
    pb::MeshPacket {
        from,
        to,
        id: rand_id(),
        rx_time: crate::time::unix_secs(std::time::SystemTime::now()),
        payload_variant: decoded(port, payload, request_id),
        ..Default::default()
    }
}

/// A routing reply (ack or error) to the client's packet `request_id`.
pub(super) fn routing(
    inner: &Inner,
    from: u32,
    request_id: u32,
    error: pb::routing::Error,
) -> pb::MeshPacket {
    let r = pb::Routing {
        variant: Some(pb::routing::Variant::ErrorReason(error as i32)),
    };
    let port = pb::PortNum::RoutingApp;
    pb::MeshPacket {
        hop_start: 3,
        hop_limit: 3,
        ..received(from, inner.my_node_num, port, r.encode_to_vec(), request_id)
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
///
/// Texts: refused within `text_interval` of the last accepted one with a routing error
/// RATE_LIMIT_EXCEEDED (as firmware); otherwise, when `want_ack` is set, answered as
/// [`acknowledge`] says.
///
/// Traceroutes: refused when multi-hop to broadcast, and within `traceroute_interval` of the
/// last accepted one. Firmware says so with a client notification (its only answer); the
/// simulated one also sends a routing error (NO_CHANNEL for broadcast, RATE_LIMIT_EXCEEDED)
/// so a client sees the refusal at once. Otherwise the destination answers after
/// `traceroute_delay`, unless it is one of the nodes that never do ([`answers_traceroute`]).
///
/// Positions, waypoints, alerts and telemetry: one per `port_interval` (10 s) per port; one
/// sooner is dropped without a word (its queue status is all the client gets).
///
/// With `echo_transmissions`, what the radio sends goes back to the client as a
/// `SIMULATOR_APP` packet, as firmware's simulated radio does.
pub(super) fn packet(
    inner: &Arc<Inner>,
    p: &pb::MeshPacket,
    out: &mpsc::UnboundedSender<Vec<u8>>,
) -> Option<String> {
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    let rejected = take(inner, p, d, out);
    let to_mesh = p.to != inner.my_node_num && p.to != 0;
    if rejected.is_none() && to_mesh && inner.cfg.echo_transmissions {
        let c = pb::Compressed {
            portnum: d.portnum,
            data: d.payload.clone(),
        };
        let port = pb::PortNum::SimulatorApp;
        let echo = pb::MeshPacket {
            id: p.id,
            channel: p.channel,
            hop_limit: p.hop_limit,
            hop_start: p.hop_limit,
            ..received(inner.my_node_num, p.to, port, c.encode_to_vec(), 0)
        };
        later(inner, out, Duration::from_millis(10), echo);
    }
    rejected
}

/// The ports firmware limits to one packet from its client per 10 s.
const THROTTLED: [pb::PortNum; 4] = [
    pb::PortNum::PositionApp,
    pb::PortNum::WaypointApp,
    pb::PortNum::AlertApp,
    pb::PortNum::TelemetryApp,
];

fn take(
    inner: &Arc<Inner>,
    p: &pb::MeshPacket,
    d: &pb::Data,
    out: &mpsc::UnboundedSender<Vec<u8>>,
) -> Option<String> {
    let me = inner.my_node_num;
    let soon = Duration::from_millis(20);
    match pb::PortNum::try_from(d.portnum) {
        Ok(pb::PortNum::TextMessageApp) => {
            let interval = inner.cfg.text_interval;
            if let Some(reason) = inner.rate_limited(|s| &mut s.last_text, interval) {
                let nak = routing(inner, me, p.id, pb::routing::Error::RateLimitExceeded);
                later(inner, out, soon, nak);
                return Some(reason);
            }
            if p.want_ack {
                acknowledge(inner, p, out);
            }
            None
        }
        Ok(pb::PortNum::TracerouteApp) => {
            if p.to == BROADCAST && p.hop_limit > 0 {
                let why = "Multi-hop traceroute to broadcast address is not allowed";
                notify(inner, out, p.id, why);
                let nak = routing(inner, me, p.id, pb::routing::Error::NoChannel);
                later(inner, out, soon, nak);
                return Some("multi-hop traceroute to broadcast".into());
            }
            let interval = inner.cfg.traceroute_interval;
            if let Some(reason) = inner.rate_limited(|s| &mut s.last_traceroute, interval) {
                let why = "TraceRoute can only be sent once every 30 seconds";
                notify(inner, out, p.id, why);
                let nak = routing(inner, me, p.id, pb::routing::Error::RateLimitExceeded);
                later(inner, out, soon, nak);
                return Some(reason);
            }
            if p.to == BROADCAST {
                // A zero-hop traceroute to broadcast goes out; the simulated neighbours keep
                // quiet.
                return None;
            }
            if answers_traceroute(p.to) {
                if let Some(reply) = traceroute_reply(inner, p.to, p.id) {
                    later(inner, out, inner.cfg.traceroute_delay, reply);
                }
            }
            None
        }
        Ok(pb::PortNum::AdminApp) if p.to == me || p.to == 0 => {
            // An admin message that does not decode is ignored, as firmware does.
            if let Ok(admin) = pb::AdminMessage::decode(d.payload.as_slice()) {
                super::admin::apply(inner, admin, p, out);
            }
            None
        }
        Ok(port) if THROTTLED.contains(&port) => {
            let interval = inner.cfg.port_interval;
            inner.rate_limited(|s| s.last_port.entry(d.portnum).or_default(), interval)
        }
        _ => None,
    }
}

/// The routing replies to a client's packet that wants an ack, as firmware sends them:
///
/// - the error set by [`super::SimRadio::set_routing_error`], from my node, at once;
/// - with nobody relaying ([`super::SimRadio::set_relaying`]), `MAX_RETRANSMIT` from my node
///   once the retransmissions are spent (`retransmit_timeout`, ~20 s on firmware);
/// - otherwise my node's implicit ack (it heard a neighbour rebroadcast the packet) after
///   ~150 ms, the most a broadcast gets; a direct message then gets its destination's ack
///   ~250 ms later, unless the destination is one of the nodes that never answer
///   ([`answers_traceroute`]): then nothing more, as firmware sends no NAK after an implicit
///   ack. A direct neighbour (0 hops away) acks without a relay in between.
fn acknowledge(inner: &Arc<Inner>, p: &pb::MeshPacket, out: &mpsc::UnboundedSender<Vec<u8>>) {
    let me = inner.my_node_num;
    let (error, relaying, hops) = {
        let st = inner.lock();
        let hops = st
            .nodes
            .iter()
            .find(|n| n.num == p.to)
            .and_then(|n| n.hops_away);
        (st.routing_error, st.relaying, hops)
    };
    let step = Duration::from_millis(150);
    if let Some(error) = error {
        later(inner, out, step, routing(inner, me, p.id, error));
        return;
    }
    let neighbour = p.to != BROADCAST && hops == Some(0);
    let answers = p.to != BROADCAST && answers_traceroute(p.to);
    // Nobody passes it on, and no neighbour answers it directly.
    let heard = relaying || (neighbour && answers);
    if !heard {
        let nak = routing(inner, me, p.id, pb::routing::Error::MaxRetransmit);
        later(inner, out, inner.cfg.retransmit_timeout, nak);
        return;
    }
    if !neighbour {
        later(
            inner,
            out,
            step,
            routing(inner, me, p.id, pb::routing::Error::None),
        );
    }
    if answers {
        let ack = routing(inner, p.to, p.id, pb::routing::Error::None);
        later(inner, out, step + Duration::from_millis(250), ack);
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
    let port = pb::PortNum::TracerouteApp;
    Some(pb::MeshPacket {
        rx_snr: 6.25,
        rx_rssi: -92,
        hop_start: 7,
        hop_limit: 7 - hops as u32,
        ..received(dest, inner.my_node_num, port, r.encode_to_vec(), request_id)
    })
}
