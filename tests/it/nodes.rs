//! Connect → nodes: every node once, filters, default order, distance, node detail.

use std::collections::HashMap;

use meshdeck::proto::{node_id, pb, BROADCAST};
use serde_json::Value;

use crate::helpers::*;

fn by_id(radio: &meshdeck::sim::SimRadio) -> HashMap<String, pb::NodeInfo> {
    radio
        .nodes()
        .into_iter()
        .map(|n| (node_id(n.num), n))
        .collect()
}

#[tokio::test]
async fn every_node_of_the_radio_appears_once_with_its_fields() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 250)).await;
    let nodes = a.nodes("all").await;
    let expected = by_id(&radio);
    assert_eq!(nodes.len(), expected.len());
    let mut seen = std::collections::HashSet::new();
    for n in &nodes {
        let id = n["id"].as_str().unwrap();
        assert!(seen.insert(id.to_string()), "{id} listed twice");
        let want = &expected[id];
        let user = want.user.clone().unwrap_or_default();
        // A nameless node gets the official client's placeholder names.
        let tail = &id[5..];
        let (long, short) = match (user.long_name.as_str(), user.short_name.as_str()) {
            ("", "") => (format!("Meshtastic {tail}"), tail.to_string()),
            (l, s) => (l.to_string(), s.to_string()),
        };
        assert_eq!(n["longName"], long.as_str());
        assert_eq!(n["shortName"], short.as_str());
        assert_eq!(n["viaMqtt"], want.via_mqtt);
        assert_eq!(
            n["hopsAway"],
            want.hops_away.map(Value::from).unwrap_or(Value::Null)
        );
        assert_eq!(n["num"], want.num);
        for key in [
            "hwModel",
            "role",
            "lat",
            "lon",
            "alt",
            "batteryLevel",
            "voltage",
            "channelUtil",
            "airUtilTx",
            "uptime",
            "snr",
            "lastHeard",
            "isFavorite",
            "distance_km",
            "rssi",
        ] {
            assert!(n.get(key).is_some(), "missing {key}");
        }
    }
}

#[tokio::test]
async fn filters_and_default_order_follow_the_spec() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(quiet(0, 250)).await;
    let all = a.nodes("all").await;
    // The simulated DB exercises every case.
    assert!(all.iter().any(|n| n["viaMqtt"] == true));
    assert!(all
        .iter()
        .any(|n| n["hopsAway"].as_u64().is_some_and(|h| h > 2)));
    assert!(all.iter().any(|n| n["hopsAway"].is_null()));
    assert!(all.iter().any(|n| n["lat"].is_null()));
    assert!(all.iter().any(|n| n["distance_km"].as_f64().is_some()));
    // Default order: RF before MQTT, hops ascending (unknown last), last heard newest first.
    let key = |n: &Value| {
        (
            n["viaMqtt"].as_bool().unwrap(),
            n["hopsAway"].as_u64().unwrap_or(u64::MAX),
            std::cmp::Reverse(n["lastHeard"].as_u64().unwrap_or(0)),
        )
    };
    for w in all.windows(2) {
        assert!(
            key(&w[0]) <= key(&w[1]),
            "out of order: {} then {}",
            w[0]["id"],
            w[1]["id"]
        );
    }
    let rf = a.nodes("rf").await;
    let mqtt = a.nodes("mqtt").await;
    let local = a.nodes("local").await;
    assert_eq!(rf.len() + mqtt.len(), all.len());
    assert!(rf.iter().all(|n| n["viaMqtt"] == false));
    assert!(mqtt.iter().all(|n| n["viaMqtt"] == true));
    let want_local = all
        .iter()
        .filter(|n| n["viaMqtt"] == false && n["hopsAway"].as_u64().is_none_or(|h| h <= 2))
        .count();
    assert_eq!(local.len(), want_local);
    assert!(want_local > 0 && want_local < rf.len());
    // As the original: an unknown filter lists every node.
    let (code, body) = a.get_json("/api/nodes?filter=bogus").await;
    assert_eq!(
        (code, body.as_array().map(Vec::len)),
        (200, Some(all.len()))
    );
}

