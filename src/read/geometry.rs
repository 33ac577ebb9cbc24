//! Where nodes are from my node: great-circle distance, initial bearing, and the placement
//! of every positioned node on the coverage picture. The node table, the JSON API and the
//! picture all measure with these.

use std::collections::HashMap;

use crate::ids::NodeNum;
use crate::radio::state::RadioState;
use crate::radio::trace::TraceStatus;
use crate::read::nodes::row;

/// Mean Earth radius in km.
const EARTH_KM: f64 = 6371.0088;

/// Great-circle distance in km between two (lat, lon) points in degrees.
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_KM * h.sqrt().min(1.0).asin()
}

/// Initial bearing from `a` to `b` in degrees (0 = north, 90 = east; -180..180).
pub fn bearing_deg(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2, dl) = (a.0.to_radians(), b.0.to_radians(), (b.1 - a.1).to_radians());
    (dl.sin() * p2.cos())
        .atan2(p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos())
        .to_degrees()
}

/// A node placed on the coverage picture.
pub struct Placed {
    pub num: NodeNum,
    pub label: String,
    pub distance_km: f64,
    pub bearing_deg: f64,
    pub via_mqtt: bool,
    pub outcome: Option<TraceStatus>,
    pub hops: Option<u32>,
}

/// Every other node with a position, placed by bearing and distance from my node (none when
/// my node has no position), with its last traceroute outcome; and my node's label.
pub fn coverage(
    state: &RadioState,
    outcome: &HashMap<NodeNum, TraceStatus>,
) -> (Vec<Placed>, String) {
    let me = state.my_node().map(|n| row(n, None));
    let label = me
        .as_ref()
        .map(|m| m.short_name.clone())
        .unwrap_or_else(|| state.my_node_num.to_string());
    let Some(origin) = me.and_then(|m| m.lat.zip(m.lon)) else {
        return (Vec::new(), label);
    };
    let placed = state
        .nodes
        .iter()
        .filter(|n| n.num() != state.my_node_num)
        .filter_map(|n| {
            let r = row(n, None);
            let at = r.lat.zip(r.lon)?;
            Some(Placed {
                num: r.num,
                label: if r.long_name.is_empty() {
                    r.id
                } else {
                    r.long_name
                },
                distance_km: haversine_km(origin, at),
                bearing_deg: bearing_deg(origin, at),
                via_mqtt: r.via_mqtt,
                outcome: outcome.get(&r.num).copied(),
                hops: r.hops_away,
            })
        })
        .collect();
    (placed, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearings_point_the_right_way() {
        assert!((bearing_deg((0.0, 0.0), (1.0, 0.0))).abs() < 1e-9);
        assert!((bearing_deg((0.0, 0.0), (0.0, 1.0)) - 90.0).abs() < 1e-9);
        assert!((bearing_deg((0.0, 0.0), (-1.0, 0.0)).abs() - 180.0).abs() < 1e-9);
    }
}
