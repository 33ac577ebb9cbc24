//! The simulated radio's TCP server: one API client at a time (a new client force-closes the
//! previous one, as firmware does), the config handshake, live traffic, acks, traceroute
//! replies, admin messages, the firmware's rate limits, and fault modes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::mesh::Rng;
use super::{Fault, Inner, Request};
use crate::proto::{self, pb, FrameDecoder};

use pb::from_radio::PayloadVariant as Out;
use pb::to_radio::PayloadVariant as In;

/// A client silent this long is dropped, as firmware does.
const CLIENT_IDLE: Duration = Duration::from_secs(15 * 60);

pub(super) async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut stop = inner.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        if *inner.stop.borrow() {
            return;
        }
        if inner.is_down() {
            // Rebooting or shut down: the socket closes at once.
            drop(stream);
            continue;
        }
        inner.accepted.fetch_add(1, Ordering::SeqCst);
        // Force-close the previous client.
        let (kill_tx, kill_rx) = watch::channel(false);
        if let Some(old) = inner.lock().client.replace(kill_tx) {
            let _ = old.send(true);
        }
        inner.open.fetch_add(1, Ordering::SeqCst);
        let inner2 = inner.clone();
        tokio::spawn(async move {
            Client::new(inner2.clone(), kill_rx).serve(stream).await;
            inner2.open.fetch_sub(1, Ordering::SeqCst);
            inner2.closed.fetch_add(1, Ordering::SeqCst);
        });
    }
}

struct Client {
    inner: Arc<Inner>,
    kill: watch::Receiver<bool>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    out_rx: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
}

impl Client {
    fn new(inner: Arc<Inner>, kill: watch::Receiver<bool>) -> Client {
        let (out, out_rx) = mpsc::unbounded_channel();
        inner.lock().client_out = Some(out.clone());
        Client {
            inner,
            kill,
            out,
            out_rx: Some(out_rx),
        }
    }

    fn send(&mut self, v: Out) {
        super::handle::send(&self.inner, &self.out, v);
    }

