//! Automation per radio: the auto-responder answers through the radio, cooldowns and rules
//! stay with their radio, the filter drops what it should, the beacon sends.

use std::time::Duration;

use meshdeck::proto::{pb, BROADCAST};
use meshdeck::sim::{SimConfig, SimRadio};
use serde_json::json;

use crate::helpers::*;

/// A text heard on `channel`, from a node 1 hop away.
fn text_packet(from: u32, to: u32, channel: u32, text: &str, id: u32) -> pb::MeshPacket {
    pb::MeshPacket {
        channel,
        hop_start: 3,
        hop_limit: 2,
        ..heard_text(from, to, id, text)
    }
}

async fn settle() {
    // The responder waits 1.5 s before it answers.
    tokio::time::sleep(Duration::from_millis(2200)).await;
}

/// Just the texts that reached the radio.
fn replies(radio: &SimRadio) -> Vec<String> {
    sent_texts(radio).into_iter().map(|t| t.2).collect()
}

/// Radio `index`: 10 nodes, quiet, a short text interval.
fn quiet_radio(index: u32) -> SimConfig {
    SimConfig {
        text_interval: Duration::from_millis(100),
        ..quiet(index, 10)
    }
}

#[tokio::test]
async fn a_dm_ping_gets_one_pong_and_the_cooldown_holds_the_second() {
    let app = spawn_app_with(|c| c.text_interval_ms = 150).await;
    let (radio, a) = app.connected(quiet_radio(0)).await;
    let rules = a.autoresponder().await;
    assert_eq!(
        rules["rules"][0]["trigger"], "ping",
        "a new radio starts with ping → pong"
    );
    let mut rules = rules;
    rules["rules"][0]["cooldownSeconds"] = json!(4);
    assert_eq!(a.set_autoresponder(rules).await.0, 200);
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
    let msgs = a.messages().await;
    assert!(msgs
        .iter()
        .any(|m| m["outgoing"] == true && m["text"].as_str().unwrap().starts_with("pong")));
    let packets = a.packets().await;
    assert!(packets
        .iter()
        .any(|p| p["outgoing"] == true && p["portnum"] == "TEXT_MESSAGE_APP"));
}

#[tokio::test]
async fn a_broadcast_trigger_is_answered_on_its_channel_and_strangers_self_and_empty_are_not() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet_radio(0)).await;
    let rules = json!({"enabled": true, "rules": [
        {"id": 1, "enabled": true, "trigger": "weather", "triggerType": "contains", "response": "sunny for {sender_name}", "messageType": "broadcast", "sourceType": "both", "cooldownSeconds": 0}
    ]});
    assert_eq!(a.set_autoresponder(rules).await.0, 200);
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
    let name = long_name(&radio, sender);
    assert_eq!(
        sent_texts(&radio),
        vec![(BROADCAST, 1, format!("sunny for {name}"))]
    );
}

#[tokio::test]
async fn two_radios_keep_their_own_rules_and_cooldowns() {
    let app = spawn_app().await;
    let (ra, a) = app.connected(quiet_radio(0)).await;
    let (rb, b) = app.connected(quiet_radio(1)).await;
    let rule = |resp: &str| json!({"enabled": true, "rules": [{"id": 1, "enabled": true, "trigger": "hello", "triggerType": "exact", "response": resp, "messageType": "both", "sourceType": "both", "cooldownSeconds": 600}]});
    assert_eq!(a.set_autoresponder(rule("from A")).await.0, 200);
    assert_eq!(b.set_autoresponder(rule("from B")).await.0, 200);
    ra.inject(text_packet(peers(&ra)[0], BROADCAST, 0, "hello", 3001));
    settle().await;
    assert_eq!(replies(&ra), vec!["from A"]);
    assert!(sent_texts(&rb).is_empty(), "A's trigger fired B's rule");
    // A is in cooldown now; B is not.
    rb.inject(text_packet(peers(&rb)[0], BROADCAST, 0, "hello", 3002));
    settle().await;
    assert_eq!(replies(&rb), vec!["from B"]);
    let ar = a.autoresponder().await;
    assert_eq!(ar["rules"][0]["response"], "from A");
}

#[tokio::test]
async fn the_filter_keeps_a_node_out_of_the_log_messages_and_responder() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet_radio(0)).await;
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
        a.set_message_filter(json!({"enabled": true, "filter_mode": "sometimes"}))
            .await
            .0,
        400
    );
    radio.inject(text_packet(blocked, BROADCAST, 0, "ping", 4001));
    radio.inject(text_packet(other, BROADCAST, 0, "visible words", 4002));
    settle().await;
    let packets = a.packets().await;
    let froms: Vec<&str> = packets
        .iter()
        .map(|p| p["from"].as_str().unwrap())
        .collect();
    assert!(
        !froms.contains(&id.as_str()),
        "a filtered packet reached the log"
    );
    assert!(froms.contains(&meshdeck::proto::node_id(other).as_str()));
    let msgs = a.messages().await;
    assert!(msgs.iter().all(|m| m["from"] != id.as_str()));
    assert!(
        sent_texts(&radio).is_empty(),
        "the responder answered a filtered node"
    );
    let f = a.message_filter().await;
    assert_eq!(f["filtered"], 1);
}

