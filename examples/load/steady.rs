//! The steady state: every session streaming and (unless `--no-browse`) browsing with think
//! time for `--duration-secs`, while a monitor samples the server's memory and CPU.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::figures::{mb, metric, ms, Errors, Lat};
use crate::server::Server;
use crate::streams::{Sse, Streams};
use crate::support::proc::{cpu_secs, fds, machine_cpu, rss_kb, threads};
use crate::Args;

/// What the steady state measured.
pub struct Steady {
    /// RSS with every stream open, before the steady state.
    pub connected_rss: Option<u64>,
    /// `/metrics` at its start and at its end.
    pub m0: String,
    pub m1: String,
    /// Stream counts at its start and at its end.
    pub s0: Vec<[u64; 3]>,
    pub s1: Vec<[u64; 3]>,
    pub secs: f64,
    /// CPU seconds of the server and of this tool.
    pub cpu: Option<f64>,
    pub self_cpu: Option<f64>,
    pub end_rss: Option<u64>,
    pub busy_fds: Option<usize>,
    pub busy_threads: Option<u64>,
    pub streams_open: u64,
    pub lat: Lat,
    /// Per 5-second window, % of one core: the server, this tool, other processes.
    pub cpu_windows: Vec<(f64, f64, f64)>,
    pub peak_rss: u64,
}

pub async fn run(
    args: &Args,
    server: &Server,
    probe: &reqwest::Client,
    clients: &[reqwest::Client],
    connected: &[bool],
    streams: Streams,
    errors: &Arc<Errors>,
) -> anyhow::Result<Steady> {
    let n = clients.len();
    let pid = server.pid;
    let base = server.base.clone();
    let sse = streams.sse.clone();
    let connected_rss = pid.and_then(rss_kb);
    let m0 = server.metrics(probe).await;
    let cpu0 = pid.and_then(cpu_secs);
    let self_cpu0 = cpu_secs(std::process::id());
    let s0 = sse.snapshot();
    let t_start = Instant::now();
    let end = t_start + Duration::from_secs(args.duration_secs);

    // Progress, and the peak RSS.
    let peak = Arc::new(AtomicU64::new(connected_rss.unwrap_or(0)));
    let monitor = tokio::spawn(monitor(
        peak.clone(),
        pid,
        sse.clone(),
        probe.clone(),
        base.clone(),
        end,
    ));

    let mut workers = Vec::new();
    for (i, http) in clients.iter().enumerate() {
        if !connected[i] || args.no_browse {
            continue;
        }
        let spread = Duration::from_secs_f64(args.think_secs * (i as f64 / n as f64));
        workers.push(tokio::spawn(browse(
            http.clone(),
            base.clone(),
            errors.clone(),
            args.think_secs,
            !args.no_gzip,
            spread,
            t_start,
            end,
        )));
    }
    // The steady state's figures are taken at its end; the requests in flight then finish.
    tokio::time::sleep_until(end.into()).await;
    let secs = t_start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(pid.and_then(cpu_secs)).map(|(a, b)| b - a);
    let self_cpu = self_cpu0
        .zip(cpu_secs(std::process::id()))
        .map(|(a, b)| b - a);
    let s1 = sse.snapshot();
    let m1 = server.metrics(probe).await;
    let end_rss = pid.and_then(rss_kb);
    let busy_fds = pid.and_then(fds);
    let busy_threads = pid.and_then(threads);
    let streams_open = sse.open.load(Ordering::Relaxed);
    let _ = streams.stop.send(true);
    let mut lat = Lat::default();
    for w in workers {
        lat.extend(w.await?);
    }
    let cpu_windows = monitor.await.unwrap_or_default();
    for t in streams.tasks {
        let _ = t.await;
    }
    Ok(Steady {
        connected_rss,
        m0,
        m1,
        s0,
        s1,
        secs,
        cpu,
        self_cpu,
        end_rss,
        busy_fds,
        busy_threads,
        streams_open,
        lat,
        cpu_windows,
        peak_rss: peak.load(Ordering::Relaxed),
    })
}

