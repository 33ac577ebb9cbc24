//! The radio link: one tokio task per connected radio that owns the TCP stream. It does the
//! config handshake, keeps [`RadioState`] current, sends heartbeats, answers commands from its
//! [`LinkHandle`], publishes [`LinkEvent`]s, notices a dead link (read error, or silence past
//! the stale threshold) and re-establishes it with backoff until it is closed.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{timeout, Instant};

use crate::proto::{self, pb, FrameDecoder, Message};
use crate::radio::packet::PacketEntry;
use crate::radio::state::{LinkStatus, RadioState};

/// Packets received from all radios, for `/metrics`.
pub static PACKETS_IN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How often a heartbeat goes to the radio (firmware drops an API client silent for 15 min).
const HEARTBEAT_EVERY: Duration = Duration::from_secs(300);
/// Longest wait between two reconnect attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Settings of one link.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub handshake_timeout: Duration,
    pub packet_log_max: usize,
    pub stale_after: Duration,
}

/// What can go wrong opening or using a link; every variant carries a message for the user.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LinkError {
    #[error("could not connect to {addr}: {reason}")]
    Connect { addr: SocketAddr, reason: String },
    #[error("radio at {addr} did not finish its config handshake within {secs} s")]
    HandshakeTimeout { addr: SocketAddr, secs: u64 },
    #[error("radio at {addr} closed the connection during the handshake")]
    HandshakeClosed { addr: SocketAddr },
    #[error("the radio link is down ({0}); nothing was sent")]
    Down(String),
    #[error("the radio link is closed")]
    Closed,
}

/// Something that happened on a link, for live views.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    Packet(Arc<PacketEntry>),
    Status(LinkStatus),
}

enum Command {
    Send { packet: pb::MeshPacket, reply: oneshot::Sender<Result<u32, LinkError>> },
}

/// A cloneable handle to a link task.
#[derive(Clone)]
pub struct LinkHandle {
    addr: SocketAddr,
    cmd: mpsc::Sender<Command>,
    state: Arc<RwLock<RadioState>>,
    events: broadcast::Sender<LinkEvent>,
    shutdown: Arc<watch::Sender<Option<String>>>,
}

impl std::fmt::Debug for LinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkHandle").field("addr", &self.addr).finish()
    }
}

impl LinkHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads the radio state. Never hold the guard across an `.await`.
    pub fn state(&self) -> RwLockReadGuard<'_, RadioState> {
        // A poisoned lock means a panic while writing; the data is still the best we have.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LinkEvent> {
        self.events.subscribe()
    }

    /// Closes the link at once: the task tells the radio and drops the TCP stream.
    pub fn close(&self, reason: &str) {
        self.shutdown.send_replace(Some(reason.to_string()));
    }

    pub fn is_closed(&self) -> bool {
        self.shutdown.borrow().is_some() || self.cmd.is_closed()
    }

    /// Sends a mesh packet; returns its id once written to the radio.
    pub async fn send(&self, packet: pb::MeshPacket) -> Result<u32, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.cmd.send(Command::Send { packet, reply }).await.map_err(|_| LinkError::Closed)?;
        rx.await.map_err(|_| LinkError::Closed)?
    }
}

/// Connects to a radio and completes the config handshake, then hands the stream to a new
/// link task. Returns as soon as `config_complete_id` arrives.
pub async fn connect(addr: SocketAddr, opts: LinkOptions) -> Result<LinkHandle, LinkError> {
    let (stream, decoder, fresh) = open(addr, &opts).await?;
    let mut state = RadioState::new(opts.packet_log_max);
    state.replace_config(fresh);
    let state = Arc::new(RwLock::new(state));
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (events, _) = broadcast::channel(256);
    let (shutdown, shutdown_rx) = watch::channel(None);
    let handle = LinkHandle { addr, cmd: cmd_tx, state: state.clone(), events: events.clone(), shutdown: Arc::new(shutdown) };
    let task = LinkTask { addr, opts, state, events, cmd_rx, shutdown: shutdown_rx };
    tokio::spawn(task.run(stream, decoder));
    Ok(handle)
}

