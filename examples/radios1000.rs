//! 1,000 kept radios with history recording on (issue 19, item 4): the release server as a
//! child process keeps `--radios` simulated radios (`meshdeck sim`, `--nodes` nodes each,
//! `--rate` packets/s each) connected with no browser (`POST /api/sessions/create` and
//! `/api/sessions/{name}/connect`: the original's persistent-session API), recording every
//! node's history to SQLite (the default). One browser session meanwhile loads its nodes
//! page (`GET /nodes`, gzip) every `--probe-ms`, on a radio of its own of `--probe-nodes`
//! nodes at the same rate (the page of the other figures), connected ad hoc. Per window and
//! overall: the server's CPU (`/proc/PID/stat`, % of one core), the nodes page's p50 / p95 /
//! p99, what the server wrote to storage (`/proc/PID/io` `write_bytes`) and how the database
//! and its WAL grew, packets in, history changes dropped, RSS; and the CPU the rest of the
//! machine used meanwhile.
//!
//! ```text
//! cargo build --release --bins --example radios1000
//! ./target/release/examples/radios1000 --duration-secs 300
//! ```
//!
//! Bounded in time (a watchdog ends a run that overruns, exit 2); fails with exit 1 and a
//! message when a radio does not connect, a link is down at the end, or the page fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sidebyside/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "sidebyside/procs.rs"]
#[allow(dead_code)]
mod procs;
#[path = "support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use tokio::sync::Semaphore;

use procs::{ServerKind, Spec};
use support::proc;

#[derive(Parser, Debug)]
#[command(about = "meshdeck with 1,000 kept radios recording history")]
struct Args {
    /// meshdeck's server binary (its `sim` subcommand runs the radios).
    #[arg(long, default_value = "target/release/meshdeck")]
    bin: PathBuf,
    #[arg(long, default_value_t = 1000)]
    radios: usize,
    /// Node DB size of each kept radio.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Packets per second per radio.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Node DB size of the browser session's own radio (0: the session attaches to the
    /// first kept radio instead).
    #[arg(long, default_value_t = 200)]
    probe_nodes: usize,
    /// Milliseconds between two loads of the session's nodes page.
    #[arg(long, default_value_t = 500)]
    probe_ms: u64,
    /// Seconds measured, after every radio is connected and --warmup-secs.
    #[arg(long, default_value_t = 300)]
    duration_secs: u64,
    #[arg(long, default_value_t = 30)]
    warmup_secs: u64,
    /// Seconds per row of the table.
    #[arg(long, default_value_t = 60)]
    window_secs: u64,
    /// Kept-radio connects in flight at once.
    #[arg(long, default_value_t = 16)]
    connect_concurrency: usize,
    /// First wait up to this many seconds for the machine to be quiet (other processes
    /// below 15 % of one core over 5 s).
    #[arg(long, default_value_t = 0)]
    wait_quiet_secs: u64,
}

