//! What real firmware does (issue 18): delivery that tells a relay from the destination, not
//! fighting another client for the radio, and noticing a radio that hangs.

use std::time::Duration;

use meshdeck::proto::pb;
use meshdeck::sim::{answers_traceroute, SimConfig, SimRadio};
use serde_json::{json, Value};

use crate::helpers::*;

/// A node of the radio that answers direct messages or not, beyond its neighbours.
fn far_node(radio: &SimRadio, answers: bool) -> u32 {
    radio
        .nodes()
        .into_iter()
        .find(|n| {
            n.num != radio.my_node_num()
                && answers_traceroute(n.num) == answers
                && n.hops_away.is_some_and(|h| h > 0)
        })
        .unwrap()
        .num
}

/// Sends `text` to `dest` ("^all" for a broadcast) and gives the message's id.
async fn send(b: &Browser, dest: &str, text: &str) -> u64 {
    let (code, body) = b.send(json!({"text": text, "dest": dest})).await;
    assert_eq!(code, 200, "{body}");
    body["id"].as_u64().unwrap()
}

/// Message `id` once it is in state `want`.
async fn reaches(b: &Browser, id: u64, want: &str, timeout: Duration) -> Value {
    eventually(timeout, &format!("message {id} to be {want}"), async || {
        let m = b.message(id).await;
        if m["state"] == want {
            Ok(m)
        } else {
            Err(m)
        }
    })
    .await
}

#[tokio::test]
async fn a_direct_message_only_a_relay_heard_never_shows_as_delivered() {
    let app = spawn_app_with(|c| c.ack_timeout = 2).await;
    let (radio, a) = app.connected(quiet(0, 40)).await;
    let silent = meshdeck::proto::node_id(far_node(&radio, false));
    let id = send(&a, &silent, "is anyone there?").await;
    let m = reaches(&a, id, "relayed", secs(5)).await;
    assert_eq!(m["delivered"], false);
    // Past the ack timeout it is still only heard by a relay: no NAK comes, no "timeout",
    // and never "delivered".
    tokio::time::sleep(secs(3)).await;
    let m = a.message(id).await;
    assert_eq!(m["state"], "relayed", "{m}");
    let (_, html) = a.get_html(&format!("/messages?c={silent}")).await;
    assert!(
        html.contains("heard by a relay"),
        "the page says who heard it"
    );
    assert!(!html.contains(">delivered<"), "nothing shows as delivered");
}

#[tokio::test]
async fn a_direct_message_the_destination_acknowledged_shows_as_delivered() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 40)).await;
    let dest = meshdeck::proto::node_id(far_node(&radio, true));
    let id = send(&a, &dest, "hello there").await;
    let m = reaches(&a, id, "delivered", secs(5)).await;
    assert_eq!(m["delivered"], true);
    let (_, html) = a.get_html(&format!("/messages?c={dest}")).await;
    assert!(html.contains(">delivered<"), "the page shows it delivered");
}

#[tokio::test]
async fn a_broadcast_nobody_relays_ends_failed_with_max_retransmit() {
    let app = spawn_app().await;
    let (_radio, a) = app
        .connected(SimConfig {
            relaying: false,
            retransmit_timeout: ms(1500),
            ..quiet(0, 10)
        })
        .await;
    let id = send(&a, "^all", "anyone on the channel?").await;
    // Until the radio gives up, it is only sent.
    tokio::time::sleep(ms(700)).await;
    assert_eq!(a.message(id).await["state"], "sent");
    let m = reaches(&a, id, "failed", secs(5)).await;
    assert_eq!(m["error"], "MAX_RETRANSMIT");
    assert!(
        m["stateText"].as_str().unwrap().contains("nobody relayed"),
        "{m}"
    );
}

#[tokio::test]
async fn a_broadcast_a_relay_heard_is_relayed_and_never_delivered() {
    let app = spawn_app_with(|c| c.ack_timeout = 1).await;
    let (_radio, a) = app.connected(quiet(0, 10)).await;
    let id = send(&a, "^all", "hello channel").await;
    reaches(&a, id, "relayed", secs(5)).await;
    tokio::time::sleep(ms(1500)).await;
    assert_eq!(a.message(id).await["state"], "relayed");
}

#[tokio::test]
async fn a_nak_shows_its_name_and_a_sentence_for_people() {
    let app = spawn_app().await;
    let radio = app.radio(quiet(0, 20)).await;
    radio.set_routing_error(Some(pb::routing::Error::PkiSendFailPublicKey));
    let a = app.connected_to(&radio).await;
    let dest = meshdeck::proto::node_id(far_node(&radio, true));
    let id = send(&a, &dest, "secret").await;
    let m = reaches(&a, id, "failed", secs(5)).await;
    assert_eq!(m["error"], "PKI_SEND_FAIL_PUBLIC_KEY");
    assert_eq!(m["stateText"], "the radio has no key for that node yet");
    let (_, html) = a.get_html(&format!("/messages?c={dest}")).await;
    assert!(html.contains("failed: PKI_SEND_FAIL_PUBLIC_KEY"));
    assert!(html.contains("the radio has no key for that node yet"));
}

