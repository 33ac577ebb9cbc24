//! The RF sweep: traceroute every candidate one after another through the radio's probe
//! queue (so sends keep the firmware's interval), with live progress, a stop at any time,
//! and results stored per sweep so two sweeps can be compared.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{oneshot, watch};

use crate::ids::NodeNum;
use crate::radio::trace::{Trace, TraceStatus};
use crate::radio::{LinkEvent, LinkHandle, Probe, RadioState};
use crate::store::Store;

/// Candidates: every node not via MQTT (but my own), plus MQTT nodes at most 2 hops away;
/// nearest first.
pub fn candidates(state: &RadioState) -> Vec<NodeNum> {
    let mut c: Vec<(u32, NodeNum)> = state
        .nodes
        .iter()
        .filter(|n| n.num() != state.my_node_num)
        .filter(|n| !n.via_mqtt || n.hops_away().is_some_and(|h| h <= 2))
        .map(|n| (n.hops_away().unwrap_or(u32::MAX), n.num()))
        .collect();
    c.sort();
    c.into_iter().map(|(_, n)| n).collect()
}

/// Expected duration: each probe waits for the interval or the previous reply's timeout,
/// whichever is longer, plus the last one's wait for its reply.
pub fn estimate(count: usize, interval: Duration, per_node: Duration) -> Duration {
    match count {
        0 => Duration::ZERO,
        n => interval.max(per_node) * u32::try_from(n - 1).unwrap_or(u32::MAX) + per_node,
    }
}

/// Progress of a sweep, as the page and the API show it.
#[derive(Debug, Clone)]
pub struct Progress {
    pub id: i64,
    pub running: bool,
    pub current: Option<NodeNum>,
    pub total: usize,
    pub completed: usize,
    pub candidates: Vec<NodeNum>,
    pub results: Vec<Trace>,
    pub started: SystemTime,
    pub interval: Duration,
    pub per_node: Duration,
}

impl Progress {
    pub fn time_left(&self) -> Duration {
        if !self.running {
            return Duration::ZERO;
        }
        estimate(
            self.total.saturating_sub(self.completed),
            self.interval,
            self.per_node,
        )
    }
}

/// A running (or finished) sweep of one session.
pub struct Sweep {
    progress: Mutex<Progress>,
    stop: watch::Sender<bool>,
}

impl Sweep {
    pub fn progress(&self) -> Progress {
        self.progress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn is_running(&self) -> bool {
        self.progress.lock().map(|p| p.running).unwrap_or(false)
    }

    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// Starts a sweep of `nodes` on the link; the task ends by itself.
pub fn start(
    link: LinkHandle,
    store: Store,
    id: i64,
    nodes: Vec<NodeNum>,
    interval: Duration,
    per_node: Duration,
) -> Arc<Sweep> {
    let (stop, stop_rx) = watch::channel(false);
    let sweep = Arc::new(Sweep {
        progress: Mutex::new(Progress {
            id,
            running: true,
            current: None,
            total: nodes.len(),
            completed: 0,
            candidates: nodes.clone(),
            results: Vec::new(),
            started: SystemTime::now(),
            interval,
            per_node,
        }),
        stop,
    });
    tokio::spawn(run(link, store, sweep.clone(), nodes, stop_rx));
    sweep
}

async fn run(
    link: LinkHandle,
    store: Store,
    sweep: Arc<Sweep>,
    nodes: Vec<NodeNum>,
    mut stop: watch::Receiver<bool>,
) {
    let (id, per_node) = {
        let p = sweep.progress();
        (p.id, p.per_node)
    };
    let radio = link.state().radio_key;
    let mut stopped = false;
    for dest in nodes {
        if *stop.borrow() {
            stopped = true;
            break;
        }
        sweep.update(|p| p.current = Some(dest));
        let _ = link.events_sender().send(LinkEvent::Sweep);
        // The link hands over the probe's trace when it is finished; nothing polls.
        let (done, finished) = oneshot::channel();
        let probe = Probe {
            dest,
            hop_limit: None,
            timeout: per_node,
            sweep_id: Some(id),
            done: Some(done),
        };
        let outcome = match link.probe(probe).await {
            Err(e) => failed(dest, e.to_string()),
            Ok(_) => {
                tokio::pin!(finished);
                loop {
                    tokio::select! {
                        _ = stop.changed(), if !stopped => {
                            stopped = true;
                            // The cancelled trace comes back through `finished`.
                            let _ = link.cancel_traceroute(dest).await;
                        }
                        t = &mut finished => break t.unwrap_or_else(|_| failed(dest, "link closed".into())),
                    }
                }
            }
        };
        sweep.update(|p| {
            p.completed += 1;
            p.results.push(outcome);
        });
        let _ = link.events_sender().send(LinkEvent::Sweep);
        if stopped {
            break;
        }
    }
    sweep.update(|p| {
        p.running = false;
        p.current = None;
    });
    if let Err(e) = store.end_sweep(radio, id, stopped).await {
        tracing::warn!(error = ?e, "recording the end of a sweep failed");
    }
    let _ = link.events_sender().send(LinkEvent::Sweep);
}

fn failed(dest: NodeNum, error: String) -> Trace {
    Trace {
        dest,
        hop_limit: 0,
        status: TraceStatus::Error,
        packet_id: 0,
        queued_at: SystemTime::now(),
        sent_at: None,
        done_at: Some(SystemTime::now()),
        route: Vec::new(),
        route_back: Vec::new(),
        snr_towards: Vec::new(),
        snr_back: Vec::new(),
        error: Some(error),
        sends_in: Duration::ZERO,
        timeout: Duration::ZERO,
        sweep_id: None,
    }
}

/// What changed between two sweeps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    pub gained: Vec<NodeNum>,
    pub lost: Vec<NodeNum>,
    /// (node, worst SNR before, worst SNR now)
    pub snr_changes: Vec<(NodeNum, f32, f32)>,
}

/// Compares a sweep with the one before it: nodes reached now and not then, and the reverse.
pub fn compare(before: &[Trace], now: &[Trace]) -> Comparison {
    let ok = |v: &[Trace]| -> std::collections::HashMap<NodeNum, Option<f32>> {
        v.iter()
            .filter(|t| t.status == TraceStatus::Complete)
            .map(|t| (t.dest, t.worst_snr()))
            .collect()
    };
    let (b, n) = (ok(before), ok(now));
    let mut c = Comparison::default();
    for (d, snr) in &n {
        match b.get(d) {
            None => c.gained.push(*d),
            Some(old) => {
                if let (Some(o), Some(s)) = (old, snr) {
                    if (o - s).abs() >= 0.25 {
                        c.snr_changes.push((*d, *o, *s));
                    }
                }
            }
        }
    }
    c.lost = b.keys().filter(|d| !n.contains_key(d)).copied().collect();
    c.gained.sort();
    c.lost.sort();
    c.snr_changes.sort_by_key(|x| x.0);
    c
}
