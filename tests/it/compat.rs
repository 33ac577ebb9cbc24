//! The original dashboard's scripts and page, unchanged, against meshdeck: its own file
//! formats posted as they are (autoresponder.json, beacon.json, message_filter.json, the MQTT
//! modal's camelCase), and its field names and shapes on every route (shared/API.md §3–4),
//! including the empty defaults its page reads before a radio is connected.

use std::time::Duration;

use meshdeck::proto::{node_id, pb, BROADCAST};
use serde_json::{json, Value};

use crate::helpers::*;

/// The original's `autoresponder.json`, as its repository ships it (trimmed to two rules).
const AUTORESPONDER_JSON: &str = r#"{
  "enabled": true,
  "rules": [
    {"id": "ping", "enabled": true, "trigger": "ping", "triggerType": "exact",
     "response": "pong from {sender_short} ({sender_id}) via {source_type}",
     "messageType": "both", "sourceType": "both", "cooldownSeconds": 60},
    {"id": "test", "enabled": true, "trigger": "test", "triggerType": "contains",
     "response": "received: {sender_short}", "messageType": "broadcast", "sourceType": "rf",
     "cooldownSeconds": 300}
  ],
  "available_variables": {"{sender_name}": "Full name of the sender", "{hops}": "Hops"}
}"#;

/// The original's `beacon.json` example.
const BEACON_JSON: &str = r#"{
  "enabled": false,
  "interval_minutes": 30,
  "message_template": "Beacon from {my_name} ({my_id}) | Battery: {battery}%",
  "channel": 0,
  "available_variables": {"{my_name}": "Your node's full name"},
  "last_beacon_time": "2026-02-16T19:33:10.948624+00:00"
}"#;

