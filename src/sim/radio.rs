//! The handle to a running simulated radio: start it, look at what it holds and what it saw,
//! and steer it (faults, routing errors, injected packets, shutdown).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::settings::Factory;
use super::{handle, server, Fault, Inner, Request, SimConfig, SimState};
use crate::proto::pb;

/// A running simulated radio; cheap to clone.
#[derive(Clone)]
pub struct SimRadio {
    inner: Arc<Inner>,
}

impl SimRadio {
    /// Serves on an already bound listener (tests bind port 0).
    pub fn spawn(listener: TcpListener, cfg: SimConfig) -> std::io::Result<SimRadio> {
        let addr = listener.local_addr()?;
        let factory = Factory::new(&cfg);
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            addr,
            my_node_num: factory.my_node_num,
            state: Mutex::new(SimState {
                nodes: factory.nodes,
                channels: factory.channels,
                config: factory.config,
                module_config: factory.module_config,
                requests: Vec::new(),
                sent: VecDeque::new(),
                fault: cfg.fault.clone(),
                routing_error: None,
                relaying: cfg.relaying,
                old_firmware: cfg.old_firmware,
                client: None,
                client_out: None,
                last_text: None,
                last_traceroute: None,
                last_port: Default::default(),
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

    /// Whether neighbours rebroadcast what the radio sends (its implicit acks); off, a
    /// broadcast or a direct message beyond a neighbour ends `MAX_RETRANSMIT`.
    pub fn set_relaying(&self, on: bool) {
        self.inner.lock().relaying = on;
    }

    /// Hands a packet to the connected client now (hostile names, chosen texts).
    pub fn inject(&self, packet: pb::MeshPacket) {
        let out = self.inner.lock().client_out.clone();
        if let Some(out) = out {
            handle::emit(&self.inner, &out, packet);
        }
    }

    /// Hands a `ClientNotification` to the connected client now, as firmware tells its
    /// client about a refused packet, a key verification or a weak key.
    pub fn notify(&self, n: pb::ClientNotification) {
        let out = self.inner.lock().client_out.clone();
        if let Some(out) = out {
            handle::send(
                &self.inner,
                &out,
                pb::from_radio::PayloadVariant::ClientNotification(n),
            );
        }
    }

    /// Powers the radio back on after an admin shutdown (or ends a reboot early). After
    /// [`SimRadio::shutdown`] nothing listens any more: that one is final.
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
