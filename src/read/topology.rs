//! Who hears whom: the links of a radio's mesh, from the NeighborInfo reports nodes sent
//! (the link's latest, else the stored ones) and from the hops of finished traceroutes,
//! with the nodes they join. A link goes from the node heard to the node that heard it, with
//! the SNR it was heard at. The topology page, the map and `/api/topology` show these.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use crate::ids::NodeNum;
use crate::radio::neighbors::Report;
use crate::radio::state::RadioState;
use crate::radio::trace::{Trace, TraceStatus};
use crate::read::nodes::row;

/// Most links shown.
pub const MAX_LINKS: usize = 2000;

/// Where a link was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    NeighborInfo,
    Traceroute,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::NeighborInfo => "neighborinfo",
            Source::Traceroute => "traceroute",
        }
    }
}

/// `from` was heard by `to` at `snr` dB.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub from: NodeNum,
    pub to: NodeNum,
    pub snr: Option<f32>,
    pub source: Source,
    pub at: SystemTime,
}

/// A node of the topology.
#[derive(Debug, Clone, PartialEq)]
pub struct TopoNode {
    pub num: NodeNum,
    pub id: String,
    /// Long name, else short name, else the id.
    pub name: String,
    pub short: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub me: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topology {
    /// Every node a link joins (and my node), by number.
    pub nodes: Vec<TopoNode>,
    /// Newest first.
    pub links: Vec<Link>,
}

impl Topology {
    pub fn node(&self, num: NodeNum) -> Option<&TopoNode> {
        self.nodes.iter().find(|n| n.num == num)
    }
}

/// The links a finished traceroute's hops make: me → route → destination towards, and
/// destination → route back → me, each hop with the SNR its receiver heard it at.
pub fn trace_links(me: NodeNum, t: &Trace) -> Vec<Link> {
    if t.status != TraceStatus::Complete {
        return Vec::new();
    }
    let at = t.done_at.unwrap_or(t.queued_at);
    let chain = |start: NodeNum, hops: &[NodeNum], end: NodeNum, snrs: &[Option<f32>]| {
        let path: Vec<NodeNum> = std::iter::once(start)
            .chain(hops.iter().copied())
            .chain(std::iter::once(end))
            .collect();
        path.windows(2)
            .enumerate()
            .filter(|(_, w)| w[0] != w[1])
            .map(|(i, w)| Link {
                from: w[0],
                to: w[1],
                snr: snrs.get(i).copied().flatten(),
                source: Source::Traceroute,
                at,
            })
            .collect::<Vec<_>>()
    };
    let mut out = chain(me, &t.route, t.dest, &t.snr_towards);
    // A reply without the way back (older firmware) says nothing of it.
    if !t.snr_back.is_empty() {
        out.extend(chain(t.dest, &t.route_back, me, &t.snr_back));
    }
    out
}

/// The links of NeighborInfo reports: each neighbour heard by the reporting node.
fn report_links(r: &Report) -> impl Iterator<Item = Link> + '_ {
    r.neighbors.iter().map(move |(n, snr)| Link {
        from: *n,
        to: r.node,
        snr: *snr,
        source: Source::NeighborInfo,
        at: r.at,
    })
}

/// The topology of a radio: the link's reports over the stored ones (the newer of each
/// node's), the traceroutes' hops, the newest link of each (from, to, source); names and
/// positions from the node DB.
pub fn build(state: &RadioState, stored: &[Report], traces: &[Trace]) -> Topology {
    let me = state.my_node_num;
    let live: Vec<Report> = state.neighbors.iter().collect();
    let mut reports: HashMap<NodeNum, &Report> = HashMap::new();
    for r in stored.iter().chain(live.iter()) {
        match reports.get(&r.node) {
            Some(old) if old.at > r.at => {}
            _ => {
                reports.insert(r.node, r);
            }
        }
    }
    let mut newest: HashMap<(NodeNum, NodeNum, Source), Link> = HashMap::new();
    let all = reports
        .values()
        .flat_map(|r| report_links(r))
        .chain(traces.iter().flat_map(|t| trace_links(me, t)));
    for l in all {
        let key = (l.from, l.to, l.source);
        match newest.get(&key) {
            Some(old) if old.at >= l.at => {}
            _ => {
                newest.insert(key, l);
            }
        }
    }
    let mut links: Vec<Link> = newest.into_values().collect();
    links.sort_by(|a, b| {
        b.at.cmp(&a.at)
            .then(a.source.cmp(&b.source))
            .then(a.from.0.cmp(&b.from.0))
            .then(a.to.0.cmp(&b.to.0))
    });
    links.truncate(MAX_LINKS);
    let mut nums: Vec<NodeNum> = links.iter().flat_map(|l| [l.from, l.to]).collect();
    if me.0 != 0 {
        nums.push(me);
    }
    let mut seen = HashSet::new();
    nums.retain(|n| seen.insert(*n));
    nums.sort_by_key(|n| n.0);
    let nodes = nums
        .into_iter()
        .map(|num| node(state, num, num == me))
        .collect();
    Topology { nodes, links }
}

