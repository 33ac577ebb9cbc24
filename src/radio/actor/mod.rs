//! The link actor: one tokio task per radio that owns its TCP stream. It does the config
//! handshake, keeps [`RadioState`] current, answers its handle's commands, runs the radio's
//! timers (text and probe queues, ack and admin timeouts, auto-replies, the beacon, the
//! heartbeat), publishes [`LinkEvent`]s, and re-establishes a lost connection with backoff
//! until it is closed.
//!
//! The jobs live in their own files: `conn` (connect, handshake, writing frames), `inbound`
//! (what a frame from the radio means), `texts` (the text queue and delivery states),
//! `probes` (traceroutes), `admin` (admin requests), `timers` (auto-replies and beacon),
//! `liveness` (heartbeats that notice a hung radio) and `reconnect` (getting a lost radio
//! back, and backing off from one another client took).

mod admin;
mod conn;
mod history;
mod inbound;
mod liveness;
mod probes;
mod reconnect;
mod texts;
mod timers;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::ids::NodeNum;
use crate::metrics::Metrics;
use crate::proto::{pb, FrameDecoder};
use crate::radio::automation;
use crate::radio::events::LinkEvent;
use crate::radio::handle::{AdminReply, Command, Feed, LinkError, LinkHandle, LinkOptions};
use crate::radio::state::{LinkStatus, RadioState};
use crate::radio::text::{HistoryOp, Message as TextMessage};
use crate::radio::trace::Trace;

/// What the status bar says while a radio restarts after an admin action.
const REBOOTING: &str = "the radio is rebooting";
/// A link lost within this long of an admin message that reboots the radio is "rebooting".
const REBOOT_WINDOW: Duration = Duration::from_secs(60);
/// How many events the link's broadcast keeps for its slowest receiver: at 5 packets a
/// second (and a text for every three), about 10 s of them. A packet log's stream that falls
/// further behind sends what it missed from the log (`web::pages::follow`); 128 slots and the
/// texts they held cost 10 KB a radio (BENCHMARKS.md).
const EVENTS_KEPT: usize = 64;
/// A time far enough away to stand for "never" in a `select!` arm that is switched off.
const FAR: Duration = Duration::from_secs(86_400);

/// Connects to a radio and completes the config handshake, then hands the stream to a new
/// actor. Returns as soon as `config_complete_id` arrives.
pub async fn connect(addr: SocketAddr, opts: LinkOptions) -> Result<LinkHandle, LinkError> {
    let (stream, decoder, fresh) = conn::open(addr, &opts, conn::Want::Everything).await?;
    let mut state = RadioState::new(opts.packet_log_max);
    state.replace_config(fresh);
    state.traces = crate::radio::trace::TraceBook::new(opts.probe_interval);
    let state = Arc::new(RwLock::new(state));
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let (events, _) = broadcast::channel(EVENTS_KEPT);
    let from_radio = Feed::default();
    let (shutdown, shutdown_rx) = watch::channel(None);
    let handle = LinkHandle {
        addr,
        cmd: cmd_tx,
        state: state.clone(),
        events: events.clone(),
        from_radio: from_radio.clone(),
        shutdown: Arc::new(shutdown),
        automation: Arc::new(automation::Shared::default()),
    };
    let actor = Actor {
        automation: handle.automation.clone(),
        addr,
        opts,
        state,
        events,
        from_radio,
        cmd_rx,
        shutdown: shutdown_rx,
        texts: VecDeque::new(),
        last_text: None,
        awaiting_ack: HashMap::new(),
        awaiting_admin: HashMap::new(),
        reboot_expected: None,
        replies: VecDeque::new(),
        probe_waiters: HashMap::new(),
        heartbeats: liveness::Heartbeats::new(),
        connected_at: Instant::now(),
        taken_streak: 0,
    };
    tokio::spawn(actor.run(stream, decoder));
    Ok(handle)
}

struct Actor {
    addr: SocketAddr,
    opts: LinkOptions,
    state: Arc<RwLock<RadioState>>,
    events: broadcast::Sender<LinkEvent>,
    /// What a client of the radio would see, for the virtual node (see `LinkHandle`).
    from_radio: Feed,
    cmd_rx: mpsc::Receiver<Command>,
    shutdown: watch::Receiver<Option<String>>,
    /// Texts waiting for the firmware's interval, oldest first.
    texts: VecDeque<(pb::MeshPacket, Arc<TextMessage>)>,
    last_text: Option<Instant>,
    /// Sent texts waiting for their routing replies, by packet id.
    awaiting_ack: HashMap<u32, texts::Awaiting>,
    /// Admin requests waiting for the radio's answer, by packet id.
    awaiting_admin: HashMap<u32, (Instant, AdminReply)>,
    /// When an admin message that reboots the radio was sent.
    reboot_expected: Option<Instant>,
    /// Filter, auto-responder and beacon of this link.
    automation: Arc<automation::Shared>,
    /// Auto-responder replies waiting for their delay, in order.
    replies: VecDeque<(Instant, automation::Reply)>,
    /// Who waits for a probe to finish (a sweep), by destination.
    probe_waiters: HashMap<NodeNum, oneshot::Sender<Trace>>,
    /// Heartbeats that tell a live radio from a hung one.
    heartbeats: liveness::Heartbeats,
    /// When the current connection was made.
    connected_at: Instant,
    /// How many times in a row the radio closed a healthy link (another client took it).
    taken_streak: u32,
}

