//! What one browser tab of each server does, request for request.
//!
//! The original (its `templates/index.html`): the page is one document. After the connect
//! form's `POST /api/connect` it calls `refreshNodes`, `refreshStatus` and
//! `refreshMqttHealth` at once, then every 10 s `/api/nodes?filter=all`, `/api/status`,
//! `/api/traceroute/results`, `/api/mqtt/health`, and every 3 s `refreshPackets` and
//! `refreshMessages`, whatever tab is shown (so its nodes tab and its packet-log tab fetch the
//! same). The older revision's two 3-second polls are `/api/packets?since=T` with `T` the
//! newest time each has seen, unencoded (its `+00:00` reaches the server as ` 00:00`); the
//! newer one's page, used through the connect form (a cookie session, no persistent session
//! chosen), asks `/api/packets?` (the last 100 packets) every 3 s, since it keeps `since` per
//! persistent session only, and skips `refreshMessages`; it also asks `/api/sessions` every
//! 5 s. A status that says `connected: false` stops the polls (`setDisconnected`).
//!
//! meshdeck: a tab is a page load (`/nodes` or `/packets`), the live stream the page opens
//! (`/events` for the nodes tab: the status bar; `/events?port=all` for the packet log: the
//! status bar and a row per packet), the status bar's `GET /status` every 30 s, and on the
//! packet log the table's reload every 120 s (`/packets?port=`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::task::JoinHandle;

use crate::http::{Browser, Kind, Stream};
use crate::procs::Spec;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum TabKind {
    Nodes,
    PacketLog,
}

