//! The simulated radio: a real TCP server speaking the firmware's stream API (framing
//! `0x94 0xC3` + length + protobuf), used by every test, by `--demo`, and by `meshdeck sim`.
//!
//! It answers the config handshake with a node DB derived from a seed, produces live traffic,
//! acks texts, answers traceroutes after a delay (nodes whose number is divisible by 5 never
//! do), handles admin messages, enforces the firmware's rate limits on client texts and
//! traceroutes, serves one client at a time, and has fault modes for tests. It logs every
//! request it takes so tests can check what reached the radio.
//!
//! Where things live: `radio` (the [`SimRadio`] handle), `mesh` and `settings` (the
//! generated node DB, channels and config), `server` (accept loop, one client, reading),
//! `handshake`, `handle` (mesh packets from the client), `admin`, `traffic` (live packets),
//! `writer` (the socket's write half and the fault modes), `cli` (`meshdeck sim`).

mod admin;
mod cli;
mod drift;
mod handle;
mod handshake;
mod mesh;
mod neighbors;
mod radio;
mod server;
mod settings;
mod traffic;
mod writer;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::proto::pb;

pub use cli::{run, SimArgs};
pub use mesh::{answers_traceroute, generate_mesh, mesh_json, Mesh};
pub use neighbors::{heard_by, sends_neighbor_info};
pub use radio::SimRadio;

/// Misbehaviour for tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Close the link after sending this many frames.
    DropAfter(u64),
    /// Hang: send nothing more and ignore input, keeping sockets open. Set after a
    /// handshake, the link goes quiet; a new connection meanwhile never gets its handshake.
    Stall,
    /// Interleave junk bytes, oversize frame headers and truncated protobufs with real frames.
    Garbage,
    /// Send the whole handshake except `config_complete_id`.
    NoConfigComplete,
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Node DB size, my node included.
    pub nodes: usize,
    pub seed: u64,
    /// Radio index: each index is a different mesh.
    pub index: u32,
    /// Live packets per second (0 = none).
    pub rate: f64,
    /// The firmware's limit on client traceroutes.
    pub traceroute_interval: Duration,
    /// The firmware's limit on client texts.
    pub text_interval: Duration,
    /// How long a traceroute reply takes.
    pub traceroute_delay: Duration,
    /// How long the radio is gone when it reboots.
    pub reboot_delay: Duration,
    /// How long firmware retransmits a packet nobody relays before it gives up with
    /// `MAX_RETRANSMIT` (about 20 s on firmware).
    pub retransmit_timeout: Duration,
    /// Neighbours rebroadcast what the radio sends (implicit acks); off, nothing is relayed.
    pub relaying: bool,
    /// The firmware's limit on client positions, waypoints, alerts and telemetry, per port.
    pub port_interval: Duration,
    /// What the radio transmits comes back to the client as `SIMULATOR_APP` packets, as in
    /// firmware's simulated mode.
    pub echo_transmissions: bool,
    /// Firmware before 2.7.4: it reports an older version and leaves heartbeats unanswered.
    pub old_firmware: bool,
    /// How often each node with the NeighborInfo module on reports who it hears (firmware:
    /// hours; zero: never). The first reports come within 20 s of a client's handshake.
    pub neighbor_interval: Duration,
    pub fault: Fault,
    /// Give some nodes, a channel and some texts hostile content (XSS payloads, RTL marks),
    /// as strangers on a real mesh may.
    pub hostile_names: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 120,
            seed: 1,
            index: 0,
            rate: 2.0,
            traceroute_interval: Duration::from_secs(30),
            text_interval: Duration::from_secs(2),
            traceroute_delay: Duration::from_secs(2),
            reboot_delay: Duration::from_secs(5),
            retransmit_timeout: Duration::from_secs(20),
            relaying: true,
            port_interval: Duration::from_secs(10),
            echo_transmissions: false,
            old_firmware: false,
            neighbor_interval: Duration::ZERO,
            fault: Fault::None,
            hostile_names: false,
        }
    }
}

/// How the radio ends a client's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Closed on purpose, as firmware force-closes the previous client when a new one
    /// connects: the client reads the end of the stream.
    Orderly,
    /// Gone without a word (a reboot, a dropped link): the client's socket is reset.
    Reset,
}

