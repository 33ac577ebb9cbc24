//! The node DB's tests: names, the index, its cap, the record's size, what was sent.

use super::*;

#[test]
fn names_split_back_exactly_including_multibyte_and_empty() {
    for (long, short) in [
        ("Alpha Base", "AB"),
        ("", "x"),
        ("Ünïcødé 🛰", "🛰"),
        ("", ""),
    ] {
        let u = User::new(long, short, 9, 2);
        assert_eq!((u.long_name(), u.short_name()), (long, short));
    }
    assert_eq!(User::new("", "SH", 0, 0).display_name(), "SH");
}

#[test]
fn upsert_replaces_and_index_survives_retain() {
    let mut db = NodeDb::new();
    for num in [30, 10, 20] {
        db.upsert(Node::new(NodeNum(num)));
    }
    db.upsert(Node {
        last_heard: 5,
        ..Node::new(NodeNum(10))
    });
    assert_eq!(db.len(), 3);
    assert_eq!(db.get(NodeNum(10)).map(|n| n.last_heard), Some(5));
    db.retain(|n| n.num != NodeNum(30));
    assert_eq!(db.len(), 2);
    assert!(!db.contains(NodeNum(30)));
    assert_eq!(db.get(NodeNum(20)).map(|n| n.num), Some(NodeNum(20)));
    assert_eq!(db.get(NodeNum(10)).map(|n| n.last_heard), Some(5));
}

#[test]
fn a_full_db_takes_no_new_node_but_updates_known_ones() {
    let mut db = NodeDb::new();
    for num in 0..MAX_NODES as u32 {
        db.upsert(Node::new(NodeNum(num)));
    }
    db.upsert(Node::new(NodeNum(u32::MAX)));
    assert_eq!(db.len(), MAX_NODES);
    assert!(db.get_or_insert(NodeNum(u32::MAX)).is_none());
    assert!(db.get_or_insert(NodeNum(7)).is_some());
}

#[test]
fn a_record_is_a_fraction_of_the_protobuf() {
    assert!(
        std::mem::size_of::<Node>() <= 96,
        "{}",
        std::mem::size_of::<Node>()
    );
    assert!(std::mem::size_of::<pb::NodeInfo>() > 2 * std::mem::size_of::<Node>());
    assert_eq!(std::mem::size_of::<Position>(), 16);
    assert_eq!(std::mem::size_of::<Metrics>(), 24);
}

#[test]
fn positions_and_metrics_keep_what_was_sent_and_only_that() {
    for bits in 0..32u8 {
        let on = |b: u8| bits & b != 0;
        let m = pb::DeviceMetrics {
            battery_level: on(1).then_some(101),
            voltage: on(2).then_some(-0.0),
            channel_utilization: on(4).then_some(f32::NAN),
            air_util_tx: on(8).then_some(0.0),
            uptime_seconds: on(16).then_some(u32::MAX),
        };
        let back = Metrics::from(&m).to_pb();
        assert_eq!(format!("{back:?}"), format!("{m:?}"), "{bits:05b}");
        assert_eq!(Metrics::from(&m).battery_level(), m.battery_level);
        let p = Position::new(
            on(1).then_some(0),
            on(2).then_some(i32::MIN),
            on(4).then_some(-5),
        );
        assert_eq!(
            (p.latitude_i(), p.longitude_i(), p.altitude()),
            (
                on(1).then_some(0),
                on(2).then_some(i32::MIN),
                on(4).then_some(-5)
            )
        );
    }
}
