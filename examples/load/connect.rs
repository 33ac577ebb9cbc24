//! Connecting the sessions: each client connects its own radio and loads the nodes page
//! until it lists the whole node DB; a few alone first (the latency of one connect), then
//! the rest with bounded concurrency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::figures::{ms, Errors};
use crate::Args;

/// Connects a client to its radio and loads the nodes page until it lists every node.
/// Returns the time from the connect POST to that page, and the rows it had.
async fn connect(
    http: &reqwest::Client,
    base: &str,
    port: u16,
    want_rows: usize,
) -> Result<(Duration, usize), String> {
    let t = Instant::now();
    let r = http
        .post(format!("{base}/api/connect"))
        .timeout(Duration::from_secs(60))
        .json(&serde_json::json!({"host": "127.0.0.1", "port": port}))
        .send()
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let status = r.status();
    let body: serde_json::Value = r.json().await.map_err(|e| format!("connect body: {e}"))?;
    if status != 200 || body["status"] != "connected" {
        return Err(format!("connect: HTTP {status} {body}"));
    }
    // The page must list the whole node DB (the connect returns after the handshake).
    loop {
        let page = http
            .get(format!("{base}/nodes"))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("nodes page: {e}"))?
            .text()
            .await
            .map_err(|e| format!("nodes page body: {e}"))?;
        let rows = page.matches("data-node=").count();
        if rows >= want_rows {
            return Ok((t.elapsed(), rows));
        }
        if t.elapsed() > Duration::from_secs(30) {
            return Err(format!(
                "nodes page shows {rows} of {want_rows} nodes after 30 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How the connects went.
pub struct Connects {
    /// Connect → full nodes page of the ones alone, ms.
    pub alone: Vec<f64>,
    /// The same of the concurrent ones, ms.
    pub concurrent: Vec<f64>,
    /// Rows the last page alone showed.
    pub rows_seen: usize,
    /// Per session: whether it connected.
    pub connected: Vec<bool>,
    /// Seconds the concurrent ones took.
    pub secs: f64,
    /// With `--radios`: RSS once every radio has its link and first session, before the
    /// sessions that attach to those links.
    pub radios_rss: Option<u64>,
}

impl Connects {
    pub fn ok(&self) -> usize {
        self.connected.iter().filter(|c| **c).count()
    }

    /// These connects followed by `later` ones (of the sessions after these).
    pub fn then(mut self, later: Connects) -> Connects {
        self.alone.extend(later.alone);
        self.concurrent.extend(later.concurrent);
        self.connected.extend(later.connected);
        self.secs += later.secs;
        self
    }
}

/// Connects every client to its radio (client `i` to `ports[i]`), the first `samples` alone.
pub async fn connect_all(
    args: &Args,
    samples: usize,
    clients: &[reqwest::Client],
    base: &str,
    ports: &[u16],
    errors: &Arc<Errors>,
) -> anyhow::Result<Connects> {
    let n = clients.len();
    let samples = samples.min(n);
    let want_rows = args.nodes.saturating_sub(1).max(1);
    eprintln!(
        "connecting {samples} sessions one at a time, then {} with {} in flight",
        n - samples,
        args.connect_concurrency
    );
    let mut alone = Vec::new();
    let mut rows_seen = 0;
    let mut connected = vec![false; n];
    for i in 0..samples {
        match connect(&clients[i], base, ports[i], want_rows).await {
            Ok((d, rows)) => {
                alone.push(ms(d));
                rows_seen = rows;
                connected[i] = true;
            }
            Err(e) => errors.add(e),
        }
    }
    let t_connect = Instant::now();
    let sem = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let done = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for i in samples..n {
        let (http, base, sem, port, errors, done) = (
            clients[i].clone(),
            base.to_string(),
            sem.clone(),
            ports[i],
            errors.clone(),
            done.clone(),
        );
        handles.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let r = connect(&http, &base, port, want_rows).await;
            let k = done.fetch_add(1, Ordering::Relaxed) + 1;
            if k.is_multiple_of(100) {
                eprintln!("  {k} connected");
            }
            match r {
                Ok((d, _)) => Some(ms(d)),
                Err(e) => {
                    errors.add(e);
                    None
                }
            }
        }));
    }
    let mut concurrent = Vec::new();
    for (i, h) in (samples..n).zip(handles) {
        if let Some(d) = h.await? {
            concurrent.push(d);
            connected[i] = true;
        }
    }
    let c = Connects {
        alone,
        concurrent,
        rows_seen,
        connected,
        secs: t_connect.elapsed().as_secs_f64(),
        radios_rss: None,
    };
    eprintln!(
        "{} of {n} sessions connected ({:.1} s for the concurrent ones)",
        c.ok(),
        c.secs
    );
    Ok(c)
}
