//! Traceroutes and sweeps against the simulated radio: isolation, the firmware's interval,
//! timeouts, cancel, refusals, hop chains and SNRs, stop and compare.

use std::time::Duration;

use meshdeck::proto::{node_id, pb};
use meshdeck::sim::{answers_traceroute, SimConfig, SimRadio};
use serde_json::{json, Value};

use crate::helpers::*;

/// Traceroute requests the radio received, refused ones too.
fn probes_at(radio: &SimRadio) -> Vec<Taken> {
    taken(radio, pb::PortNum::TracerouteApp)
}

fn quick_radio(index: u32, nodes: usize) -> SimConfig {
    SimConfig {
        traceroute_interval: Duration::from_millis(200),
        traceroute_delay: Duration::from_millis(50),
        ..quiet(index, nodes)
    }
}

async fn quick_app() -> TestApp {
    spawn_app_with(|c| {
        c.traceroute_interval_ms = 250;
        c.traceroute_timeout_ms = 1500;
        c.sweep_node_timeout_ms = 800;
    })
    .await
}

/// A node that answers traceroutes and one that never does.
fn answering(radio: &SimRadio, yes: bool) -> u32 {
    radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .find(|n| *n != radio.my_node_num() && answers_traceroute(*n) == yes)
        .expect("the mesh has such a node")
}

async fn wait_trace(b: &Browser, id: &str, want: &str) -> Value {
    let what = format!("the traceroute to {id} to become {want}");
    eventually(secs(6), &what, async || {
        let all = b.traceroute_results().await;
        if all[id]["status"] == want {
            Ok(all[id].clone())
        } else {
            Err(all)
        }
    })
    .await
}

#[tokio::test]
async fn scenario_3_each_session_sees_only_its_own_traceroutes() {
    let app = quick_app().await;
    let (ra, a) = app.connected(quick_radio(0, 30)).await;
    let (rb, b) = app.connected(quick_radio(1, 30)).await;
    let (na, nb) = (node_id(answering(&ra, true)), node_id(answering(&rb, true)));
    let (code, body) = a.traceroute(json!({"dest": na})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "sent");
    assert_eq!(b.traceroute(json!({"dest": nb})).await.0, 200);
    wait_trace(&a, &na, "complete").await;
    wait_trace(&b, &nb, "complete").await;
    let ra_results = a.traceroute_results().await;
    let rb_results = b.traceroute_results().await;
    assert_eq!(
        ra_results.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![&na]
    );
    assert_eq!(
        rb_results.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec![&nb]
    );
}

#[tokio::test]
async fn hop_chains_and_snr_in_db_match_the_radios_reply() {
    let app = quick_app().await;
    let (radio, a) = app.connected(quick_radio(0, 40)).await;
    // A node several hops away, so the route has hops.
    let dest = radio
        .nodes()
        .iter()
        .filter(|n| {
            n.num != radio.my_node_num()
                && answers_traceroute(n.num)
                && n.hops_away.is_some_and(|h| h >= 2)
        })
        .map(|n| n.num)
        .next()
        .unwrap();
    let id = node_id(dest);
    assert_eq!(
        a.traceroute(json!({"dest": id, "hopLimit": 7})).await.0,
        200
    );
    let got = wait_trace(&a, &id, "complete").await;
    let reply = radio
        .sent_packets()
        .into_iter()
        .find_map(|p| match p.payload_variant {
            Some(pb::mesh_packet::PayloadVariant::Decoded(d))
                if d.portnum == pb::PortNum::TracerouteApp as i32 && p.from == dest =>
            {
                <pb::RouteDiscovery as meshdeck::proto::Message>::decode(d.payload.as_slice()).ok()
            }
            _ => None,
        })
        .expect("the radio's reply is in its log");
    // The original's units: hops as node numbers, SNR as the raw quarter-dB values.
    let ids = reply.route.clone();
    assert!(!ids.is_empty());
    assert_eq!(got["route"], json!(ids));
    assert_eq!(got["snrTowards"], json!(reply.snr_towards));
    assert_eq!(got["routeBack"], json!(reply.route_back));
    assert_eq!(got["snrBack"], json!(reply.snr_back));
    let (_, html) = a.get_html("/traceroute").await;
    let first_hop = long_name(&radio, reply.route[0]);
    assert!(html.contains(&first_hop), "the page names the hops");
    assert!(html.contains(&format!("{:+.1} dB", reply.snr_towards[0] as f64 / 4.0)));
    // The node's detail shows it, and the history is stored in SQLite.
    let stored = within(secs(2), async || {
        let (_, n) = a.node(&id).await;
        assert_eq!(n["traceroute"]["status"], "complete");
        n["traceHistory"]
            .as_array()
            .is_some_and(|h| h.len() == 1 && h[0]["route"] == json!(ids))
    })
    .await
    .is_some();
    assert!(stored, "the traceroute was not stored");
    let (_, detail) = a.get_html(&format!("/node/{id}")).await;
    assert!(detail.contains("Latest traceroute") && detail.contains(&first_hop));
}

