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
    assert!(html.contains("heard by a relay"), "the page says who heard it");
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
    assert!(m["stateText"].as_str().unwrap().contains("nobody relayed"), "{m}");
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
