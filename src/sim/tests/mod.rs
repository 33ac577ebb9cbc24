//! The simulated radio against a raw client over real TCP on 127.0.0.1:0: a few lines of
//! client built on the shared framing, then one file per area.

mod admin;
mod delivery;
mod faults;
mod handshake;
mod mesh;
mod packets;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::proto::{self, pb, FrameDecoder, Message};

use pb::from_radio::PayloadVariant as Out;
use pb::to_radio::PayloadVariant as In;

/// A bare stream API client.
struct Raw {
    s: TcpStream,
    d: FrameDecoder,
}

impl Raw {
    async fn connect(r: &SimRadio) -> Raw {
        Raw {
            s: TcpStream::connect(r.addr()).await.unwrap(),
            d: FrameDecoder::default(),
        }
    }

    /// Connects and asks for the config with `nonce`, reading nothing yet.
    async fn asking(r: &SimRadio, nonce: u32) -> Raw {
        let mut c = Raw::connect(r).await;
        c.send(In::WantConfigId(nonce)).await;
        c
    }

    async fn send(&mut self, v: In) {
        self.s
            .write_all(&proto::encode(&pb::ToRadio {
                payload_variant: Some(v),
            }))
            .await
            .unwrap();
    }

    async fn packet(&mut self, p: pb::MeshPacket) {
        self.send(In::Packet(p)).await;
    }

    /// Broadcast texts asking for an ack, one per id; then what comes until `ms` of silence.
    async fn broadcast(&mut self, ids: &[u32], ms: u64) -> Vec<Out> {
        for id in ids {
            self.packet(text(proto::BROADCAST, *id, true)).await;
        }
        self.collect(ms).await
    }

    /// Next message, or `None` on close or after `ms` of silence. Frames that do not
    /// decode are skipped, as a client must.
    async fn next(&mut self, ms: u64) -> Option<Out> {
        let mut buf = [0u8; 4096];
        loop {
            while let Some(f) = self.d.next_frame() {
                if let Ok(m) = pb::FromRadio::decode(f.as_slice()) {
                    return m.payload_variant;
                }
            }
            let n = tokio::time::timeout(Duration::from_millis(ms), self.s.read(&mut buf))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.d.push(&buf[..n]);
        }
    }

