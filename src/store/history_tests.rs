//! The node history's round trip through the writer, roll-ups and purges, with a clock that
//! lives a hundred days in a test.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::history_read::{Every, Tier};
use super::retention::Policy;
use super::{HistoryOp, Store};
use crate::ids::NodeNum;
use crate::radio::observe::{Metric, Observation, Observed, Sample};

const RADIO: crate::ids::RadioKey = crate::ids::RadioKey(1);
const NODE: NodeNum = NodeNum(0x0a0b0c0d);
const DAY: Duration = Duration::from_secs(86_400);

fn store(name: &str) -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("meshdeck-hist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (Store::open(&dir.join("h.db")).unwrap(), dir)
}

fn heard(at: SystemTime, battery: f64, snr: f64) -> Observation {
    let mut s = Sample::default();
    s.set(Metric::Battery, Some(battery));
    s.set(Metric::Snr, Some(snr));
    Observation {
        radio: RADIO,
        node: NODE,
        at,
        what: Observed::Heard(s),
    }
}

fn user(at: SystemTime, long: &str) -> Observation {
    Observation {
        radio: RADIO,
        node: NODE,
        at,
        what: Observed::User {
            long_name: long.into(),
            short_name: "AB".into(),
            hw_model: 9,
            role: 0,
        },
    }
}

/// Midnight (UTC) some days after the epoch: hours and days line up with it.
fn midnight() -> SystemTime {
    UNIX_EPOCH + DAY * 20_000
}

#[tokio::test]
async fn samples_roll_up_by_hour_and_day_and_go_past_their_windows() {
    let (store, dir) = store("roll");
    let now = midnight();
    let old = now - DAY * 100;
    let week_ago = now - DAY * 10;
    let mut seen = Vec::new();
    for (i, t) in [old, week_ago].into_iter().enumerate() {
        // Three samples in one hour: battery 10, 20, 60 (mean 30); SNR -5, 0, 5.
        for (k, (b, snr)) in [(10.0, -5.0), (20.0, 0.0), (60.0, 5.0)]
            .into_iter()
            .enumerate()
        {
            seen.push(heard(
                t + Duration::from_secs(60 * k as u64 + i as u64),
                b,
                snr,
            ));
        }
    }
    seen.push(heard(now - Duration::from_secs(3600), 90.0, 1.25));
    store
        .apply_message_ops(vec![HistoryOp::Nodes(seen)], 10)
        .await
        .unwrap();
    let policy = Policy {
        raw_days: 7,
        hourly_days: 90,
        max_bytes: u64::MAX,
    };
    let round = store.maintain_history(now, policy).await.unwrap();
    assert_eq!(round.raw_purged, 6, "{round:?}");
    assert!(round.hourly_rows >= 3, "{round:?}");
    assert_eq!(round.hourly_purged, 1, "{round:?}");
    let all = store
        .node_points(RADIO, NODE, UNIX_EPOCH, now + DAY, Every::Sample)
        .await
        .unwrap();
    let tiers: Vec<Tier> = all.iter().map(|p| p.tier).collect();
    assert_eq!(tiers, vec![Tier::Daily, Tier::Hourly, Tier::Raw], "{all:?}");
    for p in &all[..2] {
        assert_eq!(p.samples, 3);
        assert_eq!(p.min.get(Metric::Battery), Some(10.0));
        assert_eq!(p.mean.get(Metric::Battery), Some(30.0));
        assert_eq!(p.max.get(Metric::Battery), Some(60.0));
        assert_eq!(p.mean.get(Metric::Snr), Some(0.0));
    }
    assert_eq!(all[2].mean.get(Metric::Snr), Some(1.25));
    assert_eq!(all[0].at, old);
    // The last hour is rolled up too, and read by hour it comes from there.
    let hours = store
        .node_points(RADIO, NODE, now - DAY, now + DAY, Every::Hour)
        .await
        .unwrap();
    assert_eq!(
        hours.iter().map(|p| p.tier).collect::<Vec<_>>(),
        vec![Tier::Hourly]
    );
    // The sparklines read the same hour, battery and SNR only.
    let sp = store
        .hourly_points(RADIO, vec![NODE], now - DAY, now)
        .await
        .unwrap();
    let sp = sp.get(NODE).unwrap();
    assert_eq!(sp.len(), 1);
    assert_eq!(
        (sp[0].get(Metric::Battery), sp[0].get(Metric::Snr)),
        (Some(90.0), Some(1.25))
    );
    // A second round finds nothing left to do.
    let again = store.maintain_history(now, policy).await.unwrap();
    assert_eq!((again.raw_purged, again.hourly_purged), (0, 0), "{again:?}");
    // Past the size cap, the oldest days go.
    let capped = store
        .maintain_history(
            now,
            Policy {
                max_bytes: 1,
                ..policy
            },
        )
        .await
        .unwrap();
    assert!(capped.capped_days >= 1, "{capped:?}");
    let left = store
        .node_points(RADIO, NODE, UNIX_EPOCH, now + DAY, Every::Sample)
        .await
        .unwrap();
    assert!(left.len() < all.len());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn names_are_kept_when_they_change_and_first_and_last_heard_widen() {
    let (store, dir) = store("names");
    let t = midnight();
    let ops = vec![HistoryOp::Nodes(vec![
        user(t, "Alpha"),
        user(t + DAY, "Alpha"),
        user(t + DAY * 2, "<b>Bravo</b>"),
        heard(t + DAY * 3, 50.0, 2.0),
        Observation {
            radio: RADIO,
            node: NODE,
            at: t - DAY,
            what: Observed::Known(t - DAY),
        },
        Observation {
            radio: crate::ids::RadioKey(2),
            node: NODE,
            at: t,
            what: Observed::Position {
                lat_i: 1,
                lon_i: 2,
                alt: None,
            },
        },
    ])];
    store.apply_message_ops(ops, 10).await.unwrap();
    let h = store.node_history(RADIO, NODE).await.unwrap();
    let names: Vec<&str> = h.names.iter().map(|n| n.1.as_str()).collect();
    assert_eq!(names, vec!["Alpha", "<b>Bravo</b>"]);
    assert_eq!(h.roles.len(), 1);
    assert_eq!(h.first_seen, Some(t - DAY));
    assert_eq!(h.last_seen, Some(t + DAY * 3));
    assert!(
        h.positions.is_empty(),
        "another radio's position is not this one's"
    );
    assert_eq!(
        store
            .node_history(crate::ids::RadioKey(2), NODE)
            .await
            .unwrap()
            .positions
            .len(),
        1
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sparks_keep_each_nodes_points_in_order_of_node() {
    use crate::store::history_read::{SparkPoint, Sparks};
    let p = |at: u32| SparkPoint {
        at,
        battery: Some(at as f32),
        snr: None,
    };
    let s = Sparks::from_lists(vec![
        (NodeNum(30), vec![p(1), p(2)]),
        (NodeNum(10), vec![]),
        (NodeNum(20), vec![p(3)]),
    ]);
    assert_eq!(s.len(), 3);
    assert_eq!(s.get(NodeNum(30)), Some(&[p(1), p(2)][..]));
    assert_eq!(s.get(NodeNum(20)), Some(&[p(3)][..]));
    // Read with no points (the table shows a dash) is not the same as not read.
    assert_eq!(s.get(NodeNum(10)), Some(&[][..]));
    assert_eq!(s.get(NodeNum(40)), None);
    assert!(Sparks::default().get(NodeNum(10)).is_none());
}
