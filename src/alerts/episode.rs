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
