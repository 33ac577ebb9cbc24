//! Login and roles, rotation of the session id, throttling, the user CLI, and hostile
//! input from radios.

use std::time::Duration;

use meshdeck::auth::Role;
use meshdeck::proto::{pb, Message, BROADCAST};
use meshdeck::sim::SimRadio;
use serde_json::json;

use crate::helpers::*;

async fn with_users() -> TestApp {
    let app = spawn_app().await;
    let store = &app.app.state.store;
    for (name, role) in [
        ("ada", Role::Admin),
        ("otto", Role::Operator),
        ("vic", Role::Viewer),
    ] {
        store
            .put_user(
                name,
                role,
                &meshdeck::auth::hash("correct horse battery").unwrap(),
            )
            .await
            .unwrap();
    }
    app.app.state.refresh_users().await;
    app
}

async fn login(b: &Browser, name: &str, password: &str) -> u16 {
    b.login(name, password).await
}

/// How many admin packets reached the radio.
fn admin_requests(radio: &SimRadio) -> usize {
    taken(radio, pb::PortNum::AdminApp).len()
}

const GETS: [&str; 24] = [
    "/",
    "/connect",
    "/nodes",
    "/node/!00000001",
    "/packets",
    "/messages",
    "/traceroute",
    "/traceroute/coverage.svg",
    "/settings",
    "/settings/health",
    "/automation",
    "/status",
    "/events",
    "/api/status",
    "/api/nodes",
    "/api/node/!00000001",
    "/api/packets",
    "/api/messages",
    "/api/traceroute/results",
    "/api/sweep/status",
    "/api/device/config",
    "/api/device/mqtt/config",
    "/api/mqtt/health",
    "/api/store-forward/status",
];
const POSTS: [&str; 22] = [
    "/connect",
    "/disconnect",
    "/connections",
    "/connections/1/delete",
    "/messages/send",
    "/traceroute",
    "/traceroute/cancel",
    "/sweep",
    "/sweep/stop",
    "/settings/mqtt",
    "/settings/admin/reboot",
    "/automation/rule",
    "/api/connect",
    "/api/disconnect",
    "/api/send",
    "/api/traceroute",
    "/api/sweep",
    "/api/device/reboot",
    "/api/device/factory-reset",
    "/api/reset-nodedb",
    "/api/autoresponder",
    "/api/beacon/test",
];

