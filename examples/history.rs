//! Node history, fast-forward: a simulated radio's mesh (the same one `meshdeck sim` and
//! `--demo` serve) heard for `--days` at `--rate` packets a second, written through the same
//! code as a live link (`radio::observe` → `HistoryOp::Nodes` → the store's batch writer),
//! with the retention rounds the server runs, on a clock that moves as fast as SQLite allows.
//! Prints bytes per sample, the file size, the rows per tier; then serves the result and
//! times the pages that read it, against an empty database.
//!
//! cargo run --release --example history -- --nodes 250 --rate 2 --days 30
//! (`--keep DIR` leaves the data directory, e.g. for `meshdeck --demo --data-dir DIR`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant, SystemTime};

use clap::Parser;
use meshdeck::ids::NodeNum;
use meshdeck::proto::{node_id, pb, Message};
use meshdeck::radio::observe;
use meshdeck::sim::{SimConfig, SimRadio};
use meshdeck::store::{HistoryOp, Store};
use rand::{Rng, SeedableRng};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 250)]
    nodes: usize,
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    #[arg(long, default_value_t = 30)]
    days: u64,
    /// The simulated radio's index (`--demo`'s first radio is 0 with 120 nodes).
    #[arg(long, default_value_t = 0)]
    index: u32,
    /// Keep the data directory here instead of a temporary one.
    #[arg(long)]
    keep: Option<std::path::PathBuf>,
    /// Page loads timed per page.
    #[arg(long, default_value_t = 40)]
    loads: usize,
}

fn file_bytes(dir: &std::path::Path) -> u64 {
    ["meshdeck.db", "meshdeck.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn count(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A packet as the mesh would carry it: telemetry, a position, node info or anything else.
fn packet(rng: &mut rand::rngs::StdRng, n: &pb::NodeInfo, t: f64) -> pb::MeshPacket {
    let day = (t / 86_400.0 * std::f64::consts::TAU).sin();
    let (port, payload) = match rng.random_range(0..100) {
        0..=29 => {
            let m = n.device_metrics.unwrap_or_default();
            let t = pb::Telemetry {
                time: 0,
                variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
                    battery_level: m
                        .battery_level
                        .map(|b| (f64::from(b.min(100)) + day * 12.0).clamp(1.0, 100.0) as u32),
                    voltage: m.voltage.map(|v| v + (day * 0.12) as f32),
                    channel_utilization: Some(rng.random_range(5.0..40.0)),
                    air_util_tx: Some(rng.random_range(0.1..5.0)),
                    uptime_seconds: Some(t as u32),
                })),
            };
            (pb::PortNum::TelemetryApp, t.encode_to_vec())
        }
        30..=49 => {
            let mut p = n.position.unwrap_or_default();
            // One node in ten moves about.
            if n.num.is_multiple_of(10) {
                p.latitude_i = p.latitude_i.map(|v| v + rng.random_range(-2000..2000));
                p.longitude_i = p.longitude_i.map(|v| v + rng.random_range(-2000..2000));
            }
            (pb::PortNum::PositionApp, p.encode_to_vec())
        }
        50..=64 => (
            pb::PortNum::NodeinfoApp,
            n.user.clone().unwrap_or_default().encode_to_vec(),
        ),
        _ => (pb::PortNum::TextMessageApp, b"hello".to_vec()),
    };
    pb::MeshPacket {
        from: n.num,
        to: u32::MAX,
        rx_snr: (rng.random_range(-18.0f32..10.0) * 4.0).round() / 4.0,
        rx_rssi: -rng.random_range(60..120),
        hop_start: 3,
        hop_limit: 3 - n.hops_away.unwrap_or(0).min(3),
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: port as i32,
            payload,
            ..Default::default()
        })),
        ..Default::default()
    }
}

