//! What the map shows of a radio: every node with a position as a marker (name, when last
//! heard, via MQTT, mine), the position tracks of nodes that moved, and which links of the
//! topology join two positioned nodes.

use std::collections::HashMap;

use crate::ids::NodeNum;
use crate::radio::state::RadioState;
use crate::read::nodes::row;
use crate::read::topology::Link;
use crate::store::tracks::Track;

/// Most points of one node's track drawn.
pub const TRACK_POINTS: usize = 200;

/// A node on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub num: NodeNum,
    pub id: String,
    /// Long name, else short name, else the id.
    pub name: String,
    pub short: String,
    pub lat: f64,
    pub lon: f64,
    /// Unix seconds; `None` when never heard.
    pub last_heard: Option<u32>,
    pub via_mqtt: bool,
    pub me: bool,
}

/// Every node of the DB with a position (the same ones `/api/nodes` gives a position).
pub fn markers(state: &RadioState) -> Vec<Marker> {
    let me = state.my_node_num;
    let mut out: Vec<Marker> = state
        .nodes
        .iter()
        .filter_map(|n| {
            let r = row(n, None);
            let (lat, lon) = r.lat.zip(r.lon)?;
            let name = [&r.long_name, &r.short_name]
                .into_iter()
                .find(|s| !s.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| r.id.clone());
            Some(Marker {
                me: r.num == me,
                num: r.num,
                id: r.id,
                name,
                short: r.short_name,
                lat,
                lon,
                last_heard: r.last_heard,
                via_mqtt: r.via_mqtt,
            })
        })
        .collect();
    // My node last, so it is drawn on top.
    out.sort_by_key(|m| (m.me, m.num.0));
    out
}

/// A track to draw: a node's positions (latitude, longitude), oldest first.
pub struct TrackLine {
    pub num: NodeNum,
    pub points: Vec<(f64, f64)>,
}

/// The tracks of the nodes on the map that have moved (two different positions or more).
pub fn tracks(markers: &[Marker], stored: &HashMap<NodeNum, Track>) -> Vec<TrackLine> {
    let mut out: Vec<TrackLine> = markers
        .iter()
        .filter_map(|m| {
            let t = stored.get(&m.num)?;
            let skip = t.len().saturating_sub(TRACK_POINTS);
            let points: Vec<(f64, f64)> = t.iter().skip(skip).map(|p| (p.1, p.2)).collect();
            let moved = points.windows(2).any(|w| w[0] != w[1]);
            moved.then_some(TrackLine { num: m.num, points })
        })
        .collect();
    out.sort_by_key(|t| t.num.0);
    out
}

/// A line of the topology on the map: two positioned nodes and the SNRs they hear each
/// other at (`ab`: b heard a).
#[derive(Debug, Clone, PartialEq)]
pub struct MapLink {
    pub a: (f64, f64),
    pub b: (f64, f64),
    pub snr: Option<f32>,
    pub label: String,
}

/// The topology's links between nodes on the map, one line per pair of nodes, with the
/// weaker SNR known of either direction.
pub fn map_links(markers: &[Marker], links: &[Link]) -> Vec<MapLink> {
    let at: HashMap<NodeNum, &Marker> = markers.iter().map(|m| (m.num, m)).collect();
    let mut pairs: std::collections::BTreeMap<(u32, u32), (Option<f32>, Vec<String>)> =
        Default::default();
    for l in links {
        let (Some(a), Some(b)) = (at.get(&l.from), at.get(&l.to)) else {
            continue;
        };
        let key = (l.from.0.min(l.to.0), l.from.0.max(l.to.0));
        let e = pairs.entry(key).or_insert((None, Vec::new()));
        e.0 = match (e.0, l.snr) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        let snr = l.snr.map_or("? dB".to_string(), |s| format!("{s:+.1} dB"));
        e.1.push(format!(
            "{} → {}: {snr} ({})",
            a.name,
            b.name,
            l.source.name()
        ));
    }
    pairs
        .into_iter()
        .filter_map(|((x, y), (snr, texts))| {
            let (a, b) = (at.get(&NodeNum(x))?, at.get(&NodeNum(y))?);
            Some(MapLink {
                a: (a.lat, a.lon),
                b: (b.lat, b.lon),
                snr,
                label: texts.join("; "),
            })
        })
        .collect()
}
