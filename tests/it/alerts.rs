//! Alerts: each kind fires for the right node and once per episode, lists newest first in
//! `/api/alerts`, reaches a webhook on loopback as JSON (a test listener on 127.0.0.1:0),
//! refuses a webhook the allowlist refuses when the rule is saved (before any connect),
//! survives a restart, runs for a kept radio with no browser open, and shows live.

use meshdeck::proto::{pb, Message};
use meshdeck::sim::SimRadio;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

/// An app whose alert checks run every 50 ms and whose rule minutes last 200 ms.
async fn fast_app() -> TestApp {
    spawn_app_with(|c| {
        c.alert_check_ms = 50;
        c.alert_minute_ms = 200;
    })
    .await
}

async fn fast_connected(nodes: usize) -> (TestApp, SimRadio, Browser) {
    let app = fast_app().await;
    let (radio, b) = app.connected(quiet(0, nodes)).await;
    follows().await;
    (app, radio, b)
}

/// The alerts follow a new link within a tenth of a second.
async fn follows() {
    tokio::time::sleep(ms(300)).await;
}

async fn add_rule(b: &Browser, rule: Value) -> Value {
    let (code, body) = b.post_json("/api/alerts/rules", rule).await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn fired(b: &Browser, path: &str) -> Vec<Value> {
    let (code, body) = b.get_json(path).await;
    assert_eq!(code, 200, "{body}");
    body.as_array().unwrap().clone()
}

async fn alerts(b: &Browser) -> Vec<Value> {
    fired(b, "/api/alerts").await
}

/// Waits until `/api/alerts` holds `n` alerts and gives them.
async fn until_alerts(b: &Browser, n: usize) -> Vec<Value> {
    eventually(secs(5), &format!("{n} alerts"), async || {
        let list = alerts(b).await;
        if list.len() == n {
            Ok(list)
        } else {
            Err(format!("{} alerts: {list:?}", list.len()))
        }
    })
    .await
}

/// Long enough for a few checks: what has not fired by then does not.
async fn settle() {
    tokio::time::sleep(ms(400)).await;
}

fn text(from: u32, to: u32, id: u32, t: &str) -> pb::MeshPacket {
    heard_text(from, to, id, t)
}

fn battery(from: u32, id: u32, level: u32) -> pb::MeshPacket {
    let t = pb::Telemetry {
        time: 0,
        variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
            battery_level: Some(level),
            voltage: Some(3.7),
            ..Default::default()
        })),
    };
    heard(
        from,
        0xffff_ffff,
        id,
        pb::PortNum::TelemetryApp,
        t.encode_to_vec(),
    )
}

fn id(n: u32) -> String {
    format!("!{n:08x}")
}