/// One client request the radio accepted (or rejected, with the reason).
#[derive(Clone, Debug)]
pub struct Request {
    pub at: Instant,
    pub to_radio: pb::ToRadio,
    pub rejected: Option<String>,
}

/// Mutable state of a simulated radio.
struct SimState {
    nodes: Vec<pb::NodeInfo>,
    channels: Vec<pb::Channel>,
    config: pb::LocalConfig,
    module_config: pb::LocalModuleConfig,
    requests: Vec<Request>,
    sent: VecDeque<pb::MeshPacket>,
    fault: Fault,
    routing_error: Option<pb::routing::Error>,
    relaying: bool,
    /// Firmware before 2.7.4 (no answer to heartbeats).
    old_firmware: bool,
    client: Option<watch::Sender<Option<Close>>>,
    /// The connected client's outgoing frames.
    client_out: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    last_text: Option<Instant>,
    last_traceroute: Option<Instant>,
    /// The last accepted packet of each throttled port.
    last_port: std::collections::HashMap<i32, Option<Instant>>,
    down_until: Option<Instant>,
    shut_down: bool,
    editing: bool,
    changed: bool,
    reboots: u32,
}

/// Shared between the handle, the accept loop and the client tasks.
struct Inner {
    cfg: SimConfig,
    addr: SocketAddr,
    my_node_num: u32,
    state: Mutex<SimState>,
    accepted: AtomicU64,
    open: AtomicU64,
    closed: AtomicU64,
    from_id: AtomicU32,
    stop: watch::Sender<bool>,
}

const SENT_MAX: usize = 10_000;
const REQUESTS_MAX: usize = 100_000;

impl Inner {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rate(&self) -> f64 {
        if self.cfg.rate.is_finite() {
            self.cfg.rate.max(0.0)
        } else {
            0.0
        }
    }

    fn log(&self, r: Request) {
        let mut st = self.lock();
        if st.requests.len() < REQUESTS_MAX {
            st.requests.push(r);
        }
    }

    fn record_sent(&self, p: pb::MeshPacket) {
        let mut st = self.lock();
        if st.sent.len() >= SENT_MAX {
            st.sent.pop_front();
        }
        st.sent.push_back(p);
    }

    /// The firmware's rate limit: refused when the last accepted one was less than
    /// `interval` ago; otherwise records this one.
    fn rate_limited(
        &self,
        last: impl FnOnce(&mut SimState) -> &mut Option<Instant>,
        interval: Duration,
    ) -> Option<String> {
        let mut st = self.lock();
        let slot = last(&mut st);
        let now = Instant::now();
        if let Some(prev) = *slot {
            let since = now.duration_since(prev);
            if since < interval {
                return Some(format!(
                    "rate limited: {} ms after the previous one",
                    since.as_millis()
                ));
            }
        }
        *slot = Some(now);
        None
    }

    /// A part of node `num` of the DB (the default when there is no such node or part).
    fn node_part<T: Default>(&self, num: u32, part: impl FnOnce(&pb::NodeInfo) -> Option<T>) -> T {
        self.lock()
            .nodes
            .iter()
            .find(|n| n.num == num)
            .and_then(part)
            .unwrap_or_default()
    }

    fn is_down(&self) -> bool {
        let st = self.lock();
        st.shut_down || st.down_until.is_some_and(|t| Instant::now() < t)
    }

    /// Drops the client as a reboot or power loss does: its socket is reset.
    fn kill_client(&self) {
        if let Some(c) = self.lock().client.take() {
            let _ = c.send(Some(Close::Reset));
        }
    }

    /// Drops the client after `after` and refuses connections for `down`.
    fn reboot(self: &Arc<Self>, after: Duration, down: Duration) {
        self.go_down(after, move |st| {
            st.down_until = Some(Instant::now() + down);
            st.reboots += 1;
            st.last_text = None;
            st.last_traceroute = None;
            st.last_port.clear();
        });
    }

    fn shut_down(self: &Arc<Self>, after: Duration) {
        self.go_down(after, |st| st.shut_down = true);
    }

    /// After `after`: changes the state (the lock released again), then drops the client.
    fn go_down(
        self: &Arc<Self>,
        after: Duration,
        change: impl FnOnce(&mut SimState) + Send + 'static,
    ) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            change(&mut inner.lock());
            inner.kill_client();
        });
    }
}

#[cfg(test)]
mod tests;
