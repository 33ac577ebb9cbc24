//! Episodes: when a rule fires, as pure functions of what a link reports, the rules and the
//! time (passed in). One [`Watch`] per link holds what it has seen; the follower task feeds
//! it events and a node DB snapshot on a timer, and stores what it says fired.
//!
//! - `node_silent` fires once when a node was not heard for `minutes`, and again only after
//!   it was heard again and fell silent again. A rule for one node says so at once when that
//!   node is silent already; a rule for any node watches the nodes heard within the last day
//!   and reports the silences that start while it watches (not the ones under way when the
//!   link or the rule started: a mesh has dozens).
//! - `battery_below` fires once when a battery reads under `percent`, and re-arms only when
//!   it reads `percent + 5` or more (or external power, above 100). A reading of 0 means
//!   "no battery" to firmware and is skipped. One node's rule, or any node's, as above.
//! - `new_node` fires once per node this radio never saw: not in its node DB when the link
//!   started, nor in its stored history.
//! - `dm` fires per direct text to my node (from `node`, when set); `keyword` per channel
//!   text holding `text`, whatever its case (from `node`, when set).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use crate::ids::NodeNum;
use crate::store::alerts::{AlertRule, Kind};

/// How far a battery must rise above a rule's percent before it can fire again.
pub const HYSTERESIS: u32 = 5;
/// A rule for any node watches the nodes heard within this many minutes.
pub const ANY_NODE_WINDOW_MIN: u32 = 24 * 60;

/// What a check needs of one node of the node DB.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSnap {
    pub num: NodeNum,
    pub name: String,
    /// When the node DB last heard it, `None` when never.
    pub heard: Option<SystemTime>,
    pub battery: Option<u32>,
}

/// A text heard from the mesh (not one we sent).
#[derive(Debug, Clone)]
pub struct TextIn<'a> {
    pub from: NodeNum,
    pub from_name: &'a str,
    pub to: NodeNum,
    pub channel: u32,
    pub text: &'a str,
}

/// A rule that fired, for a node, with what to tell.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub rule: i64,
    pub kind: Kind,
    pub node: NodeNum,
    pub message: String,
}

/// What one link has seen, for its episodes.
#[derive(Debug, Default)]
pub struct Watch {
    /// Last heard per node: the node DB's, or later packets'.
    heard: HashMap<NodeNum, SystemTime>,
    /// (rule, node) in a silent episode, and since when we said so.
    silent: HashMap<(i64, NodeNum), SystemTime>,
    /// (rule, node) in a low-battery episode.
    low: HashSet<(i64, NodeNum)>,
    /// Nodes this radio has seen (for `new_node`).
    known: HashSet<NodeNum>,
    /// Rules evaluated once already (a rule for any node starts quietly).
    seen_rules: HashSet<i64>,
    /// When each (rule, node) last fired before this watch began (a restart).
    fired_before: HashMap<(i64, NodeNum), SystemTime>,
}

/// A node's label in messages: its name and id, or the id alone.
pub fn label(name: &str, num: NodeNum) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
    if name.trim().is_empty() {
        num.to_string()
    } else {
        format!("{} ({num})", name.trim())
    }
}

fn clip(text: &str) -> String {
    let t: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if t.chars().count() > 200 {
        format!("{}…", t.chars().take(200).collect::<String>())
    } else {
        t
    }
}

fn minutes(d: Duration, minute: Duration) -> u64 {
    d.as_millis()
        .checked_div(minute.as_millis())
        .and_then(|m| u64::try_from(m).ok())
        .unwrap_or(0)
}

impl Watch {
    /// A watch of a link whose node DB is `nodes` now; `ever_seen` are the nodes the radio's
    /// history knows, `fired_before` when each rule last fired for each node.
    pub fn new(
        nodes: &[NodeSnap],
        ever_seen: &[NodeNum],
        fired_before: Vec<(i64, NodeNum, SystemTime)>,
    ) -> Watch {
        let mut w = Watch {
            fired_before: fired_before
                .into_iter()
                .map(|(r, n, t)| ((r, n), t))
                .collect(),
            ..Watch::default()
        };
        w.known.extend(ever_seen.iter().copied());
        for n in nodes {
            w.known.insert(n.num);
            if let Some(t) = n.heard {
                w.heard.insert(n.num, t);
            }
        }
        w
    }

    /// A packet from `from` arrived at `at`: it is heard, and maybe new.
    pub fn heard(
        &mut self,
        rules: &[AlertRule],
        from: NodeNum,
        name: &str,
        at: SystemTime,
        me: NodeNum,
    ) -> Vec<Firing> {
        if from.0 == 0 || from.is_broadcast() || from == me {
            return Vec::new();
        }
        let e = self.heard.entry(from).or_insert(at);
        if *e < at {
            *e = at;
        }
        self.meet(rules, from, name)
    }

    /// `num` is in the node DB or sent a packet: the first time, `new_node` rules fire.
    fn meet(&mut self, rules: &[AlertRule], num: NodeNum, name: &str) -> Vec<Firing> {
        if !self.known.insert(num) {
            return Vec::new();
        }
        rules
            .iter()
            .filter(|r| r.kind == Kind::NewNode)
            .map(|r| Firing {
                rule: r.id,
                kind: r.kind,
                node: num,
                message: format!("New node heard: {}", label(name, num)),
            })
            .collect()
    }

