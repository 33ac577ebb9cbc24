//! Load benchmark: N simulated radios and N browser-like clients against the real server
//! binary, on loopback only. Each client gets a cookie, connects its radio, opens the live
//! stream and then browses (nodes page, packet log, status) with a think time. Prints one
//! table of figures. Bounded in time and count; stops by itself.
//!
//! cargo build --release && cargo run --release --example load -- --sessions 100 --duration-secs 30
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use meshdeck::sim::{SimConfig, SimRadio};
use tokio::sync::Semaphore;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 10)]
    sessions: usize,
    #[arg(long, default_value_t = 30)]
    duration_secs: u64,
    #[arg(long, default_value_t = 250)]
    nodes: usize,
    /// Packets per second per radio.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Seconds each client waits between two rounds of page loads.
    #[arg(long, default_value_t = 5.0)]
    think_secs: f64,
    #[arg(long, default_value = "target/release/meshdeck")]
    bin: String,
    #[arg(long, default_value_t = 32)]
    connect_concurrency: usize,
    /// Live streams (open tabs) per session.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// No page loads, only live streams (to measure the link → ring → SSE path).
    #[arg(long)]
    no_browse: bool,
    /// Instead of the session table: this many concurrent connections fetch the nodes page
    /// (HTML) and then `/api/nodes` (JSON) of one session as fast as they can.
    #[arg(long)]
    hammer: Option<usize>,
    /// The live stream each tab opens: a packet log (`/events?port=all`) or a dashboard tab
    /// (`/events`).
    #[arg(long, default_value = "/events?port=all")]
    stream_path: String,
}

