//! LAN hardening, round two: host names (DNS rebinding), the session cap, removed users,
//! connection and stream limits, the login throttle, forged logs, SVG text, a shared
//! browser, viewers and the connect form, link-local radios.

use std::process::Command;
use std::time::Duration;

use meshdeck::auth::Role;
use meshdeck::proto::{pb, Message, BROADCAST};
use serde_json::json;

use crate::helpers::*;

pub const PASS: &str = "correct horse battery";

pub async fn add_user(app: &TestApp, name: &str, role: Role) {
    let hash = meshdeck::auth::hash(PASS).unwrap();
    app.app
        .state
        .store
        .put_user(name, role, &hash)
        .await
        .unwrap();
    app.app.state.refresh_users().await;
}

/// A request with another `Host` header, as a DNS-rebinding page sends it.
fn as_host(
    b: &Browser,
    method: reqwest::Method,
    path: &str,
    host: &str,
) -> reqwest::RequestBuilder {
    b.http
        .request(method, b.url(path))
        .header(reqwest::header::HOST, host)
}

#[tokio::test]
async fn a_request_for_another_host_name_is_refused_and_does_nothing() {
    let app = spawn_app_with(|c| c.public_host = vec!["dash.example.lan".into()]).await;
    let radio = app.radio(quiet(0, 5)).await;
    let port = app.app.addr.port();
    let b = app.browser();
    let evil = format!("attacker.example:{port}");
    let body = json!({"host": "127.0.0.1", "port": radio.addr().port(), "takeover": true});
    let r = as_host(&b, reqwest::Method::POST, "/api/connect", &evil)
        .header("Origin", format!("http://{evil}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 421);
    let text = r.text().await.unwrap();
    assert!(text.contains("MESHDECK_PUBLIC_HOST"), "{text}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(radio.connections_accepted(), 0, "nothing was done");
    for path in ["/api/messages", "/api/status", "/", "/nodes"] {
        let r = as_host(&b, reqwest::Method::GET, path, &evil)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "{path}");
        assert!(
            r.headers().get("set-cookie").is_none(),
            "no session for {path}"
        );
    }
    // Its own names are answered: loopback, localhost, and the configured public name.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "dash.example.lan".to_string(),
    ] {
        let r = as_host(&b, reqwest::Method::GET, "/api/status", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    assert_eq!(b.connect(&radio).await.0, 200);
}

/// A radio that accepts a connection and then never says a word.
async fn silent_radio() -> (tokio::net::TcpListener, u16) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[tokio::test]
async fn pending_connects_and_logins_never_evict_a_connected_session() {
    let app = spawn_app_with(|c| {
        c.max_sessions = 1;
        c.connect_timeout = 2;
    })
    .await;
    let radio = app.radio(quiet(0, 5)).await;
    let (held, a) = (radio.clone(), app.browser());
    assert_eq!(a.connect(&held).await.0, 200);
    let (_silent, port) = silent_radio().await;
    let pending: Vec<_> = (0..10)
        .map(|_| {
            let b = app.browser();
            tokio::spawn(async move { b.connect_to("127.0.0.1", port).await.0 })
        })
        .collect();
    for p in pending {
        assert_eq!(p.await.unwrap(), 502, "a silent radio times out");
    }
    assert_eq!(
        a.status().await["connected"],
        true,
        "ten pending connects evicted nobody"
    );
    assert_eq!(radio.connections_open(), 1);
    // With logins: a viewer logging in ten times does not log the admin out.
    add_user(&app, "ada", Role::Admin).await;
    add_user(&app, "vic", Role::Viewer).await;
    let admin = app.browser();
    assert_eq!(admin.login("ada", PASS).await, 303);
    assert_eq!(admin.connect(&radio).await.0, 200);
    for _ in 0..10 {
        assert_eq!(app.browser().login("vic", PASS).await, 303);
    }
    let s = admin.status().await;
    assert_eq!(s["connected"], true, "{s}");
}

#[tokio::test]
async fn a_removed_or_demoted_user_loses_their_sessions_at_once() {
    let app = spawn_app().await;
    add_user(&app, "ada", Role::Admin).await;
    add_user(&app, "bob", Role::Admin).await;
    let radio = app.radio(quiet(0, 5)).await;
    let (ada, bob) = (app.browser(), app.browser());
    for (b, name) in [(&ada, "ada"), (&bob, "bob")] {
        assert_eq!(b.login(name, PASS).await, 303);
        assert_eq!(b.connect(&radio).await.0, 200);
    }
    let mut tab = ada.events("/events").await;
    assert_eq!(tab.status(), 200);
    // Removed from another process (the command line), as an admin would.
    assert!(app.app.state.store.remove_user("ada").await.unwrap());
    // Her open tab is told, then ends: nothing of the radio reaches it any more.
    read_until(&mut tab, "login ended", secs(5)).await;
    let rest = tokio::time::timeout(secs(5), async {
        while let Some(chunk) = tab.chunk().await.unwrap_or(None) {
            if !String::from_utf8_lossy(&chunk)
                .trim_start()
                .starts_with(':')
            {
                return false;
            }
        }
        true
    })
    .await;
    assert_eq!(rest, Ok(true), "the stream ends, sending nothing more");
    let hash = meshdeck::auth::hash(PASS).unwrap();
    app.app
        .state
        .store
        .put_user("bob", Role::Viewer, &hash)
        .await
        .unwrap();
    eventually(secs(3), "ada's session ends", async || {
        ada.get_json("/api/status").await.0 == 401
    })
    .await;
    let (code, _) = ada.post_json("/api/device/reboot", json!({})).await;
    assert_eq!(code, 401, "a removed admin cannot reboot the radio");
    eventually(secs(3), "bob's admin session ends", async || {
        bob.get_json("/api/status").await.0 == 401
    })
    .await;
    assert_eq!(bob.login("bob", PASS).await, 303);
    let (code, _) = bob.post_json("/api/device/reboot", json!({})).await;
    assert_eq!(code, 403, "bob is a viewer now");
    // A new password (same role) ends the sessions of the old one.
    let new = meshdeck::auth::hash("a brand new passphrase").unwrap();
    app.app
        .state
        .store
        .put_user("bob", Role::Viewer, &new)
        .await
        .unwrap();
    eventually(
        secs(3),
        "bob's session with the old password ends",
        async || bob.get_json("/api/status").await.0 == 401,
    )
    .await;
}

#[tokio::test]
async fn control_characters_in_a_node_name_leave_the_coverage_svg_well_formed() {
    let (_app, radio, b) = spawn_connected(quiet(0, 5)).await;
    let num = 0x0bad_0002;
    let user = pb::User {
        id: "!0bad0002".into(),
        long_name: "bad\u{1}\u{b}\u{1b}name".into(),
        short_name: "\u{1}\u{2}".into(),
        ..Default::default()
    };
    radio.inject(heard(
        num,
        BROADCAST,
        21,
        pb::PortNum::NodeinfoApp,
        user.encode_to_vec(),
    ));
    let me = node(&radio, radio.my_node_num()).position.unwrap();
    let here = pb::Position {
        latitude_i: me.latitude_i.map(|v| v + 1000),
        longitude_i: me.longitude_i.map(|v| v + 1000),
        ..Default::default()
    };
    radio.inject(heard(
        num,
        BROADCAST,
        22,
        pb::PortNum::PositionApp,
        here.encode_to_vec(),
    ));
    let svg = eventually(secs(5), "the node is in the picture", async || {
        let (code, svg) = b.get_html("/traceroute/coverage.svg").await;
        // The long name is in (not just the node id, which holds "bad" too).
        let named = svg.contains("bad\u{FFFD}") || svg.contains("bad\u{1}");
        (code == 200 && named).then_some(svg)
    })
    .await;
    let bad: Vec<char> = svg
        .chars()
        .filter(|c| {
            (*c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
        })
        .collect();
    assert!(bad.is_empty(), "characters XML forbids: {bad:?}");
    assert!(svg.contains("bad\u{FFFD}\u{FFFD}\u{FFFD}name"));
}

#[tokio::test]
async fn a_second_user_at_one_browser_gets_fresh_cookies_and_their_own_saved_connections() {
    let app = spawn_app().await;
    add_user(&app, "ada", Role::Admin).await;
    add_user(&app, "bob", Role::Operator).await;
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let tablet = Browser {
        http: reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: app.base.clone(),
    };
    let url = reqwest::Url::parse(&app.base).unwrap();
    use reqwest::cookie::CookieStore as _;
    let cookies = || jar.cookies(&url).unwrap().to_str().unwrap().to_string();
    assert_eq!(tablet.login("ada", PASS).await, 303);
    let form = [
        ("name", "Ada's radio"),
        ("host", "127.0.0.1"),
        ("port", "4403"),
    ];
    let r = tablet
        .post("/connections")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let (_, page) = tablet.get_html("/connect").await;
    assert!(page.contains("Ada"), "ada sees hers");
    let ada_cookies = cookies();
    assert_eq!(tablet.login("bob", PASS).await, 303);
    let bob_cookies = cookies();
    let (_, page) = tablet.get_html("/connect").await;
    assert!(
        !page.contains("Ada"),
        "bob does not see ada's saved connections"
    );
    // Every cookie changed, and ada's old ones (replayed) are worth nothing now.
    for c in ada_cookies.split("; ") {
        assert!(!bob_cookies.contains(c), "{c} was not rotated");
    }
    let replay = reqwest::Client::new()
        .get(format!("{}/api/status", app.base))
        .header("Cookie", &ada_cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 401, "the first user's session ended");
    // Logging out rotates them again; ada's connections follow ada.
    tablet.post("/logout").send().await.unwrap();
    assert_ne!(cookies(), bob_cookies);
    let other = app.browser();
    assert_eq!(other.login("ada", PASS).await, 303);
    let (_, page) = other.get_html("/connect").await;
    assert!(
        page.contains("Ada"),
        "ada's connections are hers on any browser"
    );
}

#[tokio::test]
async fn with_logins_a_viewer_cannot_probe_addresses_with_the_connect_form() {
    let app = spawn_app().await;
    add_user(&app, "vic", Role::Viewer).await;
    add_user(&app, "otto", Role::Operator).await;
    let radio = app.radio(quiet(0, 5)).await;
    let vic = app.browser();
    assert_eq!(vic.login("vic", PASS).await, 303);
    let (_closed, closed_port) = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        (drop(l), p)
    };
    let (_silent, silent_port) = silent_radio().await;
    let mut answers = Vec::new();
    for port in [closed_port, silent_port, radio.addr().port()] {
        answers.push(vic.connect_to("127.0.0.1", port).await);
    }
    for (code, body) in &answers {
        assert_eq!(*code, 403, "{body}");
    }
    assert_eq!(
        answers[0].1, answers[1].1,
        "the same words whatever is there"
    );
    assert_eq!(
        radio.connections_accepted(),
        0,
        "a viewer opened no connection"
    );
    let otto = app.browser();
    assert_eq!(otto.login("otto", PASS).await, 303);
    assert_eq!(otto.connect(&radio).await.0, 200);
    assert_eq!(
        vic.connect(&radio).await.0,
        200,
        "a viewer joins a connected radio"
    );
    assert_eq!(radio.connections_accepted(), 1);
}

/// Link-local radios are refused by default. Run in a private network namespace with only
/// loopback and a dummy link-local address, so that even a wrong build could reach nothing
/// else; a listener there sees whether anything was attempted.
#[test]
fn a_link_local_radio_is_refused_before_any_connect() {
    let bin = env!("CARGO_BIN_EXE_meshdeck");
    let script = format!(
        r#"set -e
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
python3 - "{bin}" <<'PY'
import json, socket, subprocess, sys, threading, time, urllib.request
seen = []
l = socket.socket(); l.bind(("169.254.169.254", 4403)); l.listen(8)
def watch():
    while True:
        c, a = l.accept(); seen.append(a); c.close()
threading.Thread(target=watch, daemon=True).start()
import tempfile
srv = subprocess.Popen([sys.argv[1], "--bind", "127.0.0.1:0", "--data-dir", tempfile.mkdtemp()], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
base = srv.stdout.readline().strip().removeprefix("meshdeck on ")
req = urllib.request.Request(base + "/api/connect", method="POST",
    data=json.dumps({{"host": "169.254.169.254", "port": 4403}}).encode(),
    headers={{"Content-Type": "application/json"}})
try:
    urllib.request.urlopen(req, timeout=10); code = 200
except urllib.error.HTTPError as e:
    code = e.code
time.sleep(0.5)
srv.terminate(); srv.wait()
print(json.dumps({{"code": code, "seen": len(seen)}}))
PY
"#
    );
    let out = Command::new("unshare")
        .args(["-n", "bash", "-c", &script])
        .output()
        .expect("unshare");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(last.trim().lines().last().unwrap()).unwrap();
    assert_eq!(v["code"], 403, "{v}");
    assert_eq!(v["seen"], 0, "no connection was attempted: {v}");
}

/// A radio at another address that says it is a known radio's node sees none of that
/// radio's texts or automation, and is told why; an admin can say they are one radio.
#[tokio::test]
async fn a_radio_claiming_another_radios_node_number_gets_a_store_of_its_own() {
    let app = spawn_app().await;
    let (real, fake) = (app.radio(quiet(0, 5)).await, app.radio(quiet(0, 5)).await);
    assert_eq!(
        real.my_node_num(),
        fake.my_node_num(),
        "two radios, one number"
    );
    let a = app.browser();
    assert_eq!(a.connect(&real).await.0, 200);
    let me = real.my_node_num();
    let peer = real
        .nodes()
        .into_iter()
        .map(|n| n.num)
        .find(|&n| n != me)
        .unwrap();
    real.inject(heard_text(peer, me, 0x5ec1, "for the real radio only"));
    eventually(secs(5), "the DM is stored", async || {
        a.messages()
            .await
            .iter()
            .any(|m| m["text"] == "for the real radio only")
    })
    .await;
    let beacon = json!({"enabled": false, "interval_minutes": 30, "message_template": "real {my_name}", "channel": 1});
    assert_eq!(a.set_beacon(beacon).await.0, 200);
    let b = app.browser();
    assert_eq!(b.connect(&fake).await.0, 200);
    let texts: Vec<serde_json::Value> = b.messages().await;
    assert!(
        !texts.iter().any(|m| m["text"] == "for the real radio only"),
        "{texts:?}"
    );
    assert_ne!(b.beacon().await["message_template"], "real {my_name}");
    let (_, bar) = b.get_html("/status").await;
    assert!(bar.contains("kept apart"), "{bar}");
    let (_, bar) = a.get_html("/status").await;
    assert!(
        !bar.contains("kept apart"),
        "the real radio is not told: {bar}"
    );
    // An admin (everyone, with no users) says they are one radio.
    let (_, page) = b.get_html("/radios").await;
    let action = page
        .split("action=\"/radios/same/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the radio kept apart is listed")
        .to_string();
    let r = b
        .post(&format!("/radios/same/{action}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    eventually(secs(3), "its data joins the real radio's", async || {
        b.messages()
            .await
            .iter()
            .any(|m| m["text"] == "for the real radio only")
    })
    .await;
    assert_eq!(b.beacon().await["message_template"], "real {my_name}");
    let (_, bar) = b.get_html("/status").await;
    assert!(!bar.contains("kept apart"), "{bar}");
}

#[tokio::test]
async fn the_bluetooth_pin_is_a_secret_like_the_others() {
    let (_app, _radio, b) = spawn_connected(quiet(0, 5)).await;
    let (code, cfg) = b.get_json("/api/device/config").await;
    assert_eq!(code, 200);
    let bt = &cfg["localConfig"]["bluetooth"];
    assert_eq!(bt["fixedPinSet"], true, "{bt}");
    assert!(bt.get("fixedPin").is_none(), "{bt}");
    assert!(!cfg.to_string().contains("123456"));
    let (_, html) = b.get_html("/settings").await;
    assert!(
        html.to_lowercase().contains("bluetooth"),
        "the section is on the page"
    );
    assert!(!html.contains("123456"), "the settings page shows the PIN");
}