#[tokio::test]
async fn silence_times_out_cancel_works_and_bad_probes_are_refused() {
    let app = quick_app().await;
    let (radio, a) = app.connected(quick_radio(0, 30)).await;
    let silent = node_id(answering(&radio, false));
    assert_eq!(a.traceroute(json!({"dest": silent})).await.0, 200);
    // A duplicate while it is pending.
    let (code, body) = a
        .post_json("/api/traceroute", json!({"dest": silent}))
        .await;
    assert_eq!(code, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already queued or pending"),
        "{body}"
    );
    wait_trace(&a, &silent, "timeout").await;
    // A repeat within 30 s.
    let (code, body) = a
        .post_json("/api/traceroute", json!({"dest": silent}))
        .await;
    assert_eq!(code, 400);
    assert!(
        body["error"].as_str().unwrap().contains("less than 30 s"),
        "{body}"
    );
    // Self and broadcast.
    let me = node_id(radio.my_node_num());
    let (code, body) = a.traceroute(json!({"dest": me})).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("cannot traceroute this radio itself"))
    );
    assert_eq!(a.traceroute(json!({"dest": "^all"})).await.0, 400);
    // HTML refusals are clear too.
    let r = a.hx_post("/traceroute", &[("node", me.as_str())]).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("cannot traceroute this radio itself"));
    // Cancel a pending one.
    let other = radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .filter(|n| *n != radio.my_node_num() && !answers_traceroute(*n))
        .nth(1)
        .unwrap();
    let other = node_id(other);
    assert_eq!(a.traceroute(json!({"dest": other})).await.0, 200);
    let (code, body) = a
        .post_json("/api/traceroute/cancel", json!({"nodeId": other}))
        .await;
    assert_eq!((code, body["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(
        a.post_json("/api/traceroute/cancel", json!({"nodeId": other}))
            .await
            .0,
        404
    );
    assert!(
        probes_at(&radio).iter().all(|p| !p.rejected),
        "the radio rejected a probe"
    );
}

#[tokio::test]
async fn a_sweep_keeps_the_firmware_interval_and_the_radio_rejects_none() {
    let app = quick_app().await;
    let (radio, a) = app.connected(quick_radio(0, 12)).await;
    let (code, body) = a.sweep().await;
    assert_eq!(code, 200, "{body}");
    let total = body["total"].as_u64().unwrap() as usize;
    let expected: Vec<Value> = a
        .nodes("all")
        .await
        .into_iter()
        .filter(|n| n["num"] != radio.my_node_num())
        .filter(|n| n["viaMqtt"] == false || n["hopsAway"].as_u64().is_some_and(|h| h <= 2))
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(total, expected.len());
    assert_eq!(a.sweep().await.0, 409, "one sweep per session");
    let s = eventually(secs(60), "the sweep to finish", async || {
        let s = a.sweep_status().await;
        (s["running"] == false).then_some(s)
    })
    .await;
    assert_eq!(s["completed"].as_u64().unwrap() as usize, total);
    let results = s["results"].as_object().unwrap();
    for (id, r) in results {
        let num = u32::from_str_radix(&id[1..], 16).unwrap();
        let want = if answers_traceroute(num) {
            "complete"
        } else {
            "timeout"
        };
        assert_eq!(r["status"], want, "{id}: {r}");
    }
    let probes = probes_at(&radio);
    assert_eq!(probes.len(), total);
    assert!(
        probes.iter().all(|p| !p.rejected),
        "the radio rejected a probe"
    );
    for gap in gaps(&probes) {
        assert!(
            gap >= Duration::from_millis(200),
            "two probes {gap:?} apart"
        );
    }
}

#[tokio::test]
async fn a_stopped_sweep_leaves_the_rest_untried_and_the_next_is_compared() {
    let app = quick_app().await;
    let (radio, a) = app.connected(quick_radio(0, 20)).await;
    let (_, body) = a.sweep().await;
    let total = body["total"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(a.post_json("/api/sweep/stop", json!({})).await.0, 200);
    let mut s = Value::Null;
    within(secs(3), async || {
        s = a.sweep_status().await;
        s["running"] == false
    })
    .await;
    assert_eq!(s["running"], false);
    let done = s["completed"].as_u64().unwrap();
    assert!(done > 0 && done < total, "{done} of {total}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        probes_at(&radio).len() as u64,
        done,
        "no probe after the stop"
    );
    // A second, full sweep (after the repeat guard would allow the same nodes again, the
    // already-probed ones are refused as "too soon" and reported as errors).
    assert_eq!(a.sweep().await.0, 200);
    within(secs(30), async || {
        a.sweep_status().await["running"] == false
    })
    .await;
    let (_, html) = a.get_html("/traceroute").await;
    assert!(
        html.contains("Compared with the previous sweep"),
        "the page compares the two sweeps"
    );
    let svg = a.get("/traceroute/coverage.svg").send().await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(svg.contains("class=\"node ok"), "answered nodes are drawn");
}