fn file(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A time as the original writes it: microseconds (left out when zero) and `+00:00`.
fn is_python_time(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let Some(rest) = s.strip_suffix("+00:00") else {
        return false;
    };
    let (clock, frac) = rest.split_once('.').unwrap_or((rest, "000000"));
    clock.len() == 19
        && clock.as_bytes()[10] == b'T'
        && frac.len() == 6
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn has_all(v: &Value, want: &[&str]) {
    for k in want {
        assert!(v.get(*k).is_some(), "missing {k} in {v}");
    }
}

#[tokio::test]
async fn before_a_radio_is_connected_the_get_routes_answer_the_originals_empty_defaults() {
    let app = spawn_app().await;
    let a = app.browser();
    let get = async |path: &str| {
        let (code, body) = a.get_json(path).await;
        assert_eq!(code, 200, "{path}: {body}");
        body
    };
    assert_eq!(get("/api/status").await["connected"], false);
    assert_eq!(get("/api/nodes").await, json!([]));
    assert_eq!(get("/api/nodes?filter=local").await, json!([]));
    assert_eq!(get("/api/traceroute/results").await, json!({}));
    assert_eq!(get("/api/packets").await, json!([]));
    assert_eq!(get("/api/messages").await, json!([]));
    let sweep = get("/api/sweep/status").await;
    assert_eq!(
        (
            &sweep["running"],
            &sweep["total"],
            &sweep["completed"],
            &sweep["current"]
        ),
        (&json!(false), &json!(0), &json!(0), &Value::Null)
    );
    let h = get("/api/mqtt/health").await;
    assert_eq!(
        (&h["health_status"], &h["health_color"], &h["mqtt_root"]),
        (&json!("unknown"), &json!("gray"), &json!("unknown"))
    );
    let r = get("/api/autoresponder").await;
    assert!(r["enabled"].is_boolean() && r["rules"].is_array(), "{r}");
    assert!(
        r["available_variables"]["{sender_short}"].is_string(),
        "{r}"
    );
    let b = get("/api/beacon").await;
    has_all(
        &b,
        &[
            "enabled",
            "interval_minutes",
            "message_template",
            "channel",
            "available_variables",
            "last_beacon_time",
        ],
    );
    let f = get("/api/message-filter").await;
    assert_eq!(
        (
            &f["enabled"],
            &f["filter_mode"],
            &f["node_ids"],
            &f["portnums"]
        ),
        (&json!(false), &json!("allowlist"), &json!([]), &json!([]))
    );
    assert_eq!(get("/api/sessions").await, json!({"sessions": []}));
    let bridge = get("/api/mqtt/bridge/status").await;
    assert_eq!(
        (&bridge["installed"], &bridge["running"], &bridge["config"]),
        (&json!(false), &json!(false), &Value::Null)
    );
    // The routes the original answers 400 "Not connected" before a connect.
    for path in [
        "/api/device/config",
        "/api/device/mqtt/config",
        "/api/store-forward/status",
        "/api/node/!00000001",
    ] {
        let (code, body) = a.get_json(path).await;
        assert_eq!(
            (code, body["error"].as_str()),
            (400, Some("Not connected")),
            "{path}"
        );
    }
    // Stopping answers whatever there is to stop.
    for path in ["/api/beacon/stop", "/api/sweep/stop"] {
        let (code, body) = a.post_json(path, json!({})).await;
        assert_eq!(
            (code, body["status"].as_str()),
            (200, Some("stopped")),
            "{path}"
        );
    }
    // An unknown route under /api/ still answers in JSON.
    let (code, body) = a.get_json("/api/no-such-route").await;
    assert_eq!(code, 404);
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn the_originals_autoresponder_json_is_taken_as_is_and_its_page_toggle_keeps_the_rules() {
    let app = spawn_app_with(|c| c.text_interval_ms = 150).await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let (code, body) = a.set_autoresponder(file(AUTORESPONDER_JSON)).await;
    assert_eq!((code, &body), (200, &json!({"status": "saved"})));
    let r = a.autoresponder().await;
    assert_eq!(r["enabled"], true);
    let ids: Vec<&str> = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["ping", "test"]);
    let test = &r["rules"][1];
    assert_eq!(
        (
            &test["triggerType"],
            &test["messageType"],
            &test["sourceType"],
            &test["cooldownSeconds"]
        ),
        (
            &json!("contains"),
            &json!("broadcast"),
            &json!("rf"),
            &json!(300)
        )
    );
    // The page's toggle sends only {enabled}: the rules stay (the original wiped them).
    let (code, _) = a.set_autoresponder(json!({"enabled": false})).await;
    assert_eq!(code, 200);
    let r = a.autoresponder().await;
    assert_eq!(
        (r["enabled"].clone(), r["rules"].as_array().map(Vec::len)),
        (json!(false), Some(2))
    );
    let sender = peers(&radio)[0];
    let me = radio.my_node_num();
    radio.inject(heard_text(sender, me, 501, "ping"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sent_texts(&radio).is_empty(), "off: no reply");
    assert_eq!(a.set_autoresponder(json!({"enabled": true})).await.0, 200);
    radio.inject(pb::MeshPacket {
        rx_snr: 6.0,
        rx_rssi: -70,
        ..heard_text(sender, me, 502, "Ping")
    });
    let short = node(&radio, sender).user.unwrap().short_name;
    let want = format!("pong from {short} ({}) via RF", node_id(sender));
    eventually(secs(4), "the original's rule answers", async || {
        sent_texts(&radio)
            .iter()
            .any(|t| t.0 == sender && t.2 == want)
    })
    .await;
    // The page's import box takes the original's file as it is, too.
    assert_eq!(a.set_autoresponder(json!({"rules": []})).await.0, 200);
    let r = a
        .hx_post("/automation/import", &[("json", AUTORESPONDER_JSON)])
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Rules imported") && html.contains("value=\"ping\""),
        "{html}"
    );
    assert_eq!(a.autoresponder().await["rules"][1]["id"], "test");
    // A kept radio's update takes the rules in the same format.
    let (code, _) = a
        .post_json(
            "/api/sessions/create",
            json!({"name": "Club", "host": "127.0.0.1", "port": radio.addr().port()}),
        )
        .await;
    assert_eq!(code, 200);
    let rules = file(AUTORESPONDER_JSON)["rules"].clone();
    let (code, body) = a
        .post_json(
            "/api/sessions/Club/update",
            json!({"autoresponder_rules": rules}),
        )
        .await;
    assert_eq!((code, body), (200, json!({"success": true})));
}

#[tokio::test]
async fn the_originals_beacon_and_filter_files_are_taken_and_answered_in_its_words() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let (code, body) = a.set_beacon(file(BEACON_JSON)).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("saved")),
        "{body}"
    );
    let b = a.beacon().await;
    assert_eq!(
        (
            &b["interval_minutes"],
            &b["message_template"],
            &b["enabled"]
        ),
        (
            &json!(30),
            &json!("Beacon from {my_name} ({my_id}) | Battery: {battery}%"),
            &json!(false)
        )
    );
    assert!(b["available_variables"]["{battery}"].is_string(), "{b}");
    let (code, t) = a.post_json("/api/beacon/test", json!({})).await;
    assert_eq!((code, t["status"].as_str()), (200, Some("sent")), "{t}");
    let text = t["message"].as_str().unwrap();
    assert!(
        text.starts_with("Beacon from ") && !text.contains('{'),
        "{text}"
    );
    eventually(secs(4), "the test beacon reached the radio", async || {
        sent_texts(&radio).iter().any(|s| s.2 == text)
    })
    .await;
    assert!(is_python_time(&a.beacon().await["last_beacon_time"]));
    // The original's default: no template, off; its test route then says so.
    let (code, _) = a
        .set_beacon(json!({"message_template": "", "enabled": false}))
        .await;
    assert_eq!(code, 200);
    let (code, e) = a.post_json("/api/beacon/test", json!({})).await;
    assert_eq!(
        (code, e["error"].as_str()),
        (400, Some("No beacon message template configured"))
    );
    // message_filter.json: the original's reply, and the page's toggle keeps the lists.
    let full = json!({"enabled": true, "filter_mode": "blocklist", "node_ids": ["!00000abc"], "portnums": ["POSITION_APP"]});
    let (code, body) = a.set_message_filter(full).await;
    assert_eq!(code, 200);
    assert_eq!(
        (
            &body["status"],
            &body["message"],
            &body["filter"]["filter_mode"]
        ),
        (
            &json!("success"),
            &json!("Message filter updated"),
            &json!("blocklist")
        )
    );
    let (_, body) = a.set_message_filter(json!({"enabled": false})).await;
    assert_eq!(
        (&body["filter"]["enabled"], &body["filter"]["node_ids"]),
        (&json!(false), &json!(["!00000abc"]))
    );
}