#[tokio::test]
async fn distance_is_the_haversine_from_my_node() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 60)).await;
    let me = node(&radio, radio.my_node_num());
    let mp = me.position.expect("the simulated radio has a position");
    let (lat1, lon1) = (
        f64::from(mp.latitude_i.unwrap()) * 1e-7,
        f64::from(mp.longitude_i.unwrap()) * 1e-7,
    );
    let mut checked = 0;
    for n in a.nodes("all").await {
        if let (Some(lat2), Some(lon2), Some(d)) = (
            n["lat"].as_f64(),
            n["lon"].as_f64(),
            n["distance_km"].as_f64(),
        ) {
            let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
            let h = ((p2 - p1) / 2.0).sin().powi(2)
                + p1.cos() * p2.cos() * ((lon2 - lon1).to_radians() / 2.0).sin().powi(2);
            let want = 2.0 * 6371.0 * h.sqrt().asin();
            assert!(
                (d - want).abs() < 0.05 + want * 0.001,
                "{}: {d} vs {want}",
                n["id"]
            );
            checked += 1;
        }
    }
    assert!(checked > 10);
}

#[tokio::test]
async fn node_detail_answers_known_nodes_and_404s_unknown_ones() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(quiet(0, 20)).await;
    let first = a.nodes("all").await[0].clone();
    let id = first["id"].as_str().unwrap();
    let (code, n) = a.node(id).await;
    assert_eq!(code, 200);
    assert_eq!(n["longName"], first["longName"]);
    assert!(n.get("traceroute").is_some());
    let (code, e) = a.node("!deadbeef").await;
    assert_eq!(code, 404);
    assert!(e["error"].as_str().unwrap().contains("Node not found"));
    let (code, _) = a.node("!nothex").await;
    assert_eq!(code, 400);
    let (code, html) = a.get_html(&format!("/node/{id}")).await;
    assert_eq!(code, 200);
    assert!(html.contains(first["longName"].as_str().unwrap()));
}

#[tokio::test]
async fn without_a_radio_the_api_says_not_connected() {
    let app = spawn_app().await;
    let a = app.browser();
    let (code, body) = a.get_json("/api/nodes").await;
    assert_eq!(
        (code, body),
        (200, serde_json::json!([])),
        "the original's empty list"
    );
    let (code, body) = a.get_json("/api/node/!00000001").await;
    assert_eq!((code, body["error"].as_str()), (400, Some("Not connected")));
    let s = a.status().await;
    assert_eq!(
        (s["connected"].as_bool(), s["nodeCount"].as_u64()),
        (Some(false), Some(0))
    );
}

/// The gunzipped body of a response that came gzipped.
async fn gunzip(r: reqwest::Response) -> Vec<u8> {
    use std::io::Read;
    let bytes = r.bytes().await.unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn the_node_list_is_encoded_once_per_change_and_revalidates() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 12)).await;
    let get = |tag: Option<&str>, filter: &str| {
        let mut r = a
            .get(&format!("/api/nodes?filter={filter}"))
            .header("accept-encoding", "gzip, deflate, br, zstd");
        if let Some(t) = tag {
            r = r.header("if-none-match", t);
        }
        r.send()
    };
    let first = get(None, "all").await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-encoding"], "gzip");
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    let list: Vec<Value> = serde_json::from_slice(&gunzip(first).await).unwrap();
    // The same list as the search path, which is made fresh for every request.
    let (_, fresh) = a.get_json("/api/nodes?q=!").await;
    assert_eq!(Value::Array(list.clone()), fresh);
    assert_eq!(list.len(), radio.nodes().len());
    // Nothing changed: 304 and no body; another filter is another body.
    let again = get(Some(&tag), "all").await.unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    assert_eq!(get(Some(&tag), "rf").await.unwrap().status(), 200);
    // A client without gzip gets the same JSON plain.
    let (_, plain) = a.get_json("/api/nodes").await;
    assert_eq!(Value::Array(list), plain);
    // A packet from a node changes the DB: a new body, a new validator.
    let from = peers(&radio)[0];
    radio.inject(heard_text(from, BROADCAST, 77, "changed"));
    let changed = eventually(secs(5), "a new body after a packet", async || {
        let r = get(Some(&tag), "all").await.unwrap();
        (r.status() == 200).then_some(r)
    })
    .await;
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), tag);
}
