//! The handle of a link: what the rest of the server may ask of a radio. Every request is a
//! [`Command`] to the link's actor with a oneshot for the answer; reads of what the link
//! knows go through a short read guard that never spans I/O.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::ids::{ChannelIndex, Dest, NodeNum};
use crate::proto::pb;
use crate::radio::automation;
use crate::radio::events::LinkEvent;
use crate::radio::state::RadioState;
use crate::radio::trace::Trace;

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
    /// How long a minute of the beacon's interval lasts (a minute, except in tests).
    pub beacon_minute: Duration,
    /// When a quiet link is probed, and how long a link taken by another client waits.
    pub liveness: Liveness,
    /// Where message history goes (the store writer task).
    pub messages: Option<mpsc::Sender<crate::radio::text::HistoryOp>>,
    /// The app's counters.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Tells radios apart (store keys); without it a radio's key is its node number.
    pub identities: Option<Arc<dyn crate::radio::identity::Identities>>,
}

/// How a link tells a live radio from a hung one, and how it backs off from a radio another
/// client took. The defaults are what firmware does and needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Liveness {
    /// A link quiet this long sends a heartbeat; firmware (2.7.4 on) answers with its queue
    /// status, and a heartbeat keeps its 15-minute idle timer from cutting the client off.
    pub quiet: Duration,
    /// No answer to that heartbeat within this long: the radio hangs, the link is dead.
    pub answer_within: Duration,
    /// The first wait after the radio closed a healthy link (firmware serves one client and
    /// closes the previous one when another connects); it doubles each time up to
    /// `taken_backoff_max`.
    pub taken_backoff: Duration,
    pub taken_backoff_max: Duration,
}

