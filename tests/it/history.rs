//! Node history end to end: telemetry packets from the simulated radio become samples in
//! SQLite, the node page draws them, the history and CSV exports answer, all of it survives a
//! restart, and roll-ups (with the clock passed in) turn old samples into hourly and daily rows.

use std::time::{Duration, SystemTime};

use meshdeck::proto::{node_id, pb, Message};
use meshdeck::sim::SimRadio;
use meshdeck::store::retention::Policy;
use serde_json::Value;

use crate::helpers::*;

/// A telemetry packet of `from` with this battery level and voltage, heard at `snr` dB.
fn telemetry(from: u32, id: u32, battery: u32, voltage: f32, snr: f32) -> pb::MeshPacket {
    let t = pb::Telemetry {
        time: 0,
        variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
            battery_level: Some(battery),
            voltage: Some(voltage),
            channel_utilization: Some(10.0 + battery as f32 / 10.0),
            air_util_tx: Some(1.5),
            uptime_seconds: Some(100),
        })),
    };
    pb::MeshPacket {
        rx_snr: snr,
        rx_rssi: -80,
        hop_start: 3,
        hop_limit: 2,
        ..heard(
            from,
            0xffff_ffff,
            id,
            pb::PortNum::TelemetryApp,
            t.encode_to_vec(),
        )
    }
}

/// Sends `n` telemetry packets from `peer`, a few ms apart; battery 50, 51, …
async fn send_telemetry(radio: &SimRadio, peer: u32, n: u32) {
    for i in 0..n {
        radio.inject(telemetry(
            peer,
            9000 + i,
            50 + i,
            3.7 + i as f32 / 100.0,
            -4.0 + i as f32,
        ));
        tokio::time::sleep(ms(15)).await;
    }
}

/// The node's samples that carry a battery level, once there are `n`.
async fn samples(b: &Browser, peer: u32, n: usize) -> Vec<Value> {
    let path = format!("/api/node/{}/telemetry", node_id(peer));
    eventually(secs(5), &format!("{n} samples of {path}"), async || {
        let (code, body) = b.get_json(&path).await;
        let with: Vec<Value> = body
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|s| !s["batteryLevel"].is_null())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if code == 200 && with.len() == n {
            Ok(with)
        } else {
            Err(format!("{code} {body}"))
        }
    })
    .await
}

async fn csv(b: &Browser, path: &str) -> (String, String) {
    let r = b.get(path).send().await.unwrap();
    assert_eq!(r.status(), 200, "{path}");
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    (kind, r.text().await.unwrap())
}

