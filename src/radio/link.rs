//! The radio link: one tokio task per connected radio that owns the TCP stream. It does the
//! config handshake, keeps [`RadioState`] current, sends heartbeats, answers commands from its
//! [`LinkHandle`], publishes [`LinkEvent`]s, notices a dead link (read error, or silence past
//! the stale threshold) and re-establishes it with backoff until it is closed.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{timeout, Instant};

use crate::ids::{ChannelIndex, Convo, Dest, NodeNum};
use crate::proto::{self, pb, FrameDecoder, Message};
use crate::radio::automation;
use crate::radio::packet::PacketEntry;
use crate::radio::state::{LinkStatus, RadioState};
use crate::radio::text::{Delivery, HistoryOp, Message as TextMessage};

/// Packets received from all radios, for `/metrics`.
pub static PACKETS_IN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Texts waiting in the send queues of all links, for `/metrics`.
pub static SEND_QUEUE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

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
    /// The firmware accepts one text from an API client per this interval.
    pub text_interval: Duration,
    /// A sent text with no routing reply after this long is marked "timeout".
    pub ack_timeout: Duration,
    /// The firmware accepts one traceroute from an API client per this interval.
    pub probe_interval: Duration,
    /// Where message history goes (the store writer task).
    pub messages: Option<mpsc::UnboundedSender<HistoryOp>>,
}

/// A text accepted by the link's send queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub packet_id: u32,
    /// Texts ahead of this one in the queue.
    pub ahead: usize,
    /// When it will leave for the radio, from now.
    pub sends_in: Duration,
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
    /// A text message received, or queued by this dashboard.
    Message(Arc<TextMessage>),
    /// A sent text's delivery state changed.
    Delivery {
        packet_id: u32,
        state: Delivery,
    },
    /// The traceroute to this node changed.
    Trace(NodeNum),
    /// The session's sweep progressed.
    Sweep,
}

