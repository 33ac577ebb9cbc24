//! Packets from the client: queue status, text acks, the firmware's rate limits,
//! traceroute replies, repeated ids; and packets from the mesh: live traffic, injection.

use std::collections::{HashMap, HashSet};

use super::*;

/// A node of the radio's DB, not mine, `hops` away, that answers traceroutes or not.
fn peer(r: &SimRadio, answers: bool, hops: u32) -> pb::NodeInfo {
    r.nodes()
        .into_iter()
        .find(|n| {
            n.num != r.my_node_num()
                && answers_traceroute(n.num) == answers
                && n.hops_away == Some(hops)
        })
        .unwrap()
}

fn traceroute_replies(msgs: &[Out]) -> Vec<(&pb::MeshPacket, &pb::Data)> {
    msgs.iter()
        .filter_map(decoded)
        .filter(|(_, d)| d.portnum == pb::PortNum::TracerouteApp as i32)
        .collect()
}

#[tokio::test]
async fn every_packet_gets_a_queue_status_and_a_wanted_ack() {
    let (r, mut c) = connected(quiet(30), 7).await;
    let me = r.my_node_num();
    let dest = peer(&r, true, 2).num;
    c.packet(text(dest, 11, true)).await;
    let got = c.collect(500).await;
    assert_eq!(queued(&got), vec![11]);
    assert_eq!(
        routings(&got),
        vec![(11, 0, me), (11, 0, dest)],
        "the radio's implicit ack, then the destination's"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = c.broadcast(&[12], 500).await;
    assert_eq!(
        routings(&got),
        vec![(12, 0, me)],
        "implicit ack for a broadcast"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.packet(text(dest, 13, false)).await;
    let got = c.collect(500).await;
    assert_eq!(queued(&got), vec![13]);
    assert!(routings(&got).is_empty(), "no ack unless asked");
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    assert!(matches!(c.next(1000).await, Some(Out::QueueStatus(q)) if q.mesh_packet_id == 0));
}

#[tokio::test]
async fn a_text_too_soon_after_the_last_is_refused_with_rate_limit_exceeded() {
    let (r, mut c) = connected(quiet(5), 7).await;
    let got = c.broadcast(&[21, 22], 600).await;
    assert_eq!(queued(&got), vec![21, 22]);
    let mut errors: Vec<(u32, i32)> = routings(&got)
        .into_iter()
        .map(|(id, e, _)| (id, e))
        .collect();
    errors.sort_unstable();
    let limited = pb::routing::Error::RateLimitExceeded as i32;
    assert_eq!(errors, vec![(21, 0), (22, limited)]);
    let rejected: Vec<bool> = r
        .requests()
        .iter()
        .filter(|q| matches!(q.to_radio.payload_variant, Some(In::Packet(_))))
        .map(|q| q.rejected.is_some())
        .collect();
    assert_eq!(rejected, vec![false, true]);
}

#[tokio::test]
async fn a_set_routing_error_answers_texts_instead_of_an_ack() {
    let r = radio(quiet(5)).await;
    r.set_routing_error(Some(pb::routing::Error::MaxRetransmit));
    let mut c = Raw::connect(&r).await;
    c.handshake(7).await;
    let got = c.broadcast(&[31], 500).await;
    assert_eq!(
        routings(&got)[0].1,
        pb::routing::Error::MaxRetransmit as i32
    );
}

#[tokio::test]
async fn a_traceroute_is_answered_by_the_destination_with_its_route_after_the_delay() {
    let (r, mut c) = connected(quiet(60), 7).await;
    let dest = peer(&r, true, 3).num;
    let sent = std::time::Instant::now();
    c.packet(traceroute(dest, 41)).await;
    let got = c.collect(600).await;
    assert_eq!(queued(&got), vec![41]);
    let replies = traceroute_replies(&got);
    let (p, d) = replies.first().expect("no traceroute reply");
    assert!(sent.elapsed() >= Duration::from_millis(100));
    assert_eq!((p.from, p.to, d.request_id), (dest, r.my_node_num(), 41));
    let rd = pb::RouteDiscovery::decode(d.payload.as_slice()).unwrap();
    assert_eq!(rd.route.len(), 2, "3 hops away: 2 nodes in between");
    assert_eq!(rd.snr_towards.len(), rd.route.len() + 1);
    assert_eq!(rd.snr_back.len(), rd.route_back.len() + 1);
    let known: HashSet<u32> = r.nodes().iter().map(|n| n.num).collect();
    assert!(rd
        .route
        .iter()
        .chain(&rd.route_back)
        .all(|n| known.contains(n) && *n != dest));
}

#[tokio::test]
async fn traceroutes_are_rate_limited_and_some_nodes_never_answer() {
    let (r, mut c) = connected(quiet(60), 7).await;
    let me = r.my_node_num();
    let silent = r
        .nodes()
        .into_iter()
        .find(|n| n.num != me && !answers_traceroute(n.num))
        .unwrap()
        .num;
    c.packet(traceroute(silent, 51)).await;
    c.packet(traceroute(peer(&r, true, 1).num, 52)).await;
    let got = c.collect(600).await;
    assert_eq!(queued(&got), vec![51, 52]);
    assert!(traceroute_replies(&got).is_empty());
    let limited = pb::routing::Error::RateLimitExceeded as i32;
    assert_eq!(routings(&got), vec![(52, limited, me)]);
    assert!(got
        .iter()
        .any(|m| matches!(m, Out::ClientNotification(n) if n.reply_id == Some(52))));
    // Multi-hop to broadcast is refused whatever the interval.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.packet(traceroute(proto::BROADCAST, 53)).await;
    let got = c.collect(400).await;
    let no_channel = pb::routing::Error::NoChannel as i32;
    assert_eq!(routings(&got), vec![(53, no_channel, me)]);
    let rejected: Vec<bool> = r
        .requests()
        .iter()
        .skip(1)
        .map(|q| q.rejected.is_some())
        .collect();
    assert_eq!(rejected, vec![false, true, true]);
}

#[tokio::test]
async fn a_repeated_packet_id_is_ignored_as_firmware_does() {
    let (r, mut c) = connected(quiet(5), 7).await;
    let got = c.broadcast(&[61, 61], 500).await;
    assert_eq!(queued(&got), vec![61], "no queue status for the repeat");
    assert_eq!(routings(&got).len(), 1);
    let last = r.requests().last().unwrap().rejected.clone();
    assert_eq!(last.as_deref(), Some("duplicate packet id: ignored"));
}

#[tokio::test]
async fn live_traffic_comes_from_the_node_db_after_the_handshake() {
    let r = radio(live(40, 100.0)).await;
    let mut c = Raw::connect(&r).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(r.sent_packets().is_empty(), "nothing before the handshake");
    c.handshake(7).await;
    let got = c.collect_for(400).await;
    let live: Vec<&pb::MeshPacket> = got.iter().filter_map(decoded).map(|(p, _)| p).collect();
    assert!(live.len() >= 10, "{} packets", live.len());
    let db: HashMap<u32, pb::NodeInfo> = r.nodes().into_iter().map(|n| (n.num, n)).collect();
    for p in &live {
        assert_ne!(p.from, r.my_node_num());
        assert_eq!(p.via_mqtt, db[&p.from].via_mqtt);
        assert!(p.hop_limit <= p.hop_start && p.rx_time > 0 && p.id != 0);
        assert!(p.to == proto::BROADCAST || p.to == r.my_node_num());
    }
    let recorded: HashSet<u32> = r.sent_packets().iter().map(|p| p.id).collect();
    assert!(live.iter().all(|p| recorded.contains(&p.id)));
}

#[tokio::test]
async fn an_injected_packet_reaches_the_client_at_once() {
    let (r, mut c) = connected(quiet(5), 7).await;
    let from = r.nodes()[1].num;
    r.inject(pb::MeshPacket {
        from,
        ..text(proto::BROADCAST, 71, false)
    });
    let got = c.collect(300).await;
    assert!(got
        .iter()
        .filter_map(decoded)
        .any(|(p, _)| p.id == 71 && p.from == from));
    assert_eq!(r.sent_packets().len(), 1);
}