impl Default for Liveness {
    fn default() -> Liveness {
        Liveness {
            quiet: Duration::from_secs(30),
            answer_within: Duration::from_secs(15),
            taken_backoff: Duration::from_secs(60),
            taken_backoff_max: Duration::from_secs(15 * 60),
        }
    }
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

/// Why a traceroute was not queued.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum TraceError {
    #[error(transparent)]
    Refused(#[from] crate::radio::trace::Refused),
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// A traceroute to queue.
#[derive(Debug)]
pub struct Probe {
    pub dest: NodeNum,
    pub hop_limit: Option<u32>,
    pub timeout: Duration,
    pub sweep_id: Option<i64>,
    /// Gets the finished trace (for a sweep, which waits for each probe in turn).
    pub done: Option<oneshot::Sender<Trace>>,
}

/// Where the answer to an admin request goes.
pub(super) type AdminReply = oneshot::Sender<Result<Option<pb::AdminMessage>, LinkError>>;

/// What a handle asks of its actor. Large messages are boxed: the channel allocates its
/// slots up front, per link.
pub(super) enum Command {
    Send {
        packet: Box<pb::MeshPacket>,
        reply: oneshot::Sender<Result<u32, LinkError>>,
    },
    /// A text packet built by a virtual node's client: its id kept, sent from my node.
    SendTextPacket {
        packet: Box<pb::MeshPacket>,
        reply: oneshot::Sender<Result<Queued, LinkError>>,
    },
    SendText {
        to: Dest,
        channel: ChannelIndex,
        text: String,
        reply: oneshot::Sender<Result<Queued, LinkError>>,
    },
    Traceroute {
        probe: Box<Probe>,
        reply: oneshot::Sender<Result<Duration, TraceError>>,
    },
    CancelTrace {
        dest: NodeNum,
        reply: oneshot::Sender<bool>,
    },
    /// Try the radio again at once, forgetting the backoff; false when the link is up.
    ReconnectNow { reply: oneshot::Sender<bool> },
    /// The radio's NodeDB was reset: forget every node but my own.
    ForgetNodes { reply: oneshot::Sender<()> },
    /// An admin said this radio is one known under another key: its data is keyed so now.
    Rekey {
        key: crate::ids::RadioKey,
        reply: oneshot::Sender<()>,
    },
    Admin {
        msg: Box<pb::AdminMessage>,
        want_response: bool,
        reboots: bool,
        reply: AdminReply,
    },
}

impl Command {
    /// Answers the command with "the link is down" without doing it.
    pub(super) fn refuse(self, why: &str) {
        let down = || LinkError::Down(why.to_string());
        match self {
            Command::Send { reply, .. } => drop(reply.send(Err(down()))),
            Command::SendText { reply, .. } => drop(reply.send(Err(down()))),
            Command::SendTextPacket { reply, .. } => drop(reply.send(Err(down()))),
            Command::Traceroute { reply, .. } => drop(reply.send(Err(down().into()))),
            Command::Admin { reply, .. } => drop(reply.send(Err(down()))),
            Command::CancelTrace { reply, .. } => drop(reply.send(false)),
            Command::ForgetNodes { reply } => drop(reply.send(())),
            Command::Rekey { reply, .. } => drop(reply.send(())),
            Command::ReconnectNow { reply } => drop(reply.send(false)),
        }
    }
}

/// A cloneable handle to a link's actor. Holding one does not keep the radio connected:
/// the [`Registry`](crate::radio::Registry) decides when a link closes.
/// How far a virtual node's client may fall behind the radio before it is dropped.
const FROM_RADIO_QUEUE: usize = 1024;

/// The broadcast of what the radio sends, made for its first subscriber (a virtual node's
/// client): most links never have one, and its slots would cost 40 KB a link.
#[derive(Clone, Default)]
pub(super) struct Feed(Arc<std::sync::OnceLock<broadcast::Sender<Arc<pb::FromRadio>>>>);

impl Feed {
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<pb::FromRadio>> {
        self.0
            .get_or_init(|| broadcast::channel(FROM_RADIO_QUEUE).0)
            .subscribe()
    }

    /// The sender, when someone listens.
    pub(super) fn listened(&self) -> Option<&broadcast::Sender<Arc<pb::FromRadio>>> {
        self.0.get().filter(|tx| tx.receiver_count() > 0)
    }
}

#[derive(Clone)]
pub struct LinkHandle {
    pub(super) addr: SocketAddr,
    pub(super) cmd: mpsc::Sender<Command>,
    pub(super) state: Arc<RwLock<RadioState>>,
    pub(super) events: broadcast::Sender<LinkEvent>,
    /// What the radio says that a client of its own would see (mesh packets, node infos).
    pub(super) from_radio: Feed,
    pub(super) shutdown: Arc<watch::Sender<Option<String>>>,
    pub(super) automation: Arc<automation::Shared>,
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

    /// For work done on the link's behalf (the sweep) to publish its progress.
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

    /// Mesh packets (those the filter lets through), node infos and notifications as the radio
    /// sends them, for the virtual node's clients. Published only while someone subscribes.
    pub fn subscribe_from_radio(&self) -> broadcast::Receiver<Arc<pb::FromRadio>> {
        self.from_radio.subscribe()
    }

    /// Closes the link at once: the actor tells the radio and drops the TCP stream.
    pub fn close(&self, reason: &str) {
        self.shutdown.send_replace(Some(reason.to_string()));
    }

    pub fn is_closed(&self) -> bool {
        self.shutdown.borrow().is_some() || self.cmd.is_closed()
    }

    /// Sends a command and waits for its answer.
    async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, LinkError> {
        let (reply, answer) = oneshot::channel();
        self.cmd
            .send(command(reply))
            .await
            .map_err(|_| LinkError::Closed)?;
        answer.await.map_err(|_| LinkError::Closed)
    }

    /// Queues a text message; it leaves for the radio when the firmware's interval allows.
    pub async fn send_text(
        &self,
        to: Dest,
        channel: ChannelIndex,
        text: String,
    ) -> Result<Queued, LinkError> {
        self.request(|reply| Command::SendText {
            to,
            channel,
            text,
            reply,
        })
        .await?
    }

    /// Queues a text packet a client built (a virtual node's): it keeps its id (a new one when
    /// 0), leaves from my node number through the same queue as every other text, and is
    /// kept in the history like one sent from here.
    pub async fn send_text_packet(&self, packet: pb::MeshPacket) -> Result<Queued, LinkError> {
        self.request(|reply| Command::SendTextPacket {
            packet: Box::new(packet),
            reply,
        })
        .await?
    }

    /// Queues a traceroute in the radio's probe queue; returns how long until it is sent.
    pub async fn traceroute(
        &self,
        dest: NodeNum,
        hop_limit: Option<u32>,
        timeout: Duration,
        sweep_id: Option<i64>,
    ) -> Result<Duration, TraceError> {
        let probe = Probe {
            dest,
            hop_limit,
            timeout,
            sweep_id,
            done: None,
        };
        self.probe(probe).await
    }

    /// Queues a probe as [`LinkHandle::traceroute`] does, with all its options.
    pub async fn probe(&self, probe: Probe) -> Result<Duration, TraceError> {
        self.request(|reply| Command::Traceroute {
            probe: Box::new(probe),
            reply,
        })
        .await?
    }

    /// Cancels a queued or pending traceroute; false when there was none.
    pub async fn cancel_traceroute(&self, dest: NodeNum) -> Result<bool, LinkError> {
        self.request(|reply| Command::CancelTrace { dest, reply })
            .await
    }

    /// Sends an admin message to the radio itself. With `want_response`, waits for the
    /// answer; `reboots` tells the link that the radio will go away and come back.
    pub async fn admin(
        &self,
        msg: pb::AdminMessage,
        want_response: bool,
        reboots: bool,
    ) -> Result<Option<pb::AdminMessage>, LinkError> {
        self.request(|reply| Command::Admin {
            msg: Box::new(msg),
            want_response,
            reboots,
            reply,
        })
        .await?
    }

    /// Tries a lost radio again at once (the user's "Reconnect now"), resetting the backoff;
    /// false when the link was up anyway.
    pub async fn reconnect_now(&self) -> Result<bool, LinkError> {
        self.request(|reply| Command::ReconnectNow { reply }).await
    }

    /// Keys the radio's stored data by `key` from now on (two radios were found to be one).
    pub async fn rekey(&self, key: crate::ids::RadioKey) -> Result<(), LinkError> {
        self.request(|reply| Command::Rekey { key, reply }).await
    }

    /// Forgets every node but my own (after a NodeDB reset).
    pub async fn forget_nodes(&self) -> Result<(), LinkError> {
        self.request(|reply| Command::ForgetNodes { reply }).await
    }

    /// Sends a mesh packet; returns its id once written to the radio.
    pub async fn send(&self, packet: pb::MeshPacket) -> Result<u32, LinkError> {
        self.request(|reply| Command::Send {
            packet: Box::new(packet),
            reply,
        })
        .await?
    }
}