fn node(state: &RadioState, num: NodeNum, me: bool) -> TopoNode {
    let id = num.to_string();
    let Some(n) = state.nodes.get(num) else {
        return TopoNode {
            num,
            name: id.clone(),
            short: String::new(),
            id,
            lat: None,
            lon: None,
            me,
        };
    };
    let r = row(n, None);
    let name = [&r.long_name, &r.short_name]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| id.clone());
    TopoNode {
        num,
        id,
        name,
        short: r.short_name,
        lat: r.lat,
        lon: r.lon,
        me,
    }
}

/// Where the graph draws each node (in the order of `nodes`) in a `width` × `height` box:
/// nodes with a position where they are (Web Mercator, fitted), the others evenly on a ring
/// around them by number; then a few rounds push apart nodes closer than `gap` pixels.
/// Deterministic: the same nodes are always drawn the same.
pub fn layout(nodes: &[TopoNode], width: f64, height: f64, gap: f64) -> Vec<(f64, f64)> {
    use crate::read::mercator::View;
    let pad = 40.0;
    let (cx, cy) = (width / 2.0, height / 2.0);
    let placed: Vec<(f64, f64)> = nodes.iter().filter_map(|n| n.lat.zip(n.lon)).collect();
    let loose = nodes.len() - placed.len();
    // With nodes on the ring, the positioned ones keep to the middle of the box.
    let inner = if loose > 0 { 0.72 } else { 1.0 };
    let (iw, ih) = (width * inner, height * inner);
    let view = View::fit(&placed, iw, ih, pad * inner);
    let mut ring = 0usize;
    let mut out: Vec<(f64, f64)> = nodes
        .iter()
        .map(|n| match n.lat.zip(n.lon) {
            Some((lat, lon)) if placed.len() > 1 => {
                let (x, y) = view.project(lat, lon);
                (x + (width - iw) / 2.0, y + (height - ih) / 2.0)
            }
            Some(_) => (cx, cy),
            None => {
                let a = std::f64::consts::TAU * ring as f64 / loose.max(1) as f64
                    - std::f64::consts::FRAC_PI_2;
                ring += 1;
                let (rx, ry) = if loose == nodes.len() {
                    (cx - pad, cy - pad)
                } else {
                    (cx - pad * 0.75, cy - pad * 0.75)
                };
                (cx + rx * a.cos(), cy + ry * a.sin())
            }
        })
        .collect();
    // Parting overlaps costs rounds × n² / 2 distance checks: a stranger can make a graph of
    // thousands of nodes with forged reports, so big graphs get fewer rounds (about 4 million
    // checks at most; none past 2,000 nodes).
    let pairs = (out.len() * out.len() / 2).max(1);
    let rounds = (4_000_000 / pairs).min(40);
    for _ in 0..rounds {
        let mut moved = false;
        for i in 0..out.len() {
            for j in (i + 1)..out.len() {
                let (dx, dy) = (out[j].0 - out[i].0, out[j].1 - out[i].1);
                let d = dx.hypot(dy);
                if d >= gap {
                    continue;
                }
                moved = true;
                // Nodes on one spot part in a direction fixed by their places in the list.
                let (ux, uy) = if d < 1e-6 {
                    let a = (i * 7 + j * 13) as f64;
                    (a.cos(), a.sin())
                } else {
                    (dx / d, dy / d)
                };
                let push = (gap - d) / 2.0;
                out[i] = (out[i].0 - ux * push, out[i].1 - uy * push);
                out[j] = (out[j].0 + ux * push, out[j].1 + uy * push);
            }
        }
        for p in out.iter_mut() {
            *p = (
                p.0.clamp(pad / 2.0, width - pad / 2.0),
                p.1.clamp(pad / 2.0, height - pad / 2.0),
            );
        }
        if !moved {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    fn trace(
        dest: u32,
        route: &[u32],
        back: &[u32],
        towards: &[Option<f32>],
        snr_back: &[Option<f32>],
    ) -> Trace {
        Trace {
            dest: NodeNum(dest),
            hop_limit: 3,
            status: TraceStatus::Complete,
            packet_id: 0,
            queued_at: at(1),
            sent_at: Some(at(1)),
            done_at: Some(at(2)),
            route: route.iter().map(|n| NodeNum(*n)).collect(),
            route_back: back.iter().map(|n| NodeNum(*n)).collect(),
            snr_towards: towards.to_vec(),
            snr_back: snr_back.to_vec(),
            error: None,
            sends_in: Duration::ZERO,
            timeout: Duration::ZERO,
            sweep_id: None,
        }
    }

    #[test]
    fn a_traceroute_is_a_link_per_hop_both_ways_with_its_snr() {
        let t = trace(9, &[5], &[], &[Some(6.0), Some(-3.5)], &[Some(1.25)]);
        let links = trace_links(NodeNum(1), &t);
        let hops: Vec<_> = links.iter().map(|l| (l.from.0, l.to.0, l.snr)).collect();
        assert_eq!(
            hops,
            vec![(1, 5, Some(6.0)), (5, 9, Some(-3.5)), (9, 1, Some(1.25))]
        );
        assert!(links.iter().all(|l| l.source == Source::Traceroute));
        let mut timeout = t.clone();
        timeout.status = TraceStatus::Timeout;
        assert!(trace_links(NodeNum(1), &timeout).is_empty());
    }

    #[test]
    fn the_newest_report_of_a_node_wins_and_links_join_named_nodes() {
        let mut st = RadioState::new(10);
        st.my_node_num = NodeNum(1);
        let old = Report {
            node: NodeNum(7),
            at: at(10),
            interval_secs: 0,
            neighbors: vec![(NodeNum(8), Some(2.0))],
        };
        let new = Report {
            at: at(20),
            neighbors: vec![(NodeNum(9), Some(-4.0))],
            ..old.clone()
        };
        st.neighbors.insert(new);
        let topo = build(&st, &[old], &[]);
        assert_eq!(topo.links.len(), 1);
        assert_eq!(
            (topo.links[0].from, topo.links[0].to),
            (NodeNum(9), NodeNum(7))
        );
        let nums: Vec<u32> = topo.nodes.iter().map(|n| n.num.0).collect();
        assert_eq!(nums, vec![1, 7, 9]);
        assert!(topo.node(NodeNum(1)).is_some_and(|n| n.me));
        assert_eq!(
            topo.node(NodeNum(9)).map(|n| n.name.as_str()),
            Some("!00000009")
        );
    }

    fn topo_node(num: u32, pos: Option<(f64, f64)>) -> TopoNode {
        TopoNode {
            num: NodeNum(num),
            id: NodeNum(num).to_string(),
            name: format!("n{num}"),
            short: String::new(),
            lat: pos.map(|p| p.0),
            lon: pos.map(|p| p.1),
            me: false,
        }
    }

    #[test]
    fn the_layout_is_deterministic_keeps_geography_and_spreads_nodes() {
        let nodes = vec![
            topo_node(1, Some((47.40, 8.50))),
            topo_node(2, Some((47.40, 8.60))),
            topo_node(3, Some((47.30, 8.50))),
            topo_node(4, Some((47.30, 8.50))),
            topo_node(5, None),
            topo_node(6, None),
        ];
        let a = layout(&nodes, 800.0, 600.0, 30.0);
        assert_eq!(a, layout(&nodes, 800.0, 600.0, 30.0));
        // East is right, north is up.
        assert!(a[1].0 > a[0].0 && a[2].1 > a[0].1);
        for i in 0..a.len() {
            assert!(a[i].0 >= 20.0 && a[i].0 <= 780.0 && a[i].1 >= 20.0 && a[i].1 <= 580.0);
            for j in (i + 1)..a.len() {
                let d = (a[i].0 - a[j].0).hypot(a[i].1 - a[j].1);
                assert!(d > 25.0, "{i} and {j} overlap: {a:?}");
            }
        }
        // Without positions: a ring around the middle.
        let ring = layout(
            &[topo_node(1, None), topo_node(2, None), topo_node(3, None)],
            600.0,
            600.0,
            30.0,
        );
        for p in &ring {
            let r = (p.0 - 300.0).hypot(p.1 - 300.0);
            assert!((r - 260.0).abs() < 1.0, "{p:?}");
        }
    }
}