/// TCP connect plus handshake, bounded by the handshake timeout.
async fn open(addr: SocketAddr, opts: &LinkOptions) -> Result<(TcpStream, FrameDecoder, RadioState), LinkError> {
    let secs = opts.handshake_timeout.as_secs();
    match timeout(opts.handshake_timeout, open_inner(addr, opts.packet_log_max)).await {
        Ok(r) => r,
        Err(_) => Err(LinkError::HandshakeTimeout { addr, secs }),
    }
}

async fn open_inner(addr: SocketAddr, packet_log_max: usize) -> Result<(TcpStream, FrameDecoder, RadioState), LinkError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| LinkError::Connect { addr, reason: e.to_string() })?;
    let _ = stream.set_nodelay(true);
    // Any nonce but the firmware's special ones (69420 config only, 69421 node DB only).
    let nonce: u32 = rand::rng().random_range(100_000..u32::MAX);
    let want = pb::ToRadio { payload_variant: Some(pb::to_radio::PayloadVariant::WantConfigId(nonce)) };
    stream
        .write_all(&proto::encode(&want))
        .await
        .map_err(|e| LinkError::Connect { addr, reason: e.to_string() })?;
    let mut decoder = FrameDecoder::default();
    let mut state = RadioState::new(packet_log_max);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.map_err(|_| LinkError::HandshakeClosed { addr })?;
        if n == 0 {
            return Err(LinkError::HandshakeClosed { addr });
        }
        decoder.push(&buf[..n]);
        while let Some(frame) = decoder.next_frame() {
            let Ok(msg) = pb::FromRadio::decode(frame.as_slice()) else { continue };
            if let Some(pb::from_radio::PayloadVariant::ConfigCompleteId(id)) = msg.payload_variant {
                if id == nonce {
                    return Ok((stream, decoder, state));
                }
                continue;
            }
            // Packets during the handshake are live traffic; the node DB learns from them.
            state.apply(msg);
        }
    }
}

struct LinkTask {
    addr: SocketAddr,
    opts: LinkOptions,
    state: Arc<RwLock<RadioState>>,
    events: broadcast::Sender<LinkEvent>,
    cmd_rx: mpsc::Receiver<Command>,
    shutdown: watch::Receiver<Option<String>>,
}

/// Why a connected session with the radio ended.
enum Ended {
    /// Closed on purpose; the task ends.
    Closed(String),
    /// Lost; the task reconnects.
    Lost(String),
}

impl LinkTask {
    async fn run(mut self, stream: TcpStream, decoder: FrameDecoder) {
        let mut stream = stream;
        let mut decoder = decoder;
        loop {
            let reason = match self.serve(&mut stream, &mut decoder).await {
                Ended::Closed(reason) => {
                    let bye = pb::ToRadio { payload_variant: Some(pb::to_radio::PayloadVariant::Disconnect(true)) };
                    let _ = timeout(Duration::from_millis(200), stream.write_all(&proto::encode(&bye))).await;
                    let _ = stream.shutdown().await;
                    self.set_status(LinkStatus::Closed { reason });
                    return;
                }
                Ended::Lost(reason) => reason,
            };
            drop(stream);
            tracing::info!(radio = %self.addr, %reason, "radio link lost; reconnecting");
            match self.reconnect(reason).await {
                Some((s, d)) => {
                    stream = s;
                    decoder = d;
                }
                None => return,
            }
        }
    }