/// Why a connected session with the radio ended.
enum Ended {
    /// Closed on purpose; the actor ends.
    Closed(String),
    /// Lost (broken, silent, rebooted); the actor reconnects soon.
    Lost(String),
    /// The radio closed a healthy link on purpose, as firmware does to its client when
    /// another one connects; the actor backs off before taking it back.
    Taken,
}

/// A write to the radio failed: the connection is lost.
fn write_failed(e: std::io::Error) -> Ended {
    Ended::Lost(format!("write failed: {e}"))
}

impl Actor {
    async fn run(mut self, mut stream: TcpStream, mut decoder: FrameDecoder) {
        loop {
            let ended = self.serve(&mut stream, &mut decoder).await;
            let rebooting =
                matches!(self.reboot_expected.take(), Some(at) if at.elapsed() < REBOOT_WINDOW);
            let (reason, wait) = match ended {
                Ended::Closed(reason) => {
                    conn::say_goodbye(&mut stream).await;
                    self.fail_queued(&reason);
                    self.fail_traces(&reason);
                    self.set_status(LinkStatus::Closed { reason });
                    return;
                }
                _ if rebooting => (REBOOTING.to_string(), reconnect::Wait::Soon),
                Ended::Lost(reason) => (reason, reconnect::Wait::Soon),
                Ended::Taken => (reconnect::TAKEN.to_string(), self.taken_wait()),
            };
            self.fail_admin(&reason);
            drop(stream);
            tracing::info!(radio = %self.addr, %reason, "radio link lost; reconnecting");
            self.fail_queued(&reason);
            // Boxed: a task is as large as its largest state, and the handshake's made the
            // link's 11 KB (4.4 KB boxed), room held for as long as the link lives.
            match Box::pin(self.reconnect(reason, wait)).await {
                Some((s, d)) => {
                    stream = s;
                    decoder = d;
                }
                None => return,
            }
        }
    }