/// Why a traceroute was not queued.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum TraceError {
    #[error(transparent)]
    Refused(#[from] crate::radio::trace::Refused),
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// Large messages are boxed: the channel allocates its slots up front, per link.
enum Command {
    Send {
        packet: Box<pb::MeshPacket>,
        reply: oneshot::Sender<Result<u32, LinkError>>,
    },
    SendText {
        to: Dest,
        channel: ChannelIndex,
        text: String,
        reply: oneshot::Sender<Result<Queued, LinkError>>,
    },
    Traceroute {
        dest: NodeNum,
        hop_limit: Option<u32>,
        timeout: Duration,
        sweep_id: Option<i64>,
        reply: oneshot::Sender<Result<Duration, TraceError>>,
    },
    CancelTrace {
        dest: NodeNum,
        reply: oneshot::Sender<bool>,
    },
    /// The radio's NodeDB was reset: forget every node but my own.
    ForgetNodes,
    Admin {
        msg: Box<pb::AdminMessage>,
        want_response: bool,
        reboots: bool,
        reply: AdminReply,
    },
}

/// Where the answer to an admin request goes.
type AdminReply = oneshot::Sender<Result<Option<pb::AdminMessage>, LinkError>>;

/// What the status bar says while a radio restarts after an admin action.
const REBOOTING: &str = "the radio is rebooting";

/// How long an admin request waits for the radio's answer.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A link lost within this long of an admin message that reboots the radio is "rebooting".
const REBOOT_WINDOW: Duration = Duration::from_secs(60);

/// A cloneable handle to a link task.
#[derive(Clone)]
pub struct LinkHandle {
    addr: SocketAddr,
    cmd: mpsc::Sender<Command>,
    state: Arc<RwLock<RadioState>>,
    events: broadcast::Sender<LinkEvent>,
    shutdown: Arc<watch::Sender<Option<String>>>,
    automation: Arc<automation::Shared>,
}

impl std::fmt::Debug for LinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkHandle")
            .field("addr", &self.addr)
            .finish()
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

    /// For tasks that act on the link's behalf (the sweep) to publish their progress.
    pub fn events_sender(&self) -> &broadcast::Sender<LinkEvent> {
        &self.events
    }

    /// The link's automation (filter, auto-responder, beacon).
    pub fn automation(&self) -> &Arc<automation::Shared> {
        &self.automation
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

    /// Queues a text message; it leaves for the radio when the firmware's interval allows.
    pub async fn send_text(
        &self,
        to: Dest,
        channel: ChannelIndex,
        text: String,
    ) -> Result<Queued, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Command::SendText {
                to,
                channel,
                text,
                reply,
            })
            .await
            .map_err(|_| LinkError::Closed)?;
        rx.await.map_err(|_| LinkError::Closed)?
    }

    /// Queues a traceroute in the radio's probe queue; returns how long until it is sent.
    pub async fn traceroute(
        &self,
        dest: NodeNum,
        hop_limit: Option<u32>,
        timeout: Duration,
        sweep_id: Option<i64>,
    ) -> Result<Duration, TraceError> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Command::Traceroute {
                dest,
                hop_limit,
                timeout,
                sweep_id,
                reply,
            })
            .await
            .map_err(|_| LinkError::Closed)?;
        rx.await.map_err(|_| LinkError::Closed)?
    }

    /// Cancels a queued or pending traceroute; false when there was none.
    pub async fn cancel_traceroute(&self, dest: NodeNum) -> Result<bool, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Command::CancelTrace { dest, reply })
            .await
            .map_err(|_| LinkError::Closed)?;
        rx.await.map_err(|_| LinkError::Closed)
    }

    /// Sends an admin message to the radio itself. With `want_response`, waits for the
    /// answer; `reboots` tells the link that the radio will go away and come back.
    pub async fn admin(
        &self,
        msg: pb::AdminMessage,
        want_response: bool,
        reboots: bool,
    ) -> Result<Option<pb::AdminMessage>, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Command::Admin {
                msg: Box::new(msg),
                want_response,
                reboots,
                reply,
            })
            .await
            .map_err(|_| LinkError::Closed)?;
        rx.await.map_err(|_| LinkError::Closed)?
    }

    /// Forgets every node but my own (after a NodeDB reset).
    pub async fn forget_nodes(&self) -> Result<(), LinkError> {
        self.cmd
            .send(Command::ForgetNodes)
            .await
            .map_err(|_| LinkError::Closed)
    }

    /// Sends a mesh packet; returns its id once written to the radio.
    pub async fn send(&self, packet: pb::MeshPacket) -> Result<u32, LinkError> {
        let (reply, rx) = oneshot::channel();
        self.cmd
            .send(Command::Send {
                packet: Box::new(packet),
                reply,
            })
            .await
            .map_err(|_| LinkError::Closed)?;
        rx.await.map_err(|_| LinkError::Closed)?
    }
}

/// Connects to a radio and completes the config handshake, then hands the stream to a new
/// link task. Returns as soon as `config_complete_id` arrives.
pub async fn connect(addr: SocketAddr, opts: LinkOptions) -> Result<LinkHandle, LinkError> {
    let (stream, decoder, fresh) = open(addr, &opts).await?;
    let mut state = RadioState::new(opts.packet_log_max);
    state.replace_config(fresh);
    state.traces = crate::radio::trace::TraceBook::new(opts.probe_interval);
    let state = Arc::new(RwLock::new(state));
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (events, _) = broadcast::channel(128);
    let (shutdown, shutdown_rx) = watch::channel(None);
    let handle = LinkHandle {
        addr,
        cmd: cmd_tx,
        state: state.clone(),
        events: events.clone(),
        shutdown: Arc::new(shutdown),
        automation: Arc::new(automation::Shared::default()),
    };
    let task = LinkTask {
        automation: handle.automation.clone(),
        self_cmd: handle.cmd.downgrade(),
        addr,
        opts,
        state,
        events,
        cmd_rx,
        shutdown: shutdown_rx,
        texts: VecDeque::new(),
        last_text: None,
        awaiting_ack: HashMap::new(),
        awaiting_admin: HashMap::new(),
        reboot_expected: None,
    };
    tokio::spawn(task.run(stream, decoder));
    Ok(handle)
}

/// TCP connect plus handshake, bounded by the handshake timeout.
async fn open(
    addr: SocketAddr,
    opts: &LinkOptions,
) -> Result<(TcpStream, FrameDecoder, RadioState), LinkError> {
    let secs = opts.handshake_timeout.as_secs();
    match timeout(
        opts.handshake_timeout,
        open_inner(addr, opts.packet_log_max),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(LinkError::HandshakeTimeout { addr, secs }),
    }
}