/// Opens the site and connects the session to the radio on `port` as the connect form does
/// (`POST /api/connect`, the route both servers share). Gives the connect's time.
pub async fn connect(spec: &Spec, b: &Arc<Browser>, port: u16) -> anyhow::Result<Duration> {
    let page = b.get("/", Kind::Navigate, "/").await?;
    anyhow::ensure!(page.status == 200, "GET /: HTTP {}", page.status);
    if spec.newer() {
        // The newer page's `initializePage` asks for the persistent sessions twice at load.
        b.get("/api/sessions", Kind::Fetch, "/").await?;
        b.get("/api/sessions", Kind::Fetch, "/").await?;
    }
    let t = Instant::now();
    let r = b
        .post_json(
            "/api/connect",
            &format!(r#"{{"host":"127.0.0.1","port":"{port}"}}"#),
        )
        .await?;
    let took = t.elapsed();
    let body = r.json().context("connect")?;
    if r.status != 200 || body["status"] != "connected" {
        bail!(
            "{}: connect to radio {port}: HTTP {} {body}",
            spec.label,
            r.status
        );
    }
    Ok(took)
}

/// Whether the session says it is connected (`GET /api/status`).
pub async fn connected(b: &Browser) -> anyhow::Result<bool> {
    let r = b.get("/api/status", Kind::Fetch, "/").await?;
    Ok(r.status == 200 && r.json()?["connected"] == true)
}

/// An open tab: its pollers, its live stream, what it saw.
pub struct Tab {
    pub b: Arc<Browser>,
    pub stream: Option<Stream>,
    tasks: Vec<JoinHandle<()>>,
    /// The page's polls stopped because the server said the session is not connected.
    pub stopped: Arc<std::sync::atomic::AtomicBool>,
    pub original: bool,
}

impl Tab {
    pub fn close(mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.stream = None;
    }

    /// The live stream's bytes so far (0 without one).
    pub fn stream_bytes(&self) -> u64 {
        self.stream.as_ref().map_or(0, |s| s.bytes())
    }

    /// The meshdeck packet log's table reload, as htmx sends it every 120 s.
    pub async fn reload(&self) -> anyhow::Result<u64> {
        let r = self
            .b
            .send("GET", "/packets?port=", Kind::Htmx, "/packets", &[], None)
            .await?;
        anyhow::ensure!(r.status == 200, "packet log reload: HTTP {}", r.status);
        Ok(r.wire)
    }
}

/// The original page's memory of what it has shown.
#[derive(Default)]
struct Seen {
    last_packet: Option<String>,
    last_message: Option<String>,
    shown: HashSet<String>,
}

/// The original page's polls.
#[derive(Clone, Copy, PartialEq)]
enum Poll {
    Nodes,
    Status,
    Traces,
    Mqtt,
    Sessions,
    Packets,
    Messages,
}

impl Poll {
    /// The URL the page fetches now (`None`: the page skips it).
    fn path(self, spec: &Spec, seen: &Mutex<Seen>) -> Option<String> {
        let since = |t: &Option<String>| match t {
            Some(t) => format!("/api/packets?since={t}"),
            None => "/api/packets".into(),
        };
        Some(match self {
            Poll::Nodes => "/api/nodes?filter=all".into(),
            Poll::Status => "/api/status".into(),
            Poll::Traces => "/api/traceroute/results".into(),
            Poll::Mqtt => "/api/mqtt/health".into(),
            Poll::Sessions => "/api/sessions".into(),
            Poll::Packets if spec.newer() => "/api/packets?".into(),
            Poll::Packets => since(&seen.lock().unwrap().last_packet),
            Poll::Messages if spec.newer() => return None,
            Poll::Messages => since(&seen.lock().unwrap().last_message),
        })
    }

    /// What the page does with the answer (only the `since` times and the stop matter);
    /// false when the page stops polling.
    fn digest(self, body: &serde_json::Value, seen: &Mutex<Seen>) -> bool {
        let mut s = seen.lock().unwrap();
        if self == Poll::Status {
            return body["connected"] == true;
        }
        let Some(list) = body.as_array() else {
            return true;
        };
        if self == Poll::Packets {
            if let Some(t) = list.last().and_then(|p| p["time"].as_str()) {
                s.last_packet = Some(t.to_string());
            }
        } else if self == Poll::Messages {
            let texts: Vec<&serde_json::Value> = list
                .iter()
                .filter(|p| {
                    p["portnum"] == "TEXT_MESSAGE_APP"
                        && p["text"].as_str().is_some_and(|t| !t.is_empty())
                })
                .collect();
            let mut fresh = false;
            for m in &texts {
                let id = format!("{}-{}-{}", m["from"], m["time"], m["text"]);
                fresh |= s.shown.insert(id);
            }
            if fresh {
                if let Some(t) = texts.last().and_then(|m| m["time"].as_str()) {
                    s.last_message = Some(t.to_string());
                }
            }
        }
        true
    }
}

/// Opens a tab of a session that is connected (right after `connect`).
pub async fn open(spec: &Spec, b: &Arc<Browser>, kind: TabKind) -> anyhow::Result<Tab> {
    let stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    if spec.is_original() {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let mut polls: Vec<(Duration, Duration, Poll)> = vec![
            (Duration::ZERO, Duration::ZERO, Poll::Nodes),
            (Duration::ZERO, Duration::ZERO, Poll::Status),
            (Duration::ZERO, Duration::ZERO, Poll::Mqtt),
        ];
        let ten = Duration::from_secs(10);
        let three = Duration::from_secs(3);
        for p in [Poll::Nodes, Poll::Status, Poll::Traces, Poll::Mqtt] {
            polls.push((ten, ten, p));
        }
        for p in [Poll::Packets, Poll::Messages] {
            polls.push((three, three, p));
        }
        if spec.newer() {
            let five = Duration::from_secs(5);
            polls.push((five, five, Poll::Sessions));
        }
        for (first, every, which) in polls {
            let (b, spec, seen, stopped) = (b.clone(), spec.clone(), seen.clone(), stopped.clone());
            tasks.push(tokio::spawn(async move {
                let start = tokio::time::Instant::now() + first;
                let mut next = start;
                loop {
                    tokio::time::sleep_until(next).await;
                    // `setDisconnected` clears the 10 s and 3 s intervals, not the newer
                    // page's session selector.
                    if stopped.load(std::sync::atomic::Ordering::Relaxed) && which != Poll::Sessions
                    {
                        return;
                    }
                    if let Some(path) = which.path(&spec, &seen) {
                        let (b, seen, stopped) = (b.clone(), seen.clone(), stopped.clone());
                        // `setInterval` does not wait for the previous fetch.
                        tokio::spawn(async move {
                            if let Ok(r) = b.get(&path, Kind::Fetch, "/").await {
                                if let Ok(v) = r.json() {
                                    if !which.digest(&v, &seen) {
                                        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
                                    }
                                }
                            }
                        });
                    }
                    if every.is_zero() {
                        return;
                    }
                    next += every;
                }
            }));
        }
        return Ok(Tab {
            b: b.clone(),
            stream: None,
            tasks,
            stopped,
            original: true,
        });
    }
    let (page, stream_path) = match kind {
        TabKind::Nodes => ("/nodes", "/events"),
        TabKind::PacketLog => ("/packets", "/events?port=all"),
    };
    let r = b.get(page, Kind::Navigate, page).await?;
    anyhow::ensure!(r.status == 200, "{page}: HTTP {}", r.status);
    let stream = b.open_stream(stream_path, page).await?;
    let mut polls: Vec<(Duration, &'static str, &'static str)> =
        vec![(Duration::from_secs(30), "/status", "status")];
    if kind == TabKind::PacketLog {
        polls.push((Duration::from_secs(120), "/packets?port=", ""));
    }
    for (every, path, target) in polls {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            let mut next = tokio::time::Instant::now() + every;
            loop {
                tokio::time::sleep_until(next).await;
                let extra: Vec<(&'static str, String)> = if target.is_empty() {
                    vec![]
                } else {
                    vec![("HX-Target", target.into()), ("HX-Trigger", target.into())]
                };
                let _ = b.send("GET", path, Kind::Htmx, page, &extra, None).await;
                next += every;
            }
        }));
    }
    Ok(Tab {
        b: b.clone(),
        stream: Some(stream),
        tasks,
        stopped,
        original: false,
    })
}