    fn set_status(&self, status: LinkStatus) {
        if let Ok(mut s) = self.state.write() {
            s.status = status.clone();
        }
        let _ = self.events.send(LinkEvent::Status(status));
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, RadioState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Reconnects with exponential backoff until it works or the link is closed.
    async fn reconnect(&mut self, mut error: String) -> Option<(TcpStream, FrameDecoder)> {
        let mut backoff = Duration::from_secs(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.set_status(LinkStatus::Reconnecting { attempt, error: error.clone() });
            // Wait, while refusing commands and watching for a close.
            let wake = Instant::now() + backoff;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => break,
                    changed = self.shutdown.changed() => {
                        let reason = self.shutdown.borrow().clone();
                        if changed.is_err() || reason.is_some() {
                            self.set_status(LinkStatus::Closed { reason: reason.unwrap_or_else(|| "closed".into()) });
                            return None;
                        }
                    }
                    cmd = self.cmd_rx.recv() => match cmd {
                        Some(Command::Send { reply, .. }) => { let _ = reply.send(Err(LinkError::Down(error.clone()))); }
                        None => return None,
                    },
                }
            }
            let opened = tokio::select! {
                r = open(self.addr, &self.opts) => r,
                _ = self.shutdown.changed() => {
                    let reason = self.shutdown.borrow().clone().unwrap_or_else(|| "closed".into());
                    self.set_status(LinkStatus::Closed { reason });
                    return None;
                }
            };
            match opened {
                Ok((stream, decoder, fresh)) => {
                    self.write_state().replace_config(fresh);
                    tracing::info!(radio = %self.addr, attempt, "radio link re-established");
                    self.set_status(LinkStatus::Connected);
                    return Some((stream, decoder));
                }
                Err(e) => {
                    error = e.to_string();
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Serves one TCP connection until it is lost or the link is closed.
    async fn serve(&mut self, stream: &mut TcpStream, decoder: &mut FrameDecoder) -> Ended {
        let mut buf = vec![0u8; 4096];
        let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT_EVERY, HEARTBEAT_EVERY);
        let check_every = (self.opts.stale_after / 4).max(Duration::from_millis(250));
        let mut stale_check = tokio::time::interval_at(Instant::now() + check_every, check_every);
        // Frames buffered with the handshake's last read.
        if let Some(ended) = self.drain(decoder) {
            return ended;
        }
        loop {
            tokio::select! {
                changed = self.shutdown.changed() => {
                    let reason = self.shutdown.borrow().clone();
                    if changed.is_err() || reason.is_some() {
                        return Ended::Closed(reason.unwrap_or_else(|| "closed".into()));
                    }
                }
                cmd = self.cmd_rx.recv() => match cmd {
                    None => return Ended::Closed("no more users of the link".into()),
                    Some(Command::Send { mut packet, reply }) => {
                        if packet.id == 0 {
                            packet.id = rand::rng().random_range(1..u32::MAX);
                        }
                        let id = packet.id;
                        let msg = pb::ToRadio { payload_variant: Some(pb::to_radio::PayloadVariant::Packet(packet.clone())) };
                        if let Err(e) = stream.write_all(&proto::encode(&msg)).await {
                            let _ = reply.send(Err(LinkError::Down(e.to_string())));
                            return Ended::Lost(format!("write failed: {e}"));
                        }
                        let entry = self.write_state().apply_packet(packet, true);
                        let _ = self.events.send(LinkEvent::Packet(entry));
                        let _ = reply.send(Ok(id));
                    }
                },
                read = stream.read(&mut buf) => match read {
                    Ok(0) => return Ended::Lost("the radio closed the connection".into()),
                    Err(e) => return Ended::Lost(format!("read failed: {e}")),
                    Ok(n) => {
                        decoder.push(&buf[..n]);
                        if let Some(ended) = self.drain(decoder) {
                            return ended;
                        }
                    }
                },
                _ = heartbeat.tick() => {
                    let hb = pb::ToRadio { payload_variant: Some(pb::to_radio::PayloadVariant::Heartbeat(pb::Heartbeat::default())) };
                    if let Err(e) = stream.write_all(&proto::encode(&hb)).await {
                        return Ended::Lost(format!("write failed: {e}"));
                    }
                }
                _ = stale_check.tick() => {
                    let silent = self.state.read().map(|s| s.last_rx.elapsed()).unwrap_or_default();
                    if silent > self.opts.stale_after {
                        return Ended::Lost(format!("no traffic for {} s", silent.as_secs()));
                    }
                }
            }
        }
    }

    /// Applies every complete frame in the decoder.
    fn drain(&self, decoder: &mut FrameDecoder) -> Option<Ended> {
        while let Some(frame) = decoder.next_frame() {
            let msg = match pb::FromRadio::decode(frame.as_slice()) {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(radio = %self.addr, error = %e, "undecodable frame skipped");
                    continue;
                }
            };
            if let Some(pb::from_radio::PayloadVariant::Rebooted(_)) = msg.payload_variant {
                return Some(Ended::Lost("the radio rebooted".into()));
            }
            let entry = self.write_state().apply(msg);
            if let Some(entry) = entry {
                PACKETS_IN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = self.events.send(LinkEvent::Packet(entry));
            }
        }
        None
    }
}
