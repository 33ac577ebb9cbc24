//! The seed's multi-user scenarios: isolation, one link per radio shared by its sessions,
//! timeout, the cap.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn ids(nodes: &[serde_json::Value]) -> HashSet<String> {
    nodes
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn scenario_1_two_sessions_on_two_radios_each_see_only_their_own_nodes() {
    let app = spawn_app().await;
    let (ra, a) = app.connected(quiet(0, 40)).await;
    let (rb, b) = app.connected(quiet(1, 60)).await;
    let (na, nb) = (ids(&a.nodes("all").await), ids(&b.nodes("all").await));
    assert_eq!((na.len(), nb.len()), (40, 60), "the own node is listed too");
    assert!(
        na.is_disjoint(&nb),
        "a node of one radio showed up in the other session"
    );
    let expect_a: HashSet<String> = ra
        .nodes()
        .iter()
        .map(|n| meshdeck::proto::node_id(n.num))
        .collect();
    assert_eq!(na, expect_a);
    assert_eq!(a.status().await["myNode"]["num"], json!(ra.my_node_num()));
    assert_eq!(b.status().await["myNode"]["num"], json!(rb.my_node_num()));
}

#[tokio::test]
async fn scenario_2_a_second_session_on_a_held_radio_joins_its_one_link() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let b = app.browser();
    let (status, body) = b.connect(&radio).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "connected");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (radio.connections_accepted(), radio.connections_open()),
        (1, 1),
        "the radio still sees one TCP client"
    );
    assert_eq!(a.status().await["connected"], true);
    assert_eq!(b.status().await["connected"], true);
    assert_eq!(ids(&a.nodes("all").await), ids(&b.nodes("all").await));
}

#[tokio::test]
async fn a_take_over_detaches_the_other_sessions_tells_them_so_and_keeps_the_link() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    let b = app.browser();
    let port = radio.addr().port();
    let body = json!({"host": "127.0.0.1", "port": port, "takeover": true});
    let (status, body) = b.post_json("/api/connect", body).await;
    assert_eq!(status, 200, "{body}");
    let sa = a.status().await;
    assert_eq!(sa["connected"], false);
    assert!(
        sa["message"].as_str().unwrap().contains("taken over"),
        "{sa}"
    );
    assert_eq!(b.status().await["connected"], true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (radio.connections_accepted(), radio.connections_open()),
        (1, 1),
        "the link itself stays"
    );
}

#[tokio::test]
async fn scenario_5_an_idle_session_is_cleaned_up_its_link_closed_and_its_next_request_says_expired(
) {
    let app = spawn_app_with(|c| c.session_timeout = 1).await;
    let (radio, a) = app.connected(quiet(0, 10)).await;
    assert_eq!(radio.connections_open(), 1);
    // Nobody makes a request: the maintenance task must still evict on time.
    eventually(secs(6), "the radio sees its TCP link close", async || {
        radio.connections_open() == 0
    })
    .await;
    let s = a.status().await;
    assert_eq!(s["connected"], false);
    assert_eq!(s["sessionExpired"], true, "{s}");
    assert!(s["message"].as_str().unwrap().contains("session expired"));
    let (code, html) = a.get_html("/").await;
    assert_eq!(code, 200);
    assert!(
        !html.contains("Session expired"),
        "told once, then a fresh session"
    );
}

