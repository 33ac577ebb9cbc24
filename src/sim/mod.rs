//! The simulated radio: a real TCP server speaking the firmware's stream API (framing
//! `0x94 0xC3` + length + protobuf), used by every test, by `--demo`, and by `meshdeck sim`.
//!
//! It answers the config handshake with a node DB derived from a seed, produces live traffic,
//! acks texts, answers traceroutes after a delay (nodes whose number is divisible by 5 never
//! do), handles admin messages, enforces the firmware's rate limits on client texts and
//! traceroutes, serves one client at a time, and has fault modes for tests. It logs every
//! request it accepts so tests can check what reached the radio.

mod admin;
mod handle;
mod mesh;
mod server;
mod traffic;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::proto::pb;

pub use mesh::{answers_traceroute, generate_mesh, mesh_json, Mesh};

/// Misbehaviour for tests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Close the link after sending this many frames.
    DropAfter(u64),
    /// Go silent after the handshake and ignore input, keeping the socket open.
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
            fault: Fault::None,
            hostile_names: false,
        }
    }
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
    client: Option<watch::Sender<bool>>,
    /// The connected client's outgoing frames.
    client_out: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
    last_text: Option<Instant>,
    last_traceroute: Option<Instant>,
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

    fn is_down(&self) -> bool {
        let st = self.lock();
        st.shut_down || st.down_until.is_some_and(|t| Instant::now() < t)
    }

    fn kill_client(&self) {
        if let Some(c) = self.lock().client.take() {
            let _ = c.send(true);
        }
    }

    /// Drops the client after `after` and refuses connections for `down`.
    fn reboot(self: &Arc<Self>, after: Duration, down: Duration) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            {
                let mut st = inner.lock();
                st.down_until = Some(Instant::now() + down);
                st.reboots += 1;
                st.last_text = None;
                st.last_traceroute = None;
            }
            inner.kill_client();
        });
    }

    fn shut_down(self: &Arc<Self>, after: Duration) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            inner.lock().shut_down = true;
            inner.kill_client();
        });
    }
}

/// A running simulated radio; cheap to clone.
#[derive(Clone)]
pub struct SimRadio {
    inner: Arc<Inner>,
}

