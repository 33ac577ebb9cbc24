//! One client at a time, closing, and the fault modes tests use against the link.

use super::*;

/// Everything of a handshake of a DB of `nodes` but `config_complete_id`.
fn handshake_len(nodes: usize) -> usize {
    1 + 1 + 8 + 8 + 13 + nodes
}

#[tokio::test]
async fn a_new_client_force_closes_the_previous_one() {
    let r = radio(quiet(5)).await;
    let mut first = Raw::connect(&r).await;
    first.handshake(1000).await;
    let mut second = Raw::connect(&r).await;
    second.handshake(1001).await;
    assert_eq!(
        first.closing_within(2000).await,
        Some(true),
        "the first client was not closed in order (firmware stops it, no reset)"
    );
    assert_eq!(r.connections_accepted(), 2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!((r.connections_open(), r.connections_closed()), (1, 1));
}

#[tokio::test]
async fn disconnect_closes_the_link_and_shutdown_stops_listening() {
    let (r, mut c) = connected(quiet(5), 1).await;
    c.send(In::Disconnect(true)).await;
    assert!(c.closed_within(1000).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!((r.connections_open(), r.connections_closed()), (0, 1));
    let mut c = Raw::connect(&r).await;
    c.handshake(2).await;
    r.shutdown();
    assert!(c.closed_within(1000).await);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        TcpStream::connect(r.addr()).await.is_err(),
        "still listening"
    );
}

#[tokio::test]
async fn garbage_from_the_client_never_breaks_the_radio() {
    let r = radio(quiet(5)).await;
    let mut c = Raw::connect(&r).await;
    c.s.write_all(&[0x94, 0xC3, 0x7F, 0xFF, 1, 2, 3])
        .await
        .unwrap();
    c.s.write_all(&proto::frame(&[0x0A, 0xFF, 0x01]))
        .await
        .unwrap();
    c.s.write_all(&proto::frame(&[0xFF; 40])).await.unwrap();
    c.s.write_all(b"random junk \x00\xff").await.unwrap();
    // Payloads that are not what their port says.
    let me = r.my_node_num();
    c.packet(packet(me, 5, pb::PortNum::AdminApp, vec![0xFF, 0x01]))
        .await;
    c.packet(packet(3, 6, pb::PortNum::TracerouteApp, vec![0x0A, 0x80]))
        .await;
    c.handshake(10).await;
}

#[tokio::test]
async fn garbage_mode_interleaves_junk_but_every_real_frame_gets_through() {
    let r = radio(faulty(50, Fault::Garbage)).await;
    let mut c = Raw::connect(&r).await;
    let all = c.handshake(3).await;
    assert_eq!(all.len(), handshake_len(50) + 1);
    assert!(c.d.skipped > 0 && c.d.oversize > 0, "no junk seen");
    let got = c.broadcast(&[9], 500).await;
    assert_eq!(queued(&got), vec![9]);
    assert_eq!(routings(&got).len(), 1);
}

#[tokio::test]
async fn a_stalled_radio_says_nothing_and_ignores_every_client_until_it_recovers() {
    let (r, mut c) = connected(live(5, 50.0), 4).await;
    r.set_fault(Fault::Stall);
    let recorded = r.sent_packets().len();
    c.packet(text(proto::BROADCAST, 9, true)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.collect(300).await; // what was on its way before the stall
    assert!(c.next(500).await.is_none(), "the stalled radio spoke");
    assert!(!c.closed_within(100).await, "the socket stays open");
    assert!(
        r.sent_packets().len() <= recorded + 1,
        "nothing counts as sent while stalled"
    );
    // A new client is accepted (and closes the first) but never gets a handshake.
    let mut d = Raw::asking(&r, 5).await;
    assert!(d.next(500).await.is_none());
    r.set_fault(Fault::None);
    d.handshake(6).await;
    d.packet(text(proto::BROADCAST, 10, true)).await;
    let got = d.collect_for(300).await;
    assert_eq!(queued(&got), vec![10]);
}

#[tokio::test]
async fn drop_after_closes_the_link_after_that_many_frames() {
    let r = radio(faulty(20, Fault::DropAfter(5))).await;
    let mut c = Raw::asking(&r, 1).await;
    for i in 0..5 {
        assert!(c.next(2000).await.is_some(), "frame {i} missing");
    }
    assert_eq!(
        c.closing_within(500).await,
        Some(false),
        "a broken link is reset"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(r.connections_closed(), 1);
}

#[tokio::test]
async fn a_reboot_resets_the_client_as_a_radio_that_goes_away_does() {
    let (r, mut c) = connected(quiet(5), 1).await;
    let me = r.my_node_num();
    let reboot = pb::admin_message::PayloadVariant::RebootSeconds(0);
    c.packet(admin(me, 40, reboot, false)).await;
    assert_eq!(c.closing_within(3000).await, Some(false));
}

#[tokio::test]
async fn firmware_before_2_7_4_says_so_and_leaves_heartbeats_unanswered() {
    let cfg = SimConfig {
        old_firmware: true,
        ..quiet(5)
    };
    let r = radio(cfg).await;
    let mut c = Raw::connect(&r).await;
    let got = c.handshake(1).await;
    let version = got.iter().find_map(|m| match m {
        Out::Metadata(m) => Some(m.firmware_version.clone()),
        _ => None,
    });
    assert_eq!(version.as_deref(), Some("2.6.11.sim"));
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    assert!(c.collect(300).await.is_empty());
}

#[tokio::test]
async fn a_heartbeat_is_answered_with_a_queue_status_but_not_by_a_stalled_radio() {
    let (r, mut c) = connected(quiet(5), 1).await;
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    assert_eq!(queued(&c.collect(300).await), vec![0]);
    r.set_fault(Fault::Stall);
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    assert!(c.collect(500).await.is_empty(), "a stalled radio answered");
    r.set_fault(Fault::None);
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    assert_eq!(queued(&c.collect(300).await), vec![0]);
}

#[tokio::test]
async fn no_config_complete_sends_the_whole_handshake_but_the_end_and_no_traffic() {
    let r = radio(SimConfig {
        fault: Fault::NoConfigComplete,
        ..live(5, 50.0)
    })
    .await;
    let mut c = Raw::asking(&r, 1).await;
    let got = c.collect(500).await;
    assert_eq!(got.len(), handshake_len(5));
    assert!(!got
        .iter()
        .any(|m| matches!(m, Out::ConfigCompleteId(_) | Out::Packet(_))));
}
