//! Messages end to end: sent through the page and the API, spaced by the firmware's limit,
//! acknowledged or failed by the radio, kept in SQLite across a restart, validated.

use std::time::Duration;

use meshdeck::proto::{pb, BROADCAST};
use meshdeck::sim::SimConfig;
use serde_json::{json, Value};

use crate::helpers::*;

/// Texts the radio accepted from its client: (to, channel, text, rejected).
fn texts_at(radio: &meshdeck::sim::SimRadio) -> Vec<(u32, u32, String, bool, std::time::Instant)> {
    radio
        .requests()
        .into_iter()
        .filter_map(|r| match r.to_radio.payload_variant {
            Some(pb::to_radio::PayloadVariant::Packet(p)) => match p.payload_variant {
                Some(pb::mesh_packet::PayloadVariant::Decoded(d))
                    if d.portnum == pb::PortNum::TextMessageApp as i32 =>
                {
                    Some((
                        p.to,
                        p.channel,
                        String::from_utf8_lossy(&d.payload).into_owned(),
                        r.rejected.is_some(),
                        r.at,
                    ))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

async fn state_of(b: &Browser, id: u64) -> Value {
    let (_, list) = b.get_json("/api/messages").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn wait_state(b: &Browser, id: u64, want: &str) -> Value {
    for _ in 0..100 {
        let m = state_of(b, id).await;
        if m["state"] == want {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "message {id} never reached {want}: {}",
        state_of(b, id).await
    );
}

fn some_peer(radio: &meshdeck::sim::SimRadio) -> u32 {
    radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .find(|n| *n != radio.my_node_num())
        .unwrap()
}

#[tokio::test]
async fn a_direct_message_reaches_the_radio_with_its_destination_and_is_acked() {
    let app = spawn_app().await;
    let radio = spawn_radio(0, 20).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let peer = some_peer(&radio);
    let (code, body) = a
        .post_json(
            "/api/send",
            json!({"text": "hello 📡 <b>", "dest": meshdeck::proto::node_id(peer), "channel": 1}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "sent");
    let id = body["id"].as_u64().unwrap();
    let m = wait_state(&a, id, "acked").await;
    assert_eq!(m["text"], "hello 📡 <b>");
    let sent = texts_at(&radio);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].0, sent[0].1, sent[0].2.as_str(), sent[0].3),
        (peer, 1, "hello 📡 <b>", false)
    );
}

#[tokio::test]
async fn a_routing_error_shows_as_failed_with_its_name() {
    let app = spawn_app().await;
    let radio = spawn_radio(0, 20).await;
    radio.set_routing_error(Some(pb::routing::Error::NoRoute));
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let (_, body) = a.post_json("/api/send", json!({"text": "anyone?"})).await;
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
    let radio = spawn_radio_with(SimConfig {
        nodes: 10,
        rate: 0.0,
        text_interval: Duration::from_millis(250),
        ..SimConfig::default()
    })
    .await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let mut ids = Vec::new();
    for i in 0..10 {
        let (code, body) = a
            .post_json("/api/send", json!({"text": format!("burst {i}")}))
            .await;
        assert_eq!(code, 200, "{body}");
        ids.push(body["id"].as_u64().unwrap());
    }
    for id in &ids {
        wait_state(&a, *id, "acked").await;
    }
    let sent = texts_at(&radio);
    assert_eq!(sent.len(), 10);
    assert!(sent.iter().all(|t| !t.3), "the radio rejected a text");
    let texts: Vec<&str> = sent.iter().map(|t| t.2.as_str()).collect();
    assert_eq!(
        texts,
        (0..10).map(|i| format!("burst {i}")).collect::<Vec<_>>()
    );
    for w in sent.windows(2) {
        assert!(
            w[1].4 - w[0].4 >= Duration::from_millis(250),
            "two texts arrived {:?} apart",
            w[1].4 - w[0].4
        );
    }
}

#[tokio::test]
async fn bad_messages_get_clear_errors_and_nothing_is_sent() {
    let app = spawn_app().await;
    let radio = spawn_radio(0, 10).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
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
    let (code, body) = a.post_json("/api/send", json!({"text": "   "})).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("the message is empty"))
    );
    let (code, body) = a
        .post_json("/api/send", json!({"text": "hi", "dest": "!00abcdef"}))
        .await;
    assert_eq!(code, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("unknown destination"));
    let (code, _) = a
        .post_json("/api/send", json!({"text": "hi", "channel": 6}))
        .await;
    assert_eq!(code, 400);
    let r = a
        .http
        .post(format!("{}/api/send", a.base))
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
    let dir = TempDir::new();
    let config = test_config(&dir);
    let radio = spawn_radio(0, 10).await;
    let data = dir.0.clone();
    let app = spawn_app_in(dir, config).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let (_, body) = a
        .post_json("/api/send", json!({"text": "remember me"}))
        .await;
    wait_state(&a, body["id"].as_u64().unwrap(), "acked").await;
    // An incoming message too.
    let from = some_peer(&radio);
    radio.inject(pb::MeshPacket {
        from,
        to: BROADCAST,
        id: 4242,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::TextMessageApp as i32,
            payload: b"incoming words".to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    });
    wait_state(&a, 4242, "received").await;
    let TestApp { app, dir, .. } = app;
    app.stop().await;
    let mut config = test_config(&dir);
    config.data_dir = data;
    let app2 = spawn_app_in(dir, config).await;
    let b = app2.browser();
    let mut code = 0;
    for _ in 0..50 {
        code = b.connect(&radio).await.0;
        if code == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(code, 200);
    let (_, list) = b.get_json("/api/messages").await;
    let texts: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"remember me") && texts.contains(&"incoming words"),
        "{texts:?}"
    );
    let (_, html) = b.get_html("/messages?c=ch:0").await;
    assert!(html.contains("remember me") && html.contains("incoming words"));
}