fn proc_status(pid: u32, key: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) of a process.
fn cpu_secs(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[derive(Default)]
struct Lat {
    nodes: Vec<f64>,
    packets: Vec<f64>,
    status: Vec<f64>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let n = args.sessions;
    eprintln!(
        "starting {n} simulated radios ({} nodes, {} packets/s each)",
        args.nodes, args.rate
    );
    let mut radios = Vec::new();
    for i in 0..n {
        let cfg = SimConfig {
            index: i as u32,
            nodes: args.nodes,
            rate: args.rate,
            ..SimConfig::default()
        };
        radios.push(SimRadio::bind("127.0.0.1:0", cfg).await.unwrap());
    }
    let data = std::env::temp_dir().join(format!("meshdeck-load-{}", std::process::id()));
    let t0 = Instant::now();
    let mut child = Command::new(&args.bin)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--max-sessions",
            &(n + 10).to_string(),
        ])
        .env("SECRET_KEY", "ab".repeat(64))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run `cargo build --release` first");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().trim_start_matches("meshdeck on ").to_string();
    let probe = reqwest::Client::new();
    while probe
        .get(format!("{base}/healthz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let startup = t0.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = proc_status(pid, "VmRSS:");
    let idle_fds = fds(pid);

    // First page on the wire, compressed, with every asset.
    let mut first_bytes = 0usize;
    for path in [
        "/",
        "/assets/app.css",
        "/assets/vendor/htmx-2.0.8.min.js",
        "/assets/vendor/htmx-ext-sse-2.2.4.js",
        "/assets/icon.svg",
    ] {
        let r = probe
            .get(format!("{base}{path}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        first_bytes += r.bytes().await.unwrap().len();
    }

    if let Some(conc) = args.hammer {
        hammer(&base, radios[0].addr().port(), conc, args.duration_secs).await;
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&data);
        return;
    }
    eprintln!("connecting {n} sessions");
    let sem = Arc::new(Semaphore::new(args.connect_concurrency));
    let mut clients = Vec::new();
    let connect_ms = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for r in &radios {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        clients.push(http.clone());
        let (base, sem, port, connect_ms, errors) = (
            base.clone(),
            sem.clone(),
            r.addr().port(),
            connect_ms.clone(),
            errors.clone(),
        );
        handles.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            let t = Instant::now();
            let ok = http
                .post(format!("{base}/api/connect"))
                .json(&serde_json::json!({"host": "127.0.0.1", "port": port}))
                .send()
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            let page = http
                .get(format!("{base}/nodes"))
                .send()
                .await
                .map(|r| r.status() == 200)
                .unwrap_or(false);
            if ok && page {
                connect_ms
                    .lock()
                    .unwrap()
                    .push(t.elapsed().as_secs_f64() * 1000.0);
            } else {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    eprintln!(
        "opening {n} live streams; steady state for {} s",
        args.duration_secs
    );
    let sse_bytes = Arc::new(AtomicU64::new(0));
    let sse_packets = Arc::new(AtomicU64::new(0));
    let sse_events = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs(args.duration_secs) + Duration::from_secs(2);
    for http in clients
        .iter()
        .flat_map(|c| std::iter::repeat_n(c, args.streams))
    {
        let path = args.stream_path.clone();
        let (http, base, bytes, packets, events) = (
            http.clone(),
            base.clone(),
            sse_bytes.clone(),
            sse_packets.clone(),
            sse_events.clone(),
        );
        tokio::spawn(async move {
            // A tab showing the packet log: the heaviest stream a session has.
            let Ok(mut r) = http.get(format!("{base}{path}")).send().await else {
                return;
            };
            while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(stop.into(), r.chunk()).await {
                let s = String::from_utf8_lossy(&chunk);
                bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                events.fetch_add(s.matches("event: ").count() as u64, Ordering::Relaxed);
                packets.fetch_add(
                    s.matches("event: packet\n").count() as u64,
                    Ordering::Relaxed,
                );
            }
        });
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connected_rss = proc_status(pid, "VmRSS:");
    let m0 = probe
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (cpu0, bytes0, packets0, events0) = (
        cpu_secs(pid),
        sse_bytes.load(Ordering::Relaxed),
        sse_packets.load(Ordering::Relaxed),
        sse_events.load(Ordering::Relaxed),
    );
    let t_start = Instant::now();
    let end = t_start + Duration::from_secs(args.duration_secs);
    let lat = Arc::new(Mutex::new(Lat::default()));
    let mut workers = Vec::new();
    for (i, http) in clients.iter().enumerate() {
        let (http, base, lat, errors, think, no_browse) = (
            http.clone(),
            base.clone(),
            lat.clone(),
            errors.clone(),
            args.think_secs,
            args.no_browse,
        );
        workers.push(tokio::spawn(async move {
            // Spread the clients over the think time.
            tokio::time::sleep(Duration::from_secs_f64(
                think * (i as f64 / n.max(1) as f64),
            ))
            .await;
            while Instant::now() < end {
                if no_browse {
                    tokio::time::sleep_until(end.into()).await;
                    break;
                }
                for (path, which) in [("/nodes", 0), ("/packets", 1), ("/api/status", 2)] {
                    let t = Instant::now();
                    match http.get(format!("{base}{path}")).send().await {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.bytes().await;
                            let ms = t.elapsed().as_secs_f64() * 1000.0;
                            let mut l = lat.lock().unwrap();
                            match which {
                                0 => l.nodes.push(ms),
                                1 => l.packets.push(ms),
                                _ => l.status.push(ms),
                            }
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs_f64(think)).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let secs = t_start.elapsed().as_secs_f64();
    let m1 = probe
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let cpu = cpu_secs(pid) - cpu0;
    let packets_in =
        metric(&m1, "meshdeck_packets_in_total") - metric(&m0, "meshdeck_packets_in_total");
    let lagged = metric(&m1, "meshdeck_sse_lagged_total");
    let sse_b = sse_bytes.load(Ordering::Relaxed) - bytes0;
    let sse_p = sse_packets.load(Ordering::Relaxed) - packets0;
    let sse_e = sse_events.load(Ordering::Relaxed) - events0;
    let end_rss = proc_status(pid, "VmRSS:");
    let busy_fds = fds(pid);
    let mut l = std::mem::take(&mut *lat.lock().unwrap());
    let mut c = connect_ms.lock().unwrap().clone();
    let per_session_kb = (connected_rss.saturating_sub(idle_rss)) as f64 / n.max(1) as f64;
    println!("| sessions | packets/s in | SSE events/s out | nodes page p50/p95/p99 ms | packet log p50/p95/p99 ms | /api/status p50/p95/p99 ms | RSS idle → connected → end (MB) | RSS per session (KB) | CPU s per 1,000 packets | lagged | errors |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {n} | {:.0} | {:.0} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.1} → {:.1} → {:.1} | {:.0} | {:.2} | {lagged:.0} | {} |",
        packets_in / secs,
        sse_e as f64 / secs,
        pct(&mut l.nodes, 0.5), pct(&mut l.nodes, 0.95), pct(&mut l.nodes, 0.99),
        pct(&mut l.packets, 0.5), pct(&mut l.packets, 0.95), pct(&mut l.packets, 0.99),
        pct(&mut l.status, 0.5), pct(&mut l.status, 0.95), pct(&mut l.status, 0.99),
        idle_rss as f64 / 1024.0, connected_rss as f64 / 1024.0, end_rss as f64 / 1024.0,
        per_session_kb,
        if packets_in > 0.0 { cpu / packets_in * 1000.0 } else { f64::NAN },
        errors.load(Ordering::Relaxed),
    );
    println!();
    println!("start-up {:.0} ms · idle RSS {:.1} MB · first page {:.1} KB compressed (page + assets) · connect → full nodes page ({} nodes) p50 {:.0} ms, p95 {:.0} ms · {:.0} bytes per pushed packet · {:.1} KB per stream per minute · {} page loads · fds idle {idle_fds}, busy {busy_fds} · CPU {:.1} s over {:.0} s",
        startup.as_secs_f64() * 1000.0, idle_rss as f64 / 1024.0, first_bytes as f64 / 1024.0, args.nodes,
        pct(&mut c, 0.5), pct(&mut c, 0.95),
        if sse_p > 0 { sse_b as f64 / sse_p as f64 } else { f64::NAN },
        sse_b as f64 / 1024.0 / (n * args.streams).max(1) as f64 / (secs / 60.0),
        l.nodes.len() + l.packets.len() + l.status.len(), cpu, secs);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
    for r in &radios {
        r.shutdown();
    }
}

/// Requests per second and latency of the nodes list at `conc` concurrent connections.
async fn hammer(base: &str, port: u16, conc: usize, secs: u64) {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(conc)
        .build()
        .unwrap();
    let r = http
        .post(format!("{base}/api/connect"))
        .json(&serde_json::json!({"host": "127.0.0.1", "port": port}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    println!("| path | connections | requests/s | p50 ms | p99 ms | errors |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for path in ["/nodes", "/api/nodes"] {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut tasks = Vec::new();
        for _ in 0..conc {
            let (http, url) = (http.clone(), format!("{base}{path}"));
            tasks.push(tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < end {
                    let t = Instant::now();
                    match http.get(&url).send().await {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let (mut all, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (l, e) = t.await.unwrap();
            all.extend(l);
            errors += e;
        }
        println!(
            "| `{path}` | {conc} | {:.0} | {:.2} | {:.2} | {errors} |",
            all.len() as f64 / secs as f64,
            pct(&mut all, 0.5),
            pct(&mut all, 0.99)
        );
    }
}
