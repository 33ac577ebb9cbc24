//! The episode logic's cases, with the clock passed in.
#![allow(clippy::unwrap_used)]
use super::episode::*;
use crate::ids::NodeNum;
use crate::store::alerts::{AlertRule, Kind};
use std::time::{Duration, SystemTime};

const ME: NodeNum = NodeNum(1);
const MIN: Duration = Duration::from_secs(60);

fn rule(id: i64, kind: Kind, node: Option<u32>) -> AlertRule {
    AlertRule {
        id,
        kind,
        node: node.map(NodeNum),
        minutes: Some(10),
        percent: Some(20),
        text: Some("Help".into()),
        webhook: None,
        muted_until: None,
    }
}

fn at(min: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + min * 60)
}

fn snap(num: u32, heard: u64, battery: Option<u32>) -> NodeSnap {
    NodeSnap {
        num: NodeNum(num),
        name: format!("N{num}"),
        heard: Some(at(heard)),
        battery,
    }
}

#[test]
fn a_silent_node_fires_once_per_episode() {
    let rules = [rule(1, Kind::NodeSilent, Some(5))];
    let nodes = [snap(5, 0, None), snap(6, 0, None)];
    let mut w = Watch::new(&nodes, &[], vec![]);
    assert!(w.check(&rules, &nodes, ME, at(9), MIN).is_empty());
    let f = w.check(&rules, &nodes, ME, at(10), MIN);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].node, NodeNum(5));
    assert_eq!(f[0].message, "N5 (!00000005) silent for 10 min");
    assert!(w.check(&rules, &nodes, ME, at(30), MIN).is_empty(), "once");
    w.heard(&rules, NodeNum(5), "N5", at(31), ME);
    assert!(w.check(&rules, &nodes, ME, at(35), MIN).is_empty());
    assert_eq!(
        w.check(&rules, &nodes, ME, at(41), MIN).len(),
        1,
        "a second episode"
    );
}

#[test]
fn an_any_node_silence_rule_starts_quietly() {
    let rules = [rule(1, Kind::NodeSilent, None)];
    let nodes = [snap(5, 0, None), snap(6, 8, None)];
    let mut w = Watch::new(&nodes, &[], vec![]);
    // Node 5 is silent already when the rule starts: no alert for it.
    assert!(w.check(&rules, &nodes, ME, at(12), MIN).is_empty());
    let f = w.check(&rules, &nodes, ME, at(18), MIN);
    assert_eq!(f.iter().map(|f| f.node).collect::<Vec<_>>(), [NodeNum(6)]);
}

#[test]
fn a_silence_said_before_a_restart_is_not_said_again() {
    let rules = [rule(1, Kind::NodeSilent, Some(5))];
    let nodes = [snap(5, 0, None)];
    let mut w = Watch::new(&nodes, &[], vec![(1, NodeNum(5), at(10))]);
    assert!(w.check(&rules, &nodes, ME, at(20), MIN).is_empty());
}

#[test]
fn a_low_battery_fires_once_and_rearms_above_the_hysteresis() {
    let rules = [rule(1, Kind::BatteryBelow, Some(5))];
    let mut w = Watch::new(&[], &[], vec![]);
    let check = |w: &mut Watch, b| w.check(&rules, &[snap(5, 0, Some(b))], ME, at(0), MIN);
    assert!(check(&mut w, 50).is_empty());
    let f = check(&mut w, 19);
    assert_eq!(f[0].message, "N5 (!00000005) battery at 19 % (below 20 %)");
    assert!(check(&mut w, 15).is_empty());
    assert!(check(&mut w, 22).is_empty(), "within the hysteresis");
    assert!(check(&mut w, 10).is_empty());
    assert!(check(&mut w, 25).is_empty());
    assert_eq!(check(&mut w, 12).len(), 1);
    assert!(check(&mut w, 0).is_empty(), "0 is no battery");
}

#[test]
fn a_new_node_fires_once_and_known_ones_never() {
    let rules = [rule(1, Kind::NewNode, None)];
    let nodes = [snap(5, 0, None)];
    let mut w = Watch::new(&nodes, &[NodeNum(7)], vec![]);
    assert!(w.check(&rules, &nodes, ME, at(1), MIN).is_empty());
    assert!(
        w.heard(&rules, NodeNum(7), "", at(1), ME).is_empty(),
        "in the history"
    );
    assert!(w.heard(&rules, ME, "", at(1), ME).is_empty());
    let f = w.heard(&rules, NodeNum(9), "", at(1), ME);
    assert_eq!(f[0].message, "New node heard: !00000009");
    assert!(w.heard(&rules, NodeNum(9), "", at(2), ME).is_empty());
    let more = [snap(5, 0, None), snap(11, 0, None)];
    assert_eq!(w.check(&rules, &more, ME, at(3), MIN).len(), 1);
}

#[test]
fn texts_fire_dm_and_keyword_rules() {
    let rules = [
        rule(1, Kind::Dm, None),
        rule(2, Kind::Dm, Some(9)),
        rule(3, Kind::Keyword, None),
    ];
    let w = Watch::new(&[], &[], vec![]);
    let t = |to, text| TextIn {
        from: NodeNum(5),
        from_name: "Five",
        to,
        channel: 0,
        text,
    };
    let dm = w.text(&rules, &t(ME, "hi"), ME);
    assert_eq!(dm.iter().map(|f| f.rule).collect::<Vec<_>>(), [1]);
    assert_eq!(dm[0].message, "DM from Five (!00000005): hi");
    assert!(
        w.text(&rules, &t(NodeNum(8), "help"), ME).is_empty(),
        "someone else's DM"
    );
    let k = w.text(&rules, &t(NodeNum::BROADCAST, "need HELP now"), ME);
    assert_eq!(k.iter().map(|f| f.rule).collect::<Vec<_>>(), [3]);
    assert!(w
        .text(&rules, &t(NodeNum::BROADCAST, "fine"), ME)
        .is_empty());
}
