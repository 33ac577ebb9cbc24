//! Messages end to end: sent through the page and the API, spaced by the firmware's limit,
//! acknowledged or failed by the radio, kept in SQLite across a restart, validated.

use std::time::Duration;

use meshdeck::proto::{pb, BROADCAST};
use meshdeck::sim::{SimConfig, SimRadio};
use serde_json::{json, Value};

use crate::helpers::*;

/// Texts the radio took from its client, refused ones too.
fn texts_at(radio: &SimRadio) -> Vec<Taken> {
    taken(radio, pb::PortNum::TextMessageApp)
}

/// Message `id` once it is in state `want`.
async fn wait_state(b: &Browser, id: u64, want: &str) -> Value {
    let what = format!("message {id} to reach {want}");
    eventually(secs(6), &what, async || {
        let m = b.message(id).await;
        if m["state"] == want {
            Ok(m)
        } else {
            Err(m)
        }
    })
    .await
}

fn some_peer(radio: &SimRadio) -> u32 {
    peers(radio)[0]
}

/// A node that acknowledges direct messages (the simulated mesh's silent nodes never do).
fn answering_peer(radio: &SimRadio) -> u32 {
    *peers(radio)
        .iter()
        .find(|n| meshdeck::sim::answers_traceroute(**n))
        .unwrap()
}

#[tokio::test]
async fn a_direct_message_reaches_the_radio_with_its_destination_and_is_delivered() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 20)).await;
    let peer = answering_peer(&radio);
    let (code, body) = a
        .post_json(
            "/api/send",
            json!({"text": "hello 📡 <b>", "dest": meshdeck::proto::node_id(peer), "channel": 1}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "sent");
    let id = body["id"].as_u64().unwrap();
    let m = wait_state(&a, id, "delivered").await;
    assert_eq!(m["text"], "hello 📡 <b>");
    let sent = texts_at(&radio);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].to,
            sent[0].channel,
            sent[0].text().as_str(),
            sent[0].rejected
        ),
        (peer, 1, "hello 📡 <b>", false)
    );
}

#[tokio::test]
async fn a_routing_error_shows_as_failed_with_its_name() {
    let app = spawn_app().await;
    let radio = app.radio(quiet(0, 20)).await;
    radio.set_routing_error(Some(pb::routing::Error::NoRoute));
    let a = app.connected_to(&radio).await;
    let (_, body) = a.send(json!({"text": "anyone?"})).await;
    let m = wait_state(&a, body["id"].as_u64().unwrap(), "failed").await;
    assert_eq!(m["error"], "NO_ROUTE");
    let (_, html) = a.get_html("/messages?c=ch:0").await;
    assert!(
        html.contains("failed: NO_ROUTE"),
        "the page shows the reason"
    );
}

#[tokio::test]
async fn ten_quick_messages_all_reach_the_radio_spaced_by_the_firmware_limit() {
    let app = spawn_app_with(|c| c.text_interval_ms = 300).await;
    let (radio, a) = app
        .connected(SimConfig {
            text_interval: Duration::from_millis(250),
            ..quiet(0, 10)
        })
        .await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let (code, body) = a
            .post_json("/api/send", json!({"text": format!("burst {i}")}))
            .await;
        assert_eq!(code, 200, "{body}");
        ids.push(body["id"].as_u64().unwrap());
    }
    for id in &ids {
        wait_state(&a, *id, "relayed").await;
    }
    let sent = texts_at(&radio);
    assert_eq!(sent.len(), 10);
    assert!(
        sent.iter().all(|t| !t.rejected),
        "the radio rejected a text"
    );
    let texts: Vec<String> = sent.iter().map(|t| t.text()).collect();
    assert_eq!(
        texts,
        (0..10).map(|i| format!("burst {i}")).collect::<Vec<_>>()
    );
    for gap in gaps(&sent) {
        assert!(
            gap >= Duration::from_millis(250),
            "two texts arrived {gap:?} apart"
        );
    }
}

