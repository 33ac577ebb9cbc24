//! Device settings and admin against the simulated radio: sections match, secrets never
//! leave, MQTT writes arrive as begin/set/commit, reboot and reconnect, guarded reset.

use std::time::Duration;

use meshdeck::proto::{pb, BROADCAST};
use meshdeck::sim::SimRadio;
use serde_json::{json, Value};

use crate::helpers::*;

fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Every field the radio holds appears with the same value (an enum by its name).
fn same_fields(section: &str, ours: &Value, theirs: &Value) {
    for (k, v) in theirs.as_object().unwrap() {
        if ["password", "wifi_psk", "private_key", "psk", "fixed_pin"].contains(&k.as_str()) {
            continue;
        }
        let got = &ours[camel(k)];
        match (got, v) {
            (Value::String(_), Value::Number(_)) => {} // an enum shown by name
            (Value::Object(_), Value::Object(_)) => {}
            _ => assert_eq!(got, v, "{section}.{k}"),
        }
    }
}

#[tokio::test]
async fn every_section_matches_the_radio_and_no_secret_leaves() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let (code, cfg) = a.get_json("/api/device/config").await;
    assert_eq!(code, 200);
    let local = serde_json::to_value(radio.local_config()).unwrap();
    for s in [
        "device",
        "position",
        "power",
        "network",
        "display",
        "lora",
        "bluetooth",
        "security",
    ] {
        assert!(cfg["localConfig"][s].is_object(), "missing {s}");
        same_fields(s, &cfg["localConfig"][s], &local[s]);
    }
    let modules = serde_json::to_value(radio.module_config()).unwrap();
    for s in [
        "mqtt",
        "serial",
        "external_notification",
        "store_forward",
        "range_test",
        "telemetry",
        "canned_message",
        "audio",
        "remote_hardware",
        "neighbor_info",
        "ambient_lighting",
        "detection_sensor",
        "paxcounter",
    ] {
        let ours = &cfg["moduleConfig"][camel(s)];
        assert!(ours.is_object(), "missing {s}");
        same_fields(s, ours, &modules[s]);
    }
    assert_eq!(cfg["localConfig"]["lora"]["region"], "EU_868");
    assert_eq!(cfg["localConfig"]["lora"]["modemPreset"], "LONG_FAST");
    assert_eq!(cfg["moduleConfig"]["mqtt"]["passwordSet"], true);
    let ch = cfg["channels"].as_array().unwrap();
    assert_eq!(ch.len(), 8);
    // The original's shape: role as the enum's number, the settings nested, the key's kind.
    assert_eq!(
        (ch[0]["role"].as_str(), ch[0]["settings"]["psk"].as_str()),
        (Some("1"), Some("default"))
    );
    assert_eq!(
        (
            ch[1]["settings"]["name"].as_str(),
            ch[1]["settings"]["psk"].as_str()
        ),
        (Some("Ops"), Some("custom"))
    );
    // The secrets, searched for in every body that shows settings.
    let secret_psk = radio.channels()[1].settings.clone().unwrap().psk;
    let psk_json = serde_json::to_string(&secret_psk).unwrap();
    let psk_hex: String = secret_psk.iter().map(|b| format!("{b:02x}")).collect();
    let (_, html) = a.get_html("/settings").await;
    let mqtt = a.mqtt_config().await;
    for body in [cfg.to_string(), html.clone(), mqtt.to_string()] {
        for secret in [
            "SIMSECRET-0",
            "SIMWIFIPSK",
            psk_json.as_str(),
            psk_hex.as_str(),
        ] {
            assert!(!body.contains(secret), "a secret leaked: {secret}");
        }
    }
    assert!(html.contains("data-section=\"paxcounter\""));
    assert!(html.contains("EU_868"));
}

#[tokio::test]
async fn an_mqtt_change_arrives_as_begin_set_commit_and_is_read_back_after_the_reboot() {
    let (_app, radio, a) = spawn_connected(rebooting_in(10, Duration::from_millis(500))).await;
    let form = [
        ("enabled", "1"),
        ("address", "broker.lan"),
        ("username", "club"),
        ("password", ""),
        ("root", "msh/club"),
        ("tls_enabled", "1"),
    ];
    let r = a.hx_post("/settings/mqtt", &form).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let admins = admin_requests(&radio);
    use pb::admin_message::PayloadVariant as A;
    let kinds: Vec<&str> = admins
        .iter()
        .filter_map(|m| match &m.payload_variant {
            Some(A::BeginEditSettings(_)) => Some("begin"),
            Some(A::SetModuleConfig(_)) => Some("set"),
            Some(A::CommitEditSettings(_)) => Some("commit"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec!["begin", "set", "commit"]);
    let set = admins.iter().find_map(|m| match &m.payload_variant {
        Some(A::SetModuleConfig(pb::ModuleConfig {
            payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(m)),
        })) => Some(m.clone()),
        _ => None,
    });
    let set = set.unwrap();
    assert_eq!(
        (
            set.address.as_str(),
            set.username.as_str(),
            set.root.as_str(),
            set.tls_enabled,
            set.encryption_enabled
        ),
        ("broker.lan", "club", "msh/club", true, false)
    );
    assert_eq!(
        set.password, "SIMSECRET-0",
        "an empty password field keeps the stored one"
    );
    assert_eq!(radio.module_config().mqtt.unwrap().root, "msh/club");
    // The radio reboots; the link comes back and re-reads the settings.
    let m = eventually(secs(15), "the settings re-read", async || {
        let m = a.mqtt_config().await;
        if m["root"] == "msh/club" && radio.connections_accepted() >= 2 {
            Ok(m)
        } else {
            Err(m)
        }
    })
    .await;
    assert_eq!(m["address"], "broker.lan");
    assert!(m.get("password").is_none());
    // JSON API too, and a bad value is refused before anything is sent.
    let before = admin_requests(&radio).len();
    let (code, _) = a
        .post_json("/api/device/mqtt/config", json!({"root": "x".repeat(40)}))
        .await;
    assert_eq!(code, 400);
    assert_eq!(admin_requests(&radio).len(), before);
}

#[tokio::test]
async fn a_reboot_shows_rebooting_then_connected_without_user_action() {
    let (_app, radio, a) = spawn_connected(rebooting_in(10, Duration::from_millis(1500))).await;
    let (code, body) = a.post_json("/api/device/reboot", json!({})).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("success")),
        "{body}"
    );
    let mut saw_rebooting = false;
    eventually(secs(20), "the radio to come back", async || {
        let s = a.status().await;
        if s["linkState"]
            .as_str()
            .is_some_and(|l| l.contains("rebooting"))
        {
            saw_rebooting = true;
            let (_, html) = a.get_html("/status").await;
            // The radio may be back already between the two requests.
            let back = a.status().await["connected"] == true;
            assert!(html.contains("rebooting") || back, "the status bar says so");
            Err(s)
        } else if saw_rebooting && s["connected"] == true {
            Ok(())
        } else {
            Err(s)
        }
    })
    .await;
    assert!(radio.connections_accepted() >= 2);
}