#[tokio::test]
async fn the_mqtt_modal_camel_case_is_written_and_an_unknown_field_is_refused() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let body = json!({"enabled": true, "address": "mqtt.example.lan", "username": "u", "password": "pw",
        "encryptionEnabled": false, "tlsEnabled": true, "root": "msh/EU", "session_name": null});
    let (code, r) = a.post_json("/api/device/mqtt/config", body).await;
    assert_eq!((code, r["status"].as_str()), (200, Some("success")), "{r}");
    let written = admin_requests(&radio)
        .into_iter()
        .find_map(|m| match m.payload_variant {
            Some(pb::admin_message::PayloadVariant::SetModuleConfig(pb::ModuleConfig {
                payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(m)),
            })) => Some(m),
            _ => None,
        })
        .expect("the MQTT module was written");
    assert_eq!(
        (
            written.tls_enabled,
            written.encryption_enabled,
            written.root.as_str()
        ),
        (true, false, "msh/EU")
    );
    // The radio reboots to apply it; the link comes back and reads the settings again.
    let m = eventually(secs(15), "the new settings read back", async || {
        let (_, m) = a.get_json("/api/device/mqtt/config").await;
        (m["tlsEnabled"] == true && radio.connections_accepted() >= 2).then_some(m)
    })
    .await;
    has_all(
        &m,
        &[
            "enabled",
            "address",
            "username",
            "root",
            "encryptionEnabled",
            "jsonEnabled",
            "mapReportingEnabled",
            "proxyToClientEnabled",
        ],
    );
    assert!(m.get("password").is_none(), "never the password: {m}");
    let before = admin_requests(&radio).len();
    let (code, e) = a
        .post_json("/api/device/mqtt/config", json!({"tlsEnabeld": true}))
        .await;
    assert_eq!(code, 400);
    assert!(e["error"].as_str().unwrap().contains("tls_enabeld"), "{e}");
    assert_eq!(admin_requests(&radio).len(), before, "nothing was sent");
}