/// Another app on the radio (a phone app, the Python CLI): a bare stream API client that
/// connects and asks for the config, as they do; the radio closes its previous client.
struct OtherApp {
    stream: tokio::net::TcpStream,
}

impl OtherApp {
    async fn connect(radio: &SimRadio) -> OtherApp {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(radio.addr()).await.unwrap();
        let want = pb::ToRadio {
            payload_variant: Some(pb::to_radio::PayloadVariant::WantConfigId(4242)),
        };
        stream
            .write_all(&meshdeck::proto::encode(&want))
            .await
            .unwrap();
        OtherApp { stream }
    }

    /// Whether the radio closed this app's connection within `d` (reading what comes).
    async fn kicked_within(&mut self, d: Duration) -> bool {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        let end = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(end, self.stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }
}

const TAKEN: &str = "another app may be using the radio";

/// The link's state once it is down for a reason containing `why`.
async fn down_because(b: &Browser, why: &str, timeout: Duration) -> Value {
    eventually(
        timeout,
        &format!("the link to be down: {why}"),
        async || {
            let s = b.status().await;
            let reason = s["linkState"].as_str().unwrap_or_default().to_string();
            if s["connected"] == false && reason.contains(why) {
                Ok(s)
            } else {
                Err(s)
            }
        },
    )
    .await
}

#[tokio::test]
async fn another_app_taking_the_radio_is_left_alone_and_reconnect_now_takes_it_back() {
    // The firmware's defaults: a minute before the first try.
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    assert_eq!(radio.connections_accepted(), 1);
    let mut phone = OtherApp::connect(&radio).await;
    down_because(&a, TAKEN, secs(5)).await;
    let (_, html) = a.get_html("/status").await;
    assert!(html.contains(TAKEN), "the status bar says why");
    assert!(
        html.contains("Reconnect now"),
        "and offers to reconnect now"
    );
    let wait = countdown(&html);
    assert!(
        (50..=60).contains(&wait),
        "the first try in a minute, not {wait} s"
    );
    // meshdeck leaves the other app alone.
    assert!(
        !phone.kicked_within(secs(3)).await,
        "meshdeck took the radio back"
    );
    assert_eq!(radio.connections_accepted(), 2, "no reconnect attempt");
    // "Reconnect now" takes it back at once.
    let r = a.hx_post("/reconnect", &[]).await;
    assert_eq!(r.status(), 200);
    a.until_connected(secs(3), "the radio back after Reconnect now")
        .await;
    assert_eq!(radio.connections_accepted(), 3);
    assert!(
        phone.kicked_within(secs(2)).await,
        "the radio closed the other app"
    );
    // "Reconnect now" forgot the backoff: taken again, the wait is a minute again, not two.
    let _phone = OtherApp::connect(&radio).await;
    down_because(&a, TAKEN, secs(5)).await;
    let (_, html) = a.get_html("/status").await;
    let wait = countdown(&html);
    assert!((50..=60).contains(&wait), "a minute again, not {wait} s");
}

/// The seconds of "next try in N s" on the status bar.
fn countdown(html: &str) -> u64 {
    html.split("next try in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no countdown in seconds: {html}"))
}

#[tokio::test]
async fn another_client_leads_to_at_most_one_attempt_per_backoff_which_doubles() {
    let app = spawn_app_with(|c| {
        c.taken_backoff_ms = 2000;
        c.taken_backoff_max_ms = 10_000;
    })
    .await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let mut phone = OtherApp::connect(&radio).await;
    down_because(&a, TAKEN, secs(3)).await;
    // Within the first wait, nothing; after it, one attempt that takes the radio back.
    tokio::time::sleep(ms(1200)).await;
    assert_eq!(radio.connections_accepted(), 2);
    a.until_connected(secs(3), "the radio back after the first wait")
        .await;
    assert_eq!(radio.connections_accepted(), 3, "one attempt");
    assert!(phone.kicked_within(secs(1)).await);
    // Taken again: the wait doubles (4 s).
    let _phone = OtherApp::connect(&radio).await;
    down_because(&a, TAKEN, secs(3)).await;
    tokio::time::sleep(ms(3000)).await;
    assert_eq!(
        radio.connections_accepted(),
        4,
        "no attempt before the doubled wait"
    );
    a.until_connected(secs(5), "the radio back after the second wait")
        .await;
    assert_eq!(radio.connections_accepted(), 5);
}