impl SimRadio {
    /// Serves on an already bound listener (tests bind port 0).
    pub fn spawn(listener: TcpListener, cfg: SimConfig) -> std::io::Result<SimRadio> {
        let addr = listener.local_addr()?;
        let mut mesh = generate_mesh(cfg.nodes.max(1), cfg.seed, cfg.index);
        let mut channels = mesh::channels(cfg.index);
        if cfg.hostile_names {
            mesh::make_hostile(&mut mesh, &mut channels);
        }
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            addr,
            my_node_num: mesh.my_node_num,
            state: Mutex::new(SimState {
                nodes: mesh.nodes,
                channels,
                config: mesh::local_config(),
                module_config: mesh::module_config(cfg.index),
                requests: Vec::new(),
                sent: VecDeque::new(),
                fault: cfg.fault.clone(),
                routing_error: None,
                client: None,
                client_out: None,
                last_text: None,
                last_traceroute: None,
                down_until: None,
                shut_down: false,
                editing: false,
                changed: false,
                reboots: 0,
            }),
            cfg,
            accepted: AtomicU64::new(0),
            open: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            from_id: AtomicU32::new(1),
            stop,
        });
        tokio::spawn(server::accept_loop(listener, inner.clone()));
        Ok(SimRadio { inner })
    }

    pub async fn bind(addr: &str, cfg: SimConfig) -> std::io::Result<SimRadio> {
        SimRadio::spawn(TcpListener::bind(addr).await?, cfg)
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn my_node_num(&self) -> u32 {
        self.inner.my_node_num
    }

    /// The node DB as the radio holds it now (my node included).
    pub fn nodes(&self) -> Vec<pb::NodeInfo> {
        self.inner.lock().nodes.clone()
    }

    pub fn local_config(&self) -> pb::LocalConfig {
        self.inner.lock().config.clone()
    }

    pub fn module_config(&self) -> pb::LocalModuleConfig {
        self.inner.lock().module_config.clone()
    }

    pub fn channels(&self) -> Vec<pb::Channel> {
        self.inner.lock().channels.clone()
    }

    /// Every client request, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.inner.lock().requests.clone()
    }

    /// Every mesh packet the radio handed to a client (the last 10,000).
    pub fn sent_packets(&self) -> Vec<pb::MeshPacket> {
        self.inner.lock().sent.iter().cloned().collect()
    }

    pub fn connections_accepted(&self) -> u64 {
        self.inner.accepted.load(Ordering::SeqCst)
    }

    pub fn connections_open(&self) -> u64 {
        self.inner.open.load(Ordering::SeqCst)
    }

    pub fn connections_closed(&self) -> u64 {
        self.inner.closed.load(Ordering::SeqCst)
    }

    pub fn set_fault(&self, f: Fault) {
        self.inner.lock().fault = f;
    }

    /// Answers texts with this routing error instead of an ack.
    pub fn set_routing_error(&self, e: Option<pb::routing::Error>) {
        self.inner.lock().routing_error = e;
    }

    /// Hands a packet to the connected client now (hostile names, chosen texts).
    pub fn inject(&self, packet: pb::MeshPacket) {
        let out = self.inner.lock().client_out.clone();
        if let Some(out) = out {
            handle::emit(&self.inner, &out, packet);
        }
    }

    /// Comes back after a shutdown.
    pub fn restart(&self) {
        let mut st = self.inner.lock();
        st.shut_down = false;
        st.down_until = None;
    }

    /// Stops listening and closes the client.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        self.inner.kill_client();
    }
}

/// `meshdeck sim`: simulated radios on their own.
#[derive(clap::Args, Debug, Clone)]
pub struct SimArgs {
    /// Address to listen on; repeat for several radios (each gets its own mesh).
    #[arg(long, default_value = "127.0.0.1:4403")]
    pub listen: Vec<String>,
    /// Node DB size of each radio.
    #[arg(long, default_value_t = 120)]
    pub nodes: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Live packets per second per radio.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 30)]
    pub traceroute_interval_secs: u64,
    #[arg(long, default_value_t = 2)]
    pub text_interval_secs: u64,
    #[arg(long, default_value_t = 2000)]
    pub traceroute_delay_ms: u64,
    /// Print the first radio's node list as JSON and exit.
    #[arg(long)]
    pub dump_mesh: bool,
    /// Hostile names and texts (XSS payloads) for escaping checks.
    #[arg(long)]
    pub hostile_names: bool,
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    if args.dump_mesh {
        println!("{}", mesh_json(args.nodes, args.seed, 0));
        return Ok(());
    }
    let mut radios = Vec::new();
    for (i, addr) in args.listen.iter().enumerate() {
        let cfg = SimConfig {
            nodes: args.nodes,
            seed: args.seed,
            index: u32::try_from(i)?,
            rate: args.rate,
            traceroute_interval: Duration::from_secs(args.traceroute_interval_secs),
            text_interval: Duration::from_secs(args.text_interval_secs),
            traceroute_delay: Duration::from_millis(args.traceroute_delay_ms),
            hostile_names: args.hostile_names,
            ..SimConfig::default()
        };
        let r = SimRadio::bind(addr, cfg)
            .await
            .map_err(|e| anyhow::anyhow!("listening on {addr}: {e}"))?;
        println!(
            "sim radio {} listening on {} ({} nodes)",
            crate::proto::node_id(r.my_node_num()),
            r.addr(),
            args.nodes
        );
        radios.push(r);
    }
    tokio::signal::ctrl_c().await?;
    for r in &radios {
        r.shutdown();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