#[tokio::test]
async fn device_config_store_forward_and_health_have_the_originals_shapes() {
    let (_app, radio, a) = spawn_connected(live(20, 20.0)).await;
    let (code, cfg) = a.get_json("/api/device/config").await;
    assert_eq!(code, 200);
    let ch = cfg["channels"].as_array().unwrap();
    for c in ch {
        assert!(
            ["0", "1", "2"].contains(&c["role"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["index"].is_i64() && c["settings"].is_object(), "{c}");
    }
    assert_eq!(ch[0]["role"], "1");
    let primary = &ch[0]["settings"];
    assert!(
        primary["psk"].is_string(),
        "the page shows Encrypted: {primary}"
    );
    assert!(primary.get("uplinkEnabled").is_some() && primary.get("downlinkEnabled").is_some());
    let key = radio.channels()[1].settings.clone().unwrap().psk;
    let b64 = meshdeck_b64(&key);
    assert!(
        !cfg.to_string().contains(&b64),
        "a channel key left the server"
    );
    for k in ["region", "hopLimit", "txEnabled"] {
        assert!(cfg["localConfig"]["lora"].get(k).is_some(), "lora.{k}");
    }
    assert!(cfg["moduleConfig"]["storeForward"].is_object());
    let (code, sf) = a.get_json("/api/store-forward/status").await;
    assert_eq!(code, 200);
    assert_eq!(sf["available"], true);
    has_all(
        &sf,
        &[
            "enabled",
            "isServer",
            "records",
            "heartbeat",
            "historyReturnMax",
            "historyReturnWindow",
        ],
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, h) = a.mqtt_health().await;
    has_all(
        &h,
        &[
            "health_status",
            "health_color",
            "health_message",
            "mqtt_root",
            "last_mqtt_ago",
            "last_rf_ago",
            "mqtt_count",
            "rf_count",
            "mqtt_sent",
            "uptime",
        ],
    );
    let pair = (
        h["health_status"].as_str().unwrap(),
        h["health_color"].as_str().unwrap(),
    );
    assert!(
        [
            ("healthy", "green"),
            ("slow", "yellow"),
            ("stalled", "red"),
            ("unknown", "gray")
        ]
        .contains(&pair),
        "{h}"
    );
}

/// Standard base64 with padding, as Python's protobuf dict form writes bytes.
fn meshdeck_b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn status_and_nodes_list_and_count_the_own_node_with_placeholder_names() {
    let (_app, radio, a) = spawn_connected(quiet(0, 12)).await;
    // A node the radio knows only by its number, hop count unknown, heard over RF.
    radio.inject(pb::MeshPacket {
        rx_snr: 4.0,
        ..heard(0x2920, BROADCAST, 77, pb::PortNum::PositionApp, Vec::new())
    });
    let nodes = eventually(secs(3), "the nameless node is listed", async || {
        let n = a.nodes("all").await;
        n.iter().any(|x| x["id"] == "!00002920").then_some(n)
    })
    .await;
    let me = node_id(radio.my_node_num());
    let mine = nodes
        .iter()
        .find(|n| n["id"] == me.as_str())
        .expect("the own node is listed");
    assert_eq!(mine["num"], radio.my_node_num());
    let nameless = nodes.iter().find(|n| n["id"] == "!00002920").unwrap();
    assert_eq!(
        (
            &nameless["longName"],
            &nameless["shortName"],
            &nameless["hwModel"],
            &nameless["hopsAway"]
        ),
        (
            &json!("Meshtastic 2920"),
            &json!("2920"),
            &json!("UNSET"),
            &Value::Null
        )
    );
    assert!(nodes.iter().all(|n| n.get("rssi").is_some()));
    // Nearby keeps an unknown hop count (protobuf leaves out 0).
    let local = a.nodes("local").await;
    assert!(
        local.iter().any(|n| n["id"] == "!00002920"),
        "unknown hops dropped"
    );
    assert!(local
        .iter()
        .all(|n| n["viaMqtt"] == false && n["hopsAway"].as_u64().is_none_or(|h| h <= 2)));
    let s = a.status().await;
    assert_eq!(s["nodeCount"], json!(nodes.len()), "the own node counts");
    assert!(s["last_packet_ago"].is_u64(), "{s}");
    assert_eq!(s["myNode"]["id"], me.as_str());
    assert!(
        s["myNode"].get("rssi").is_some() && s["myNode"].get("distance_km").is_none(),
        "{s}"
    );
    for k in [
        "longName",
        "shortName",
        "batteryLevel",
        "voltage",
        "channelUtil",
        "airUtilTx",
    ] {
        assert!(s["myNode"].get(k).is_some(), "myNode.{k}");
    }
}

#[tokio::test]
async fn packets_carry_microsecond_times_and_since_is_strictly_after() {
    let (_app, _radio, a) = spawn_connected(live(30, 40.0)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = a.packets().await;
    assert!(!first.is_empty());
    assert!(
        first.iter().all(|p| is_python_time(&p["time"])),
        "{:?}",
        first[0]
    );
    has_all(
        &first[0],
        &[
            "time", "from", "to", "portnum", "snr", "rssi", "hopStart", "hopLimit",
        ],
    );
    let mut seen: std::collections::HashSet<(String, u64)> = Default::default();
    let mut cursor = first.last().unwrap()["time"].as_str().unwrap().to_string();
    for p in &first {
        seen.insert((
            p["time"].as_str().unwrap().into(),
            p["id"].as_u64().unwrap(),
        ));
    }
    // The page's polling: the last element's time, URL-encoded (the newer page) or not (the
    // older one, whose `+` arrives as a space).
    for round in 0..8 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let since = if round % 2 == 0 {
            cursor.replace('+', "%2B")
        } else {
            cursor.clone()
        };
        let (code, body) = a.get_json(&format!("/api/packets?since={since}")).await;
        assert_eq!(code, 200, "{body}");
        for p in body.as_array().unwrap() {
            let t = p["time"].as_str().unwrap().to_string();
            assert!(t > cursor, "{t} is not after {cursor}");
            assert!(
                seen.insert((t, p["id"].as_u64().unwrap())),
                "sent twice: {p}"
            );
        }
        if let Some(last) = body.as_array().unwrap().last() {
            cursor = last["time"].as_str().unwrap().to_string();
        }
    }
    assert!(seen.len() > first.len(), "the live radio sent more");
}

#[tokio::test]
async fn messages_say_how_they_were_heard_with_the_originals_twelve_keys() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let from = peers(&radio)[0];
    radio.inject(pb::MeshPacket {
        rx_snr: 5.5,
        rx_rssi: -63,
        hop_start: 3,
        hop_limit: 2,
        ..heard_text(from, BROADCAST, 9001, "over the air")
    });
    radio.inject(pb::MeshPacket {
        via_mqtt: true,
        ..heard_text(from, BROADCAST, 9002, "over the broker")
    });
    let (_, sent) = a.send(json!({"text": "mine", "dest": ""})).await;
    assert_eq!(sent["status"], "sent", "an empty dest is a broadcast");
    let list = eventually(secs(4), "three messages stored", async || {
        let l = a.messages().await;
        (l.len() == 3).then_some(l)
    })
    .await;
    for m in &list {
        has_all(
            m,
            &[
                "time", "from", "to", "portnum", "text", "snr", "rssi", "hopStart", "hopLimit",
                "outgoing", "source", "channel",
            ],
        );
        assert!(is_python_time(&m["time"]), "{m}");
        assert_eq!(m["portnum"], "TEXT_MESSAGE_APP");
    }
    let by_text = |t: &str| list.iter().find(|m| m["text"] == t).unwrap().clone();
    let rf = by_text("over the air");
    assert_eq!(
        (
            &rf["snr"],
            &rf["rssi"],
            &rf["hopStart"],
            &rf["hopLimit"],
            &rf["source"],
            &rf["outgoing"]
        ),
        (
            &json!(5.5),
            &json!(-63),
            &json!(3),
            &json!(2),
            &json!("RF"),
            &json!(false)
        )
    );
    let mqtt = by_text("over the broker");
    assert_eq!(
        (&mqtt["snr"], &mqtt["rssi"], &mqtt["source"]),
        (&Value::Null, &Value::Null, &json!("MQTT"))
    );
    let mine = by_text("mine");
    assert_eq!(
        (&mine["outgoing"], &mine["to"], &mine["snr"]),
        (&json!(true), &json!("^all"), &Value::Null)
    );
    // since: strictly after the last one.
    let last = list.last().unwrap()["time"]
        .as_str()
        .unwrap()
        .replace('+', "%2B");
    let (_, after) = a.get_json(&format!("/api/messages?since={last}")).await;
    assert_eq!(after, json!([]));
}

#[tokio::test]
async fn a_dm_and_a_traceroute_go_to_a_node_outside_the_node_db() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let stranger = 0x00ab_cdef_u32;
    let (code, body) = a
        .send(json!({"text": "hello stranger", "dest": "!00abcdef"}))
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = a
        .traceroute(json!({"dest": "!00abcdef", "hopLimit": 6}))
        .await;
    assert_eq!(code, 200, "{body}");
    eventually(secs(4), "both reached the radio", async || {
        let dm = sent_texts(&radio)
            .iter()
            .any(|t| t.0 == stranger && t.2 == "hello stranger");
        let tr = taken(&radio, pb::PortNum::TracerouteApp)
            .iter()
            .any(|t| t.to == stranger);
        dm && tr
    })
    .await;
    let r = a.traceroute_results().await;
    let t = &r["!00abcdef"];
    assert_eq!(t["status"], "pending", "{r}");
    assert_eq!(t["command"], "sendTraceRoute(!00abcdef, hopLimit=6)");
    assert!(is_python_time(&t["timestamp"]), "{t}");
    let (code, e) = a.traceroute(json!({"hopLimit": 6})).await;
    assert_eq!(
        (code, e["error"].as_str()),
        (400, Some("No destination specified"))
    );
}

