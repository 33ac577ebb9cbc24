//! One link per radio, shared by every session on it: one TCP connection, one node DB, one
//! send queue; each session its own traceroutes; the link lives while anyone holds it.

use std::time::Duration;

use meshdeck::proto::{node_id, pb, BROADCAST};
use meshdeck::sim::{answers_traceroute, SimConfig, SimRadio};
use serde_json::json;

use crate::helpers::*;

fn quick_radio(nodes: usize) -> SimConfig {
    SimConfig {
        traceroute_interval: Duration::from_millis(200),
        traceroute_delay: Duration::from_millis(50),
        text_interval: Duration::from_millis(100),
        ..quiet(0, nodes)
    }
}

async fn quick_app() -> TestApp {
    spawn_app_with(|c| {
        c.traceroute_interval_ms = 250;
        c.traceroute_timeout_ms = 1500;
        c.text_interval_ms = 150;
    })
    .await
}

fn answering(radio: &SimRadio) -> Vec<u32> {
    peers(radio)
        .into_iter()
        .filter(|n| answers_traceroute(*n))
        .collect()
}

#[tokio::test]
async fn a_text_from_either_session_reaches_the_radio_once() {
    let app = quick_app().await;
    let (radio, a) = app.connected(quick_radio(10)).await;
    let b = app.connected_to(&radio).await;
    let to = node_id(BROADCAST);
    assert_eq!(a.send(json!({"text": "from a", "dest": to})).await.0, 200);
    assert_eq!(b.send(json!({"text": "from b", "dest": to})).await.0, 200);
    eventually(secs(5), "both texts at the radio", async || {
        sent_texts(&radio).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut texts: Vec<String> = sent_texts(&radio).into_iter().map(|t| t.2).collect();
    texts.sort();
    assert_eq!(texts, vec!["from a", "from b"]);
    assert_eq!(radio.connections_accepted(), 1);
    // Both sessions see both texts: the history is the radio's.
    for s in [&a, &b] {
        let mine: Vec<_> = s
            .messages()
            .await
            .into_iter()
            .filter(|m| m["outgoing"] == true)
            .collect();
        assert_eq!(mine.len(), 2, "{mine:?}");
    }
}

#[tokio::test]
async fn each_session_on_a_shared_radio_sees_only_its_own_traceroutes() {
    let app = quick_app().await;
    let (radio, a) = app.connected(quick_radio(30)).await;
    let b = app.connected_to(&radio).await;
    let targets = answering(&radio);
    let (na, nb) = (node_id(targets[0]), node_id(targets[1]));
    assert_eq!(a.traceroute(json!({"dest": na})).await.0, 200);
    assert_eq!(b.traceroute(json!({"dest": nb})).await.0, 200);
    for (s, id) in [(&a, &na), (&b, &nb)] {
        eventually(secs(6), "the traceroute to complete", async || {
            s.traceroute_results().await[id.as_str()]["status"] == "complete"
        })
        .await;
    }
    let keys = |v: serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(a.traceroute_results().await), vec![na.clone()]);
    assert_eq!(keys(b.traceroute_results().await), vec![nb.clone()]);
    // Another session's probe cannot be cancelled from here, and the radio's history stays
    // on the node page for everyone.
    let (code, _) = b
        .post_json("/api/traceroute/cancel", json!({"nodeId": na}))
        .await;
    assert_eq!(code, 404);
    let (code, node) = b.node(&na).await;
    assert_eq!(code, 200);
    assert_eq!(node["traceroute"]["status"], "complete", "{node}");
    assert_eq!(taken(&radio, pb::PortNum::TracerouteApp).len(), 2);
}

#[tokio::test]
async fn the_link_lives_while_any_session_holds_it_and_closes_with_the_last() {
    let app = spawn_app_with(|c| c.max_sessions = 2).await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let b = app.connected_to(&radio).await;
    assert_eq!(b.status().await["connected"], true);
    // A third session on another radio evicts the least recently used one (a).
    let (other, c) = app.connected(quiet(1, 10)).await;
    assert_eq!(c.status().await["connected"], true);
    let sa = a.status().await;
    assert_eq!(sa["connected"], false, "{sa}");
    assert_eq!(b.status().await["connected"], true, "b keeps the link");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (radio.connections_accepted(), radio.connections_open()),
        (1, 1)
    );
    assert_eq!(other.connections_open(), 1);
    // The last one leaving closes it.
    assert_eq!(b.disconnect().await.0, 200);
    eventually(secs(3), "the radio sees its one link close", async || {
        radio.connections_open() == 0
    })
    .await;
}

#[tokio::test]
async fn the_status_bar_says_who_else_is_on_the_radio() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let (_, alone) = a.get_html("/status").await;
    assert!(alone.contains("only you"), "{alone}");
    let _b = app.connected_to(&radio).await;
    let (_, html) = a.get_html("/status").await;
    assert!(html.contains("1 other session"), "{html}");
}