async fn fill(store: &Store, radio: &SimRadio, args: &Args, dir: &std::path::Path) {
    let me = NodeNum(radio.my_node_num());
    let nodes: Vec<pb::NodeInfo> = radio
        .nodes()
        .into_iter()
        .filter(|n| n.num != me.0)
        .collect();
    let policy = meshdeck::config::Config::defaults().history_policy();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let end = SystemTime::now();
    let span = Duration::from_secs(args.days * 86_400);
    let start = end - span;
    let total = (span.as_secs_f64() * args.rate) as u64;
    let t0 = Instant::now();
    let mut batch = Vec::new();
    let mut next_round = start + Duration::from_secs(3600);
    let (mut samples, mut raw_at_7d) = (0u64, None);
    for i in 0..total {
        let at = start + Duration::from_secs_f64(i as f64 / args.rate);
        let n = &nodes[rng.random_range(0..nodes.len())];
        let secs = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let seen = observe::from_packet(me.into(), &packet(&mut rng, n, secs), at);
        batch.push(HistoryOp::Nodes(seen));
        samples += 1;
        // The writer takes up to 1,000 changes per transaction.
        if batch.len() == 1000 {
            store
                .apply_message_ops(std::mem::take(&mut batch), 10_000)
                .await
                .unwrap();
        }
        if at >= next_round {
            store
                .apply_message_ops(std::mem::take(&mut batch), 10_000)
                .await
                .unwrap();
            store.maintain_history(at, policy).await.unwrap();
            next_round += Duration::from_secs(3600);
            if raw_at_7d.is_none() && at >= start + Duration::from_secs(7 * 86_400) {
                raw_at_7d = Some((samples, store.used_bytes().await.unwrap()));
            }
        }
    }
    store.apply_message_ops(batch, 10_000).await.unwrap();
    store.maintain_history(end, policy).await.unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "wrote {total} packets ({} days of {} nodes at {}/s) in {secs:.0} s: {:.0} packets/s",
        args.days,
        nodes.len(),
        args.rate,
        total as f64 / secs
    );
    if let Some((n, bytes)) = raw_at_7d {
        println!("after 7 days (nothing purged yet): {n} samples, {:.1} MB in use: {:.1} bytes per sample (rows, keys, indexes and the hourly rows)", bytes as f64 / 1e6, bytes as f64 / n as f64);
    }
    let all: Vec<NodeNum> = nodes.iter().map(|n| NodeNum(n.num)).collect();
    let t = Instant::now();
    for _ in 0..10 {
        store
            .hourly_points(
                me.into(),
                all.clone(),
                end - Duration::from_secs(86_400),
                end,
            )
            .await
            .unwrap();
    }
    println!(
        "sparklines of all {} nodes read in {:.1} ms",
        all.len(),
        t.elapsed().as_secs_f64() * 100.0
    );
    let c = rusqlite::Connection::open(dir.join("meshdeck.db")).unwrap();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    println!(
        "after {} days: raw samples {}, hourly rows {}, daily rows {}, names {}, positions {}; {:.1} MB in use, file {:.1} MB",
        args.days,
        count(&c, "SELECT count(*) FROM sample"),
        count(&c, "SELECT count(*) FROM rollup WHERE tier = 1"),
        count(&c, "SELECT count(*) FROM rollup WHERE tier = 2"),
        count(&c, "SELECT count(*) FROM node_name"),
        count(&c, "SELECT count(*) FROM node_position"),
        store.used_bytes().await.unwrap() as f64 / 1e6,
        file_bytes(dir) as f64 / 1e6
    );
}

/// p50 / p95 of `loads` GETs of `path`, in ms.
async fn time(client: &reqwest::Client, base: &str, path: &str, loads: usize) -> (f64, f64) {
    let mut ms = Vec::new();
    for _ in 0..loads {
        let t = Instant::now();
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let len = r.bytes().await.unwrap().len();
        if ms.is_empty() {
            eprintln!("{path}: {len} bytes");
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    (
        ms[ms.len() / 2],
        ms[(ms.len() * 95 / 100).min(ms.len() - 1)],
    )
}

async fn pages(dir: &std::path::Path, radio: &SimRadio, loads: usize) -> Vec<(String, (f64, f64))> {
    let mut config = meshdeck::config::Config::defaults();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.data_dir = dir.to_path_buf();
    let app = meshdeck::App::start(
        config,
        meshdeck::cookie_key(Some(&"ab".repeat(64))).unwrap(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", app.addr);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}/api/connect"))
        .json(&serde_json::json!({"host": "127.0.0.1", "port": radio.addr().port()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let peer = radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .find(|n| *n != radio.my_node_num())
        .unwrap();
    let id = node_id(peer);
    let mut out = Vec::new();
    for path in [
        "/nodes".to_string(),
        format!("/node/{id}"),
        format!("/node/{id}?range=7d"),
        format!("/node/{id}?range=30d"),
        format!("/api/node/{id}/telemetry"),
        format!("/api/node/{id}/history"),
    ] {
        out.push((path.clone(), time(&client, &base, &path, loads).await));
    }
    app.stop().await;
    out
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let cfg = SimConfig {
        index: args.index,
        nodes: args.nodes,
        rate: 0.0,
        ..SimConfig::default()
    };
    let radio = SimRadio::bind("127.0.0.1:0", cfg).await.unwrap();
    let tmp = std::env::temp_dir().join(format!("meshdeck-history-bench-{}", std::process::id()));
    let dir = args.keep.clone().unwrap_or_else(|| tmp.join("full"));
    let empty = tmp.join("empty");
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir.join("meshdeck.db")).unwrap();
    fill(&store, &radio, &args, &dir).await;
    drop(store);
    let before = pages(&empty, &radio, args.loads).await;
    let after = pages(&dir, &radio, args.loads).await;
    println!("\n| page | empty database p50 / p95 ms | after {} days p50 / p95 ms |\n| --- | --- | --- |", args.days);
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        println!(
            "| `{path}` | {:.1} / {:.1} | {:.1} / {:.1} |",
            b.0, b.1, a.0, a.1
        );
    }
    radio.shutdown();
    let _ = std::fs::remove_dir_all(&tmp);
}