async fn open_inner(
    addr: SocketAddr,
    packet_log_max: usize,
) -> Result<(TcpStream, FrameDecoder, RadioState), LinkError> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| LinkError::Connect {
            addr,
            reason: e.to_string(),
        })?;
    let _ = stream.set_nodelay(true);
    // Any nonce but the firmware's special ones (69420 config only, 69421 node DB only).
    let nonce: u32 = rand::rng().random_range(100_000..u32::MAX);
    let want = pb::ToRadio {
        payload_variant: Some(pb::to_radio::PayloadVariant::WantConfigId(nonce)),
    };
    stream
        .write_all(&proto::encode(&want))
        .await
        .map_err(|e| LinkError::Connect {
            addr,
            reason: e.to_string(),
        })?;
    let mut decoder = FrameDecoder::default();
    let mut state = RadioState::new(packet_log_max);
    loop {
        let n = stream
            .read_buf(decoder.read_buffer())
            .await
            .map_err(|_| LinkError::HandshakeClosed { addr })?;
        if n == 0 {
            return Err(LinkError::HandshakeClosed { addr });
        }
        while let Some(frame) = decoder.next_frame() {
            let Ok(msg) = pb::FromRadio::decode(frame.as_slice()) else {
                continue;
            };
            if let Some(pb::from_radio::PayloadVariant::ConfigCompleteId(id)) = msg.payload_variant
            {
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
    /// Texts waiting for the firmware's interval, oldest first.
    texts: VecDeque<(pb::MeshPacket, Arc<TextMessage>)>,
    last_text: Option<Instant>,
    /// Sent texts waiting for their routing reply, by packet id.
    awaiting_ack: HashMap<u32, Instant>,
    /// Admin requests waiting for the radio's answer, by packet id.
    awaiting_admin: HashMap<u32, (Instant, AdminReply)>,
    /// When an admin message that reboots the radio was sent.
    reboot_expected: Option<Instant>,
    /// Filter, auto-responder and beacon of this link.
    automation: Arc<automation::Shared>,
    /// For replies the link schedules itself; weak, so the link still ends with its handles.
    self_cmd: mpsc::WeakSender<Command>,
}

/// How long the auto-responder waits before it answers (off the receive path).
const REPLY_DELAY: Duration = Duration::from_millis(1500);

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
                    let bye = pb::ToRadio {
                        payload_variant: Some(pb::to_radio::PayloadVariant::Disconnect(true)),
                    };
                    let _ = timeout(
                        Duration::from_millis(200),
                        stream.write_all(&proto::encode(&bye)),
                    )
                    .await;
                    let _ = stream.shutdown().await;
                    self.fail_queued(&reason);
                    self.fail_traces(&reason);
                    self.set_status(LinkStatus::Closed { reason });
                    return;
                }
                Ended::Lost(reason) => match self.reboot_expected.take() {
                    Some(at) if at.elapsed() < REBOOT_WINDOW => REBOOTING.to_string(),
                    _ => reason,
                },
            };
            for (_, (_, reply)) in self.awaiting_admin.drain() {
                let _ = reply.send(Err(LinkError::Down(reason.clone())));
            }
            drop(stream);
            tracing::info!(radio = %self.addr, %reason, "radio link lost; reconnecting");
            self.fail_queued(&reason);
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
        // While a rebooting radio is away, say so rather than "connection refused".
        let rebooting = error == REBOOTING;
        loop {
            attempt += 1;
            self.set_status(LinkStatus::Reconnecting {
                attempt,
                error: error.clone(),
            });
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
                        Some(Command::SendText { reply, .. }) => { let _ = reply.send(Err(LinkError::Down(error.clone()))); }
                        Some(Command::Traceroute { reply, .. }) => { let _ = reply.send(Err(LinkError::Down(error.clone()).into())); }
                        Some(Command::CancelTrace { dest, reply }) => { let _ = reply.send(self.cancel_trace(dest)); }
                        Some(Command::Admin { reply, .. }) => { let _ = reply.send(Err(LinkError::Down(error.clone()))); }
                        Some(Command::ForgetNodes) => {}
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
                    error = if rebooting && attempt < 6 {
                        REBOOTING.to_string()
                    } else {
                        e.to_string()
                    };
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Serves one TCP connection until it is lost or the link is closed.
    async fn serve(&mut self, stream: &mut TcpStream, decoder: &mut FrameDecoder) -> Ended {
        let mut heartbeat =
            tokio::time::interval_at(Instant::now() + HEARTBEAT_EVERY, HEARTBEAT_EVERY);
        let check_every = (self.opts.stale_after / 4).max(Duration::from_millis(250));
        let mut stale_check = tokio::time::interval_at(Instant::now() + check_every, check_every);
        let mut ack_check = tokio::time::interval(Duration::from_millis(500));
        // Frames buffered with the handshake's last read.
        if let Some(ended) = self.drain(decoder) {
            return ended;
        }
        loop {
            let (next_text_at, has_texts) = (self.next_text_at(), !self.texts.is_empty());
            let (next_probe_at, has_probes) = {
                let st = self.state.read().unwrap_or_else(|e| e.into_inner());
                (st.traces.next_send_at(), st.traces.has_queued())
            };
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
                        let packet = *packet;
                        let msg = pb::ToRadio { payload_variant: Some(pb::to_radio::PayloadVariant::Packet(packet.clone())) };
                        if let Err(e) = stream.write_all(&proto::encode(&msg)).await {
                            let _ = reply.send(Err(LinkError::Down(e.to_string())));
                            return Ended::Lost(format!("write failed: {e}"));
                        }
                        let entry = self.write_state().apply_packet(packet, true);
                        let _ = self.events.send(LinkEvent::Packet(entry));
                        let _ = reply.send(Ok(id));
                    }
                    Some(Command::SendText { to, channel, text, reply }) => {
                        let _ = reply.send(Ok(self.enqueue_text(to, channel, text)));
                    }
                    Some(Command::Traceroute { dest, hop_limit, timeout, sweep_id, reply }) => {
                        let _ = reply.send(self.enqueue_trace(dest, hop_limit, timeout, sweep_id));
                    }
                    Some(Command::CancelTrace { dest, reply }) => {
                        let _ = reply.send(self.cancel_trace(dest));
                    }
                    Some(Command::ForgetNodes) => {
                        let mut st = self.write_state();
                        let me = st.my_node_num;
                        st.nodes.retain(|n| n.num() == me);
                    }
                    Some(Command::Admin { msg, want_response, reboots, reply }) => {
                        if let Err(e) = self.send_admin(stream, *msg, want_response, reboots, reply).await {
                            return Ended::Lost(format!("write failed: {e}"));
                        }
                    }
                },
                _ = tokio::time::sleep_until(next_probe_at), if has_probes => {
                    if let Err(e) = self.send_due_probe(stream).await {
                        return Ended::Lost(format!("write failed: {e}"));
                    }
                }
                _ = tokio::time::sleep_until(next_text_at), if has_texts => {
                    if let Err(e) = self.send_next_text(stream).await {
                        return Ended::Lost(format!("write failed: {e}"));
                    }
                }
                _ = ack_check.tick() => {
                    self.expire_acks();
                    self.expire_admin();
                    let expired = self.write_state().traces.expire();
                    for dest in expired {
                        self.trace_changed(dest);
                    }
                }
                read = stream.read_buf(decoder.read_buffer()) => match read {
                    Ok(0) => return Ended::Lost("the radio closed the connection".into()),
                    Err(e) => return Ended::Lost(format!("read failed: {e}")),
                    Ok(_) => {
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
    fn drain(&mut self, decoder: &mut FrameDecoder) -> Option<Ended> {
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
            if let Some(pb::from_radio::PayloadVariant::ClientNotification(n)) =
                &msg.payload_variant
            {
                // Firmware refuses a probe inside its interval with just this notification.
                let refused = n
                    .reply_id
                    .and_then(|id| self.write_state().traces.refused(id, &n.message));
                if let Some(dest) = refused {
                    self.trace_changed(dest);
                }
            }
            if let Some(pb::from_radio::PayloadVariant::Packet(p)) = &msg.payload_variant {
                // Answers to our own requests are always noted.
                self.observe_admin(p);
                let changed = self.write_state().traces.observe(p);
                if let Some(dest) = changed {
                    self.trace_changed(dest);
                }
                let port = match &p.payload_variant {
                    Some(pb::mesh_packet::PayloadVariant::Decoded(d)) => d.portnum,
                    _ => -1,
                };
                // A filtered packet reaches neither the log, nor messages, nor the responder.
                if !self.automation.passes(NodeNum(p.from), port) {
                    if let Some((request_id, _)) = routing_result(p) {
                        self.awaiting_ack.remove(&request_id);
                    }
                    continue;
                }
                self.observe(p);
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

/// The routing result a packet carries: (request id, error code; 0 = delivered).
fn routing_result(p: &pb::MeshPacket) -> Option<(u32, i32)> {
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    if d.portnum != pb::PortNum::RoutingApp as i32 || d.request_id == 0 {
        return None;
    }
    match pb::Routing::decode(d.payload.as_slice()).ok()?.variant? {
        pb::routing::Variant::ErrorReason(e) => Some((d.request_id, e)),
        _ => None,
    }
}

impl LinkTask {
    fn record(&self, op: HistoryOp) {
        if let Some(tx) = &self.opts.messages {
            let _ = tx.send(op);
        }
    }

    fn set_delivery(&self, packet_id: u32, state: Delivery) {
        let radio = self.state.read().map(|s| s.my_node_num).unwrap_or_default();
        self.record(HistoryOp::State {
            radio,
            packet_id,
            state: state.clone(),
        });
        let _ = self.events.send(LinkEvent::Delivery { packet_id, state });
    }

    /// Notes what a received packet means for messages: a text to keep, or an ack.
    fn observe(&mut self, p: &pb::MeshPacket) {
        if let Some((request_id, error)) = routing_result(p) {
            if self.awaiting_ack.remove(&request_id).is_some() {
                let state = if error == 0 {
                    Delivery::Acked
                } else {
                    let name = pb::routing::Error::try_from(error)
                        .map(|e| e.as_str_name().to_string())
                        .unwrap_or_else(|_| format!("ERROR_{error}"));
                    Delivery::Failed(name)
                };
                self.set_delivery(request_id, state);
            }
            return;
        }
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            return;
        };
        if d.portnum != pb::PortNum::TextMessageApp as i32 {
            return;
        }
        let radio = self.state.read().map(|s| s.my_node_num).unwrap_or_default();
        let (from, to, channel) = (
            NodeNum(p.from),
            NodeNum(p.to),
            ChannelIndex::from_radio(p.channel),
        );
        let msg = Arc::new(TextMessage {
            radio,
            packet_id: p.id,
            outgoing: false,
            from,
            to,
            channel,
            convo: Convo::of(to, from, channel),
            text: String::from_utf8_lossy(&d.payload).into_owned(),
            at: SystemTime::now(),
            state: Delivery::Received,
        });
        self.record(HistoryOp::Insert((*msg).clone()));
        self.auto_respond(p, &msg);
        let _ = self.events.send(LinkEvent::Message(msg));
    }

    /// Asks the auto-responder; a reply goes out after a short delay through the send queue.
    fn auto_respond(&self, p: &pb::MeshPacket, msg: &TextMessage) {
        let (me, incoming) = {
            let st = self.state.read().unwrap_or_else(|e| e.into_inner());
            let user = st
                .nodes
                .get(NodeNum(p.from))
                .and_then(|n| n.user.clone())
                .filter(|u| !u.long_name().is_empty() || !u.short_name().is_empty());
            let my_name = st
                .my_node()
                .and_then(|n| n.user.as_ref())
                .map(|u| u.long_name().to_string())
                .unwrap_or_default();
            let hops =
                (p.hop_start > 0 && p.hop_start >= p.hop_limit).then(|| p.hop_start - p.hop_limit);
            (
                automation::Me {
                    num: st.my_node_num,
                    name: my_name,
                },
                automation::Incoming {
                    from: NodeNum(p.from),
                    to: NodeNum(p.to),
                    channel: ChannelIndex::from_radio(p.channel),
                    text: msg.text.clone(),
                    via_mqtt: p.via_mqtt,
                    hops,
                    sender_name: user.as_ref().map(|u| u.long_name().to_string()),
                    sender_short: user.map(|u| u.short_name().to_string()),
                },
            )
        };
        let Some(reply) = self.automation.respond(&incoming, &me) else {
            return;
        };
        let weak = self.self_cmd.clone();
        tokio::spawn(async move {
            tokio::time::sleep(REPLY_DELAY).await;
            let Some(cmd) = weak.upgrade() else { return };
            let (tx, _rx) = oneshot::channel();
            let _ = cmd
                .send(Command::SendText {
                    to: reply.to,
                    channel: reply.channel,
                    text: reply.text,
                    reply: tx,
                })
                .await;
        });
    }

    /// When the next queued text may leave.
    fn next_text_at(&self) -> Instant {
        match self.last_text {
            Some(t) => t + self.opts.text_interval,
            None => Instant::now(),
        }
    }

    fn enqueue_text(&mut self, to: Dest, channel: ChannelIndex, text: String) -> Queued {
        let (radio, hop_limit) = {
            let st = self.state.read().unwrap_or_else(|e| e.into_inner());
            (
                st.my_node_num,
                st.config
                    .lora
                    .as_ref()
                    .map(|l| l.hop_limit)
                    .filter(|h| (1..=7).contains(h))
                    .unwrap_or(3),
            )
        };
        let packet_id = rand::rng().random_range(1..u32::MAX);
        let packet = pb::MeshPacket {
            from: radio.0,
            to: to.num().0,
            channel: channel.get(),
            id: packet_id,
            want_ack: true,
            hop_limit,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TextMessageApp as i32,
                payload: text.clone().into_bytes(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let msg = Arc::new(TextMessage {
            radio,
            packet_id,
            outgoing: true,
            from: radio,
            to: to.num(),
            channel,
            convo: Convo::of(to.num(), to.num(), channel),
            text,
            at: SystemTime::now(),
            state: Delivery::Queued,
        });
        let ahead = self.texts.len();
        let first = self
            .next_text_at()
            .saturating_duration_since(Instant::now());
        let sends_in = first + self.opts.text_interval * u32::try_from(ahead).unwrap_or(u32::MAX);
        self.record(HistoryOp::Insert((*msg).clone()));
        let _ = self.events.send(LinkEvent::Message(msg.clone()));
        self.texts.push_back((packet, msg));
        SEND_QUEUE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Queued {
            packet_id,
            ahead,
            sends_in,
        }
    }

    async fn send_next_text(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let Some((packet, _msg)) = self.texts.pop_front().inspect(|_| {
            SEND_QUEUE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }) else {
            return Ok(());
        };
        let id = packet.id;
        let frame = proto::encode(&pb::ToRadio {
            payload_variant: Some(pb::to_radio::PayloadVariant::Packet(packet.clone())),
        });
        if let Err(e) = stream.write_all(&frame).await {
            self.set_delivery(
                id,
                Delivery::Failed(format!("link lost before sending: {e}")),
            );
            return Err(e);
        }
        self.last_text = Some(Instant::now());
        self.awaiting_ack.insert(id, Instant::now());
        let entry = self.write_state().apply_packet(packet, true);
        let _ = self.events.send(LinkEvent::Packet(entry));
        self.set_delivery(id, Delivery::Sent);
        Ok(())
    }

    fn expire_acks(&mut self) {
        let timeout = self.opts.ack_timeout;
        let expired: Vec<u32> = self
            .awaiting_ack
            .iter()
            .filter(|(_, at)| at.elapsed() > timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.awaiting_ack.remove(&id);
            self.set_delivery(id, Delivery::Timeout);
        }
    }

    /// Queued texts cannot go out on a lost link: say so rather than lose them silently.
    fn fail_queued(&mut self, reason: &str) {
        while let Some((p, _)) = self.texts.pop_front() {
            SEND_QUEUE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.set_delivery(p.id, Delivery::Failed(format!("not sent: {reason}")));
        }
    }
}

impl LinkTask {
    fn enqueue_trace(
        &mut self,
        dest: NodeNum,
        hop_limit: Option<u32>,
        timeout: Duration,
        sweep_id: Option<i64>,
    ) -> Result<Duration, TraceError> {
        let mut st = self.write_state();
        let me = st.my_node_num;
        let default_hops = st
            .config
            .lora
            .as_ref()
            .map(|l| l.hop_limit)
            .filter(|h| (1..=7).contains(h))
            .unwrap_or(3);
        let r = st
            .traces
            .enqueue(me, dest, hop_limit.unwrap_or(default_hops), timeout);
        if let (Ok(_), Some(t)) = (&r, st.traces.traces.get_mut(&dest)) {
            t.sweep_id = sweep_id;
        }
        drop(st);
        if r.is_ok() {
            let _ = self.events.send(LinkEvent::Trace(dest));
        }
        Ok(r?)
    }

    fn cancel_trace(&mut self, dest: NodeNum) -> bool {
        let done = self.write_state().traces.cancel(dest);
        if done {
            self.trace_changed(dest);
        }
        done
    }

    async fn send_due_probe(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let id = rand::rng().random_range(1..u32::MAX);
        let packet = {
            let mut st = self.write_state();
            let me = st.my_node_num;
            st.traces.take_due(me, id)
        };
        let Some(packet) = packet else { return Ok(()) };
        let dest = NodeNum(packet.to);
        let frame = proto::encode(&pb::ToRadio {
            payload_variant: Some(pb::to_radio::PayloadVariant::Packet(packet.clone())),
        });
        stream.write_all(&frame).await?;
        let entry = self.write_state().apply_packet(packet, true);
        let _ = self.events.send(LinkEvent::Packet(entry));
        self.trace_changed(dest);
        Ok(())
    }

    /// Publishes a trace change; a finished trace goes to the history.
    fn trace_changed(&self, dest: NodeNum) {
        let (radio, done) = {
            let st = self.state.read().unwrap_or_else(|e| e.into_inner());
            (
                st.my_node_num,
                st.traces
                    .traces
                    .get(&dest)
                    .filter(|t| !t.status.is_open())
                    .cloned(),
            )
        };
        if let Some(t) = done {
            self.record(HistoryOp::Trace {
                radio,
                trace: Box::new(t),
            });
        }
        let _ = self.events.send(LinkEvent::Trace(dest));
    }

    fn fail_traces(&mut self, reason: &str) {
        let failed = self
            .write_state()
            .traces
            .fail_open(&format!("link lost: {reason}"));
        for dest in failed {
            self.trace_changed(dest);
        }
    }
}

impl LinkTask {
    async fn send_admin(
        &mut self,
        stream: &mut TcpStream,
        msg: pb::AdminMessage,
        want_response: bool,
        reboots: bool,
        reply: AdminReply,
    ) -> std::io::Result<()> {
        let me = self.state.read().map(|s| s.my_node_num).unwrap_or_default();
        let id = rand::rng().random_range(1..u32::MAX);
        let packet = pb::MeshPacket {
            to: me.0,
            id,
            want_ack: true,
            hop_limit: 3,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::AdminApp as i32,
                payload: msg.encode_to_vec(),
                want_response,
                ..Default::default()
            })),
            ..Default::default()
        };
        let frame = proto::encode(&pb::ToRadio {
            payload_variant: Some(pb::to_radio::PayloadVariant::Packet(packet.clone())),
        });
        if let Err(e) = stream.write_all(&frame).await {
            let _ = reply.send(Err(LinkError::Down(e.to_string())));
            return Err(e);
        }
        if reboots {
            self.reboot_expected = Some(Instant::now());
        }
        let entry = self.write_state().apply_packet(packet, true);
        let _ = self.events.send(LinkEvent::Packet(entry));
        if want_response {
            self.awaiting_admin.insert(id, (Instant::now(), reply));
        } else {
            let _ = reply.send(Ok(None));
        }
        Ok(())
    }

    /// Hands an admin answer to whoever asked.
    fn observe_admin(&mut self, p: &pb::MeshPacket) {
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            return;
        };
        if d.portnum != pb::PortNum::AdminApp as i32 || d.request_id == 0 {
            return;
        }
        let Some((_, reply)) = self.awaiting_admin.remove(&d.request_id) else {
            return;
        };
        let answer = pb::AdminMessage::decode(d.payload.as_slice())
            .map_err(|e| LinkError::Down(format!("undecodable admin answer: {e}")));
        let _ = reply.send(answer.map(Some));
    }

    fn expire_admin(&mut self) {
        let late: Vec<u32> = self
            .awaiting_admin
            .iter()
            .filter(|(_, (at, _))| at.elapsed() > ADMIN_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some((_, reply)) = self.awaiting_admin.remove(&id) {
                let _ = reply.send(Err(LinkError::Down(
                    "the radio did not answer the admin request".into(),
                )));
            }
        }
    }
}
