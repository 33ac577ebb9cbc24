//! Kept radios: `/api/sessions` as the original's newer API has it, a radio that runs and
//! records with no browser, and a restart that brings back kept radios and browser sessions.

use std::time::Duration;

use meshdeck::proto::pb;
use meshdeck::sim::SimConfig;
use serde_json::{json, Value};

use crate::helpers::*;

fn radio_cfg(index: u32) -> SimConfig {
    SimConfig {
        text_interval: Duration::from_millis(100),
        ..quiet(index, 10)
    }
}

async fn create(b: &Browser, name: &str, port: u16, auto_connect: bool) -> (u16, Value) {
    let body =
        json!({"name": name, "host": "127.0.0.1", "port": port, "auto_connect": auto_connect});
    b.post_json("/api/sessions/create", body).await
}

async fn kept(b: &Browser) -> Vec<Value> {
    let (code, body) = b.get_json("/api/sessions").await;
    assert_eq!(code, 200);
    body["sessions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_sessions_routes_answer_as_the_original_does() {
    let app = spawn_app().await;
    let radio = app.radio(radio_cfg(0)).await;
    let port = radio.addr().port();
    let b = app.browser();
    assert_eq!(b.get_json("/api/sessions").await.1, json!({"sessions": []}));
    let (code, body) = b
        .post_json("/api/sessions/create", json!({"host": "127.0.0.1"}))
        .await;
    assert_eq!(
        (code, body),
        (400, json!({"error": "Session name is required"}))
    );
    let (code, body) = b
        .post_json("/api/sessions/create", json!({"name": "Home"}))
        .await;
    assert_eq!((code, body), (400, json!({"error": "Host is required"})));
    let (code, body) = create(&b, " Home ", port, false).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["name"].clone(), body["success"].clone()),
        (json!("Home"), json!(true))
    );
    let id = body["session_id"].as_str().unwrap().to_string();
    assert!(
        id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{id}"
    );
    let (code, body) = create(&b, "Home", port, false).await;
    assert_eq!(
        (code, body),
        (400, json!({"error": "Session name already exists"}))
    );
    let list = kept(&b).await;
    assert_eq!(list.len(), 1);
    let k = &list[0];
    for (field, want) in [
        ("name", json!("Home")),
        ("host", json!("127.0.0.1")),
        ("port", json!(port)),
        ("session_id", json!(id)),
        ("auto_connect", json!(false)),
        ("connected", json!(false)),
        ("last_connected", Value::Null),
        ("beacon_enabled", json!(false)),
    ] {
        assert_eq!(k[field], want, "{field} of {k}");
    }
    assert!(
        k["created_at"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{k}"
    );
    assert_eq!(radio.connections_accepted(), 0, "create does not connect");
    let nope = json!({"error": "Session not found"});
    assert_eq!(
        b.post_json("/api/sessions/Nope/connect", json!({})).await,
        (404, nope.clone())
    );
    assert_eq!(
        b.post_json("/api/sessions/Home/disconnect", json!({}))
            .await,
        (404, nope.clone())
    );
    let (code, body) = b.post_json("/api/sessions/Home/connect", json!({})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "connected");
    assert_eq!(
        (body["session_name"].clone(), body["session_id"].clone()),
        (json!("Home"), json!(id))
    );
    assert_eq!(body["myNode"]["num"], json!(radio.my_node_num()));
    assert_eq!(
        body["nodeCount"],
        json!(10),
        "the own node counts, as in the original"
    );
    let k = &kept(&b).await[0];
    assert_eq!(k["connected"], true);
    assert!(k["last_connected"].is_string(), "{k}");
    let r = b
        .post("/api/sessions/Home/update")
        .body("auto_connect=true")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415, "update wants JSON");
    let (code, body) = b
        .post_json(
            "/api/sessions/Home/update",
            json!({"auto_connect": true, "beacon_enabled": true}),
        )
        .await;
    assert_eq!((code, body), (200, json!({"success": true})));
    let k = &kept(&b).await[0];
    assert_eq!(
        (k["auto_connect"].clone(), k["beacon_enabled"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        b.post_json("/api/sessions/Nope/update", json!({})).await,
        (404, nope.clone())
    );
    let (code, body) = b
        .post_json("/api/sessions/Home/disconnect", json!({}))
        .await;
    assert_eq!((code, body), (200, json!({"status": "disconnected"})));
    eventually(secs(3), "the radio's link closes", async || {
        radio.connections_open() == 0
    })
    .await;
    assert_eq!(
        b.post_json("/api/sessions/Nope/delete", json!({})).await,
        (404, nope)
    );
    let (code, body) = b.post_json("/api/sessions/Home/delete", json!({})).await;
    assert_eq!((code, body), (200, json!({"success": true})));
    assert!(kept(&b).await.is_empty());
}

#[tokio::test]
async fn a_kept_radio_runs_with_no_browser_answers_ping_and_records_what_it_hears() {
    let app = spawn_app_with(|c| c.text_interval_ms = 150).await;
    let radio = app.radio(radio_cfg(0)).await;
    let admin = app.browser();
    assert_eq!(
        create(&admin, "Hill", radio.addr().port(), false).await.0,
        200
    );
    assert_eq!(
        admin
            .post_json("/api/sessions/Hill/connect", json!({}))
            .await
            .0,
        200
    );
    drop(admin);
    // Nobody is attached; the radio keeps its one link.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(radio.connections_open(), 1);
    let me = radio.my_node_num();
    let sender = peers(&radio)[0];
    radio.inject(pb::MeshPacket {
        hop_start: 3,
        hop_limit: 2,
        ..heard_text(sender, me, 4242, "ping")
    });
    eventually(
        secs(6),
        "the kept radio's auto-responder answers",
        async || {
            sent_texts(&radio)
                .iter()
                .any(|t| t.0 == sender && t.2.starts_with("pong"))
        },
    )
    .await;
    // A script that comes later finds the text and the reply in the radio's history.
    let script = app.browser();
    let msgs = eventually(secs(3), "the ping and the pong stored", async || {
        let (code, msgs) = script.get_json("/api/messages?session_name=Hill").await;
        let both = msgs.as_array().is_some_and(|l| {
            l.iter().any(|m| m["text"] == "ping")
                && l.iter()
                    .any(|m| m["text"].as_str().is_some_and(|t| t.starts_with("pong")))
        });
        if code == 200 && both {
            Ok(msgs)
        } else {
            Err(format!("{code} {msgs}"))
        }
    })
    .await;
    let texts: Vec<&str> = msgs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"ping"), "{msgs}");
    assert!(texts.iter().any(|t| t.starts_with("pong")), "{msgs}");
    let (code, st) = script.get_json("/api/status?session_name=Hill").await;
    assert_eq!((code, st["connected"].clone()), (200, json!(true)));
    let (code, body) = script.get_json("/api/status?session_name=Nope").await;
    assert_eq!((code, body), (404, json!({"error": "Session not found"})));
    // Its own automation is addressed by name too.
    let (code, r) = script
        .get_json("/api/autoresponder?session_name=Hill")
        .await;
    assert_eq!(code, 200);
    assert_eq!(r["rules"][0]["trigger"], "ping");
}