    async fn serve(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let Some(mut out_rx) = self.out_rx.take() else {
            return;
        };
        // The writer owns the write half: it applies the garbage and drop-after faults.
        let inner = self.inner.clone();
        let mut writer = tokio::spawn(async move {
            let mut sent: u64 = 0;
            let mut junk = Rng::new(7);
            while let Some(frame) = out_rx.recv().await {
                let fault = inner.lock().fault.clone();
                if let Fault::Stall = fault {
                    // Silent: nothing more leaves the radio.
                    continue;
                }
                if let Fault::Garbage = fault {
                    let n = 1 + junk.below(20) as usize;
                    let mut g: Vec<u8> = (0..n).map(|_| junk.next_u64() as u8).collect();
                    match junk.below(3) {
                        0 => g.extend_from_slice(&[proto::START1, proto::START2, 0x7F, 0xFF]), // oversize header
                        1 => g.extend_from_slice(&proto::frame(&[0x12, 0x40, 0x01])), // truncated protobuf
                        _ => {}
                    }
                    if wr.write_all(&g).await.is_err() {
                        return;
                    }
                }
                if wr.write_all(&frame).await.is_err() {
                    return;
                }
                sent += 1;
                if let Fault::DropAfter(n) = fault {
                    if sent >= n {
                        let _ = wr.shutdown().await;
                        return;
                    }
                }
            }
        });
        let mut decoder = FrameDecoder::default();
        let mut buf = vec![0u8; 4096];
        let mut traffic: Option<tokio::task::JoinHandle<()>> = None;
        let mut last_input = Instant::now();
        let mut idle = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = self.kill.changed() => break,
                _ = &mut writer => break,
                _ = idle.tick() => {
                    if last_input.elapsed() > CLIENT_IDLE {
                        break;
                    }
                }
                r = rd.read(&mut buf) => {
                    let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                    last_input = Instant::now();
                    if matches!(self.inner.lock().fault, Fault::Stall) {
                        continue;
                    }
                    decoder.push(&buf[..n]);
                    let mut done = false;
                    while let Some(frame) = decoder.next_frame() {
                        let Ok(msg) = pb::ToRadio::decode(frame.as_slice()) else { continue };
                        match self.handle(msg) {
                            Step::Go => {}
                            Step::StartTraffic => {
                                if traffic.is_none() && self.inner.rate() > 0.0 {
                                    traffic = Some(tokio::spawn(super::traffic::run(self.inner.clone(), self.out.clone())));
                                }
                            }
                            Step::Close => done = true,
                        }
                    }
                    if done {
                        break;
                    }
                }
            }
        }
        if let Some(t) = traffic {
            t.abort();
        }
        writer.abort();
    }

    fn handle(&mut self, msg: pb::ToRadio) -> Step {
        let Some(v) = msg.payload_variant else {
            return Step::Go;
        };
        match v {
            In::WantConfigId(nonce) => {
                self.inner.log(Request {
                    at: Instant::now(),
                    to_radio: pb::ToRadio {
                        payload_variant: Some(In::WantConfigId(nonce)),
                    },
                    rejected: None,
                });
                self.handshake(nonce);
                Step::StartTraffic
            }
            In::Heartbeat(h) => {
                self.inner.log(Request {
                    at: Instant::now(),
                    to_radio: pb::ToRadio {
                        payload_variant: Some(In::Heartbeat(h)),
                    },
                    rejected: None,
                });
                self.send(Out::QueueStatus(pb::QueueStatus {
                    res: 0,
                    free: 16,
                    maxlen: 16,
                    mesh_packet_id: 0,
                }));
                Step::Go
            }
            In::Disconnect(_) => Step::Close,
            In::Packet(p) => {
                let rejected = super::handle::packet(&self.inner, &p, &self.out);
                self.send(Out::QueueStatus(pb::QueueStatus {
                    res: 0,
                    free: 15,
                    maxlen: 16,
                    mesh_packet_id: p.id,
                }));
                self.inner.log(Request {
                    at: Instant::now(),
                    to_radio: pb::ToRadio {
                        payload_variant: Some(In::Packet(p)),
                    },
                    rejected,
                });
                Step::Go
            }
            other => {
                self.inner.log(Request {
                    at: Instant::now(),
                    to_radio: pb::ToRadio {
                        payload_variant: Some(other),
                    },
                    rejected: None,
                });
                Step::Go
            }
        }
    }

    /// The config handshake, honouring the firmware's special nonces.
    fn handshake(&mut self, nonce: u32) {
        let (config_only, nodes_only) = (nonce == 69420, nonce == 69421);
        let st = self.inner.lock();
        let my = pb::MyNodeInfo {
            my_node_num: self.inner.my_node_num,
            nodedb_count: u32::try_from(st.nodes.len()).unwrap_or(u32::MAX),
            min_app_version: 30200,
            reboot_count: st.reboots,
            ..Default::default()
        };
        let nodes = if config_only {
            Vec::new()
        } else {
            st.nodes.clone()
        };
        let channels = st.channels.clone();
        let cfg = st.config.clone();
        let mcfg = st.module_config.clone();
        let no_complete = matches!(st.fault, Fault::NoConfigComplete);
        drop(st);
        self.send(Out::MyInfo(my));
        if !nodes_only {
            self.send(Out::Metadata(pb::DeviceMetadata {
                firmware_version: "2.6.11.sim".into(),
                device_state_version: 23,
                can_shutdown: true,
                has_wifi: true,
                has_bluetooth: true,
                role: pb::config::device_config::Role::Client as i32,
                hw_model: pb::HardwareModel::StationG2 as i32,
                ..Default::default()
            }));
        }
        for n in nodes {
            self.send(Out::NodeInfo(n));
        }
        if !nodes_only {
            for c in channels {
                self.send(Out::Channel(c));
            }
            for c in proto::config_parts(&cfg) {
                self.send(Out::Config(c));
            }
            for m in proto::module_parts(&mcfg) {
                self.send(Out::ModuleConfig(m));
            }
        }
        if !no_complete {
            self.send(Out::ConfigCompleteId(nonce));
        }
    }
}

enum Step {
    Go,
    StartTraffic,
    Close,
}
