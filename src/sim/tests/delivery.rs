//! Routing replies to texts as firmware sends them: the radio's own implicit ack when a
//! relay heard the packet, the destination's ack for a direct message, nothing more from a
//! silent destination, and `MAX_RETRANSMIT` when nobody relays. And what else firmware does
//! with a client's packets: the 10-second limit on positions and telemetry, and the echo of
//! its own transmissions in simulated mode.

use super::*;

/// A node of the radio's DB, not mine, that answers (or not) and is a neighbour (or not).
fn node(r: &SimRadio, answers: bool, neighbour: bool) -> u32 {
    r.nodes()
        .into_iter()
        .find(|n| {
            n.num != r.my_node_num()
                && answers_traceroute(n.num) == answers
                && (n.hops_away == Some(0)) == neighbour
                && n.hops_away.is_some()
        })
        .unwrap()
        .num
}

/// The routing replies (request id, error, from) to a direct message to a node that
/// answers (or not) and is a neighbour (or not), with my node's number and the node's.
async fn replies_to_a_dm(
    answers: bool,
    neighbour: bool,
    ms: u64,
) -> (Vec<(u32, i32, u32)>, u32, u32) {
    let (r, mut c) = connected(quiet(60), 7).await;
    let dest = node(&r, answers, neighbour);
    c.packet(text(dest, 31, true)).await;
    (routings(&c.collect(ms).await), r.my_node_num(), dest)
}

#[tokio::test]
async fn a_direct_message_gets_the_radios_implicit_ack_first_then_the_destinations() {
    let (got, me, dest) = replies_to_a_dm(true, false, 600).await;
    assert_eq!(got, vec![(31, 0, me), (31, 0, dest)]);
}

#[tokio::test]
async fn a_direct_message_to_a_silent_node_gets_only_the_implicit_ack_and_no_nak() {
    let (got, me, _) = replies_to_a_dm(false, false, 800).await;
    assert_eq!(got, vec![(31, 0, me)]);
}

#[tokio::test]
async fn a_direct_neighbour_acks_with_no_relay_in_between() {
    let (got, _, dest) = replies_to_a_dm(true, true, 600).await;
    assert_eq!(got, vec![(31, 0, dest)]);
}

#[tokio::test]
async fn with_nobody_relaying_a_broadcast_ends_max_retransmit_after_the_retransmissions() {
    let cfg = SimConfig {
        retransmit_timeout: Duration::from_millis(700),
        relaying: false,
        ..quiet(20)
    };
    let (r, mut c) = connected(cfg, 7).await;
    c.packet(text(proto::BROADCAST, 34, true)).await;
    let early = c.collect_for(500).await;
    assert!(
        routings(&early).is_empty(),
        "nothing before the retries end: {early:?}"
    );
    let late = c.collect_for(600).await;
    let max = pb::routing::Error::MaxRetransmit as i32;
    assert_eq!(routings(&late), vec![(34, max, r.my_node_num())]);
    // Relaying again, the next one is heard.
    r.set_relaying(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.packet(text(proto::BROADCAST, 35, true)).await;
    let got = c.collect(500).await;
    assert_eq!(routings(&got), vec![(35, 0, r.my_node_num())]);
}

/// Whether the radio took each of the client's packets, in order.
fn taken(r: &SimRadio) -> Vec<(u32, bool)> {
    r.requests()
        .into_iter()
        .filter_map(|q| match q.to_radio.payload_variant {
            Some(In::Packet(p)) => Some((p.id, q.rejected.is_none())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn positions_and_telemetry_are_limited_per_port_and_dropped_without_a_word() {
    let cfg = SimConfig {
        port_interval: Duration::from_millis(600),
        ..quiet(5)
    };
    let (r, mut c) = connected(cfg, 7).await;
    let position = |id| packet(proto::BROADCAST, id, pb::PortNum::PositionApp, vec![]);
    let telemetry = |id| packet(proto::BROADCAST, id, pb::PortNum::TelemetryApp, vec![]);
    c.packet(position(51)).await;
    c.packet(position(52)).await;
    c.packet(telemetry(53)).await;
    let got = c.collect(300).await;
    assert_eq!(queued(&got), vec![51, 52, 53], "each gets its queue status");
    assert!(routings(&got).is_empty(), "and nothing else: {got:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    c.packet(position(54)).await;
    c.collect(200).await;
    assert_eq!(
        taken(&r),
        vec![(51, true), (52, false), (53, true), (54, true)]
    );
}

#[tokio::test]
async fn in_simulated_mode_what_the_radio_sends_comes_back_as_simulator_app() {
    let cfg = SimConfig {
        echo_transmissions: true,
        ..quiet(5)
    };
    let (r, mut c) = connected(cfg, 7).await;
    c.packet(text(proto::BROADCAST, 61, false)).await;
    let got = c.collect(300).await;
    let echoes: Vec<_> = got
        .iter()
        .filter_map(decoded)
        .filter(|(_, d)| d.portnum == pb::PortNum::SimulatorApp as i32)
        .collect();
    assert_eq!(echoes.len(), 1, "{got:?}");
    let (p, d) = echoes[0];
    assert_eq!(
        (p.from, p.to, p.id),
        (r.my_node_num(), proto::BROADCAST, 61)
    );
    let inner = pb::Compressed::decode(d.payload.as_slice()).unwrap();
    assert_eq!(inner.portnum, pb::PortNum::TextMessageApp as i32);
    assert_eq!(inner.data, b"hi");
}
