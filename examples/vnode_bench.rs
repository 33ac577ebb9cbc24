//! Virtual node figures: how long a client's full config download from meshdeck's cache
//! takes with a 250-node DB, and how much the server's memory grows per connected client.
//! The server is the release binary as a child process (its RSS is its own); the simulated
//! radio and the clients run here. Loopback only.
//!
//! cargo build --release && cargo run --release --example vnode_bench
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use meshdeck::proto::{self, pb, FrameDecoder, Message};
use meshdeck::sim::{SimConfig, SimRadio};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::proc;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 250)]
    nodes: usize,
    /// Config downloads to time, one after another, each on a new connection.
    #[arg(long, default_value_t = 200)]
    downloads: usize,
    /// Clients connected (each configured) to measure memory; at most
    /// `meshdeck::vnode::MAX_CLIENTS`, which one virtual node serves at once.
    #[arg(long, default_value_t = meshdeck::vnode::MAX_CLIENTS)]
    clients: usize,
    #[arg(long, default_value = "target/release/meshdeck")]
    bin: String,
}

/// Connects, asks for the whole config and reads it to `config_complete_id`; the messages.
async fn download(port: u16) -> (TcpStream, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.set_nodelay(true).unwrap();
    let want = pb::ToRadio {
        payload_variant: Some(pb::to_radio::PayloadVariant::WantConfigId(42)),
    };
    s.write_all(&proto::encode(&want)).await.unwrap();
    let mut d = FrameDecoder::default();
    let mut n = 0;
    loop {
        while let Some(f) = d.next_frame() {
            n += 1;
            let m = pb::FromRadio::decode(f.as_slice()).unwrap();
            if let Some(pb::from_radio::PayloadVariant::ConfigCompleteId(42)) = m.payload_variant {
                return (s, n);
            }
        }
        assert!(s.read_buf(d.read_buffer()).await.unwrap() > 0, "closed");
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let radio = SimRadio::bind(
        "127.0.0.1:0",
        SimConfig {
            nodes: args.nodes,
            rate: 0.0,
            ..SimConfig::default()
        },
    )
    .await
    .unwrap();
    let data = std::env::temp_dir().join(format!("meshdeck-vnode-bench-{}", std::process::id()));
    let mut child = Command::new(&args.bin)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
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
    let vport = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/sessions/create"))
        .json(
            &json!({"name": "bench", "host": "127.0.0.1", "port": radio.addr().port(),
            "auto_connect": true, "virtual_port": vport}),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", vport)).await.is_err() {
        assert!(Instant::now() < deadline, "the virtual node never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Warm up; then memory with every client the virtual node serves, then timing.
    let (_, messages) = download(vport).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = proc::rss_kb(pid).unwrap();
    let mut held = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        held.push(download(vport).await.0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = proc::rss_kb(pid).unwrap();
    println!(
        "server RSS: {before} KiB with no client, {after} KiB with {} configured clients: {:.1} KiB per client",
        args.clients,
        (after.saturating_sub(before)) as f64 / args.clients as f64
    );
    drop(held);
    // Their tasks notice the close; then downloads one after another, each a new client.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut times = Vec::with_capacity(args.downloads);
    for _ in 0..args.downloads {
        let t = Instant::now();
        let (s, n) = download(vport).await;
        times.push(t.elapsed());
        assert_eq!(n, messages);
        drop(s);
    }
    times.sort();
    println!(
        "config download, {} nodes, {} messages, {} runs: median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        args.nodes,
        messages,
        times.len(),
        pct(&times, 0.5).as_secs_f64() * 1e3,
        pct(&times, 0.9).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
    let _ = child.kill();
    let _ = child.wait();
    radio.shutdown();
    let _ = std::fs::remove_dir_all(&data);
}
