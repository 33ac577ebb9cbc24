//! Automation per radio: the auto-responder answers through the radio, cooldowns and rules
//! stay with their radio, the filter drops what it should, the beacon sends.

use std::time::{Duration, Instant};

use meshdeck::proto::{pb, BROADCAST};
use meshdeck::sim::{SimConfig, SimRadio};
use serde_json::json;

use crate::helpers::*;

fn text_packet(from: u32, to: u32, channel: u32, text: &str, id: u32) -> pb::MeshPacket {
    pb::MeshPacket {
        from,
        to,
        channel,
        id,
        hop_start: 3,
        hop_limit: 2,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::TextMessageApp as i32,
            payload: text.as_bytes().to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// Texts the radio received from its client: (to, channel, text).
fn sent_texts(radio: &SimRadio) -> Vec<(u32, u32, String)> {
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
                    ))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

async fn settle() {
    // The responder waits 1.5 s before it answers.
    tokio::time::sleep(Duration::from_millis(2200)).await;
}

fn peers(radio: &SimRadio) -> Vec<u32> {
    radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .filter(|n| *n != radio.my_node_num())
        .collect()
}

async fn quiet_radio(index: u32) -> SimRadio {
    spawn_radio_with(SimConfig {
        index,
        nodes: 10,
        rate: 0.0,
        text_interval: Duration::from_millis(100),
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn a_dm_ping_gets_one_pong_and_the_cooldown_holds_the_second() {
    let app = spawn_app_with(|c| c.text_interval_ms = 150).await;
    let radio = quiet_radio(0).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let (_, rules) = a.get_json("/api/autoresponder").await;
    assert_eq!(
        rules["rules"][0]["trigger"], "ping",
        "a new radio starts with ping → pong"
    );
    let mut rules = rules;
    rules["rules"][0]["cooldown"] = json!(4);
    assert_eq!(a.post_json("/api/autoresponder", rules).await.0, 200);
    let me = radio.my_node_num();
    let sender = peers(&radio)[0];
    radio.inject(text_packet(sender, me, 0, "Ping", 1001));
    settle().await;
    let replies = sent_texts(&radio);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].0, sender, "a DM is answered directly");
    assert!(replies[0].2.starts_with("pong"), "{replies:?}");
    assert!(
        replies[0].2.contains("1 hops"),
        "variables are filled: {}",
        replies[0].2
    );
    radio.inject(text_packet(sender, me, 0, "ping", 1002));
    settle().await;
    assert_eq!(sent_texts(&radio).len(), 1, "within the cooldown: no reply");
    radio.inject(text_packet(sender, me, 0, "ping", 1003));
    settle().await;
    assert_eq!(sent_texts(&radio).len(), 2, "after the cooldown: one again");
    // The reply shows as outgoing in messages and the packet log.
    let (_, msgs) = a.get_json("/api/messages").await;
    assert!(msgs
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["outgoing"] == true && m["text"].as_str().unwrap().starts_with("pong")));
    let (_, packets) = a.get_json("/api/packets").await;
    assert!(packets
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["outgoing"] == true && p["portnum"] == "TEXT_MESSAGE_APP"));
}

#[tokio::test]
async fn a_broadcast_trigger_is_answered_on_its_channel_and_strangers_self_and_empty_are_not() {
    let app = spawn_app().await;
    let radio = quiet_radio(0).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let rules = json!({"enabled": true, "rules": [
        {"id": 1, "enabled": true, "trigger": "weather", "trigger_type": "contains", "response": "sunny for {sender_name}", "message_type": "broadcast", "source_type": "both", "cooldown": 0}
    ]});
    assert_eq!(a.post_json("/api/autoresponder", rules).await.0, 200);
    let me = radio.my_node_num();
    let sender = peers(&radio)[0];
    radio.inject(text_packet(0x7777_7777, BROADCAST, 1, "weather?", 2001)); // unknown sender
    radio.inject(text_packet(me, BROADCAST, 1, "weather?", 2002)); // my own
    radio.inject(text_packet(sender, BROADCAST, 1, "", 2003)); // empty
    radio.inject(text_packet(sender, me, 1, "weather?", 2004)); // a DM: the rule is broadcast only
    settle().await;
    assert!(sent_texts(&radio).is_empty(), "{:?}", sent_texts(&radio));
    radio.inject(text_packet(
        sender,
        BROADCAST,
        1,
        "How is the WEATHER?",
        2005,
    ));
    settle().await;
    let name = radio
        .nodes()
        .into_iter()
        .find(|n| n.num == sender)
        .unwrap()
        .user
        .unwrap()
        .long_name;
    assert_eq!(
        sent_texts(&radio),
        vec![(BROADCAST, 1, format!("sunny for {name}"))]
    );
}