#[tokio::test]
async fn with_users_every_route_refuses_anonymous_access() {
    let app = with_users().await;
    let radio = app.radio(quiet(0, 5)).await;
    let anon = app.browser();
    for path in GETS
        .iter()
        .chain(["/api/autoresponder", "/api/beacon", "/api/message-filter"].iter())
    {
        let r = anon.get(path).send().await.unwrap();
        let code = r.status().as_u16();
        let to_login = r.headers().get("location").is_some_and(|l| l == "/login");
        assert!(
            code == 401 || (code == 303 && to_login),
            "GET {path} gave {code}"
        );
    }
    for path in POSTS {
        let r = anon
            .post(path)
            .json(&json!({"host": "127.0.0.1", "port": radio.addr().port()}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "POST {path}");
    }
    assert_eq!(
        radio.connections_accepted(),
        0,
        "an anonymous request reached the radio"
    );
    // Public: health, metrics, assets, the login page.
    for path in ["/healthz", "/metrics", "/login", "/assets/app.css"] {
        assert_eq!(anon.get(path).send().await.unwrap().status(), 200, "{path}");
    }
}

#[tokio::test]
async fn viewers_and_operators_cannot_do_admin_actions_and_viewers_cannot_send() {
    let app = with_users().await;
    let radio = app.radio(quiet(0, 5)).await;
    // An admin holds the radio: a viewer may join a radio that is connected already.
    let ada = app.browser();
    assert_eq!(login(&ada, "ada", "correct horse battery").await, 303);
    assert_eq!(ada.connect(&radio).await.0, 200);
    for (name, can_send) in [("vic", false), ("otto", true)] {
        let b = app.browser();
        assert_eq!(login(&b, name, "correct horse battery").await, 303);
        assert_eq!(b.connect(&radio).await.0, 200, "{name} connects to look");
        for path in [
            "/api/device/reboot",
            "/api/device/shutdown",
            "/api/reset-nodedb",
            "/api/device/factory-reset",
            "/api/device/mqtt/config",
        ] {
            let (code, body) = b.post_json(path, json!({})).await;
            assert_eq!(code, 403, "{name} {path}: {body}");
        }
        let r = b
            .post("/settings/admin/reboot")
            .header("HX-Request", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let (code, _) = b.send(json!({"text": "hi"})).await;
        assert_eq!(code == 200, can_send, "{name} send gave {code}");
        assert_eq!(b.disconnect().await.0, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        admin_requests(&radio),
        0,
        "an admin message reached the radio"
    );
    let a = app.browser();
    assert_eq!(login(&a, "ada", "correct horse battery").await, 303);
    assert_eq!(a.connect(&radio).await.0, 200);
    assert_eq!(a.post_json("/api/reset-nodedb", json!({})).await.0, 200);
    // Disconnecting, or a failed connect, does not log the user out.
    assert_eq!(a.disconnect().await.0, 200);
    assert_eq!(a.get_json("/api/status").await.0, 200);
    let (code, _) = a.connect_to("127.0.0.1", 1).await;
    assert_eq!(code, 502);
    assert_eq!(a.get_json("/api/status").await.0, 200, "still logged in");
}

#[tokio::test]
async fn login_rotates_the_session_id_and_logout_ends_it() {
    let app = with_users().await;
    let b = app.browser();
    let r = b.get("/login").send().await.unwrap();
    let before: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    let sid_before = before
        .iter()
        .find(|c| c.starts_with("meshdeck_sid="))
        .unwrap()
        .clone();
    assert_eq!(login(&b, "otto", "correct horse battery").await, 303);
    assert_eq!(b.get_json("/api/status").await.0, 200);
    // The cookie from before the login is worth nothing now.
    let stale = reqwest::Client::new();
    let r = stale
        .get(b.url("/api/status"))
        .header("cookie", &sid_before)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = b.post("/logout").send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(b.get_json("/api/status").await.0, 401);
}

#[tokio::test]
async fn failed_logins_are_throttled() {
    let app = with_users().await;
    let b = app.browser();
    for _ in 0..5 {
        assert_eq!(login(&b, "ada", "wrong password").await, 401);
    }
    assert_eq!(
        login(&b, "ada", "correct horse battery").await,
        429,
        "locked even with the right password"
    );
    assert_eq!(login(&b, "nobody", "whatever").await, 401);
}

#[tokio::test]
async fn the_user_cli_adds_lists_and_removes_users() {
    let dir = TempDir::new();
    let data = dir.0.clone();
    let run = |args: &[&str], input: &str| {
        run_with_input(
            meshdeck()
                .args(["--data-dir", data.to_str().unwrap()])
                .args(args),
            input,
        )
    };
    assert!(run(
        &["user", "add", "carol", "--role", "admin"],
        "long enough pass\n"
    )
    .status
    .success());
    // The command closed the database: its log was moved into the file before it ended.
    let wal = std::fs::metadata(data.join("meshdeck.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "the write-ahead log is left with {wal} bytes");
    assert!(
        !run(&["user", "add", "dave"], "short\n").status.success(),
        "a short password is refused"
    );
    assert!(!run(
        &["user", "add", "eve", "--role", "root"],
        "long enough pass\n"
    )
    .status
    .success());
    let list = run(&["user", "list"], "");
    assert_eq!(String::from_utf8_lossy(&list.stdout), "carol\tadmin\n");
    let config = test_config(&dir);
    let app = spawn_app_in(dir, config).await;
    let b = app.browser();
    assert_eq!(b.get_json("/api/status").await.0, 401);
    assert_eq!(login(&b, "carol", "long enough pass").await, 303);
    assert_eq!(b.get_json("/api/status").await.0, 200);
    assert!(run(&["user", "remove", "carol"], "").status.success());
}

#[tokio::test]
async fn hostile_radio_input_is_survived_and_escaped() {
    let app = spawn_app().await;
    let radio = app.radio(quiet(0, 3000)).await;
    let a = app.browser();
    let (code, body) = a.connect(&radio).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["nodeCount"], 3000,
        "the own node counts, as in the original"
    );
    let absurd = pb::NodeInfo {
        num: 0x0bad_0001,
        user: Some(pb::User {
            id: "!0bad0001".into(),
            long_name: "<img src=x onerror=alert(1)>".into(),
            short_name: "\u{202e}evil".into(),
            hw_model: 9999,
            role: 77,
            ..Default::default()
        }),
        position: Some(pb::Position {
            latitude_i: Some(999 * 1_000_000),
            longitude_i: Some(i32::MIN),
            ..Default::default()
        }),
        snr: 1e9,
        hops_away: Some(255),
        device_metrics: Some(pb::DeviceMetrics {
            battery_level: Some(4000),
            voltage: Some(f32::NAN),
            ..Default::default()
        }),
        ..Default::default()
    };
    // The radio announces the same node twice and a telemetry packet with absurd values.
    for _ in 0..2 {
        let user = absurd.user.clone().unwrap().encode_to_vec();
        radio.inject(pb::MeshPacket {
            hop_start: 255,
            hop_limit: 3,
            rx_snr: 1e9,
            ..heard(absurd.num, BROADCAST, 9, pb::PortNum::NodeinfoApp, user)
        });
    }
    let position = absurd.position.unwrap().encode_to_vec();
    radio.inject(heard(
        absurd.num,
        BROADCAST,
        10,
        pb::PortNum::PositionApp,
        position,
    ));
    radio.inject(heard(absurd.num, BROADCAST, 11, 9999, vec![0xff; 40]));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (code, n) = a.node("!0bad0001").await;
    assert_eq!(code, 200);
    assert_eq!(
        (
            n["lat"].is_null(),
            n["snr"].is_null(),
            n["hopsAway"].is_null()
        ),
        (true, true, true),
        "{n}"
    );
    assert_eq!(n["longName"], "<img src=x onerror=alert(1)>");
    let (_, html) = a.get_html("/nodes").await;
    assert!(!html.contains("<img src=x"), "unescaped");
    let (_, html) = a.get_html("/packets").await;
    assert!(!html.contains("<img src=x"));
    assert!(
        html.contains("PORT_9999"),
        "an unknown port is named by number"
    );
    assert_eq!(a.status().await["connected"], true);
}