/// Every second: the peak RSS; every 5 s: the CPU of the server, of this tool and of the
/// rest of the machine; every 10 s a progress line.
async fn monitor(
    peak: Arc<AtomicU64>,
    pid: Option<u32>,
    sse: Arc<Sse>,
    probe: reqwest::Client,
    base: String,
    end: Instant,
) -> Vec<(f64, f64, f64)> {
    // CPU (% of one core) of the server and of this tool, per 5-second window.
    let mut cpu_windows = Vec::new();
    let me = Some(std::process::id());
    let cpu = |p: Option<u32>| p.and_then(cpu_secs);
    let mut last = (cpu(pid), cpu(me), Instant::now(), machine_cpu());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut k = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        if let Some(r) = pid.and_then(rss_kb) {
            peak.fetch_max(r, Ordering::Relaxed);
        }
        k += 1;
        if k.is_multiple_of(5) {
            let now = (cpu(pid), cpu(me), Instant::now(), machine_cpu());
            let el = now.2.duration_since(last.2).as_secs_f64();
            let pc = |a: Option<f64>, b: Option<f64>| {
                a.zip(b).map_or(f64::NAN, |(a, b)| (b - a) / el * 100.0)
            };
            let server = pc(last.0, now.0);
            let tool = pc(last.1, now.1);
            let machine = pc(last.3.map(|m| m.0), now.3.map(|m| m.0));
            // In-process, the server is this process: do not count it twice.
            let ours = if pid == me { tool } else { server + tool };
            cpu_windows.push((server, tool, (machine - ours).max(0.0)));
            last = now;
        }
        if k.is_multiple_of(10) {
            let m = probe.get(format!("{base}/metrics")).send().await;
            let m = match m {
                Ok(r) => r.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            eprintln!(
                "  {k} s: RSS {} MB, packets in {:.0}, streams open {}, SSE events {}, lagged {:.0}",
                mb(pid.and_then(rss_kb)),
                metric(&m, "meshdeck_packets_in_total"),
                sse.open.load(Ordering::Relaxed),
                sse.events(),
                metric(&m, "meshdeck_sse_lagged_total"),
            );
        }
    }
    cpu_windows
}

/// One browsing client: after `spread`, rounds of the nodes page, the packet log page and
/// `/api/status`, `think` seconds apart, until `end`.
#[allow(clippy::too_many_arguments)]
async fn browse(
    http: reqwest::Client,
    base: String,
    errors: Arc<Errors>,
    think: f64,
    gzip: bool,
    spread: Duration,
    t_start: Instant,
    end: Instant,
) -> Lat {
    let mut lat = Lat::default();
    // Spread the clients over the think time.
    tokio::time::sleep(spread).await;
    while Instant::now() < end {
        for (path, which) in [("/nodes", 0), ("/packets", 1), ("/api/status", 2)] {
            let t = Instant::now();
            let mut req = http
                .get(format!("{base}{path}"))
                .timeout(Duration::from_secs(30));
            // Pages as a browser asks for them (gzip); the JSON as a script does.
            if which < 2 && gzip {
                req = req.header("accept-encoding", "gzip");
            }
            let r = match req.send().await {
                Ok(r) if r.status() == 200 => r,
                Ok(r) => {
                    errors.add(format!("{path}: HTTP {}", r.status()));
                    continue;
                }
                Err(e) => {
                    errors.add(format!("{path}: {e}"));
                    continue;
                }
            };
            let body = match r.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    errors.add(format!("{path} body: {e}"));
                    continue;
                }
            };
            let d = ms(t.elapsed());
            // A session that lost its link gets a 200 too: check the status.
            if which == 2 && !memfind(&body, b"\"connected\":true") {
                errors.add(format!("{path}: not connected any more"));
            }
            lat.bytes[which] += body.len() as u64;
            lat.when
                .push((t.saturating_duration_since(t_start).as_secs_f64(), d));
            match which {
                0 => lat.nodes.push(d),
                1 => lat.packets.push(d),
                _ => lat.status.push(d),
            }
        }
        let next = Instant::now() + Duration::from_secs_f64(think);
        tokio::time::sleep_until(next.min(end).into()).await;
    }
    lat
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
