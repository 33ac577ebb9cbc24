//! The live streams: every connected session opens its tab(s), each tab every
//! `--stream-path`; each stream is read until the end of the run, counting what it carries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::figures::Errors;
use crate::support::sse;
use crate::Args;

/// What the live streams received, per stream path (`--stream-path`, in order): bytes,
/// `event:` lines and `event: packet` lines.
pub struct Sse {
    counts: Vec<[AtomicU64; 3]>,
    pub open: AtomicU64,
}

impl Sse {
    fn new(paths: usize) -> Sse {
        Sse {
            counts: (0..paths).map(|_| Default::default()).collect(),
            open: AtomicU64::new(0),
        }
    }

    pub fn snapshot(&self) -> Vec<[u64; 3]> {
        self.counts
            .iter()
            .map(|c| {
                [
                    c[0].load(Ordering::Relaxed),
                    c[1].load(Ordering::Relaxed),
                    c[2].load(Ordering::Relaxed),
                ]
            })
            .collect()
    }

    pub fn events(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| c[1].load(Ordering::Relaxed))
            .sum()
    }
}

/// The open streams: their counts, and the switch that ends them.
pub struct Streams {
    pub paths: Vec<String>,
    pub sse: Arc<Sse>,
    pub stop: watch::Sender<bool>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Opens every connected session's streams and waits (up to 30 s) until they are open,
/// then a second more.
pub async fn open(
    args: &Args,
    clients: &[reqwest::Client],
    connected: &[bool],
    base: &str,
    limit: Duration,
    errors: &Arc<Errors>,
) -> Streams {
    eprintln!(
        "opening live streams; then {} s of steady state",
        args.duration_secs
    );
    let paths = if args.stream_path.is_empty() {
        vec!["/events?port=all".to_string()]
    } else {
        args.stream_path.clone()
    };
    let sse = Arc::new(Sse::new(paths.len()));
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = Vec::new();
    for (i, http) in clients.iter().enumerate() {
        if !connected[i] {
            continue;
        }
        for _ in 0..args.streams {
            for (which, path) in paths.iter().enumerate() {
                tasks.push(tokio::spawn(stream(
                    http.clone(),
                    format!("{base}{path}"),
                    which,
                    stop.clone(),
                    limit,
                    sse.clone(),
                    errors.clone(),
                )));
            }
        }
    }
    let n_ok = connected.iter().filter(|c| **c).count();
    let want_streams = (n_ok * args.streams * paths.len()) as u64;
    let open_by = Instant::now() + Duration::from_secs(30);
    while sse.open.load(Ordering::Relaxed) < want_streams && Instant::now() < open_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    Streams {
        paths,
        sse,
        stop: stop_tx,
        tasks,
    }
}

/// One live stream until `stop` turns true (or `limit` passes): counts bytes and `event:`
/// lines.
async fn stream(
    http: reqwest::Client,
    url: String,
    which: usize,
    mut stop: watch::Receiver<bool>,
    limit: Duration,
    sse: Arc<Sse>,
    errors: Arc<Errors>,
) {
    let req = http
        .get(&url)
        .header("accept-encoding", "gzip")
        .timeout(limit)
        .send();
    let mut r = tokio::select! {
        r = req => match r {
            Ok(r) if r.status() == 200 => r,
            Ok(r) => return errors.add(format!("sse open: HTTP {}", r.status())),
            Err(e) => return errors.add(format!("sse open: {e}")),
        },
        _ = stop.changed() => return errors.add("sse open: no answer before the end"),
    };
    if r.headers().contains_key("content-encoding") {
        errors.add("sse stream compressed: its byte counts are compressed bytes");
    }
    sse.open.fetch_add(1, Ordering::Relaxed);
    let mut events = sse::Events::default();
    let c = &sse.counts[which];
    let end = sse::read(&mut r, stop.changed(), |chunk| {
        let (e, packets) = events.count(chunk);
        c[0].fetch_add(chunk.len() as u64, Ordering::Relaxed);
        c[1].fetch_add(e, Ordering::Relaxed);
        c[2].fetch_add(packets, Ordering::Relaxed);
    })
    .await;
    match end {
        sse::End::Stopped => {}
        sse::End::Ended => errors.add("sse stream ended by the server"),
        sse::End::Failed(e) => errors.add(format!("sse stream: {e}")),
    }
    sse.open.fetch_sub(1, Ordering::Relaxed);
}