#[tokio::test]
async fn the_session_cap_evicts_the_least_recently_used_and_probes_evict_nobody() {
    let app = spawn_app_with(|c| c.max_sessions = 3).await;
    let radios = [
        app.radio(quiet(0, 5)).await,
        app.radio(quiet(1, 5)).await,
        app.radio(quiet(2, 5)).await,
        app.radio(quiet(3, 5)).await,
    ];
    let users: Vec<Browser> = (0..4).map(|_| app.browser()).collect();
    for i in 0..3 {
        assert_eq!(users[i].connect(&radios[i]).await.0, 200);
    }
    // User 0 is active again; user 1 is now the least recently used.
    assert_eq!(users[0].status().await["connected"], true);
    assert_eq!(users[2].status().await["connected"], true);
    // Probes and new browsers at the cap evict nobody.
    for _ in 0..20 {
        let probe = app.browser();
        assert_eq!(probe.get_html("/").await.0, 200);
        assert_eq!(probe.status().await["connected"], false);
        assert_eq!(
            reqwest::get(probe.url("/healthz")).await.unwrap().status(),
            200
        );
    }
    for r in &radios[..3] {
        assert_eq!(r.connections_open(), 1, "a probe evicted a session");
    }
    assert_eq!(users[3].connect(&radios[3]).await.0, 200);
    eventually(
        secs(5),
        "the LRU session's radio sees its link close",
        async || radios[1].connections_open() == 0,
    )
    .await;
    let open: u64 = radios.iter().map(|r| r.connections_open()).sum();
    assert_eq!(open, 3);
    assert_eq!(
        radios[0].connections_open() + radios[2].connections_open() + radios[3].connections_open(),
        3
    );
    // The evicted session is told, and its polls evict nobody.
    let s = users[1].status().await;
    assert_eq!(s["sessionExpired"], true, "{s}");
    for _ in 0..5 {
        users[1].status().await;
    }
    assert_eq!(
        radios[0].connections_open() + radios[2].connections_open() + radios[3].connections_open(),
        3
    );
    let metrics = app.browser().get_html("/metrics").await.1;
    assert!(metrics.contains("meshdeck_sessions 3"), "{metrics}");
    assert!(metrics.contains("meshdeck_links_open 3"), "{metrics}");
}

#[tokio::test]
async fn disconnect_closes_the_tcp_link_at_once() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 5)).await;
    let (code, body) = a.disconnect().await;
    assert_eq!((code, body["status"].as_str()), (200, Some("disconnected")));
    eventually(secs(2), "the radio sees the link close", async || {
        radio.connections_open() == 0
    })
    .await;
    assert_eq!(a.status().await["connected"], false);
    // The radio is free again for another session.
    assert_eq!(app.browser().connect(&radio).await.0, 200);
}

#[tokio::test]
async fn scenario_4_each_packet_log_holds_only_its_own_radios_packets_over_json_and_sse() {
    let app = spawn_app().await;
    let cfg = |index| meshdeck::sim::SimConfig {
        index,
        ..live(20, 20.0)
    };
    let (ra, a) = app.connected(cfg(0)).await;
    let (rb, b) = app.connected(cfg(1)).await;
    // Session A's live stream, read while traffic flows.
    let mut stream = a.events("/events?port=all").await;
    let sse = read_for(&mut stream, Duration::from_millis(1500)).await;
    let log_a = a.packets().await;
    let log_b = b.packets().await;
    // What the radios report having sent, read after the logs.
    let ids = |r: &meshdeck::sim::SimRadio| -> HashSet<u64> {
        r.sent_packets().iter().map(|p| u64::from(p.id)).collect()
    };
    let (sent_a, sent_b) = (ids(&ra), ids(&rb));
    for (log, own, other) in [(log_a, &sent_a, &sent_b), (log_b, &sent_b, &sent_a)] {
        let log: Vec<u64> = log.iter().map(|p| p["id"].as_u64().unwrap()).collect();
        assert!(log.len() > 5, "too little traffic to judge");
        assert!(
            log.iter().all(|id| own.contains(id)),
            "a packet that its radio did not send"
        );
        assert!(
            log.iter().all(|id| !other.contains(id)),
            "a packet of the other radio"
        );
    }
    assert!(sse.contains("event: packet"), "no packet pushed");
    // Every pushed row names a sender of radio A's mesh, never one of B's.
    let b_nodes: Vec<String> = rb
        .nodes()
        .iter()
        .map(|n| meshdeck::proto::node_id(n.num))
        .collect();
    assert!(
        b_nodes.iter().all(|id| !sse.contains(id.as_str())),
        "the stream carried radio B's node"
    );
}

#[tokio::test]
async fn an_open_live_stream_keeps_its_session_alive() {
    let app = spawn_app_with(|c| c.session_timeout = 2).await;
    let (radio, a) = app.connected(quiet(0, 5)).await;
    let mut stream = a.events("/events").await;
    let end = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < end {
        let _ = tokio::time::timeout_at(end, stream.chunk()).await;
    }
    assert_eq!(
        radio.connections_open(),
        1,
        "the tab was open, yet the session expired"
    );
    drop(stream);
    eventually(
        secs(8),
        "the idle clock runs once the tab is gone",
        async || radio.connections_open() == 0,
    )
    .await;
}