#[tokio::test]
async fn every_telemetry_packet_a_node_sends_becomes_one_sample_in_order() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 12)).await;
    let peer = peers(&radio)[3];
    send_telemetry(&radio, peer, 6).await;
    let got = samples(&a, peer, 6).await;
    let battery: Vec<u64> = got
        .iter()
        .map(|s| s["batteryLevel"].as_u64().unwrap())
        .collect();
    assert_eq!(
        battery,
        vec![50, 51, 52, 53, 54, 55],
        "oldest first: {got:?}"
    );
    let s = &got[2];
    assert!((s["voltage"].as_f64().unwrap() - 3.72).abs() < 1e-6, "{s}");
    assert_eq!(s["snr"], -2.0);
    assert_eq!(s["rssi"], -80);
    assert_eq!(s["hops"], 1);
    assert_eq!(s["airUtilTx"], 1.5);
    assert!(
        (s["channelUtil"].as_f64().unwrap() - 15.2).abs() < 1e-6,
        "{s}"
    );
    // Another node's samples are its own.
    let other = peers(&radio)[4];
    let (_, none) = a
        .get_json(&format!("/api/node/{}/telemetry", node_id(other)))
        .await;
    assert!(
        none.as_array()
            .unwrap()
            .iter()
            .all(|s| s["batteryLevel"].is_null()),
        "{none}"
    );
    // A window before the packets has none of them.
    let (_, early) = a
        .get_json(&format!(
            "/api/node/{}/telemetry?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z",
            node_id(peer)
        ))
        .await;
    assert_eq!(early, Value::Array(vec![]));
    let (code, _) = a
        .get_json(&format!(
            "/api/node/{}/telemetry?since=yesterday",
            node_id(peer)
        ))
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn the_node_page_draws_charts_from_the_samples_and_the_table_has_sparklines() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 12)).await;
    let peer = peers(&radio)[2];
    send_telemetry(&radio, peer, 5).await;
    samples(&a, peer, 5).await;
    let (code, html) = a.get_html(&format!("/node/{}", node_id(peer))).await;
    assert_eq!(code, 200);
    let doc = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let charts: Vec<String> = doc
        .select(&sel("figure.chart figcaption"))
        .map(|f| f.text().collect::<String>())
        .collect();
    assert!(
        charts.iter().any(|c| c.starts_with("Battery (%)")),
        "{charts:?}"
    );
    assert!(
        charts.iter().any(|c| c.starts_with("SNR (dB)")),
        "{charts:?}"
    );
    // A day is drawn in 5-minute groups: the five samples are one point (mean 52) whose
    // band and axis span their minimum and maximum.
    let battery = doc.select(&sel("figure.chart")).next().unwrap();
    let line = battery.select(&sel("svg path.line.s0")).next().unwrap();
    assert_eq!(line.value().attr("data-points"), Some("1"));
    assert_eq!(battery.select(&sel("svg circle.dot")).count(), 1);
    let labels: Vec<String> = battery
        .select(&sel("svg text.axis"))
        .map(|t| t.text().collect())
        .collect();
    assert!(
        labels.contains(&"50".to_string()) && labels.contains(&"54".to_string()),
        "{labels:?}"
    );
    assert!(
        html.contains("1 (5 samples)"),
        "the page counts the samples"
    );
    assert!(
        doc.select(&sel("figure.chart svg text.axis")).count() > 4,
        "axes have labels"
    );
    // The other ranges answer, from hourly rows; a bad one is refused.
    for range in ["7d", "30d"] {
        let (code, _) = a
            .get_html(&format!("/node/{}?range={range}", node_id(peer)))
            .await;
        assert_eq!(code, 200);
    }
    let (code, _) = a
        .get_html(&format!("/node/{}?range=1y", node_id(peer)))
        .await;
    assert_eq!(code, 400);
    // The nodes table: sparklines for the node heard, and "heard within" keeps it.
    let (_, table) = a.get_html("/nodes?heard=1h").await;
    let doc = scraper::Html::parse_document(&table);
    let row = doc
        .select(&sel(&format!("tr[data-node='{}']", node_id(peer))))
        .next()
        .expect("the node heard is listed");
    assert_eq!(row.select(&sel("svg.spark")).count(), 2);
}

