//! Soak run: sessions that browse, send, go idle and expire, disconnect and come back, more
//! of them than the cap allows, radios that drop and reboot; at the end checks that nothing
//! panicked, memory came back near its start, no sockets leaked, and no sent message is
//! missing from the history. Loopback only; bounded; exits non-zero on a failed check.
//!
//! cargo build --release && cargo run --release --example soak -- --duration-secs 600
//!
//! The `/proc` readers and the live-stream client are the load tool's (`support`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use meshdeck::sim::{Fault, SimConfig, SimRadio};
use rand::Rng;
use serde_json::json;

use support::{proc, sse};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 600)]
    duration_secs: u64,
    #[arg(long, default_value_t = 50)]
    sessions: usize,
    #[arg(long, default_value_t = 40)]
    max_sessions: usize,
    #[arg(long, default_value_t = 15)]
    session_timeout: u64,
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    #[arg(long, default_value = "target/release/meshdeck")]
    bin: String,
}

fn rss_kb(pid: u32) -> u64 {
    proc::rss_kb(pid).unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    proc::fds(pid).unwrap_or(0)
}

fn threads(pid: u32) -> usize {
    proc::tasks(pid).unwrap_or(0)
}

/// A `/metrics` sample, -1 when it is missing.
fn metric(text: &str, name: &str) -> f64 {
    support::metric(text, name).unwrap_or(-1.0)
}

async fn get(http: &reqwest::Client, url: String) -> reqwest::Response {
    http.get(url).send().await.unwrap()
}

#[derive(Default)]
struct Counts {
    connects: AtomicU64,
    expired_seen: AtomicU64,
    sent: AtomicU64,
    reboots: AtomicU64,
    drops: AtomicU64,
    errors: AtomicU64,
    streams: AtomicU64,
    stream_events: AtomicU64,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let n = args.sessions;
    let mut radios = Vec::new();
    for i in 0..n {
        let cfg = SimConfig {
            index: i as u32,
            nodes: args.nodes,
            rate: 2.0,
            reboot_delay: Duration::from_secs(3),
            ..SimConfig::default()
        };
        radios.push(SimRadio::bind("127.0.0.1:0", cfg).await.unwrap());
    }
    let data = std::env::temp_dir().join(format!("meshdeck-soak-{}", std::process::id()));
    let log_path = data.with_extension("log");
    std::fs::create_dir_all(&data).unwrap();
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(&args.bin)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .args([
            "--max-sessions",
            &args.max_sessions.to_string(),
            "--session-timeout",
            &args.session_timeout.to_string(),
        ])
        .args(["--stale-after", "10", "--connect-timeout", "5"])
        .env("SECRET_KEY", "ab".repeat(64))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("run `cargo build --release` first");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line.trim().trim_start_matches("meshdeck on ").to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (fds0, threads0) = (fds(pid), threads(pid));
    let counts = Arc::new(Counts::default());
    let sent: Arc<Mutex<Vec<(usize, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let end = Instant::now() + Duration::from_secs(args.duration_secs);
    let mut rss_warm = 0;
    eprintln!(
        "soak: {n} sessions over {} s, cap {}, idle timeout {} s",
        args.duration_secs, args.max_sessions, args.session_timeout
    );

    // Chaos: radios drop their link now and then.
    let chaos = {
        let radios = radios.clone();
        let counts = counts.clone();
        tokio::spawn(async move {
            while Instant::now() < end {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let i = rand::rng().random_range(0..radios.len());
                radios[i].set_fault(Fault::DropAfter(2));
                counts.drops.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(2)).await;
                radios[i].set_fault(Fault::None);
            }
        })
    };