/// `/proc/PID/io` `write_bytes`: bytes this process caused to be written to storage.
fn write_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    s.lines()
        .find(|l| l.starts_with("write_bytes:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The database file and its WAL, bytes.
fn db_bytes(dir: &std::path::Path) -> u64 {
    ["meshdeck.db", "meshdeck.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn metrics(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    Ok(http
        .get(format!("{base}/metrics"))
        .timeout(Duration::from_secs(30))
        .send()
        .await?
        .text()
        .await?)
}

fn metric(text: &str, name: &str) -> f64 {
    support::metric(text, name).unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    args.bin = args
        .bin
        .canonicalize()
        .with_context(|| format!("{} not found (cargo build --release)", args.bin.display()))?;
    let budget = Duration::from_secs(
        args.wait_quiet_secs + args.duration_secs + args.warmup_secs + 300 + args.radios as u64 / 4,
    );
    procs::run_guarded("radios1000", budget, run(&args))
}

/// One row of the table.
struct Window {
    secs: f64,
    cpu: f64,
    lat: Vec<f64>,
    written: u64,
    grown: i64,
    packets: f64,
    dropped: f64,
    rss: u64,
    others: f64,
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let nofile = std::fs::read_to_string("/proc/self/limits")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().nth(3).unwrap_or("?").to_string())
        .unwrap_or_default();
    eprintln!(
        "open-file limit {nofile} (the radios' process holds 2 per radio, the server 1 per radio)"
    );
    if args.wait_quiet_secs > 0 {
        let until = Instant::now() + Duration::from_secs(args.wait_quiet_secs);
        loop {
            let busy = proc::machine_busy(Duration::from_secs(5)).await;
            eprintln!("machine busy {busy:.0} % of one core");
            if busy < 15.0 || Instant::now() > until {
                break;
            }
        }
    }
    let (sims, ports) = procs::sims(&args.bin, args.radios, args.nodes, args.rate).await?;
    let probe_sim = if args.probe_nodes > 0 {
        Some(procs::sims(&args.bin, 1, args.probe_nodes, args.rate).await?)
    } else {
        None
    };
    let spec = Spec {
        label: "meshdeck".into(),
        kind: ServerKind::Meshdeck(args.bin.clone()),
    };
    let extra = vec!["--max-radios".to_string(), (args.radios + 10).to_string()];
    let (mut srv, _) = procs::server(&spec, "python3", Some(20), &extra).await?;
    let base = format!("http://{}", srv.addr);
    let data = srv.dir.join("data");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let idle_rss = proc::rss_kb(srv.pid);

    // Every radio kept, 16 connects at a time.
    eprintln!(
        "keeping {} radios ({} nodes, {} packets/s each)",
        args.radios, args.nodes, args.rate
    );
    let t = Instant::now();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let mut joins = Vec::new();
    for (i, &port) in ports.iter().enumerate() {
        let (http, base, gate) = (http.clone(), base.clone(), gate.clone());
        joins.push(tokio::spawn(async move {
            let _g = gate.acquire().await?;
            let name = format!("r{i:04}");
            let r = http
                .post(format!("{base}/api/sessions/create"))
                .json(&serde_json::json!({"name": name, "host": "127.0.0.1", "port": port}))
                .timeout(Duration::from_secs(30))
                .send()
                .await?;
            let st = r.status();
            if st != 200 {
                bail!(
                    "create {name}: HTTP {st} {}",
                    r.text().await.unwrap_or_default()
                );
            }
            let r = http
                .post(format!("{base}/api/sessions/{name}/connect"))
                .timeout(Duration::from_secs(60))
                .send()
                .await?;
            let st = r.status();
            let body: serde_json::Value = r.json().await?;
            if st != 200 || body["status"] != "connected" {
                bail!("connect {name}: HTTP {st} {body}");
            }
            anyhow::Ok(())
        }));
    }
    for j in joins {
        j.await??;
    }
    let connect_secs = t.elapsed().as_secs_f64();
    let kept_rss = proc::rss_kb(srv.pid);
    eprintln!("{} radios kept in {connect_secs:.1} s", args.radios);

    // The browser session and its radio.
    let session = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let probe_port = probe_sim.as_ref().map_or(ports[0], |(_, p)| p[0]);
    let r = session
        .post(format!("{base}/api/connect"))
        .json(&serde_json::json!({"host": "127.0.0.1", "port": probe_port}))
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let body: serde_json::Value = r.json().await?;
    anyhow::ensure!(
        body["status"] == "connected",
        "the session's connect: {body}"
    );
    let page_rows = args.probe_nodes.max(args.nodes);
    let lat: Arc<Mutex<Vec<(Instant, f64)>>> = Arc::default();
    let page_bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let prober = {
        let (session, base, lat, every) =
            (session.clone(), base.clone(), lat.clone(), args.probe_ms);
        let (page_bytes, failures) = (page_bytes.clone(), failures.clone());
        tokio::spawn(async move {
            let mut next = tokio::time::Instant::now();
            loop {
                tokio::time::sleep_until(next).await;
                next += Duration::from_millis(every);
                let t = Instant::now();
                let r = session
                    .get(format!("{base}/nodes"))
                    .header("accept-encoding", "gzip")
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(b) => {
                            let ms = t.elapsed().as_secs_f64() * 1000.0;
                            page_bytes.store(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
                            lat.lock().unwrap().push((t, ms));
                        }
                        Err(_) => {
                            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    },
                    _ => {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        })
    };
    eprintln!("warming up {} s", args.warmup_secs);
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;

    let mut pids = vec![srv.pid, sims.pid];
    if let Some((p, _)) = &probe_sim {
        pids.push(p.pid);
    }
    let mut windows = Vec::new();
    let start = Instant::now();
    let (cpu0, w0, d0) = (
        proc::cpu_secs(srv.pid),
        write_bytes(srv.pid),
        db_bytes(&data),
    );
    let m0 = metrics(&http, &base).await?;
    eprintln!(
        "measuring {} s; database {:.1} MB at the start",
        args.duration_secs,
        d0 as f64 / 1e6
    );
    let mut prev = (Instant::now(), cpu0, w0, d0, m0.clone());
    while start.elapsed() < Duration::from_secs(args.duration_secs) {
        let left = Duration::from_secs(args.duration_secs).saturating_sub(start.elapsed());
        let o = proc::Others::start(pids.clone());
        tokio::time::sleep(left.min(Duration::from_secs(args.window_secs))).await;
        srv.check()?;
        let now = (
            Instant::now(),
            proc::cpu_secs(srv.pid),
            write_bytes(srv.pid),
            db_bytes(&data),
            metrics(&http, &base).await?,
        );
        let secs = (now.0 - prev.0).as_secs_f64();
        let w_lat: Vec<f64> = lat
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| *t >= prev.0 && *t < now.0)
            .map(|(_, ms)| *ms)
            .collect();
        let win = Window {
            secs,
            cpu: now
                .1
                .zip(prev.1)
                .map_or(f64::NAN, |(b, a)| (b - a) / secs * 100.0),
            lat: w_lat,
            written: now.2.zip(prev.2).map_or(0, |(b, a)| b - a),
            grown: now.3 as i64 - prev.3 as i64,
            packets: metric(&now.4, "meshdeck_packets_in_total")
                - metric(&prev.4, "meshdeck_packets_in_total"),
            dropped: metric(&now.4, "meshdeck_history_dropped_total")
                - metric(&prev.4, "meshdeck_history_dropped_total"),
            rss: proc::rss_kb(srv.pid).unwrap_or(0),
            others: o.pct(),
        };
        eprintln!(
            "{:.0} s: CPU {:.0} %, nodes p99 {:.1} ms, {:.1} MB written, {:.0} packets/s",
            start.elapsed().as_secs_f64(),
            win.cpu,
            pct(&mut win.lat.clone(), 0.99),
            win.written as f64 / 1e6,
            win.packets / secs
        );
        windows.push(win);
        prev = now;
    }
    prober.abort();
    let total = start.elapsed().as_secs_f64();

    // Every radio still kept and connected (a link that is re-established gets 10 s).
    let mut down: Vec<String> = Vec::new();
    for attempt in 0..3 {
        let list: serde_json::Value = http
            .get(format!("{base}/api/sessions"))
            .timeout(Duration::from_secs(30))
            .send()
            .await?
            .json()
            .await?;
        down = list["sessions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|s| s["connected"] != true)
                    .map(|s| format!("{} ({}: {})", s["name"], s["state"], s["error"]))
                    .collect()
            })
            .unwrap_or_default();
        if down.is_empty() || attempt == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let up = args.radios - down.len().min(args.radios);
    let m = metrics(&http, &base).await?;
    let links = metric(&m, "meshdeck_links_open");
    let fails = failures.load(std::sync::atomic::Ordering::Relaxed);
    let mut all: Vec<f64> = windows.iter().flat_map(|w| w.lat.iter().copied()).collect();
    if all.is_empty() || fails * 100 > all.len() as u64 {
        bail!("nodes page: {} loads, {fails} failures", all.len());
    }
    let end = (
        proc::cpu_secs(srv.pid),
        write_bytes(srv.pid),
        db_bytes(&data),
    );
    let cpu = end
        .0
        .zip(cpu0)
        .map_or(f64::NAN, |(b, a)| (b - a) / total * 100.0);
    let written = end.1.zip(w0).map_or(f64::NAN, |(b, a)| (b - a) as f64);
    let grown = end.2 as f64 - d0 as f64;
    let packets =
        metric(&m, "meshdeck_packets_in_total") - metric(&m0, "meshdeck_packets_in_total");
    let dropped = metric(&m, "meshdeck_history_dropped_total")
        - metric(&m0, "meshdeck_history_dropped_total");
    let lagged = metric(&m, "meshdeck_sse_lagged_total");

    println!();
    println!("| window | server CPU (one core) | nodes page p50 / p95 / p99 ms | written to storage | database + WAL growth | packets in/s | history changes dropped | RSS MB | other processes (one core) |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut at = 0.0;
    for w in &mut windows {
        let (a, b) = (at, at + w.secs);
        at = b;
        println!(
            "| {a:.0}–{b:.0} s | {:.0} % | {:.1} / {:.1} / {:.1} | {:.1} MB/min | {:.2} MB/min | {:.0} | {:.0} | {:.1} | {:.0} % |",
            w.cpu,
            pct(&mut w.lat, 0.5),
            pct(&mut w.lat, 0.95),
            pct(&mut w.lat, 0.99),
            w.written as f64 / 1e6 * 60.0 / w.secs,
            w.grown as f64 / 1e6 * 60.0 / w.secs,
            w.packets / w.secs,
            w.dropped,
            w.rss as f64 / 1024.0,
            w.others
        );
    }
    println!();
    println!("| figure | value |");
    println!("| --- | --- |");
    println!("| radios kept (links open at the end) | {up} of {} ({links:.0} links with the session's radio) |", args.radios);
    println!(
        "| packets in | {:.0} /s ({} radios × {} /s asked) |",
        packets / total,
        args.radios,
        args.rate
    );
    println!("| server CPU | **{cpu:.0} %** of one core |");
    println!(
        "| nodes page ({page_rows} rows, {} B gzip) p50 / p95 / p99, one load every {} ms | {:.1} / {:.1} / **{:.1}** ms ({} loads, {fails} failed) |",
        page_bytes.load(std::sync::atomic::Ordering::Relaxed),
        args.probe_ms,
        pct(&mut all, 0.5),
        pct(&mut all, 0.95),
        pct(&mut all, 0.99),
        all.len()
    );
    println!(
        "| SQLite: written to storage (`/proc/PID/io` write_bytes) | **{:.1} MB per minute** |",
        written / 1e6 * 60.0 / total
    );
    println!(
        "| SQLite: database + WAL growth | {:.2} MB per minute ({:.1} → {:.1} MB) |",
        grown / 1e6 * 60.0 / total,
        d0 as f64 / 1e6,
        end.2 as f64 / 1e6
    );
    println!("| history changes dropped / SSE lagged | {dropped:.0} / {lagged:.0} |");
    println!(
        "| RSS idle → {} radios kept → end | {:.1} → {:.1} → {:.1} MB |",
        args.radios,
        idle_rss.unwrap_or(0) as f64 / 1024.0,
        kept_rss.unwrap_or(0) as f64 / 1024.0,
        proc::rss_kb(srv.pid).unwrap_or(0) as f64 / 1024.0
    );
    println!(
        "| connecting the {} radios ({} at a time) | {connect_secs:.1} s |",
        args.radios, args.connect_concurrency
    );
    println!();
    println!(
        "{} s measured after {} s of warm-up; 2 shared cores (figures are noisy; see the last column); command: {}",
        args.duration_secs,
        args.warmup_secs,
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    if !down.is_empty() {
        eprintln!("server log (last lines):\n{}", srv.log_tail());
        eprintln!("radios log (last lines):\n{}", sims.log_tail());
        bail!(
            "{up} of {} kept radios connected at the end; down: {}",
            args.radios,
            down.join(", ")
        );
    }
    drop(srv);
    Ok(())
}