#[tokio::test]
async fn a_queued_traceroute_shows_as_pending_and_a_complete_one_in_node_numbers() {
    let app = spawn_app_with(|c| {
        c.traceroute_interval_ms = 1500;
        c.traceroute_timeout_ms = 4000;
    })
    .await;
    let cfg = meshdeck::sim::SimConfig {
        traceroute_interval: Duration::from_millis(1000),
        traceroute_delay: Duration::from_millis(100),
        ..quiet(0, 12)
    };
    let (radio, a) = app.connected(cfg).await;
    let targets: Vec<u32> = peers(&radio)
        .into_iter()
        .filter(|n| meshdeck::sim::answers_traceroute(*n))
        .take(2)
        .collect();
    for t in &targets {
        assert_eq!(a.traceroute(json!({"dest": t})).await.0, 200);
    }
    let second = node_id(targets[1]);
    let r = a.traceroute_results().await;
    assert_eq!(
        (&r[&second]["status"], &r[&second]["queued"]),
        (&json!("pending"), &json!(true)),
        "the page knows no 'queued': {r}"
    );
    assert!(r[&second]["command"]
        .as_str()
        .unwrap()
        .starts_with("sendTraceRoute("));
    let done = eventually(secs(8), "a traceroute completes", async || {
        let r = a.traceroute_results().await;
        let o = r.as_object().unwrap().clone();
        o.into_values().find(|t| t["status"] == "complete")
    })
    .await;
    assert!(done.get("command").is_none(), "{done}");
    for k in ["route", "routeBack", "snrTowards", "snrBack"] {
        assert!(
            done[k].as_array().unwrap().iter().all(Value::is_i64),
            "{k}: {done}"
        );
    }
}

