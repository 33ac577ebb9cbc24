//! One virtual node client: the task that owns its TCP stream. It answers `want_config_id`
//! from the link's cache, heartbeats with a queue status, hands the client's packets to the
//! radio's one link (texts through its text queue), and passes on what the radio hears.
//!
//! A client never holds the link up: what the radio says reaches it through the link's
//! broadcast, and one that falls more than that queue behind, or does not take a write within
//! [`WRITE_TIMEOUT`], is dropped with a log line.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::proto::{self, pb, FrameDecoder, Message};
use crate::radio::LinkHandle;

use pb::from_radio::PayloadVariant as Out;
use pb::to_radio::PayloadVariant as In;

/// A client that does not take a write within this long is not reading: it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// A client silent this long is dropped, as firmware does.
const IDLE: Duration = Duration::from_secs(15 * 60);
/// Packet ids remembered per client: repeats are dropped (as firmware does) and routing
/// replies go to the client that sent the packet.
const RECENT_IDS: usize = 64;
/// The kernel's send buffer for a client (Linux doubles it): what a client that stops reading
/// holds of the server's memory beyond its broadcast slots, instead of autotuning's 4 MiB.
const SEND_BUFFER: usize = 64 * 1024;
/// The firmware's TX queue length, as queue statuses report it.
const QUEUE_LEN: u32 = 16;

/// Why a client's connection ended.
type Gone = String;

pub struct Client {
    pub link: LinkHandle,
    pub peer: SocketAddr,
    /// Whether admin messages may go to the radio.
    pub admin: Arc<AtomicBool>,
    /// Set when the virtual node stops.
    pub stop: watch::Receiver<bool>,
}

/// What one client's connection keeps.
struct Conn {
    stream: TcpStream,
    /// Ids of this client's latest packets.
    mine: VecDeque<u32>,
    /// `FromRadio.id` of the next message.
    next_id: u32,
    out: Vec<u8>,
}

impl Conn {
    fn push(&mut self, v: Out) {
        self.next_id = self.next_id.wrapping_add(1);
        let msg = pb::FromRadio {
            id: self.next_id,
            payload_variant: Some(v),
        };
        self.out.extend_from_slice(&proto::encode(&msg));
    }

    /// Writes what was pushed; a client that does not take it in time is gone.
    async fn flush(&mut self) -> Result<(), Gone> {
        if self.out.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::take(&mut self.out);
        match tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("write failed: {e}")),
            Err(_) => return Err("not reading (write timed out)".into()),
        }
        // Keep the buffer's room for the next message, but not a config dump's.
        self.out = bytes;
        self.out.clear();
        self.out.shrink_to(proto::READ_CHUNK);
        Ok(())
    }

    fn remember(&mut self, id: u32) {
        if self.mine.len() == RECENT_IDS {
            self.mine.pop_front();
        }
        self.mine.push_back(id);
    }
}

/// A queue status for `id` (0 answers a heartbeat) with `used` slots taken.
fn queue_status(id: u32, used: usize) -> Out {
    let used = u32::try_from(used).unwrap_or(QUEUE_LEN).min(QUEUE_LEN);
    Out::QueueStatus(pb::QueueStatus {
        res: 0,
        free: QUEUE_LEN - used,
        maxlen: QUEUE_LEN,
        mesh_packet_id: id,
    })
}

/// The routing error the radio itself would send for packet `id`.
fn routing_error(me: u32, id: u32, e: pb::routing::Error) -> Out {
    let routing = pb::Routing {
        variant: Some(pb::routing::Variant::ErrorReason(e as i32)),
    };
    Out::Packet(pb::MeshPacket {
        from: me,
        to: me,
        id: crate::ids::PacketId::random().get(),
        priority: pb::mesh_packet::Priority::Ack as i32,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::RoutingApp as i32,
            payload: routing.encode_to_vec(),
            request_id: id,
            ..Default::default()
        })),
        ..Default::default()
    })
}

/// The port of a packet's decoded payload; `None` for an encrypted one.
fn port(p: &pb::MeshPacket) -> Option<i32> {
    match &p.payload_variant {
        Some(pb::mesh_packet::PayloadVariant::Decoded(d)) => Some(d.portnum),
        _ => None,
    }
}

/// The request a routing reply answers, when the packet is one.
fn routing_request(p: &pb::MeshPacket) -> Option<u32> {
    match &p.payload_variant {
        Some(pb::mesh_packet::PayloadVariant::Decoded(d))
            if d.portnum == pb::PortNum::RoutingApp as i32 && d.request_id != 0 =>
        {
            Some(d.request_id)
        }
        _ => None,
    }
}