#[tokio::test]
async fn history_and_exports_answer_and_survive_a_restart() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 12)).await;
    let peer = peers(&radio)[1];
    let old_name = long_name(&radio, peer);
    send_telemetry(&radio, peer, 3).await;
    // A new name with markup, and two positions.
    let user = pb::User {
        id: node_id(peer),
        long_name: "<img src=x>Renamed, \"quoted\"".into(),
        short_name: "RN".into(),
        ..Default::default()
    };
    radio.inject(heard(
        peer,
        0xffff_ffff,
        7001,
        pb::PortNum::NodeinfoApp,
        user.encode_to_vec(),
    ));
    for (i, lat) in [520_000_000, 520_100_000].into_iter().enumerate() {
        let p = pb::Position {
            latitude_i: Some(lat),
            longitude_i: Some(40_000_000),
            altitude: Some(12),
            ..Default::default()
        };
        radio.inject(heard(
            peer,
            0xffff_ffff,
            7002 + i as u32,
            pb::PortNum::PositionApp,
            p.encode_to_vec(),
        ));
        tokio::time::sleep(ms(15)).await;
    }
    radio.inject(heard_text(peer, 0xffff_ffff, 7010, "=cmd|' /C calc'!A0"));
    let path = format!("/api/node/{}/history", node_id(peer));
    let h = eventually(secs(5), "the rename and the positions", async || {
        let (_, h) = a.get_json(&path).await;
        let names = h["names"].as_array().map(Vec::len).unwrap_or(0);
        let positions = h["positions"].as_array().map(Vec::len).unwrap_or(0);
        let last = h["positions"]
            .as_array()
            .and_then(|p| p.last())
            .and_then(|p| p["lat"].as_f64());
        if names == 2 && positions >= 2 && last == Some(52.01) {
            Ok(h)
        } else {
            Err(h.to_string())
        }
    })
    .await;
    assert_eq!(h["names"][0]["longName"], old_name.as_str());
    assert_eq!(h["names"][1]["longName"], "<img src=x>Renamed, \"quoted\"");
    assert_eq!(h["names"][1]["shortName"], "RN");
    assert!(
        h["firstSeen"].is_string() && h["lastSeen"].is_string(),
        "{h}"
    );
    assert!(h["roles"][0]["hwModel"].is_string(), "{h}");
    let last = h["positions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["lat"].as_f64(),
            last["lon"].as_f64(),
            last["alt"].as_i64()
        ),
        (Some(52.01), Some(4.0), Some(12))
    );
    // The page shows the new name escaped and the track with its distance.
    let (_, page) = a.get_html(&format!("/node/{}", node_id(peer))).await;
    assert!(!page.contains("<img src=x>"));
    let positions = h["positions"].as_array().unwrap().len();
    assert!(
        page.contains(&format!("{positions} positions · ")),
        "the track says how many"
    );
    assert!(page.contains("km travelled"), "and how far");

    let (kind, messages) = csv(&a, "/api/export/messages.csv").await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    let mut lines = messages.lines();
    assert_eq!(
        lines.next(),
        Some("time,packetId,direction,from,to,channel,conversation,state,error,text")
    );
    let row = messages
        .lines()
        .find(|l| l.contains("7010"))
        .expect("the text is exported");
    assert!(
        row.ends_with("\"'=cmd|' /C calc'!A0\""),
        "a formula is made text: {row}"
    );
    // A browser's download comes gzipped as it streams, and decodes to the same rows.
    let z = a
        .get("/api/export/messages.csv")
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(z.headers()["content-encoding"], "gzip");
    let z = z.bytes().await.unwrap();
    let mut unzipped = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&z[..]), &mut unzipped)
        .unwrap();
    assert_eq!(unzipped, messages);
    let (_, nodes) = csv(&a, "/api/export/nodes.csv").await;
    assert_eq!(
        nodes.lines().count(),
        1 + a.nodes("all").await.len(),
        "{nodes}"
    );
    assert!(
        nodes.contains("\"<img src=x>Renamed, \"\"quoted\"\"\""),
        "{nodes}"
    );
    let tpath = format!("/api/export/telemetry.csv?node={}", node_id(peer));
    let (_, tele) = csv(&a, &tpath).await;
    let head = tele.lines().next().unwrap();
    assert!(
        head.starts_with("time,node,batteryLevel,voltage,channelUtil,airUtilTx,snr,rssi,hops"),
        "{head}"
    );
    let battery: Vec<&str> = tele
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2))
        .filter(|b| !b.is_empty())
        .collect();
    assert_eq!(battery, vec!["50", "51", "52"], "{tele}");

    // A restart keeps it all: the same answers from the same file.
    let before = samples(&a, peer, 3).await;
    let app = app.restart().await;
    let b = app.connected_to(&radio).await;
    assert_eq!(samples(&b, peer, 3).await, before);
    let (_, again) = b.get_json(&path).await;
    // (The radio's node DB still has the old name: the reconnect records it coming back.)
    assert_eq!(
        again["names"].as_array().unwrap()[..2],
        h["names"].as_array().unwrap()[..]
    );
    assert_eq!(again["firstSeen"], h["firstSeen"]);
    let (_, tele_again) = csv(&b, &tpath).await;
    assert_eq!(tele_again, tele);
}

#[tokio::test]
async fn roll_ups_turn_old_samples_into_hourly_then_daily_rows_and_purge_past_the_limits() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 12)).await;
    let peer = peers(&radio)[5];
    send_telemetry(&radio, peer, 4).await;
    samples(&a, peer, 4).await;
    let store = app.app.state.store.clone();
    let policy = Policy {
        raw_days: 7,
        hourly_days: 90,
        max_bytes: u64::MAX,
    };
    let day = Duration::from_secs(86_400);
    let all = format!(
        "/api/node/{}/telemetry?since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z",
        node_id(peer)
    );
    // Eight days on: the raw samples are gone and one hourly row has them all.
    let round = store
        .maintain_history(SystemTime::now() + day * 8, policy)
        .await
        .unwrap();
    assert!(round.raw_purged >= 4, "{round:?}");
    let (_, rows) = a.get_json(&all).await;
    let rows: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["batteryLevel"].is_null())
        .collect();
    assert!(!rows.is_empty() && rows.len() <= 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["tier"] == "hourly"), "{rows:?}");
    let n: u64 = rows
        .iter()
        .map(|r| r["samples"].as_u64().unwrap_or(1))
        .sum();
    assert!(n >= 4, "{rows:?}");
    // A hundred days on: the hourly rows are gone too and a daily row remains, mean 51.5 → 52.
    let round = store
        .maintain_history(SystemTime::now() + day * 100, policy)
        .await
        .unwrap();
    assert!(round.hourly_purged >= 1, "{round:?}");
    let (_, rows) = a.get_json(&all).await;
    let rows: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["batteryLevel"].is_null())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["tier"], "daily");
    assert_eq!(rows[0]["batteryLevel"], 52);
}