    let mut clients = Vec::new();
    for (i, radio) in radios.iter().enumerate() {
        let (base, port, counts, sent, timeout) = (
            base.clone(),
            radio.addr().port(),
            counts.clone(),
            sent.clone(),
            args.session_timeout,
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .cookie_store(true)
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            // Spread the start.
            tokio::time::sleep(Duration::from_millis(100 * i as u64)).await;
            while Instant::now() < end {
                let status: serde_json::Value =
                    match http.get(format!("{base}/api/status")).send().await {
                        Ok(r) => r.json().await.unwrap_or_default(),
                        Err(_) => {
                            counts.errors.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            continue;
                        }
                    };
                if status["sessionExpired"] == true {
                    counts.expired_seen.fetch_add(1, Ordering::Relaxed);
                }
                if status["myNode"].is_null() {
                    let r = http
                        .post(format!("{base}/api/connect"))
                        .json(&json!({"host": "127.0.0.1", "port": port}))
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => {
                            counts.connects.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            // Rebooting, or the cap is full of busier sessions: try later.
                            tokio::time::sleep(Duration::from_secs(2)).await;
                            continue;
                        }
                    }
                }
                let roll: u32 = rand::rng().random_range(0..100);
                match roll {
                    0..=54 => {
                        for path in ["/nodes", "/packets", "/messages"] {
                            if let Ok(r) = http.get(format!("{base}{path}")).send().await {
                                let _ = r.bytes().await;
                            }
                        }
                        // A tab's live stream, open for a few seconds, then the tab is closed.
                        let stream = ["/events", "/events?port=all", "/events?convo=ch:0"]
                            [rand::rng().random_range(0..3)];
                        let open_for = Duration::from_millis(rand::rng().random_range(500..6000));
                        let (http, url, counts) =
                            (http.clone(), format!("{base}{stream}"), counts.clone());
                        tokio::spawn(async move {
                            let Ok(mut r) = http.get(url).send().await else {
                                return;
                            };
                            counts.streams.fetch_add(1, Ordering::Relaxed);
                            let until = tokio::time::sleep(open_for);
                            let mut events = sse::Events::default();
                            sse::read(&mut r, until, |chunk| {
                                let (n, _) = events.count(chunk);
                                counts.stream_events.fetch_add(n, Ordering::Relaxed);
                            })
                            .await;
                        });
                    }
                    55..=79 => {
                        let text = format!("soak {i} {}", rand::rng().random::<u32>());
                        if let Ok(r) = http
                            .post(format!("{base}/api/send"))
                            .json(&json!({"text": text}))
                            .send()
                            .await
                        {
                            if r.status() == 200 {
                                let v: serde_json::Value = r.json().await.unwrap_or_default();
                                if let Some(id) = v["id"].as_u64() {
                                    sent.lock().unwrap().push((i, id));
                                    counts.sent.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                    80..=86 => {
                        let _ = http.post(format!("{base}/api/disconnect")).send().await;
                    }
                    87..=90 => {
                        // Idle past the timeout: the session expires and comes back.
                        tokio::time::sleep(Duration::from_secs(timeout + 3)).await;
                    }
                    91..=92
                        if http
                            .post(format!("{base}/api/device/reboot"))
                            .json(&json!({}))
                            .send()
                            .await
                            .is_ok() =>
                    {
                        counts.reboots.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(800)).await;
            }
            let _ = http.post(format!("{base}/api/disconnect")).send().await;
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.duration_secs.min(30))).await;
    rss_warm = rss_warm.max(rss_kb(pid));
    for c in clients {
        c.await.unwrap();
    }
    chaos.await.unwrap();
    for r in &radios {
        r.set_fault(Fault::None);
    }
    // Streams of the last tabs close within 6 s; the server notices at its next write (2 s).
    tokio::time::sleep(Duration::from_secs(10)).await;
    let probe = reqwest::Client::new();
    let m = get(&probe, format!("{base}/metrics"))
        .await
        .text()
        .await
        .unwrap();
    let (rss_end, fds_end, threads_end) = (rss_kb(pid), fds(pid), threads(pid));

    // Every message the API accepted is in its radio's history.
    let mut lost = 0;
    let sent = sent.lock().unwrap().clone();
    for (i, radio) in radios.iter().enumerate() {
        let mine: HashSet<u64> = sent
            .iter()
            .filter(|(c, _)| *c == i)
            .map(|(_, id)| *id)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap();
        let mut ok = false;
        for _ in 0..20 {
            let r = http
                .post(format!("{base}/api/connect"))
                .json(&json!({"host": "127.0.0.1", "port": radio.addr().port()}))
                .send()
                .await
                .unwrap();
            if r.status() == 200 {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(ok, "radio {i} did not come back");
        let list: serde_json::Value = get(&http, format!("{base}/api/messages"))
            .await
            .json()
            .await
            .unwrap();
        let stored: HashSet<u64> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["id"].as_u64())
            .collect();
        lost += mine.difference(&stored).count();
        let _ = http.post(format!("{base}/api/disconnect")).send().await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let panics = log.matches("panicked").count();
    let created = log.matches("created session").count();
    let cleaned = log.matches("cleaned up session").count();
    let c = &counts;
    println!("| figure | value |");
    println!("| --- | --- |");
    println!(
        "| duration | {} s, {n} clients, cap {}, idle timeout {} s |",
        args.duration_secs, args.max_sessions, args.session_timeout
    );
    println!("| connects / expired notices / texts sent / reboots / link drops | {} / {} / {} / {} / {} |", c.connects.load(Ordering::Relaxed), c.expired_seen.load(Ordering::Relaxed), c.sent.load(Ordering::Relaxed), c.reboots.load(Ordering::Relaxed), c.drops.load(Ordering::Relaxed));
    println!("| sessions created / cleaned up (log) | {created} / {cleaned} |");
    println!(
        "| live streams opened and closed / events read | {} / {} |",
        c.streams.load(Ordering::Relaxed),
        c.stream_events.load(Ordering::Relaxed)
    );
    println!(
        "| after: sessions, links open, SSE clients (metrics) | {} / {} / {} |",
        metric(&m, "meshdeck_sessions"),
        metric(&m, "meshdeck_links_open"),
        metric(&m, "meshdeck_sse_clients")
    );
    println!(
        "| RSS after warm-up → end | {:.1} → {:.1} MB |",
        rss_warm as f64 / 1024.0,
        rss_end as f64 / 1024.0
    );
    println!("| open fds start → end | {fds0} → {fds_end} |");
    println!("| threads start → end | {threads0} → {threads_end} |");
    println!(
        "| messages accepted / missing from history | {} / {lost} |",
        sent.len()
    );
    println!("| panics in the log | {panics} |");
    println!("| request errors | {} |", c.errors.load(Ordering::Relaxed));
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&log_path);
    let ok = panics == 0
        && lost == 0
        && fds_end <= fds0 + 2
        && metric(&m, "meshdeck_links_open") == 0.0
        && metric(&m, "meshdeck_sse_clients") == 0.0
        && rss_end <= rss_warm + rss_warm / 2;
    for r in &radios {
        r.shutdown();
    }
    if !ok {
        eprintln!("soak: a check failed");
        std::process::exit(1);
    }
    eprintln!("soak: all checks passed");
}