#[tokio::test]
async fn a_dropped_link_still_reconnects_at_once() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    radio.set_fault(meshdeck::sim::Fault::DropAfter(1));
    radio.inject(heard_text(
        peers(&radio)[0],
        meshdeck::proto::BROADCAST,
        77,
        "bye",
    ));
    eventually(secs(3), "the drop to be noticed", async || {
        radio.connections_accepted() >= 2
    })
    .await;
    radio.set_fault(meshdeck::sim::Fault::None);
    a.until_connected(secs(5), "the radio back soon").await;
    let s = a.status().await;
    assert!(!s.to_string().contains(TAKEN), "{s}");
}

#[tokio::test]
async fn a_stalled_radio_is_shown_as_not_connected_and_reconnected_when_it_answers_again() {
    let app = spawn_app_with(|c| {
        c.heartbeat_after_ms = 1000;
        c.heartbeat_timeout_ms = 1000;
    })
    .await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    radio.set_fault(meshdeck::sim::Fault::Stall);
    down_because(&a, "stopped answering", secs(6)).await;
    let (_, html) = a.get_html("/status").await;
    assert!(html.contains("stopped answering"), "the status bar says so");
    // It answers again: the link comes back by itself.
    radio.set_fault(meshdeck::sim::Fault::None);
    a.until_connected(secs(15), "the radio back once it answers")
        .await;
}

#[tokio::test]
async fn a_quiet_radio_that_answers_heartbeats_stays_connected() {
    let app = spawn_app_with(|c| {
        c.heartbeat_after_ms = 300;
        c.heartbeat_timeout_ms = 300;
    })
    .await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    tokio::time::sleep(secs(3)).await;
    let beats = radio
        .requests()
        .iter()
        .filter(|r| {
            matches!(
                r.to_radio.payload_variant,
                Some(pb::to_radio::PayloadVariant::Heartbeat(_))
            )
        })
        .count();
    assert!(beats >= 3, "{beats} heartbeats in 3 s of quiet");
    assert_eq!(a.status().await["connected"], true);
    assert_eq!(radio.connections_accepted(), 1, "never reconnected");
}

fn notification(
    message: &str,
    variant: Option<pb::client_notification::PayloadVariant>,
) -> pb::ClientNotification {
    pb::ClientNotification {
        level: pb::log_record::Level::Warning as i32,
        message: message.into(),
        payload_variant: variant,
        ..Default::default()
    }
}

#[tokio::test]
async fn what_the_radio_notifies_is_shown_to_every_session_on_it_escaped_and_rate_limited() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let b = app.connected_to(&radio).await;
    let weak = pb::client_notification::PayloadVariant::LowEntropyKey(pb::LowEntropyKey {});
    radio.notify(notification("<script>x()</script> key", Some(weak)));
    for b in [&a, &b] {
        eventually(secs(3), "the notice on the status bar", async || {
            let (_, html) = b.get_html("/status").await;
            html.contains("&lt;script&gt;x()&lt;/script&gt; key (this radio's key is weak")
        })
        .await;
    }
    // A chatty radio: repeats count up, a burst of new ones is cut down.
    tokio::time::sleep(ms(2100)).await;
    for i in 0..3 {
        radio.notify(notification("Duty cycle limit reached", None));
        radio.notify(notification(&format!("burst {i}"), None));
    }
    let html = eventually(secs(3), "the repeats counted", async || {
        let (_, html) = a.get_html("/status").await;
        html.contains("(×3)").then_some(html)
    })
    .await;
    assert!(
        !html.contains("burst"),
        "a burst right after is dropped: {html}"
    );
    assert!(!html.contains("<script>x()"), "never unescaped");
}

#[tokio::test]
async fn the_echo_of_our_own_transmissions_in_simulated_mode_stays_out_of_the_log() {
    let app = spawn_app().await;
    let (_radio, a) = app
        .connected(SimConfig {
            echo_transmissions: true,
            ..quiet(0, 10)
        })
        .await;
    let id = send(&a, "^all", "echo?").await;
    reaches(&a, id, "relayed", secs(5)).await;
    tokio::time::sleep(ms(300)).await;
    let ports: Vec<Value> = a
        .packets()
        .await
        .iter()
        .map(|p| p["portnum"].clone())
        .collect();
    assert!(ports.contains(&json!("TEXT_MESSAGE_APP")), "{ports:?}");
    assert!(!ports.contains(&json!("SIMULATOR_APP")), "{ports:?}");
}

#[tokio::test]
async fn a_quiet_radio_with_firmware_that_never_answers_heartbeats_is_not_taken_for_dead() {
    let app = spawn_app_with(|c| {
        c.heartbeat_after_ms = 300;
        c.heartbeat_timeout_ms = 300;
    })
    .await;
    let (radio, a) = app
        .connected(SimConfig {
            old_firmware: true,
            ..quiet(0, 10)
        })
        .await;
    tokio::time::sleep(secs(3)).await;
    assert_eq!(a.status().await["connected"], true);
    assert_eq!(radio.connections_accepted(), 1, "never reconnected");
}
