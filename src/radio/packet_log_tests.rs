//! The packet log's tests: numbering, both ends, the payload form read back.

use super::*;

fn packet(id: u32) -> pb::MeshPacket {
    pb::MeshPacket {
        id,
        from: 7,
        ..Default::default()
    }
}

#[test]
fn the_log_finds_a_packet_by_its_number_while_it_keeps_it() {
    let mut log = PacketLog::new(3);
    assert_eq!(log.get(0), None);
    assert_eq!(log.get(1), None);
    let now = SystemTime::now();
    let heads: Vec<PacketHead> = (1..=5)
        .map(|i| log.record(&packet(i), now, false))
        .collect();
    assert_eq!(
        heads.iter().map(|h| h.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    // Three kept: 3, 4 and 5; 1 and 2 are gone, 6 is not there yet.
    for gone in [0, 1, 2, 6, u64::MAX] {
        assert_eq!(log.get(gone), None, "seq {gone}");
    }
    for (seq, id) in [(3, 3), (4, 4), (5, 5)] {
        let e = log.get(seq).expect("kept");
        assert_eq!(e.id, id);
        assert_eq!(e.head(seq), heads[usize::try_from(seq - 1).unwrap()]);
    }
}

#[test]
fn a_full_ring_is_exactly_as_long_as_the_log() {
    let mut log = PacketLog::new(500);
    let now = SystemTime::now();
    for i in 0..600 {
        log.record(&packet(i), now, false);
        assert!(
            log.kept.capacity() <= 500,
            "at {i}: {}",
            log.kept.capacity()
        );
    }
    assert_eq!((log.len(), log.kept.capacity()), (500, 500));
}

fn text(from: u32, body: &str) -> pb::MeshPacket {
    pb::MeshPacket {
        from,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::TextMessageApp as i32,
            payload: body.as_bytes().to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The log against a plain list of whole entries, through many wraps of its buffer:
/// every summary (of any length, multi-byte too) comes back whole, from either end and
/// by number.
#[test]
fn the_log_gives_back_every_summary_it_keeps_from_either_end() {
    let mut log = PacketLog::new(7);
    let mut model: VecDeque<PacketEntry> = VecDeque::new();
    let now = SystemTime::now();
    for i in 0..200u32 {
        let body = match i % 5 {
            0 => String::new(),
            1 => "ü€😀".repeat(usize::try_from(i).unwrap() % 40),
            2 => "x".repeat(usize::try_from(i * 37).unwrap() % 700),
            3 => format!("hello {i}"),
            _ => "é".repeat(300),
        };
        let p = if i % 7 == 6 {
            packet(i)
        } else {
            text(i, &body)
        };
        let head = log.record(&p, now, false);
        model.push_back(PacketEntry::new(&p, now, false));
        if model.len() > 7 {
            model.pop_front();
        }
        let forward: Vec<PacketEntry> = log.iter().map(|l| l.entry()).collect();
        assert_eq!(forward, Vec::from(model.clone()), "after packet {i}");
        let mut backward: Vec<PacketEntry> = log.iter().rev().map(|l| l.entry()).collect();
        backward.reverse();
        assert_eq!(backward, forward);
        // Both ends at once meet in the middle.
        let mut it = log.iter();
        let (a, b) = (
            it.next().map(|l| l.entry()),
            it.next_back().map(|l| l.entry()),
        );
        assert_eq!(a.as_ref(), model.front());
        assert_eq!(
            b.as_ref(),
            if model.len() > 1 { model.back() } else { None }
        );
        assert_eq!(it.len(), model.len().saturating_sub(2));
        let oldest = head.seq + 1 - model.len() as u64;
        for (j, e) in model.iter().enumerate() {
            assert_eq!(log.get(oldest + j as u64).as_ref(), Some(e));
        }
        assert_eq!(log.get(head.seq + 1), None);
        assert_eq!(log.len(), model.len());
    }
    // The buffer holds what is kept, not the high-water mark doubled.
    let used: usize = log.iter().map(|l| l.stored_len()).sum();
    assert_eq!(used, log.text.len());
    assert!(
        log.text.capacity() <= 2 * 7 * 4096,
        "{}",
        log.text.capacity()
    );
}

#[test]
fn a_summary_past_the_limit_is_cut_at_a_character() {
    // A traceroute from a radio that lies: 2,000 hops, 26 KB of summary ("→" is 3 bytes).
    let route = pb::RouteDiscovery {
        route: (1..=2000).collect(),
        ..Default::default()
    };
    let p = pb::MeshPacket {
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::TracerouteApp as i32,
            payload: prost::Message::encode_to_vec(&route),
            ..Default::default()
        })),
        ..Default::default()
    };
    let mut log = PacketLog::new(3);
    let head = log.record(&p, SystemTime::now(), false);
    let e = log.get(head.seq).expect("kept");
    assert!(e
        .summary()
        .starts_with("traceroute request via !00000001 → "));
    assert!(e.summary().ends_with('…'), "{}", e.summary());
    assert!(
        (4000..=4095).contains(&e.summary().len()),
        "{}",
        e.summary().len()
    );
    assert_eq!(log.text.len(), e.summary().len());
}

fn decoded(port: pb::PortNum, payload: Vec<u8>, request_id: u32) -> pb::MeshPacket {
    pb::MeshPacket {
        from: 7,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: port as i32,
            payload,
            request_id,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// Where a payload is shorter than its summary the log keeps the payload and makes the
/// summary again when read: every entry comes back as it went in (acks and traceroutes
/// with their request ids), and positions and telemetry take less than their words.
#[test]
fn a_summary_kept_as_its_payload_comes_back_the_same() {
    use prost::Message as _;
    let pos = pb::Position {
        latitude_i: Some(515_000_000),
        longitude_i: Some(-1_250_000),
        altitude: Some(42),
        ..Default::default()
    };
    let tel = pb::Telemetry {
        time: 0,
        variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
            battery_level: Some(87),
            voltage: Some(4.01),
            channel_utilization: Some(12.25),
            air_util_tx: Some(1.5),
            uptime_seconds: Some(3600),
        })),
    };
    let routing = |e: pb::routing::Error| pb::Routing {
        variant: Some(pb::routing::Variant::ErrorReason(e as i32)),
    };
    let (ack, nak) = (
        routing(pb::routing::Error::None),
        routing(pb::routing::Error::NoRoute),
    );
    let route = pb::RouteDiscovery {
        route: vec![0x1234_5678, 0x9abc_def0],
        ..Default::default()
    };
    let packets = [
        decoded(pb::PortNum::PositionApp, pos.encode_to_vec(), 0),
        decoded(pb::PortNum::TelemetryApp, tel.encode_to_vec(), 0),
        decoded(pb::PortNum::RoutingApp, ack.encode_to_vec(), 0xdead_beef),
        decoded(pb::PortNum::RoutingApp, nak.encode_to_vec(), 0x0000_00ab),
        decoded(
            pb::PortNum::TracerouteApp,
            route.encode_to_vec(),
            0x0102_0304,
        ),
        decoded(pb::PortNum::TextMessageApp, "hi ünïcode".into(), 0),
        decoded(pb::PortNum::PositionApp, vec![0xff, 0xff], 0),
        decoded(pb::PortNum::RangeTestApp, vec![0; 40], 0),
        pb::MeshPacket {
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Encrypted(vec![1; 64])),
            ..Default::default()
        },
        packet(1),
        // Heard through MQTT, with a signal and hops; and a port and a channel no
        // firmware sends, which saturate in the entry as in the log.
        pb::MeshPacket {
            via_mqtt: true,
            rx_snr: -7.25,
            rx_rssi: -118,
            hop_start: 7,
            hop_limit: 2,
            channel: 3,
            ..decoded(pb::PortNum::PositionApp, pos.encode_to_vec(), 0)
        },
        pb::MeshPacket {
            channel: 300,
            ..decoded(pb::PortNum::TextMessageApp, "x".into(), 0)
        },
    ];
    let mut odd = packets[11].clone();
    if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &mut odd.payload_variant {
        d.portnum = 70_000;
    }
    let packets: Vec<pb::MeshPacket> = packets.into_iter().chain([odd]).collect();
    let now = SystemTime::now();
    let mut log = PacketLog::new(64);
    let mut words = 0;
    for round in 0..3 {
        for p in &packets {
            let want = PacketEntry::new(p, now, round == 1);
            words += want.summary().len();
            let head = log.record(p, now, round == 1);
            assert_eq!(log.get(head.seq).as_ref(), Some(&want));
        }
    }
    let back: Vec<PacketEntry> = log.iter().map(|l| l.entry()).collect();
    let from_the_back: Vec<PacketEntry> = log.iter().rev().map(|l| l.entry()).collect();
    assert!(back.iter().rev().eq(&from_the_back));
    let n = packets.len();
    let want = (0..3 * n).map(|i| PacketEntry::new(&packets[i % n], now, i / n == 1));
    assert!(back.iter().cloned().eq(want));
    let mqtt = &back[10];
    assert_eq!(
        (
            mqtt.heard.via_mqtt(),
            mqtt.heard.snr(),
            mqtt.rssi(),
            mqtt.hops_taken()
        ),
        (true, Some(-7.25), Some(-118), Some(5))
    );
    assert_eq!(
        (back[11].channel, back[12].portnum),
        (255, i32::from(i16::MAX))
    );
    assert_eq!(back[2].summary(), "ack for deadbeef");
    assert_eq!(
        back[4].summary(),
        "traceroute reply via !12345678 → !9abcdef0"
    );
    // A position: 36 bytes of words, 12 of payload; the telemetry 57 and 22.
    assert!(
        log.text.len() + 3 * (36 - 12 + 57 - 22) <= words,
        "{} of {words}",
        log.text.len()
    );
}