    /// Everything until `ms` of silence or the close (or 3 s, for a radio that never
    /// falls silent).
    async fn collect(&mut self, ms: u64) -> Vec<Out> {
        let end = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut out = Vec::new();
        while tokio::time::Instant::now() < end {
            match self.next(ms).await {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }

    /// Everything that arrives within `ms`.
    async fn collect_for(&mut self, ms: u64) -> Vec<Out> {
        let end = tokio::time::Instant::now() + Duration::from_millis(ms);
        let mut out = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout_at(end, self.next(ms)).await {
            out.push(m);
        }
        out
    }

    /// Whether the radio closes the socket within `ms` (reading and dropping what comes).
    async fn closed_within(&mut self, ms: u64) -> bool {
        let mut buf = [0u8; 4096];
        let end = tokio::time::Instant::now() + Duration::from_millis(ms);
        loop {
            match tokio::time::timeout_at(end, self.s.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// How the radio closed the socket within `ms` (reading and dropping what comes): the
    /// end of the stream (`Some(true)`), a reset (`Some(false)`), or not at all (`None`).
    async fn closing_within(&mut self, ms: u64) -> Option<bool> {
        let mut buf = [0u8; 4096];
        let end = tokio::time::Instant::now() + Duration::from_millis(ms);
        loop {
            match tokio::time::timeout_at(end, self.s.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) => return Some(true),
                Ok(Err(_)) => return Some(false),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Everything up to and including `config_complete_id`.
    async fn handshake(&mut self, nonce: u32) -> Vec<Out> {
        self.send(In::WantConfigId(nonce)).await;
        let mut out = Vec::new();
        while let Some(m) = self.next(2000).await {
            let done = matches!(m, Out::ConfigCompleteId(n) if n == nonce);
            out.push(m);
            if done {
                return out;
            }
        }
        panic!("no config_complete_id");
    }
}

/// A radio without live traffic and with short limits, for exact checks.
fn quiet(nodes: usize) -> SimConfig {
    SimConfig {
        nodes,
        rate: 0.0,
        text_interval: Duration::from_millis(300),
        traceroute_interval: Duration::from_millis(300),
        traceroute_delay: Duration::from_millis(100),
        reboot_delay: Duration::from_millis(300),
        ..SimConfig::default()
    }
}

/// A quiet radio with live traffic at `rate` packets a second.
fn live(nodes: usize, rate: f64) -> SimConfig {
    SimConfig {
        rate,
        ..quiet(nodes)
    }
}

/// A quiet radio with a fault.
fn faulty(nodes: usize, fault: Fault) -> SimConfig {
    SimConfig {
        fault,
        ..quiet(nodes)
    }
}

async fn radio(cfg: SimConfig) -> SimRadio {
    SimRadio::bind("127.0.0.1:0", cfg).await.unwrap()
}

/// A radio and a client that has had its handshake (with `nonce`).
async fn connected(cfg: SimConfig, nonce: u32) -> (SimRadio, Raw) {
    let r = radio(cfg).await;
    let mut c = Raw::connect(&r).await;
    c.handshake(nonce).await;
    (r, c)
}

/// A decoded packet from the client: `to`, `id`, port and payload.
fn packet(to: u32, id: u32, port: pb::PortNum, payload: Vec<u8>) -> pb::MeshPacket {
    pb::MeshPacket {
        to,
        id,
        hop_limit: 3,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: port as i32,
            payload,
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn text(to: u32, id: u32, want_ack: bool) -> pb::MeshPacket {
    pb::MeshPacket {
        want_ack,
        ..packet(to, id, pb::PortNum::TextMessageApp, b"hi".to_vec())
    }
}

fn with_want_response(mut p: pb::MeshPacket, want: bool) -> pb::MeshPacket {
    if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = p.payload_variant.as_mut() {
        d.want_response = want;
    }
    p
}

fn traceroute(to: u32, id: u32) -> pb::MeshPacket {
    let rd = pb::RouteDiscovery::default().encode_to_vec();
    with_want_response(packet(to, id, pb::PortNum::TracerouteApp, rd), true)
}

fn admin(
    to: u32,
    id: u32,
    v: pb::admin_message::PayloadVariant,
    want_response: bool,
) -> pb::MeshPacket {
    let msg = pb::AdminMessage {
        payload_variant: Some(v),
        ..Default::default()
    };
    let p = packet(to, id, pb::PortNum::AdminApp, msg.encode_to_vec());
    with_want_response(p, want_response)
}

fn decoded(m: &Out) -> Option<(&pb::MeshPacket, &pb::Data)> {
    match m {
        Out::Packet(p) => match &p.payload_variant {
            Some(pb::mesh_packet::PayloadVariant::Decoded(d)) => Some((p, d)),
            _ => None,
        },
        _ => None,
    }
}

/// `(request_id, error, from)` of every routing reply among `msgs`.
fn routings(msgs: &[Out]) -> Vec<(u32, i32, u32)> {
    msgs.iter()
        .filter_map(decoded)
        .filter(|(_, d)| d.portnum == pb::PortNum::RoutingApp as i32)
        .filter_map(
            |(p, d)| match pb::Routing::decode(d.payload.as_slice()).ok()?.variant {
                Some(pb::routing::Variant::ErrorReason(e)) => Some((d.request_id, e, p.from)),
                _ => None,
            },
        )
        .collect()
}

/// The admin reply to `request_id` among `msgs`.
fn admin_reply(msgs: &[Out], request_id: u32) -> Option<pb::admin_message::PayloadVariant> {
    msgs.iter()
        .filter_map(decoded)
        .filter(|(_, d)| d.portnum == pb::PortNum::AdminApp as i32 && d.request_id == request_id)
        .find_map(|(_, d)| {
            pb::AdminMessage::decode(d.payload.as_slice())
                .ok()?
                .payload_variant
        })
}

/// The packet ids of the queue statuses among `msgs`.
fn queued(msgs: &[Out]) -> Vec<u32> {
    msgs.iter()
        .filter_map(|m| match m {
            Out::QueueStatus(q) => Some(q.mesh_packet_id),
            _ => None,
        })
        .collect()
}