    fn set_status(&self, status: LinkStatus) {
        self.write_state().status = status;
        let _ = self.events.send(LinkEvent::Status);
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, RadioState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, RadioState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a change of the history to the store's writer. The queue is bounded: when the
    /// database cannot keep up the change is counted and logged rather than held without end.
    fn record(&self, op: HistoryOp) {
        let Some(tx) = &self.opts.messages else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(op) {
            Metrics::add(&self.opts.metrics.history_dropped, 1);
            tracing::warn!(radio = %self.addr, "history queue full; a change was not stored");
        }
    }

    /// The reason the link was closed, once it is.
    fn closed_reason(&self, changed: Result<(), watch::error::RecvError>) -> Option<String> {
        let reason = self.shutdown.borrow().clone();
        (changed.is_err() || reason.is_some()).then(|| reason.unwrap_or_else(|| "closed".into()))
    }

    /// Serves one TCP connection until it is lost or the link is closed.
    async fn serve(&mut self, stream: &mut TcpStream, decoder: &mut FrameDecoder) -> Ended {
        self.heartbeats.restart();
        let l = &self.opts.liveness;
        let every = (l.quiet.min(l.answer_within) / 4)
            .clamp(Duration::from_millis(50), Duration::from_millis(500));
        let mut liveness = tokio::time::interval_at(Instant::now() + every, every);
        let check_every = (self.opts.stale_after / 4).max(Duration::from_millis(250));
        let mut stale_check = tokio::time::interval_at(Instant::now() + check_every, check_every);
        let mut timeouts = tokio::time::interval(Duration::from_millis(500));
        self.observe_node_db();
        // Frames buffered with the handshake's last read.
        if let Some(ended) = self.drain(decoder) {
            return ended;
        }
        loop {
            let now = Instant::now();
            let text_at = (!self.texts.is_empty()).then(|| self.next_text_at());
            let probe_at = {
                let st = self.read_state();
                st.traces.has_queued().then(|| st.traces.next_send_at())
            };
            let reply_at = self.replies.front().map(|(at, _)| *at);
            let beacon_at = self.beacon_due_at();
            let never = now + FAR;
            tokio::select! {
                changed = self.shutdown.changed() => {
                    if let Some(reason) = self.closed_reason(changed) {
                        return Ended::Closed(reason);
                    }
                }
                cmd = self.cmd_rx.recv() => {
                    let Some(cmd) = cmd else {
                        return Ended::Closed("no more users of the link".into());
                    };
                    if let Err(e) = self.command(stream, cmd).await {
                        return write_failed(e);
                    }
                }
                _ = tokio::time::sleep_until(probe_at.unwrap_or(never)), if probe_at.is_some() => {
                    if let Err(e) = self.send_due_probe(stream).await {
                        return write_failed(e);
                    }
                }
                _ = tokio::time::sleep_until(text_at.unwrap_or(never)), if text_at.is_some() => {
                    if let Err(e) = self.send_next_text(stream).await {
                        return write_failed(e);
                    }
                }
                _ = tokio::time::sleep_until(reply_at.unwrap_or(never)), if reply_at.is_some() => {
                    self.send_due_replies();
                }
                _ = tokio::time::sleep_until(beacon_at.unwrap_or(never)), if beacon_at.is_some() => {
                    self.send_beacon();
                }
                // The beacon's settings changed: the loop recomputes when it is due.
                _ = self.automation.1.notified() => {}
                _ = timeouts.tick() => {
                    self.expire_acks();
                    self.expire_admin();
                    self.expire_probes();
                }
                read = stream.read_buf(decoder.read_buffer()) => match read {
                    // An orderly close by a radio that was answering: it took another client.
                    Ok(0) => return Ended::Taken,
                    Err(e) => return Ended::Lost(format!("read failed: {e}")),
                    Ok(_) => {
                        if let Some(ended) = self.drain(decoder) {
                            return ended;
                        }
                    }
                },
                _ = liveness.tick() => match self.check_liveness() {
                    liveness::Check::Fine => {}
                    liveness::Check::Dead(reason) => return Ended::Lost(reason),
                    liveness::Check::Probe => {
                        let hb = pb::to_radio::PayloadVariant::Heartbeat(pb::Heartbeat::default());
                        if let Err(e) = conn::write(stream, hb).await {
                            return write_failed(e);
                        }
                        self.heartbeats.sent();
                    }
                },
                _ = stale_check.tick() => {
                    let silent = self.read_state().last_rx.elapsed();
                    if silent > self.opts.stale_after {
                        return Ended::Lost(format!("no traffic for {} s", silent.as_secs()));
                    }
                }
            }
        }
    }

    /// Carries out one command from a handle on a live connection.
    async fn command(&mut self, stream: &mut TcpStream, cmd: Command) -> std::io::Result<()> {
        match cmd {
            Command::Send { mut packet, reply } => {
                if packet.id == 0 {
                    packet.id = crate::ids::PacketId::random().get();
                }
                let id = packet.id;
                match self.send_packet(stream, *packet).await {
                    Ok(()) => {
                        let _ = reply.send(Ok(id));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(LinkError::Down(e.to_string())));
                        return Err(e);
                    }
                }
            }
            Command::SendTextPacket { packet, reply } => {
                let _ = reply.send(Ok(self.enqueue_text_packet(*packet)));
            }
            Command::SendText {
                to,
                channel,
                text,
                reply,
            } => {
                let _ = reply.send(Ok(self.enqueue_text(to, channel, text)));
            }
            Command::Traceroute { probe, reply } => {
                let _ = reply.send(self.enqueue_trace(*probe));
            }
            Command::CancelTrace { dest, reply } => {
                let _ = reply.send(self.cancel_trace(dest));
            }
            Command::ReconnectNow { reply } => {
                let _ = reply.send(false);
            }
            Command::Rekey { key, reply } => {
                let mut st = self.write_state();
                st.radio_key = key;
                st.apart_from = None;
                drop(st);
                // Its automation is the known radio's: loaded again by the next holder.
                self.automation.lock().radio = crate::ids::RadioKey(0);
                let _ = reply.send(());
            }
            Command::ForgetNodes { reply } => {
                let mut st = self.write_state();
                let me = st.my_node_num;
                st.nodes.retain(|n| n.num() == me);
                drop(st);
                let _ = reply.send(());
            }
            Command::Admin {
                msg,
                want_response,
                reboots,
                reply,
            } => {
                self.send_admin(stream, *msg, want_response, reboots, reply)
                    .await?
            }
        }
        Ok(())
    }

    /// Writes a packet to the radio, then logs it as outgoing and publishes it.
    async fn send_packet(
        &mut self,
        stream: &mut TcpStream,
        packet: pb::MeshPacket,
    ) -> std::io::Result<()> {
        conn::write(stream, pb::to_radio::PayloadVariant::Packet(packet.clone())).await?;
        let entry = self.write_state().apply_packet(packet, true);
        let _ = self.events.send(LinkEvent::Packet(entry));
        Ok(())
    }
}