#[tokio::test]
async fn bad_messages_get_clear_errors_and_nothing_is_sent() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let limit = pb::Constants::DataPayloadLen as usize;
    let (code, body) = a
        .post_json("/api/send", json!({"text": "é".repeat(limit / 2) + "xy"}))
        .await;
    assert_eq!(code, 400);
    assert!(
        body["error"].as_str().unwrap().contains("at most 233"),
        "{body}"
    );
    let (code, _) = a
        .post_json("/api/send", json!({"text": "x".repeat(limit)}))
        .await;
    assert_eq!(code, 200, "exactly the limit is fine");
    let (code, body) = a.send(json!({"text": "   "})).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("the message is empty"))
    );
    let me = meshdeck::proto::node_id(radio.my_node_num());
    let (code, body) = a
        .post_json("/api/send", json!({"text": "hi", "dest": me}))
        .await;
    assert_eq!(code, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("this radio itself"));
    let (code, _) = a
        .post_json("/api/send", json!({"text": "hi", "channel": 6}))
        .await;
    assert_eq!(code, 400);
    let r = a
        .post("/api/send")
        .header("content-type", "application/json")
        .body(b"{\"text\":\"\xff\xfe\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["error"].is_string());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        texts_at(&radio).len(),
        1,
        "only the valid one reached the radio"
    );
}

#[tokio::test]
async fn history_survives_a_server_restart_and_a_reconnect() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let (_, body) = a
        .post_json("/api/send", json!({"text": "remember me"}))
        .await;
    wait_state(&a, body["id"].as_u64().unwrap(), "relayed").await;
    // An incoming message too.
    let from = some_peer(&radio);
    radio.inject(heard_text(from, BROADCAST, 4242, "incoming words"));
    wait_state(&a, 4242, "received").await;
    let app2 = app.restart().await;
    let b = app2.browser();
    assert_eq!(b.reconnect(&radio, secs(5)).await, 200);
    let list = b.messages().await;
    let texts: Vec<&str> = list.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert!(
        texts.contains(&"remember me") && texts.contains(&"incoming words"),
        "{texts:?}"
    );
    let (_, html) = b.get_html("/messages?c=ch:0").await;
    assert!(html.contains("remember me") && html.contains("incoming words"));
}

/// The packet log keeps a position's and a telemetry's payload rather than their words, and
/// an ack's request id with it: through the real server and the simulated radio over TCP,
/// each comes back in words, beside a text kept as it is.
#[tokio::test]
async fn packet_summaries_come_back_in_words_from_the_log() {
    use prost::Message as _;
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let from = peers(&radio)[0];
    let pos = pb::Position {
        latitude_i: Some(515_000_000),
        longitude_i: Some(-1_250_000),
        altitude: Some(42),
        ..Default::default()
    };
    let tel = pb::Telemetry {
        time: 0,
        variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
            battery_level: Some(87),
            voltage: Some(4.01),
            ..Default::default()
        })),
    };
    let ack = pb::Routing {
        variant: Some(pb::routing::Variant::ErrorReason(0)),
    };
    let mut acked = heard(
        from,
        BROADCAST,
        9103,
        pb::PortNum::RoutingApp,
        ack.encode_to_vec(),
    );
    if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &mut acked.payload_variant {
        d.request_id = 0xdead_beef;
    }
    radio.inject(heard(
        from,
        BROADCAST,
        9101,
        pb::PortNum::PositionApp,
        pos.encode_to_vec(),
    ));
    radio.inject(heard(
        from,
        BROADCAST,
        9102,
        pb::PortNum::TelemetryApp,
        tel.encode_to_vec(),
    ));
    radio.inject(acked);
    radio.inject(heard_text(from, BROADCAST, 9104, "kept as it is"));
    let want = [
        (9101, "position 51.50000, -0.12500 alt 42 m"),
        (9102, "telemetry battery 87%, 4.01 V"),
        (9103, "ack for deadbeef"),
        (9104, "kept as it is"),
    ];
    let got = eventually(secs(4), "the four packets logged", async || {
        let log = a.packets().await;
        let summary = |id: u64| {
            log.iter()
                .find(|p| p["id"] == id)
                .map(|p| p["summary"].as_str().unwrap_or("").to_string())
        };
        want.iter()
            .map(|(id, _)| summary(*id))
            .collect::<Option<Vec<String>>>()
    })
    .await;
    assert_eq!(got, want.map(|(_, s)| s.to_string()));
}