#[tokio::test]
async fn factory_reset_on_the_page_needs_the_typed_short_name_and_over_json_no_body() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let resets = |r: &SimRadio| {
        admin_requests(r)
            .iter()
            .filter(|m| {
                matches!(
                    m.payload_variant,
                    Some(pb::admin_message::PayloadVariant::FactoryResetConfig(_))
                )
            })
            .count()
    };
    let r = a
        .hx_post("/settings/admin/factory-reset", &[("confirm", "SB0")])
        .await;
    assert_eq!(r.status(), 400);
    let r = a.hx_post("/settings/admin/factory-reset", &[]).await;
    assert_eq!(r.status(), 400);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(resets(&radio), 0, "the page's form needs the typed name");
    let short = radio.nodes()[0].user.clone().unwrap().short_name;
    let r = a
        .hx_post("/settings/admin/factory-reset", &[("confirm", &short)])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(resets(&radio), 1);
    // The original's page posts no body at all (only its own session_name).
    a.until_connected(secs(10), "back after the reset").await;
    let r = a.post("/api/device/factory-reset").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "success");
    eventually(secs(3), "a second reset reached the radio", async || {
        resets(&radio) == 2
    })
    .await;
}

#[tokio::test]
async fn nodedb_reset_mqtt_health_and_store_forward_report() {
    let (_app, radio, a) = spawn_connected(live(30, 30.0)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (code, h) = a.mqtt_health().await;
    assert_eq!(code, 200);
    for k in [
        "last_mqtt_ago",
        "last_rf_ago",
        "mqtt_count",
        "rf_count",
        "mqtt_sent",
        "uptime",
        "health_status",
        "health_message",
        "mqtt_root",
    ] {
        assert!(h.get(k).is_some(), "missing {k}");
    }
    assert!(h["rf_count"].as_u64().unwrap() > 0);
    assert_eq!(h["mqtt_root"], "msh/EU_868");
    let sent: Vec<pb::MeshPacket> = radio.sent_packets();
    let mqtt = sent.iter().filter(|p| p.via_mqtt).count() as u64;
    let rf = sent.len() as u64 - mqtt;
    let (_, h) = a.mqtt_health().await;
    assert!(h["mqtt_count"].as_u64().unwrap() <= mqtt && h["rf_count"].as_u64().unwrap() <= rf);
    let (code, sf) = a.get_json("/api/store-forward/status").await;
    assert_eq!((code, sf["role"].as_str()), (200, Some("disabled")));
    let (code, _) = a.post_json("/api/reset-nodedb", json!({})).await;
    assert_eq!(code, 200);
    eventually(secs(5), "the radio's node DB to be reset", async || {
        radio.nodes().len() == 1
    })
    .await;
    // The dashboard forgets them too; they come back as they are heard.
    let (_, nodes) = a.get_json("/api/nodes").await;
    assert!(
        nodes.as_array().unwrap().len() < 5,
        "{} nodes still listed",
        nodes.as_array().unwrap().len()
    );
}

#[tokio::test]
async fn mqtt_health_counts_match_what_the_radio_sent() {
    let (_app, radio, a) = spawn_connected(quiet(0, 10)).await;
    let from = radio.nodes()[3].num;
    for (i, mqtt) in [true, false, false, true, false, false, true, false]
        .into_iter()
        .enumerate()
    {
        let id = 500 + i as u32;
        radio.inject(pb::MeshPacket {
            via_mqtt: mqtt,
            ..heard(from, BROADCAST, id, pb::PortNum::PositionApp, vec![])
        });
    }
    let sent = radio.sent_packets();
    let mqtt = sent.iter().filter(|p| p.via_mqtt).count() as u64;
    let rf = sent.len() as u64 - mqtt;
    let h = eventually(secs(5), "the counts to match", async || {
        let (_, h) = a.mqtt_health().await;
        if h["mqtt_count"] == mqtt && h["rf_count"] == rf {
            Ok(h)
        } else {
            Err(format!("{h} vs mqtt {mqtt} rf {rf}"))
        }
    })
    .await;
    assert_eq!(h["health_status"], "healthy");
}