    /// A text from the mesh: the `dm` and `keyword` rules it matches.
    pub fn text(&self, rules: &[AlertRule], t: &TextIn<'_>, me: NodeNum) -> Vec<Firing> {
        if t.from == me {
            return Vec::new();
        }
        let from_ok = |r: &AlertRule| r.node.is_none_or(|n| n == t.from);
        let who = label(t.from_name, t.from);
        let lower = t.text.to_lowercase();
        rules
            .iter()
            .filter(|r| from_ok(r))
            .filter_map(|r| {
                let message = match r.kind {
                    Kind::Dm if t.to == me => format!("DM from {who}: {}", clip(t.text)),
                    Kind::Keyword if t.to.is_broadcast() => {
                        let word = r.text.as_deref().unwrap_or_default();
                        if word.is_empty() || !lower.contains(&word.to_lowercase()) {
                            return None;
                        }
                        format!(
                            "\"{word}\" on channel {} from {who}: {}",
                            t.channel,
                            clip(t.text)
                        )
                    }
                    _ => return None,
                };
                Some(Firing {
                    rule: r.id,
                    kind: r.kind,
                    node: t.from,
                    message,
                })
            })
            .collect()
    }

    /// The timed check over the node DB: silences, batteries, and nodes that appeared in the
    /// DB without a packet. `minute` is how long a rule's minute lasts (a minute but in tests).
    pub fn check(
        &mut self,
        rules: &[AlertRule],
        nodes: &[NodeSnap],
        me: NodeNum,
        now: SystemTime,
        minute: Duration,
    ) -> Vec<Firing> {
        let mut out = Vec::new();
        for n in nodes {
            if n.num != me {
                out.extend(self.meet(rules, n.num, &n.name));
            }
            if let Some(t) = n.heard {
                let e = self.heard.entry(n.num).or_insert(t);
                if *e < t {
                    *e = t;
                }
            }
        }
        // Episodes of rules that are gone go with them.
        self.silent
            .retain(|(r, _), _| rules.iter().any(|x| x.id == *r));
        self.low.retain(|(r, _)| rules.iter().any(|x| x.id == *r));
        for r in rules {
            let first = self.seen_rules.insert(r.id);
            let quiet = first && r.node.is_none();
            match r.kind {
                Kind::NodeSilent => out.extend(self.silences(r, nodes, me, now, minute, quiet)),
                Kind::BatteryBelow => out.extend(self.batteries(r, nodes, quiet)),
                _ => {}
            }
        }
        self.seen_rules
            .retain(|id| rules.iter().any(|x| x.id == *id));
        out
    }

    fn silences(
        &mut self,
        r: &AlertRule,
        nodes: &[NodeSnap],
        me: NodeNum,
        now: SystemTime,
        minute: Duration,
        quiet: bool,
    ) -> Vec<Firing> {
        let Some(limit) = r.minutes else {
            return Vec::new();
        };
        let after = minute.saturating_mul(limit);
        let window = minute.saturating_mul(ANY_NODE_WINDOW_MIN).max(after);
        let mut out = Vec::new();
        for n in nodes
            .iter()
            .filter(|n| n.num != me && r.node.is_none_or(|x| x == n.num))
        {
            let Some(&heard) = self.heard.get(&n.num) else {
                continue;
            };
            let gap = now.duration_since(heard).unwrap_or(Duration::ZERO);
            let key = (r.id, n.num);
            if gap < after {
                // Heard again: the episode is over.
                self.silent.remove(&key);
                continue;
            }
            if self.silent.contains_key(&key) {
                continue;
            }
            // Said so before a restart, and not heard since: the same episode. A rule for
            // any node starts quietly, and leaves alone nodes silent for over a day.
            let said = self.fired_before.get(&key).is_some_and(|t| *t >= heard);
            let any = r.node.is_none();
            if said || (any && (quiet || gap >= window)) {
                self.silent.insert(key, now);
                continue;
            }
            self.silent.insert(key, now);
            out.push(Firing {
                rule: r.id,
                kind: r.kind,
                node: n.num,
                message: format!(
                    "{} silent for {} min",
                    label(&n.name, n.num),
                    minutes(gap, minute)
                ),
            });
        }
        out
    }

    fn batteries(&mut self, r: &AlertRule, nodes: &[NodeSnap], quiet: bool) -> Vec<Firing> {
        let Some(limit) = r.percent else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for n in nodes.iter().filter(|n| r.node.is_none_or(|x| x == n.num)) {
            let Some(level) = n.battery.filter(|l| *l > 0) else {
                continue;
            };
            let key = (r.id, n.num);
            if level > 100 || level >= limit.saturating_add(HYSTERESIS) {
                self.low.remove(&key);
                self.fired_before.remove(&key);
                continue;
            }
            if level >= limit || self.low.contains(&key) {
                continue;
            }
            self.low.insert(key);
            if quiet || self.fired_before.contains_key(&key) {
                continue;
            }
            out.push(Firing {
                rule: r.id,
                kind: r.kind,
                node: n.num,
                message: format!(
                    "{} battery at {level} % (below {limit} %)",
                    label(&n.name, n.num)
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