fn nodes_of(list: &[Value]) -> Vec<String> {
    list.iter()
        .map(|a| a["node"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn dm_alerts_fire_per_direct_text_to_my_node_and_list_newest_first() {
    let (_app, radio, b) = fast_connected(6).await;
    let me = radio.my_node_num();
    let p = peers(&radio);
    let any = add_rule(&b, json!({"kind": "dm"})).await;
    let from_a = add_rule(&b, json!({"kind": "dm", "node": id(p[0])})).await;
    assert_eq!(from_a["node"], json!(id(p[0])));
    radio.inject(text(p[0], me, 10, "hello there"));
    until_alerts(&b, 2).await;
    radio.inject(text(p[1], me, 11, "second"));
    radio.inject(text(p[0], p[2], 12, "not for me"));
    radio.inject(text(p[0], 0xffff_ffff, 13, "to everyone"));
    let list = until_alerts(&b, 3).await;
    settle().await;
    let list2 = alerts(&b).await;
    assert_eq!(list2.len(), 3, "{list2:?}");
    assert_eq!(list[0]["node"], json!(id(p[1])), "newest first");
    assert_eq!(list[0]["rule"], any["id"]);
    assert!(list[0]["message"].as_str().unwrap().ends_with(": second"));
    let ids: Vec<i64> = list.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let times: Vec<&str> = list.iter().map(|a| a["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    assert!(times[0].ends_with("+00:00"), "{times:?}");
    let from_a_fired: Vec<_> = list.iter().filter(|a| a["rule"] == from_a["id"]).collect();
    assert_eq!(from_a_fired.len(), 1);
    assert_eq!(from_a_fired[0]["node"], json!(id(p[0])));
    assert!(list
        .iter()
        .all(|a| a["kind"] == "dm" && a["acknowledged"] == false));
}

#[tokio::test]
async fn keyword_alerts_fire_for_channel_texts_holding_the_word_in_any_case() {
    let (_app, radio, b) = fast_connected(6).await;
    let me = radio.my_node_num();
    let p = peers(&radio);
    add_rule(&b, json!({"kind": "keyword", "text": "Help"})).await;
    add_rule(&b, json!({"kind": "keyword", "text": "fire", "node": p[1]})).await;
    radio.inject(text(p[0], 0xffff_ffff, 20, "we need HELP at the hut"));
    radio.inject(text(p[0], me, 21, "help, but a DM"));
    radio.inject(text(p[0], 0xffff_ffff, 22, "all fine, fire is out"));
    radio.inject(text(p[1], 0xffff_ffff, 23, "FIRE on the ridge"));
    let list = until_alerts(&b, 2).await;
    settle().await;
    assert_eq!(alerts(&b).await.len(), 2);
    assert_eq!(nodes_of(&list), [id(p[1]), id(p[0])]);
    assert!(list.iter().all(|a| a["kind"] == "keyword"));
    assert!(list[1]["message"]
        .as_str()
        .unwrap()
        .contains("we need HELP at the hut"));
}

#[tokio::test]
async fn new_node_alerts_fire_once_per_node_never_seen_and_not_for_the_node_db() {
    let (_app, radio, b) = fast_connected(8).await;
    let p = peers(&radio);
    add_rule(&b, json!({"kind": "new_node"})).await;
    settle().await;
    assert!(
        alerts(&b).await.is_empty(),
        "the node DB at connect is known"
    );
    radio.inject(text(p[0], 0xffff_ffff, 30, "an old friend"));
    let stranger = 0x0abc_1234;
    radio.inject(battery(stranger, 31, 80));
    let list = until_alerts(&b, 1).await;
    radio.inject(battery(stranger, 32, 79));
    radio.inject(text(stranger, 0xffff_ffff, 33, "hi again"));
    settle().await;
    assert_eq!(alerts(&b).await.len(), 1);
    assert_eq!(list[0]["node"], json!(id(stranger)));
    assert_eq!(list[0]["kind"], "new_node");
}

#[tokio::test]
async fn battery_alerts_fire_once_below_the_percent_and_again_after_a_recovery() {
    let (_app, radio, b) = fast_connected(6).await;
    let p = peers(&radio);
    let (a, other) = (p[0], p[1]);
    radio.inject(battery(a, 40, 60));
    radio.inject(battery(other, 41, 60));
    eventually(secs(5), "the battery is known", async || {
        b.node(&id(a)).await.1["batteryLevel"] == json!(60)
    })
    .await;
    add_rule(
        &b,
        json!({"kind": "battery_below", "node": id(a), "percent": 30}),
    )
    .await;
    settle().await;
    assert!(alerts(&b).await.is_empty());
    radio.inject(battery(other, 42, 5));
    radio.inject(battery(a, 43, 25));
    let list = until_alerts(&b, 1).await;
    assert_eq!(list[0]["node"], json!(id(a)), "only the rule's node");
    assert!(list[0]["message"]
        .as_str()
        .unwrap()
        .contains("battery at 25 % (below 30 %)"));
    radio.inject(battery(a, 44, 20));
    settle().await;
    radio.inject(battery(a, 45, 33));
    settle().await;
    assert_eq!(
        alerts(&b).await.len(),
        1,
        "once per episode, and 33 is within the hysteresis"
    );
    radio.inject(battery(a, 46, 29));
    settle().await;
    radio.inject(battery(a, 47, 36));
    settle().await;
    radio.inject(battery(a, 48, 28));
    until_alerts(&b, 2).await;
}

#[tokio::test]
async fn silence_alerts_fire_once_per_silence_and_again_after_the_node_is_heard() {
    // A rule's minute lasts 200 ms here: 2 minutes of silence are 400 ms.
    let (_app, radio, b) = fast_connected(6).await;
    let p = peers(&radio);
    let (a, other) = (p[0], p[1]);
    radio.inject(text(a, 0xffff_ffff, 50, "still here"));
    radio.inject(text(other, 0xffff_ffff, 51, "me too"));
    eventually(secs(5), "the packets are in", async || {
        b.packets().await.len() >= 2
    })
    .await;
    add_rule(
        &b,
        json!({"kind": "node_silent", "node": id(a), "minutes": 2}),
    )
    .await;
    let list = until_alerts(&b, 1).await;
    assert_eq!(list[0]["node"], json!(id(a)));
    assert!(
        list[0]["message"].as_str().unwrap().contains("silent for"),
        "{list:?}"
    );
    tokio::time::sleep(ms(800)).await;
    assert_eq!(alerts(&b).await.len(), 1, "once per silence");
    radio.inject(text(a, 0xffff_ffff, 52, "back"));
    let list = until_alerts(&b, 2).await;
    assert!(nodes_of(&list).iter().all(|n| *n == id(a)), "{list:?}");
}

/// A webhook receiver on loopback: answers `status` to every request and hands each
/// request (head and body) to the test.
async fn receiver(status: u16) -> (u16, tokio::sync::mpsc::Receiver<(String, Value)>) {
    receiver_on("127.0.0.1:0", status).await
}

async fn receiver_on(
    addr: &str,
    status: u16,
) -> (u16, tokio::sync::mpsc::Receiver<(String, Value)>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            let reply = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n");
                            let _ = s.write_all(reply.as_bytes()).await;
                            let v = serde_json::from_str(body).unwrap_or(Value::Null);
                            let _ = tx.send((head.to_string(), v)).await;
                            break;
                        }
                    }
                }
            });
        }
    });
    (port, rx)
}