#[tokio::test]
async fn connect_answers_connected_only_once_the_link_is_up_again_after_a_reboot() {
    let app = spawn_app().await;
    let (radio, a) = app
        .connected(rebooting_in(10, Duration::from_millis(1500)))
        .await;
    let (code, _) = a.post_json("/api/device/reboot", json!({})).await;
    assert_eq!(code, 200);
    eventually(secs(8), "the link is down for the reboot", async || {
        a.status().await["connected"] == false
    })
    .await;
    let b = app.browser();
    let (code, body) = b.connect(&radio).await;
    let s = b.status().await;
    // The reboot lasts 1.5 s, within the 3 s connect timeout: connect waits it out.
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("connected")),
        "{body}"
    );
    assert_eq!(
        s["connected"], true,
        "connect said connected, status did not: {s}"
    );
    // A session already on the radio, connecting again during a second reboot, too.
    let (code, _) = a.post_json("/api/device/reboot", json!({})).await;
    assert_eq!(code, 200);
    eventually(secs(8), "the link is down again", async || {
        a.status().await["connected"] == false
    })
    .await;
    let (code, body) = a.connect(&radio).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("connected")),
        "{body}"
    );
    assert_eq!(a.status().await["connected"], true);
}

#[tokio::test]
async fn the_sessions_routes_answer_the_originals_fields_and_json_errors() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let (code, body) = a
        .post_json(
            "/api/sessions/create",
            json!({"name": " Home ", "host": "127.0.0.1", "port": radio.addr().port()}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (&body["name"], &body["success"]),
        (&json!("Home"), &json!(true))
    );
    let list = a.get_json("/api/sessions").await.1;
    let s = &list["sessions"][0];
    for k in [
        "name",
        "host",
        "port",
        "connected",
        "last_connected",
        "beacon_enabled",
        "autoresponder_enabled",
        "auto_connect",
        "session_id",
        "created_at",
    ] {
        assert!(s.get(k).is_some(), "sessions[].{k}: {s}");
    }
    assert!(is_python_time(&s["created_at"]), "{s}");
    assert_eq!(s["port"], radio.addr().port());
    let (code, e) = a
        .post_json(
            "/api/sessions/create",
            json!({"name": "Home", "host": "127.0.0.1"}),
        )
        .await;
    assert_eq!(
        (code, e["error"].as_str()),
        (400, Some("Session name already exists"))
    );
    let (code, e) = a
        .post_json("/api/sessions/create", json!({"host": "127.0.0.1"}))
        .await;
    assert_eq!(
        (code, e["error"].as_str()),
        (400, Some("Session name is required"))
    );
    let (code, c) = a.post_json("/api/sessions/Home/connect", json!({})).await;
    assert_eq!(code, 200, "{c}");
    has_all(
        &c,
        &[
            "status",
            "session_name",
            "session_id",
            "myNode",
            "nodeCount",
        ],
    );
    assert_eq!(c["nodeCount"], 10);
    let (code, st) = a.get_json("/api/status?session_name=Home").await;
    assert_eq!((code, &st["connected"]), (200, &json!(true)));
    let (_, sent) = a
        .post_json(
            "/api/send",
            json!({"text": "kept words", "session_name": "Home"}),
        )
        .await;
    assert_eq!(sent["status"], "sent", "{sent}");
    eventually(secs(3), "the kept radio's text is stored", async || {
        let (_, m) = a.get_json("/api/messages?session_name=Home").await;
        m.as_array()
            .is_some_and(|l| l.iter().any(|x| x["text"] == "kept words"))
    })
    .await;
    let (code, d) = a
        .post_json("/api/sessions/Home/disconnect", json!({}))
        .await;
    assert_eq!((code, d), (200, json!({"status": "disconnected"})));
    // As the original, the stored history answers with the radio down too.
    let (code, m) = a.get_json("/api/messages?session_name=Home").await;
    assert_eq!(code, 200);
    assert!(
        m.as_array()
            .unwrap()
            .iter()
            .any(|x| x["text"] == "kept words"),
        "{m}"
    );
    let (code, p) = a.get_json("/api/packets?session_name=Home").await;
    assert_eq!(code, 200);
    let texts: Vec<&Value> = p.as_array().unwrap().iter().map(|x| &x["text"]).collect();
    assert!(texts.contains(&&json!("kept words")), "{p}");
    for route in ["connect", "disconnect", "delete", "update"] {
        let (code, e) = a
            .post_json(&format!("/api/sessions/Nope/{route}"), json!({}))
            .await;
        assert_eq!(
            (code, e["error"].as_str()),
            (404, Some("Session not found")),
            "{route}"
        );
    }
    let (code, d) = a.post_json("/api/sessions/Home/delete", json!({})).await;
    assert_eq!((code, d), (200, json!({"success": true})));
    assert_eq!(keys(&a.get_json("/api/sessions").await.1), ["sessions"]);
}