#[tokio::test]
async fn after_a_restart_kept_radios_reconnect_and_sessions_are_attached_again() {
    let app = spawn_app_with(|c| c.persist_sessions = true).await;
    let kept_radio = app.radio(radio_cfg(0)).await;
    let other = app.radio(radio_cfg(1)).await;
    let admin = app.browser();
    assert_eq!(
        create(&admin, "Base", kept_radio.addr().port(), true)
            .await
            .0,
        200
    );
    eventually(secs(5), "auto_connect connects it", async || {
        kept(&admin).await[0]["connected"] == true
    })
    .await;
    let user = app.connected_to(&other).await;
    let jar = user.http.clone();
    let app = app.restart().await;
    // Nobody asks: the kept radio comes back by itself.
    eventually(
        secs(8),
        "the kept radio reconnects after the restart",
        async || kept_radio.connections_open() == 1 && kept_radio.connections_accepted() == 2,
    )
    .await;
    let fresh = app.browser();
    eventually(secs(5), "the API says it is connected", async || {
        kept(&fresh).await[0]["connected"] == true
    })
    .await;
    // The browser session comes back attached to its radio, with no reconnect click.
    let user = Browser {
        http: jar,
        base: app.base.clone(),
    };
    let st = user.status().await;
    assert_eq!(st["connected"], true, "{st}");
    assert_eq!(st["myNode"]["num"], json!(other.my_node_num()));
    assert_eq!(other.connections_accepted(), 2);
}