async fn next_post(rx: &mut tokio::sync::mpsc::Receiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(secs(5), rx.recv())
        .await
        .expect("no webhook call")
        .unwrap()
}

#[tokio::test]
async fn a_kept_radio_with_no_browser_fires_alerts_to_a_loopback_webhook_as_json() {
    let app = fast_app().await;
    let radio = app.radio(quiet(0, 6)).await;
    let (port, mut posts) = receiver(204).await;
    let b = app.browser();
    let (code, body) = b
        .post_json(
            "/api/sessions/create",
            json!({"name": "Hill", "host": "127.0.0.1", "port": radio.addr().port(), "auto_connect": true}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    eventually(secs(5), "the kept radio is up", async || {
        b.get_json("/api/sessions").await.1["sessions"][0]["connected"] == json!(true)
    })
    .await;
    follows().await;
    let hook = format!("http://127.0.0.1:{port}/hook?x=1");
    let rule = add_rule(
        &b,
        json!({"session_name": "Hill", "kind": "dm", "webhook": hook}),
    )
    .await;
    assert_eq!(rule["webhook"], json!(hook));
    // Nobody's session holds the radio: only the kept radio does.
    assert!(b.status().await["connected"] != json!(true));
    let me = radio.my_node_num();
    let from = peers(&radio)[2];
    radio.inject(text(from, me, 60, "ping \"quoted\" <b>"));
    let (head, v) = next_post(&mut posts).await;
    assert!(head.starts_with("POST /hook?x=1 HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(head.contains(&format!("Host: 127.0.0.1:{port}")), "{head}");
    assert_eq!(v["kind"], "dm");
    assert_eq!(v["node"], json!(id(from)));
    assert_eq!(v["radio"], json!(me.to_string()));
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .ends_with("ping \"quoted\" <b>"),
        "{v}"
    );
    let listed = fired(&b, "/api/alerts?session_name=Hill").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], v["id"]);
    assert_eq!(listed[0]["time"], v["time"]);
    eventually(secs(5), "the delivery is noted", async || {
        let (_, rules) = b.get_json("/api/alerts/rules?session_name=Hill").await;
        rules[0]["lastDelivery"] == json!("ok")
    })
    .await;
}

#[tokio::test]
async fn a_failing_webhook_is_tried_twice_and_the_rule_says_so() {
    let (_app, radio, b) = fast_connected(6).await;
    let (port, mut posts) = receiver(500).await;
    add_rule(
        &b,
        json!({"kind": "dm", "webhook": format!("http://127.0.0.1:{port}/")}),
    )
    .await;
    radio.inject(text(peers(&radio)[0], radio.my_node_num(), 70, "x"));
    next_post(&mut posts).await;
    next_post(&mut posts).await;
    eventually(secs(5), "the failure is noted", async || {
        let (_, rules) = b.get_json("/api/alerts/rules").await;
        rules[0]["lastDelivery"] == json!("failed: HTTP 500")
    })
    .await;
    let (_, html) = b.get_html("/alerts").await;
    assert!(html.contains("last delivery failed: HTTP 500"));
    assert!(
        tokio::time::timeout(ms(1500), posts.recv()).await.is_err(),
        "one retry only"
    );
}

#[tokio::test]
async fn a_webhook_the_allowlist_refuses_is_refused_when_the_rule_is_saved() {
    let (_app, _radio, b) = fast_connected(4).await;
    // A documentation address (TEST-NET-1): refused by the default allowlist. The check
    // comes before any connect, so nothing leaves for it.
    let (code, body) = b
        .post_json(
            "/api/alerts/rules",
            json!({"kind": "dm", "webhook": "http://192.0.2.1/hook"}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not an allowed"),
        "{body}"
    );
    let (code, body) = b
        .post_json(
            "/api/alerts/rules",
            json!({"kind": "dm", "webhook": "https://127.0.0.1/"}),
        )
        .await;
    assert_eq!(code, 400);
    assert!(
        body["error"].as_str().unwrap().contains("http://"),
        "{body}"
    );
    assert!(
        fired(&b, "/api/alerts/rules").await.is_empty(),
        "nothing stored"
    );
}

#[tokio::test]
async fn bad_rules_get_clear_400s() {
    let app = fast_app().await;
    let lone = app.browser();
    let (code, body) = lone
        .post_json("/api/alerts/rules", json!({"kind": "dm"}))
        .await;
    assert_eq!((code, body), (400, json!({"error": "Not connected"})));
    assert_eq!(lone.get_json("/api/alerts").await, (200, json!([])));
    assert_eq!(lone.get_json("/api/alerts/rules").await, (200, json!([])));
    let (_radio, b) = app.connected(quiet(0, 4)).await;
    for (rule, says) in [
        (json!({}), "kind is required"),
        (json!({"kind": "flood"}), "kind must be one of"),
        (json!({"kind": "node_silent"}), "minutes"),
        (
            json!({"kind": "node_silent", "minutes": 0}),
            "from 1 to 10080",
        ),
        (
            json!({"kind": "node_silent", "minutes": 10081}),
            "from 1 to 10080",
        ),
        (
            json!({"kind": "node_silent", "minutes": 1.5}),
            "minutes must be",
        ),
        (
            json!({"kind": "battery_below", "percent": 101}),
            "from 1 to 100",
        ),
        (
            json!({"kind": "battery_below", "percent": -3}),
            "percent must be",
        ),
        (json!({"kind": "keyword", "text": ""}), "text"),
        (
            json!({"kind": "keyword", "text": "x".repeat(101)}),
            "at most 100",
        ),
        (json!({"kind": "dm", "node": "zz"}), "node id"),
        (json!({"kind": "dm", "node": [1]}), "node must be"),
        (
            json!({"kind": "dm", "webhook": "ftp://127.0.0.1/"}),
            "http://",
        ),
        (
            json!({"kind": "dm", "webhook": "http://127.0.0.1:99999/"}),
            "port",
        ),
    ] {
        let (code, body) = b.post_json("/api/alerts/rules", rule.clone()).await;
        assert_eq!(code, 400, "{rule} gave {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{rule} gave {body}"
        );
    }
    let r = b
        .post("/api/alerts/rules")
        .body("{\"kind\":\"dm\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = b
        .http
        .delete(b.url("/api/alerts/rules/999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let (code, _) = b.post_json("/api/alerts/12345/ack", json!({})).await;
    assert_eq!(code, 404);
    assert!(fired(&b, "/api/alerts/rules").await.is_empty());
}

#[tokio::test]
async fn rules_and_alerts_survive_a_restart_and_can_be_muted_acknowledged_and_deleted() {
    let app = fast_app().await;
    let (radio, b) = app.connected(quiet(0, 6)).await;
    follows().await;
    let me = radio.my_node_num();
    let p = peers(&radio);
    let rule = add_rule(&b, json!({"kind": "dm"})).await;
    radio.inject(text(p[0], me, 80, "before"));
    until_alerts(&b, 1).await;
    let app = app.restart().await;
    let b = app.connected_to(&radio).await;
    follows().await;
    let rules = fired(&b, "/api/alerts/rules").await;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["id"], rule["id"]);
    assert_eq!(alerts(&b).await.len(), 1);
    // Muted: nothing recorded.
    let rid = rule["id"].as_i64().unwrap();
    let (code, _) = b
        .post_json(
            &format!("/api/alerts/rules/{rid}/mute"),
            json!({"minutes": 60}),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        fired(&b, "/api/alerts/rules").await[0]["muted"],
        json!(true)
    );
    radio.inject(text(p[0], me, 81, "while muted"));
    settle().await;
    assert_eq!(alerts(&b).await.len(), 1);
    let (code, _) = b
        .post_json(&format!("/api/alerts/rules/{rid}/unmute"), json!({}))
        .await;
    assert_eq!(code, 200);
    radio.inject(text(p[0], me, 82, "after"));
    let list = until_alerts(&b, 2).await;
    let aid = list[0]["id"].as_i64().unwrap();
    let (code, _) = b
        .post_json(&format!("/api/alerts/{aid}/ack"), json!({}))
        .await;
    assert_eq!(code, 200);
    let list = alerts(&b).await;
    assert_eq!(
        (
            list[0]["acknowledged"].clone(),
            list[1]["acknowledged"].clone()
        ),
        (json!(true), json!(false))
    );
    assert_eq!(b.post_json("/api/alerts/ack", json!({})).await.0, 200);
    assert!(alerts(&b).await.iter().all(|a| a["acknowledged"] == true));
    let r = b
        .http
        .delete(b.url(&format!("/api/alerts/rules/{rid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(fired(&b, "/api/alerts/rules").await.is_empty());
    assert_eq!(alerts(&b).await.len(), 2, "the alerts stay");
}

#[tokio::test]
async fn the_alerts_page_works_with_forms_and_htmx_and_a_fired_alert_reaches_open_tabs_live() {
    let (_app, radio, b) = fast_connected(6).await;
    let (code, html) = b.get_html("/alerts").await;
    assert_eq!(code, 200);
    assert!(html.contains("New rule") && html.contains("/assets/notify.js"));
    let r = b
        .post("/alerts/rule")
        .form(&[
            ("kind", "keyword"),
            ("text", "storm"),
            ("node", ""),
            ("minutes", ""),
            ("percent", ""),
            ("webhook", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/alerts");
    let r = b
        .hx_post("/alerts/rule", &[("kind", "dm"), ("minutes", "0")])
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("from 1 to 10080"));
    let other = b.get("/assets/notify.js").send().await.unwrap();
    assert_eq!(other.status(), 200);
    assert!(other.text().await.unwrap().contains("requestPermission"));
    let mut stream = b.events("/events").await;
    tokio::time::sleep(ms(100)).await;
    radio.inject(text(
        peers(&radio)[0],
        0xffff_ffff,
        90,
        "a STORM is coming <i>",
    ));
    let mut got = read_until(&mut stream, "1 alert</a>", secs(5)).await;
    let got = got.split_off(got.find("event: alert").unwrap());
    assert!(got.contains("1 alert"), "{got}");
    assert!(got.contains("a STORM is coming &lt;i&gt;"), "{got}");
    let list = until_alerts(&b, 1).await;
    let aid = list[0]["id"].as_i64().unwrap().to_string();
    let r = b.hx_post("/alerts/ack", &[("id", &aid)]).await;
    assert_eq!(r.status(), 200);
    let panel = r.text().await.unwrap();
    assert!(
        panel.contains("Alert acknowledged.") && panel.contains("0 unacknowledged"),
        "{panel}"
    );
    let rules = fired(&b, "/api/alerts/rules").await;
    let rid = rules[0]["id"].as_i64().unwrap().to_string();
    let r = b
        .hx_post("/alerts/mute", &[("id", &rid), ("for", "forever")])
        .await;
    assert!(r.text().await.unwrap().contains("muted until unmuted"));
    let r = b
        .post("/alerts/delete")
        .form(&[("id", rid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(fired(&b, "/api/alerts/rules").await.is_empty());
}

#[tokio::test]
async fn every_page_of_the_radio_shows_its_unacknowledged_alerts_and_only_operators_change_them() {
    let app = fast_app().await;
    let (radio, admin) = app.connected(quiet(0, 6)).await;
    follows().await;
    let store = &app.app.state.store;
    let hash = meshdeck::auth::hash("correct horse battery").unwrap();
    store
        .put_user("vic", meshdeck::auth::Role::Viewer, &hash)
        .await
        .unwrap();
    store
        .put_user("otto", meshdeck::auth::Role::Operator, &hash)
        .await
        .unwrap();
    app.app.state.refresh_users().await;
    let otto = app.browser();
    assert_eq!(otto.login("otto", "correct horse battery").await, 303);
    assert_eq!(otto.connect(&radio).await.0, 200);
    let vic = app.browser();
    assert_eq!(vic.login("vic", "correct horse battery").await, 303);
    assert_eq!(vic.connect(&radio).await.0, 200);
    drop(admin);
    let (code, _) = vic
        .post_json("/api/alerts/rules", json!({"kind": "dm"}))
        .await;
    assert_eq!(code, 403, "a viewer reads alerts, never changes rules");
    add_rule(&otto, json!({"kind": "dm"})).await;
    radio.inject(text(peers(&radio)[0], radio.my_node_num(), 95, "psst"));
    until_alerts(&vic, 1).await;
    for path in ["/nodes", "/messages", "/alerts"] {
        let (code, html) = vic.get_html(path).await;
        assert_eq!(code, 200);
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse("#status #alerts-pill a.alert-pill").unwrap();
        let pill = doc
            .select(&sel)
            .next()
            .unwrap_or_else(|| panic!("no pill on {path}"));
        assert_eq!(pill.text().collect::<String>(), "1 alert", "{path}");
        assert_eq!(pill.value().attr("href"), Some("/alerts"));
    }
    let (_, html) = vic.get_html("/alerts").await;
    assert!(
        html.contains("aria-current=\"page\">Alerts<"),
        "the Alerts tab is current"
    );
    assert!(
        !html.contains("Add rule") && !html.contains(">Acknowledge<"),
        "a viewer gets no forms"
    );
    let (code, _) = vic.post_json("/api/alerts/ack", json!({})).await;
    assert_eq!(code, 403);
    assert_eq!(otto.post_json("/api/alerts/ack", json!({})).await.0, 200);
    let (_, html) = vic.get_html("/nodes").await;
    assert!(html.contains("0 alerts"), "acknowledged: the pill hides");
}

#[tokio::test]
async fn an_any_node_silence_rule_reports_only_silences_that_start_while_it_watches() {
    let (_app, radio, b) = fast_connected(8).await;
    let p = peers(&radio);
    add_rule(&b, json!({"kind": "node_silent", "minutes": 2})).await;
    settle().await;
    assert!(
        alerts(&b).await.is_empty(),
        "nodes silent already are not reported"
    );
    radio.inject(text(p[3], 0xffff_ffff, 100, "here for a moment"));
    let list = until_alerts(&b, 1).await;
    assert_eq!(list[0]["node"], json!(id(p[3])));
    tokio::time::sleep(ms(600)).await;
    assert_eq!(alerts(&b).await.len(), 1);
}

#[tokio::test]
async fn a_silence_told_before_a_restart_is_not_told_again() {
    let app = fast_app().await;
    let (radio, b) = app.connected(quiet(0, 6)).await;
    follows().await;
    let node = peers(&radio)[1];
    // The node DB says when it was last heard (a while ago): silent for over 2 minutes.
    add_rule(
        &b,
        json!({"kind": "node_silent", "node": id(node), "minutes": 2}),
    )
    .await;
    until_alerts(&b, 1).await;
    let app = app.restart().await;
    let b = app.connected_to(&radio).await;
    follows().await;
    settle().await;
    assert_eq!(alerts(&b).await.len(), 1, "the same silence");
    radio.inject(text(node, 0xffff_ffff, 101, "back"));
    until_alerts(&b, 2).await;
}

#[tokio::test]
async fn a_radio_disconnected_and_connected_again_is_followed_again_at_once() {
    // Checks a minute apart: the old link's task must go without waiting for one.
    let app = spawn_app_with(|c| c.alert_check_ms = 60_000).await;
    let (radio, b) = app.connected(quiet(0, 6)).await;
    follows().await;
    add_rule(&b, json!({"kind": "dm"})).await;
    assert_eq!(b.disconnect().await.0, 200);
    assert_eq!(b.connect(&radio).await.0, 200);
    follows().await;
    radio.inject(text(peers(&radio)[0], radio.my_node_num(), 110, "again"));
    until_alerts(&b, 1).await;
}

#[tokio::test]
async fn the_allowlist_is_checked_again_before_each_delivery() {
    let Ok(probe) = TcpListener::bind("[::1]:0").await else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    drop(probe);
    let mut app = fast_app().await;
    let (radio, b) = app.connected(quiet(0, 6)).await;
    let (port, mut posts) = receiver_on("[::1]:0", 204).await;
    add_rule(
        &b,
        json!({"kind": "dm", "webhook": format!("http://[::1]:{port}/")}),
    )
    .await;
    // Started again allowing 127.0.0.1 alone: the stored webhook at ::1 is refused now.
    app.config.allowed_radios = "127.0.0.1".parse().unwrap();
    let app = app.restart().await;
    let b = app.connected_to(&radio).await;
    follows().await;
    radio.inject(text(peers(&radio)[0], radio.my_node_num(), 120, "x"));
    until_alerts(&b, 1).await;
    eventually(secs(5), "the refusal is noted", async || {
        let (_, rules) = b.get_json("/api/alerts/rules").await;
        let d = rules[0]["lastDelivery"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if d.contains("not an allowed") {
            Ok(())
        } else {
            Err(d)
        }
    })
    .await;
    assert!(
        posts.try_recv().is_err(),
        "nothing reached the refused address"
    );
}