#[tokio::test]
async fn the_beacon_sends_a_test_starts_stops_and_rules_persist_across_sessions() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet_radio(0)).await;
    let (code, b) = a.set_beacon(json!({"enabled": false, "interval_minutes": 15, "message_template": "{my_name} bat {battery} temp {temp}", "channel": 1})).await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(
        a.set_beacon(json!({"interval_minutes": 2})).await.0,
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
    assert_eq!(a.set_autoresponder(rules).await.0, 200);
    assert_eq!(a.disconnect().await.0, 200);
    let b = app.browser();
    assert_eq!(b.reconnect(&radio, secs(5)).await, 200);
    let r = b.autoresponder().await;
    assert_eq!(r["rules"][0]["id"], "7", "the original's ids are labels");
    assert_eq!(
        r["rules"][0]["cooldownSeconds"], 30,
        "absent fields take defaults"
    );
    let (_, html) = b.get_html("/automation").await;
    assert!(html.contains("Auto-responder") && html.contains("value=\"x\""));
}

#[tokio::test]
async fn the_beacon_sends_on_schedule_and_stops_when_the_session_is_evicted() {
    let app = spawn_app_with(|c| {
        c.beacon_minute_ms = 100; // a 5-"minute" interval lasts 0.5 s
        c.session_timeout = 2;
        c.text_interval_ms = 150;
    })
    .await;
    let (radio, a) = app.connected(quiet_radio(0)).await;
    let body = json!({"enabled": true, "interval_minutes": 5, "message_template": "{my_id} up {uptime} at {lat}", "channel": 0});
    assert_eq!(a.set_beacon(body).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let sent = sent_texts(&radio);
    assert!(sent.len() >= 2, "{sent:?}");
    let me = meshdeck::proto::node_id(radio.my_node_num());
    assert!(
        sent.iter()
            .all(|t| t.0 == BROADCAST && t.2.starts_with(&format!("{me} up 1 d"))),
        "{sent:?}"
    );
    assert!(
        !sent[0].2.contains('?') && !sent[0].2.contains('{'),
        "every variable filled: {}",
        sent[0].2
    );
    // Nobody asks any more: the session expires, and the beacon ends with it.
    eventually(secs(8), "the session is evicted", async || {
        radio.connections_open() == 0
    })
    .await;
    let after = sent_texts(&radio).len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        sent_texts(&radio).len(),
        after,
        "the beacon kept sending after the session ended"
    );
}

#[tokio::test]
async fn rules_beacon_and_filter_survive_a_server_restart() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet_radio(0)).await;
    let rules = json!({"enabled": false, "rules": [{"id": 3, "enabled": true, "trigger": "hi", "triggerType": "startswith", "response": "hello", "messageType": "direct", "sourceType": "rf", "cooldownSeconds": 9}]});
    let beacon = json!({"enabled": false, "interval_minutes": 30, "message_template": "tmpl {my_name}", "channel": 1});
    let filter = json!({"enabled": true, "filter_mode": "allowlist", "node_ids": ["!00000abc"], "portnums": ["TEXT_MESSAGE_APP"]});
    assert_eq!(a.set_autoresponder(rules.clone()).await.0, 200);
    assert_eq!(a.set_beacon(beacon).await.0, 200);
    assert_eq!(a.set_message_filter(filter).await.0, 200);
    let app = app.restart().await;
    let b = app.browser();
    assert_eq!(b.reconnect(&radio, secs(5)).await, 200);
    let got = b.autoresponder().await;
    assert_eq!(
        (&got["enabled"], &got["rules"][0]["id"]),
        (&json!(false), &json!("3"))
    );
    let mut want = rules["rules"][0].clone();
    want["id"] = json!("3");
    assert_eq!(got["rules"][0], want);
    let got = b.beacon().await;
    assert_eq!(
        (
            got["interval_minutes"].as_u64(),
            got["message_template"].as_str(),
            got["channel"].as_u64()
        ),
        (Some(30), Some("tmpl {my_name}"), Some(1))
    );
    let f = b.message_filter().await;
    assert_eq!(
        (
            f["enabled"].as_bool(),
            f["filter_mode"].as_str(),
            f["node_ids"][0].as_str()
        ),
        (Some(true), Some("allowlist"), Some("!00000abc"))
    );
}

#[tokio::test]
async fn bad_rule_input_gets_clear_errors_and_nothing_is_saved() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(quiet_radio(0)).await;
    let before = a.autoresponder().await;
    let rule = |patch: serde_json::Value| {
        let mut r = json!({"id": 1, "enabled": true, "trigger": "x", "triggerType": "exact", "response": "y", "messageType": "both", "sourceType": "both", "cooldownSeconds": 5});
        for (k, v) in patch.as_object().unwrap() {
            r[k] = v.clone();
        }
        json!({"enabled": true, "rules": [r]})
    };
    for (patch, says) in [
        (json!({"trigger": "  "}), "empty trigger"),
        (json!({"cooldownSeconds": -5}), "cooldownSeconds"),
        (json!({"triggerType": "regex"}), "triggerType"),
        (json!({"enabled": "yes"}), "enabled"),
        (
            json!({"response": "r".repeat(10 * 1024)}),
            "at most 200 bytes",
        ),
    ] {
        let (code, body) = a.set_autoresponder(rule(patch.clone())).await;
        assert_eq!(code, 400, "{patch}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{patch}: {body}"
        );
    }
    let dup = json!({"enabled": true, "rules": [{"id": 1, "trigger": "a", "response": "b"}, {"id": 1, "trigger": "c", "response": "d"}]});
    assert_eq!(a.set_autoresponder(dup).await.0, 400);
    assert_eq!(a.autoresponder().await, before, "nothing was saved");
    // The page's forms are checked the same way.
    let form = [
        ("id", "0"),
        ("op", "add"),
        ("trigger", ""),
        ("response", "x"),
        ("cooldown", "5"),
    ];
    let r = a.hx_post("/automation/rule", &form).await;
    assert_eq!(r.status(), 400);
    assert_eq!(a.autoresponder().await, before);
}