#[tokio::test]
async fn two_radios_keep_their_own_rules_and_cooldowns() {
    let app = spawn_app().await;
    let (ra, rb) = (quiet_radio(0).await, quiet_radio(1).await);
    let (a, b) = (app.browser(), app.browser());
    assert_eq!(a.connect(&ra).await.0, 200);
    assert_eq!(b.connect(&rb).await.0, 200);
    let rule = |resp: &str| json!({"enabled": true, "rules": [{"id": 1, "enabled": true, "trigger": "hello", "trigger_type": "exact", "response": resp, "message_type": "both", "source_type": "both", "cooldown": 600}]});
    assert_eq!(
        a.post_json("/api/autoresponder", rule("from A")).await.0,
        200
    );
    assert_eq!(
        b.post_json("/api/autoresponder", rule("from B")).await.0,
        200
    );
    ra.inject(text_packet(peers(&ra)[0], BROADCAST, 0, "hello", 3001));
    settle().await;
    assert_eq!(
        sent_texts(&ra)
            .iter()
            .map(|t| t.2.as_str())
            .collect::<Vec<_>>(),
        vec!["from A"]
    );
    assert!(sent_texts(&rb).is_empty(), "A's trigger fired B's rule");
    // A is in cooldown now; B is not.
    rb.inject(text_packet(peers(&rb)[0], BROADCAST, 0, "hello", 3002));
    settle().await;
    assert_eq!(
        sent_texts(&rb)
            .iter()
            .map(|t| t.2.as_str())
            .collect::<Vec<_>>(),
        vec!["from B"]
    );
    let (_, ar) = a.get_json("/api/autoresponder").await;
    assert_eq!(ar["rules"][0]["response"], "from A");
}

#[tokio::test]
async fn the_filter_keeps_a_node_out_of_the_log_messages_and_responder() {
    let app = spawn_app().await;
    let radio = quiet_radio(0).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let blocked = peers(&radio)[0];
    let other = peers(&radio)[1];
    let id = meshdeck::proto::node_id(blocked);
    let (code, body) = a
        .post_json(
            "/api/message-filter",
            json!({"enabled": true, "filter_mode": "blocklist", "node_ids": [id], "portnums": []}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        a.post_json(
            "/api/message-filter",
            json!({"enabled": true, "filter_mode": "sometimes"})
        )
        .await
        .0,
        400
    );
    radio.inject(text_packet(blocked, BROADCAST, 0, "ping", 4001));
    radio.inject(text_packet(other, BROADCAST, 0, "visible words", 4002));
    settle().await;
    let (_, packets) = a.get_json("/api/packets").await;
    let froms: Vec<&str> = packets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["from"].as_str().unwrap())
        .collect();
    assert!(
        !froms.contains(&id.as_str()),
        "a filtered packet reached the log"
    );
    assert!(froms.contains(&meshdeck::proto::node_id(other).as_str()));
    let (_, msgs) = a.get_json("/api/messages").await;
    assert!(msgs
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["from"] != id.as_str()));
    assert!(
        sent_texts(&radio).is_empty(),
        "the responder answered a filtered node"
    );
    let (_, f) = a.get_json("/api/message-filter").await;
    assert_eq!(f["filtered"], 1);
}

#[tokio::test]
async fn the_beacon_sends_a_test_starts_stops_and_rules_persist_across_sessions() {
    let app = spawn_app().await;
    let radio = quiet_radio(0).await;
    let a = app.browser();
    assert_eq!(a.connect(&radio).await.0, 200);
    let (code, b) = a.post_json("/api/beacon", json!({"enabled": false, "interval_minutes": 15, "message_template": "{my_name} bat {battery} temp {temp}", "channel": 1})).await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(
        a.post_json("/api/beacon", json!({"interval_minutes": 2}))
            .await
            .0,
        400,
        "at least 5 min"
    );
    let (code, t) = a.post_json("/api/beacon/test", json!({})).await;
    assert_eq!(code, 200);
    let my_name = radio.nodes()[0].user.clone().unwrap().long_name;
    assert_eq!(t["message"], format!("{my_name} bat 87 temp ?"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sent_texts(&radio),
        vec![(BROADCAST, 1, format!("{my_name} bat 87 temp ?"))]
    );
    let (_, s) = a.post_json("/api/beacon/start", json!({})).await;
    assert_eq!(s["status"], "started");
    assert!(s["next_due"].is_string(), "{s}");
    let (_, s) = a.post_json("/api/beacon/stop", json!({})).await;
    assert_eq!(
        (s["status"].as_str(), s["next_due"].is_null()),
        (Some("stopped"), true)
    );
    // Rules are stored per radio: a new session on the same radio finds them.
    let rules = json!({"enabled": true, "rules": [{"id": 7, "enabled": true, "trigger": "x", "response": "y"}]});
    assert_eq!(a.post_json("/api/autoresponder", rules).await.0, 200);
    assert_eq!(a.post_json("/api/disconnect", json!({})).await.0, 200);
    let b = app.browser();
    let t0 = Instant::now();
    while b.connect(&radio).await.0 != 200 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, r) = b.get_json("/api/autoresponder").await;
    assert_eq!(r["rules"][0]["id"], 7);
    assert_eq!(r["rules"][0]["cooldown"], 30, "absent fields take defaults");
    let (_, html) = b.get_html("/automation").await;
    assert!(html.contains("Auto-responder") && html.contains("value=\"x\""));
}