impl Client {
    /// Serves the client until it leaves, falls behind, or the virtual node stops.
    pub async fn run(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER);
        let mut conn = Conn {
            stream,
            mine: VecDeque::with_capacity(RECENT_IDS),
            next_id: 0,
            out: Vec::new(),
        };
        let why = self.serve(&mut conn).await;
        tracing::info!(radio = %self.link.addr(), client = %self.peer, reason = %why, "virtual node client gone");
    }

    async fn serve(&mut self, conn: &mut Conn) -> Gone {
        let mut decoder = FrameDecoder::default();
        // Subscribed at the first config request: firmware hands over packets after it.
        let mut mesh: Option<broadcast::Receiver<Arc<pb::FromRadio>>> = None;
        let mut last_input = Instant::now();
        let mut idle = tokio::time::interval(Duration::from_secs(5));
        loop {
            let result = tokio::select! {
                _ = self.stop.changed() => return "the virtual node stopped".into(),
                _ = idle.tick() => {
                    if last_input.elapsed() > IDLE {
                        return "silent for 15 minutes".into();
                    }
                    Ok(())
                }
                read = conn.stream.read_buf(decoder.read_buffer()) => match read {
                    Ok(0) => return "closed".into(),
                    Err(e) => return format!("read failed: {e}"),
                    Ok(_) => {
                        last_input = Instant::now();
                        self.frames(conn, &mut decoder, &mut mesh).await
                    }
                },
                got = recv(&mut mesh) => match got {
                    Ok(msg) => {
                        self.forward(conn, &msg);
                        Ok(())
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(radio = %self.link.addr(), client = %self.peer, missed = n, "virtual node client too slow; dropped");
                        return format!("fell {n} messages behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return "the link closed".into(),
                },
            };
            if let Err(why) = result.and(conn.flush().await) {
                if why.starts_with("not reading") {
                    tracing::warn!(radio = %self.link.addr(), client = %self.peer, "virtual node client not reading; dropped");
                }
                return why;
            }
        }
    }

    /// Handles every complete frame; malformed ones are dropped, as firmware does.
    async fn frames(
        &self,
        conn: &mut Conn,
        decoder: &mut FrameDecoder,
        mesh: &mut Option<broadcast::Receiver<Arc<pb::FromRadio>>>,
    ) -> Result<(), Gone> {
        while let Some(frame) = decoder.next_frame() {
            let Ok(msg) = pb::ToRadio::decode(frame.as_slice()) else {
                continue;
            };
            match msg.payload_variant {
                Some(In::WantConfigId(nonce)) => {
                    if mesh.is_none() {
                        *mesh = Some(self.link.subscribe_from_radio());
                    }
                    let msgs = super::dump::messages(&self.link.state(), nonce);
                    for m in msgs {
                        conn.push(m);
                    }
                }
                // Firmware (2.7.4 on) answers a heartbeat with its queue status.
                Some(In::Heartbeat(_)) => conn.push(queue_status(0, 0)),
                Some(In::Disconnect(_)) => return Err("said goodbye".into()),
                Some(In::Packet(p)) => self.packet(conn, p).await,
                _ => {}
            }
            // A config dump is written before the next request is read.
            conn.flush().await?;
        }
        Ok(())
    }

    /// A client's packet: refused (admin), or through the radio's one link, from my node.
    async fn packet(&self, conn: &mut Conn, mut p: pb::MeshPacket) {
        if p.id != 0 && conn.mine.contains(&p.id) {
            // Firmware drops a repeated id without a word.
            return;
        }
        let me = self.link.state().my_node_num.0;
        p.from = me;
        let port = port(&p);
        // An encrypted payload could hide anything: refused with admin, as firmware clients
        // never send one.
        let admin_like = port.is_none_or(|p| p == pb::PortNum::AdminApp as i32);
        if admin_like && !self.admin.load(Ordering::Relaxed) {
            tracing::info!(radio = %self.link.addr(), client = %self.peer, "virtual node refused an admin message");
            conn.push(routing_error(me, p.id, pb::routing::Error::NotAuthorized));
            return;
        }
        let id = p.id;
        let sent = if port == Some(pb::PortNum::TextMessageApp as i32) {
            self.link
                .send_text_packet(p)
                .await
                .map(|q| (q.packet_id, q.ahead + 1))
        } else {
            self.link.send(p).await.map(|id| (id, 1))
        };
        match sent {
            Ok((id, used)) => {
                conn.remember(id);
                conn.push(queue_status(id, used));
            }
            Err(e) => {
                tracing::info!(radio = %self.link.addr(), client = %self.peer, error = %e, "virtual node could not send");
                conn.push(routing_error(me, id, pb::routing::Error::NoInterface));
            }
        }
    }

    /// Passes on what the radio said; a routing reply or a notification about a packet only
    /// to the client whose packet it answers.
    fn forward(&self, conn: &mut Conn, msg: &pb::FromRadio) {
        let Some(v) = &msg.payload_variant else {
            return;
        };
        let answers = match v {
            Out::Packet(p) => routing_request(p),
            Out::ClientNotification(n) => n.reply_id,
            _ => None,
        };
        if answers.is_some_and(|id| !conn.mine.contains(&id)) {
            return;
        }
        conn.push(v.clone());
    }
}

/// The next message from the radio, or never when not subscribed yet.
async fn recv(
    mesh: &mut Option<broadcast::Receiver<Arc<pb::FromRadio>>>,
) -> Result<Arc<pb::FromRadio>, broadcast::error::RecvError> {
    match mesh {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
