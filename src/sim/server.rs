//! The simulated radio's TCP server: one API client at a time (a new client force-closes the
//! previous one, as firmware does), a client silent for 15 minutes is dropped, and each
//! client's `ToRadio` messages are read, logged and answered. What is answered lives in
//! `handshake` (config), `handle` (mesh packets) and `admin`; what leaves goes through
//! `writer` (fault modes).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::VecDeque;

use prost::Message;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::{Close, Fault, Inner, Request};
use crate::proto::{pb, FrameDecoder};

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
        // Force-close the previous client, without a word, as firmware does.
        let (kill_tx, kill_rx) = watch::channel(None);
        if let Some(old) = inner.lock().client.replace(kill_tx) {
            let _ = old.send(Some(Close::Orderly));
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
    kill: watch::Receiver<Option<Close>>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    out_rx: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
    /// The handshake finished (`config_complete_id` sent): packets flow from now on.
    configured: bool,
    /// Ids of the last packets from this client: firmware ignores a repeated id.
    recent_ids: VecDeque<u32>,
}

/// How many packet ids firmware remembers per client to drop repeats.
const RECENT_IDS: usize = 20;

impl Client {
    fn new(inner: Arc<Inner>, kill: watch::Receiver<Option<Close>>) -> Client {
        let (out, out_rx) = mpsc::unbounded_channel();
        inner.lock().client_out = Some(out.clone());
        Client {
            inner,
            kill,
            out,
            out_rx: Some(out_rx),
            configured: false,
            recent_ids: VecDeque::with_capacity(RECENT_IDS),
        }
    }

    fn send(&mut self, v: Out) {
        super::handle::send(&self.inner, &self.out, v);
    }

    fn log(&self, v: In, rejected: Option<String>) {
        self.inner.log(Request {
            at: Instant::now(),
            to_radio: pb::ToRadio {
                payload_variant: Some(v),
            },
            rejected,
        });
    }

    async fn serve(mut self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (mut rd, wr) = stream.into_split();
        let Some(out_rx) = self.out_rx.take() else {
            return;
        };
        let mut writer = tokio::spawn(super::writer::run(self.inner.clone(), wr, out_rx));
        let mut decoder = FrameDecoder::default();
        let mut buf = vec![0u8; 4096];
        let mut traffic: Option<tokio::task::JoinHandle<()>> = None;
        let mut neighbors: Option<tokio::task::JoinHandle<()>> = None;
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
                    // A stalled radio ignores its client (and the 15-minute clock keeps
                    // running on what it reads).
                    if matches!(self.inner.lock().fault, Fault::Stall) {
                        continue;
                    }
                    decoder.push(&buf[..n]);
                    let mut done = false;
                    while let Some(frame) = decoder.next_frame() {
                        // Malformed frames are ignored, as firmware does.
                        let Ok(msg) = pb::ToRadio::decode(frame.as_slice()) else { continue };
                        match self.handle(msg) {
                            Step::Go => {}
                            Step::StartTraffic => {
                                if traffic.is_none() && self.inner.rate() > 0.0 {
                                    traffic = Some(tokio::spawn(super::traffic::run(self.inner.clone(), self.out.clone())));
                                }
                                if neighbors.is_none() && !self.inner.cfg.neighbor_interval.is_zero() {
                                    neighbors = Some(tokio::spawn(super::neighbors::run(self.inner.clone(), self.out.clone())));
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
        for t in [traffic, neighbors].into_iter().flatten() {
            t.abort();
        }
        if *self.kill.borrow() == Some(Close::Reset) {
            let _ = rd.as_ref().set_zero_linger();
        }
        writer.abort();
    }

    fn handle(&mut self, msg: pb::ToRadio) -> Step {
        let Some(v) = msg.payload_variant else {
            return Step::Go;
        };
        match v {
            In::WantConfigId(nonce) => {
                self.log(In::WantConfigId(nonce), None);
                let (msgs, complete) = {
                    let st = self.inner.lock();
                    super::handshake::messages(&st, self.inner.my_node_num, nonce)
                };
                for m in msgs {
                    self.send(m);
                }
                // Firmware hands over mesh packets only once the handshake is complete.
                self.configured |= complete;
                if self.configured {
                    Step::StartTraffic
                } else {
                    Step::Go
                }
            }
            In::Heartbeat(h) => {
                self.log(In::Heartbeat(h), None);
                // Firmware answers a heartbeat with its queue status (since 2.7.4).
                if !self.inner.lock().old_firmware {
                    self.send(Out::QueueStatus(queue_status(0)));
                }
                Step::Go
            }
            In::Disconnect(d) => {
                self.log(In::Disconnect(d), None);
                Step::Close
            }
            In::Packet(p) => {
                if p.id != 0 && self.recent_ids.contains(&p.id) {
                    // Firmware drops a repeated id without a word (not even a queue status).
                    self.log(In::Packet(p), Some("duplicate packet id: ignored".into()));
                    return Step::Go;
                }
                if p.id != 0 {
                    if self.recent_ids.len() == RECENT_IDS {
                        self.recent_ids.pop_front();
                    }
                    self.recent_ids.push_back(p.id);
                }
                // Every packet taken (even one refused by a rate limit) gets a queue status
                // first; replies follow.
                self.send(Out::QueueStatus(queue_status(p.id)));
                let rejected = super::handle::packet(&self.inner, &p, &self.out);
                self.log(In::Packet(p), rejected);
                Step::Go
            }
            other => {
                self.log(other, None);
                Step::Go
            }
        }
    }
}

/// The firmware's TX queue: 16 slots, one taken by the packet just queued.
fn queue_status(mesh_packet_id: u32) -> pb::QueueStatus {
    pb::QueueStatus {
        res: 0,
        free: if mesh_packet_id == 0 { 16 } else { 15 },
        maxlen: 16,
        mesh_packet_id,
    }
}

enum Step {
    Go,
    StartTraffic,
    Close,
}