#[tokio::test]
async fn the_radios_page_keeps_opens_and_deletes_a_radio() {
    let app = spawn_app().await;
    let radio = app.radio(radio_cfg(0)).await;
    let b = app.browser();
    let port = radio.addr().port().to_string();
    let form = [
        ("name", "Ridge <i>1</i>"),
        ("host", "127.0.0.1"),
        ("port", port.as_str()),
        ("auto_connect", "1"),
    ];
    let r = b.hx_post("/radios/create", &form).await;
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Ridge &lt;i&gt;1&lt;/i&gt;"), "{html}");
    eventually(secs(5), "the kept radio connects", async || {
        let (_, html) = b.get_html("/radios").await;
        html.contains(r#"data-state="connected""#)
    })
    .await;
    // Open attaches this browser's session to the kept radio's one link.
    let name = "Ridge%20%3Ci%3E1%3C%2Fi%3E";
    let r = b
        .post(&format!("/radios/{name}/open"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        b.status().await["myNode"]["num"],
        json!(radio.my_node_num())
    );
    assert_eq!(radio.connections_accepted(), 1);
    let (_, status) = b.get_html("/status").await;
    assert!(
        status.contains("kept as Ridge &lt;i&gt;1&lt;/i&gt;"),
        "{status}"
    );
    let (_, page) = b.get_html("/radios").await;
    assert!(page.contains("1 session"), "{page}");
    // Deleting it lets go of the radio; this session still holds the link.
    let r = b.hx_post(&format!("/radios/{name}/delete"), &[]).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(kept(&b).await.is_empty());
    assert_eq!(b.status().await["connected"], true);
    assert_eq!(radio.connections_open(), 1);
    assert_eq!(b.disconnect().await.0, 200);
    eventually(
        secs(3),
        "the last holder gone, the link closes",
        async || radio.connections_open() == 0,
    )
    .await;
}

#[tokio::test]
async fn updates_before_a_first_connect_are_checked_merged_and_applied_once_connected() {
    let app = spawn_app().await;
    let radio = app.radio(radio_cfg(0)).await;
    let b = app.browser();
    assert_eq!(create(&b, "Far", radio.addr().port(), false).await.0, 200);
    let update = async |body: Value| b.post_json("/api/sessions/Far/update", body).await;
    let (code, body) = update(json!({"beacon_enabled": true, "beacon_message": ""})).await;
    assert_eq!(
        code, 400,
        "an empty beacon text that is on is refused before it is kept: {body}"
    );
    assert_eq!(
        update(json!({"beacon_message": "hello from {my_name}"}))
            .await
            .0,
        200
    );
    assert_eq!(update(json!({"beacon_enabled": true})).await.0, 200);
    assert_eq!(
        b.post_json("/api/sessions/Far/connect", json!({})).await.0,
        200
    );
    let (code, beacon) = b.get_json("/api/beacon?session_name=Far").await;
    assert_eq!(code, 200);
    assert_eq!(
        beacon["message_template"], "hello from {my_name}",
        "{beacon}"
    );
    assert_eq!(beacon["enabled"], true, "both updates count: {beacon}");
    // A name that is not a string is refused, not taken for the session's own radio.
    let (code, _) = b
        .post_json("/api/beacon/test", json!({"session_name": 7}))
        .await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn a_kept_radio_outside_the_allowlist_is_refused_and_never_reached() {
    let app = spawn_app_with(|c| c.allowed_radios = "127.0.0.1".parse().unwrap()).await;
    // A listener on a loopback alias that is not allowed observes any attempt.
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let b = app.browser();
    let body = json!({"name": "Far", "host": "127.0.0.2", "port": port, "auto_connect": true});
    let (code, body) = b.post_json("/api/sessions/create", body).await;
    assert_eq!(code, 403, "{body}");
    assert!(kept(&b).await.is_empty());
    let attempt = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(
        attempt.is_err(),
        "a TCP connection reached the refused address"
    );
}

#[tokio::test]
async fn a_kept_radio_host_is_checked_as_connect_checks_it() {
    let app = spawn_app().await;
    let b = app.browser();
    let body = json!({"name": "Six", "host": " [::1] ", "port": "4403"});
    let (code, body) = b.post_json("/api/sessions/create", body).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(kept(&b).await[0]["host"], "::1");
    for (host, port) in [
        ("a b", json!(4403)),
        ("127.0.0.1", json!(0)),
        ("127.0.0.1", json!("x")),
    ] {
        let body = json!({"name": "Bad", "host": host, "port": port});
        let (code, body) = b.post_json("/api/sessions/create", body).await;
        assert_eq!(code, 400, "{host} {port}: {body}");
    }
    assert_eq!(kept(&b).await.len(), 1);
}