#[tokio::test]
async fn the_pages_settings_calls_without_a_session_name_reach_the_only_kept_radio() {
    let app = spawn_app().await;
    let (r1, r2) = (app.radio(quiet(0, 10)).await, app.radio(quiet(1, 10)).await);
    let a = app.browser();
    let create = async |name: &str, port: u16| {
        let body = json!({"name": name, "host": "127.0.0.1", "port": port});
        assert_eq!(a.post_json("/api/sessions/create", body).await.0, 200);
        let (code, c) = a
            .post_json(&format!("/api/sessions/{name}/connect"), json!({}))
            .await;
        assert_eq!(code, 200, "{c}");
    };
    create("One", r1.addr().port()).await;
    // The original's page reads and writes its settings with no session_name (one global
    // file there): here they are the radio's, and with one kept radio, that one's.
    let (code, _) = a.set_autoresponder(json!({"enabled": false})).await;
    assert_eq!(code, 200);
    let (_, named) = a.get_json("/api/autoresponder?session_name=One").await;
    assert_eq!(named["enabled"], false, "{named}");
    assert_eq!(a.autoresponder().await["enabled"], false);
    let (code, f) = a
        .set_message_filter(json!({"enabled": true, "node_ids": ["!00000abc"]}))
        .await;
    assert_eq!(
        (code, &f["filter"]["node_ids"]),
        (200, &json!(["!00000abc"]))
    );
    // With two kept radios it would be a guess: refused, nothing changed.
    create("Two", r2.addr().port()).await;
    let (code, e) = a.set_autoresponder(json!({"enabled": true})).await;
    assert_eq!((code, e["error"].as_str()), (400, Some("Not connected")));
    let (_, named) = a.get_json("/api/autoresponder?session_name=One").await;
    assert_eq!(named["enabled"], false);
    // The page opened as /?session=Two: its calls act on Two.
    let page = format!("{}/?session=Two", app.base);
    let r = a
        .post("/api/message-filter")
        .header("referer", &page)
        .json(&json!({"enabled": true, "portnums": ["POSITION_APP"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, two) = a.get_json("/api/message-filter?session_name=Two").await;
    let (_, one) = a.get_json("/api/message-filter?session_name=One").await;
    assert_eq!(
        (&two["portnums"], &one["portnums"]),
        (&json!(["POSITION_APP"]), &json!([]))
    );
    let r = a
        .get("/api/message-filter")
        .header("referer", &page)
        .send()
        .await
        .unwrap();
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["portnums"], json!(["POSITION_APP"]));
}
