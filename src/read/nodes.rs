//! The node table's rows: flattened from the node DB, filtered, and put in the default order
//! (RF before MQTT, then hops ascending with unknown last, then last heard newest first).
//! The same rows are the JSON API's node objects.

use std::borrow::Cow;
use std::str::FromStr;

use serde::Serialize;

use crate::ids::NodeNum;
use crate::proto::pb;
use crate::radio::nodedb::{Metrics, Node, Position};
use crate::radio::state::RadioState;
use crate::read::geometry::haversine_km;

/// One node as shown in the table and returned by `/api/nodes`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NodeRow {
    pub id: String,
    pub num: NodeNum,
    pub long_name: String,
    pub short_name: String,
    pub hw_model: Cow<'static, str>,
    pub role: Cow<'static, str>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub alt: Option<i32>,
    pub battery_level: Option<u32>,
    pub voltage: Option<f32>,
    pub channel_util: Option<f32>,
    pub air_util_tx: Option<f32>,
    pub uptime: Option<u32>,
    pub snr: Option<f32>,
    /// Unix seconds; `None` when never heard.
    pub last_heard: Option<u32>,
    pub hops_away: Option<u32>,
    pub via_mqtt: bool,
    pub is_favorite: bool,
    #[serde(rename = "distance_km")]
    pub distance_km: Option<f64>,
}

/// The table's filters; the API's `local` is the page's "Nearby".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeFilter {
    #[default]
    All,
    Rf,
    Mqtt,
    Nearby,
}

impl FromStr for NodeFilter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "all" => Ok(NodeFilter::All),
            "rf" => Ok(NodeFilter::Rf),
            "mqtt" => Ok(NodeFilter::Mqtt),
            "local" | "nearby" => Ok(NodeFilter::Nearby),
            other => Err(format!(
                "unknown filter {other:?}: use all, rf, mqtt or local"
            )),
        }
    }
}

impl NodeFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeFilter::All => "all",
            NodeFilter::Rf => "rf",
            NodeFilter::Mqtt => "mqtt",
            NodeFilter::Nearby => "local",
        }
    }

    /// The name of a body of this filter's nodes (a cache key, a validator's tail).
    pub fn body_name(self) -> &'static str {
        match self {
            NodeFilter::All => "nodes-all",
            NodeFilter::Rf => "nodes-rf",
            NodeFilter::Mqtt => "nodes-mqtt",
            NodeFilter::Nearby => "nodes-local",
        }
    }

    pub fn keeps(self, row: &NodeRow) -> bool {
        match self {
            NodeFilter::All => true,
            NodeFilter::Rf => !row.via_mqtt,
            NodeFilter::Mqtt => row.via_mqtt,
            // As the original: an unknown hop count stays (protobuf leaves out 0 hops).
            NodeFilter::Nearby => !row.via_mqtt && row.hops_away.is_none_or(|h| h <= 2),
        }
    }
}

/// A position in degrees, when the node has a plausible one.
fn position(p: Option<&Position>) -> Option<(f64, f64, Option<i32>)> {
    let p = p?;
    let lat = f64::from(p.latitude_i()?) * 1e-7;
    let lon = f64::from(p.longitude_i()?) * 1e-7;
    // 0,0 is what firmware sends for "no fix"; out-of-range values are garbage.
    if (lat == 0.0 && lon == 0.0)
        || !(-90.0..=90.0).contains(&lat)
        || !(-180.0..=180.0).contains(&lon)
    {
        return None;
    }
    Some((lat, lon, p.altitude()))
}

fn finite(v: Option<f32>) -> Option<f32> {
    v.filter(|v| v.is_finite())
}

/// Flattens one node DB entry; `me` is my node's position for the distance.
pub fn row(n: &Node, me: Option<(f64, f64)>) -> NodeRow {
    let user = n.user.as_ref();
    let (long_name, short_name) = user.map_or(("", ""), |u| (u.long_name(), u.short_name()));
    let (hw_model, role) = user.map_or((0, 0), |u| (u.hw_model, u.role));
    let pos = position(n.position().as_ref());
    let m = n.device_metrics().map(Metrics::to_pb).unwrap_or_default();
    NodeRow {
        id: n.num().to_string(),
        num: n.num(),
        long_name: long_name.to_string(),
        short_name: short_name.to_string(),
        hw_model: pb::HardwareModel::try_from(hw_model)
            .map(|h| Cow::Borrowed(h.as_str_name()))
            .unwrap_or_else(|_| Cow::Owned(format!("MODEL_{hw_model}"))),
        role: pb::config::device_config::Role::try_from(role)
            .map(|r| Cow::Borrowed(r.as_str_name()))
            .unwrap_or_else(|_| Cow::Owned(format!("ROLE_{role}"))),
        lat: pos.map(|p| p.0),
        lon: pos.map(|p| p.1),
        alt: pos.and_then(|p| p.2),
        battery_level: m.battery_level.filter(|b| *b <= 101),
        voltage: finite(m.voltage),
        channel_util: finite(m.channel_utilization),
        air_util_tx: finite(m.air_util_tx),
        uptime: m.uptime_seconds,
        snr: crate::radio::nodedb::plausible_snr(n.snr),
        last_heard: (n.last_heard != 0).then_some(n.last_heard),
        hops_away: n.hops_away().filter(|h| *h <= 7),
        via_mqtt: n.via_mqtt,
        is_favorite: n.is_favorite,
        distance_km: match (me, pos) {
            (Some(a), Some(b)) => Some((haversine_km(a, (b.0, b.1)) * 100.0).round() / 100.0),
            _ => None,
        },
    }
}

/// The default order of SPEC.md §2.
pub fn default_order(a: &NodeRow, b: &NodeRow) -> std::cmp::Ordering {
    a.via_mqtt
        .cmp(&b.via_mqtt)
        .then_with(|| {
            a.hops_away
                .unwrap_or(u32::MAX)
                .cmp(&b.hops_away.unwrap_or(u32::MAX))
        })
        .then_with(|| b.last_heard.unwrap_or(0).cmp(&a.last_heard.unwrap_or(0)))
        .then_with(|| a.num.cmp(&b.num))
}

/// Whether a row matches a free-text search on names and id (case-insensitive).
pub fn matches(row: &NodeRow, query: &str) -> bool {
    let q = query.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    row.long_name.to_lowercase().contains(&q)
        || row.short_name.to_lowercase().contains(&q)
        || row.id.contains(q.trim_start_matches('!'))
}

/// Every node of the DB except my own, filtered, searched and in the default order.
pub fn rows(state: &RadioState, filter: NodeFilter, query: &str) -> Vec<NodeRow> {
    select(state, filter, query, false)
}

/// Every node of the DB, my own too (as the original's API lists them), filtered and in the
/// default order.
pub fn all_rows(state: &RadioState, filter: NodeFilter) -> Vec<NodeRow> {
    select(state, filter, "", true)
}

fn select(state: &RadioState, filter: NodeFilter, query: &str, with_me: bool) -> Vec<NodeRow> {
    let me = state
        .my_node()
        .and_then(|n| position(n.position().as_ref()))
        .map(|p| (p.0, p.1));
    let mut rows: Vec<NodeRow> = state
        .nodes
        .iter()
        .filter(|n| with_me || n.num() != state.my_node_num)
        .map(|n| row(n, me))
        .filter(|r| filter.keeps(r) && matches(r, query))
        .collect();
    rows.sort_by(default_order);
    rows
}

impl NodeRow {
    /// The names the official client gives a node known only by its number
    /// ("Meshtastic 2920" / "2920", the last four hex digits of its id).
    pub fn with_placeholder_names(mut self) -> NodeRow {
        let tail = format!("{:04x}", self.num.0 & 0xffff);
        if self.long_name.is_empty() {
            self.long_name = format!("Meshtastic {tail}");
        }
        if self.short_name.is_empty() {
            self.short_name = tail;
        }
        self
    }
}

/// My node's row, when the radio told us who it is.
pub fn my_row(state: &RadioState) -> Option<NodeRow> {
    state.my_node().map(|n| row(n, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(num: u32, mqtt: bool, hops: Option<u32>, heard: u32) -> NodeRow {
        NodeRow {
            id: NodeNum(num).to_string(),
            num: NodeNum(num),
            long_name: format!("Node {num}"),
            short_name: "N".into(),
            hw_model: Cow::Borrowed(""),
            role: Cow::Borrowed(""),
            lat: None,
            lon: None,
            alt: None,
            battery_level: None,
            voltage: None,
            channel_util: None,
            air_util_tx: None,
            uptime: None,
            snr: None,
            last_heard: Some(heard),
            hops_away: hops,
            via_mqtt: mqtt,
            is_favorite: false,
            distance_km: None,
        }
    }

    #[test]
    fn default_order_is_rf_first_then_hops_then_newest() {
        let mut v = [
            node(1, true, Some(0), 100),
            node(2, false, None, 500),
            node(3, false, Some(2), 100),
            node(4, false, Some(0), 50),
            node(5, false, Some(0), 90),
        ];
        v.sort_by(default_order);
        let order: Vec<u32> = v.iter().map(|r| r.num.0).collect();
        assert_eq!(order, vec![5, 4, 3, 2, 1]);
    }

    #[test]
    fn filters_follow_the_spec() {
        let rf_near = node(1, false, Some(2), 1);
        let rf_far = node(2, false, Some(3), 1);
        let rf_unknown = node(3, false, None, 1);
        let mqtt_near = node(4, true, Some(1), 1);
        assert!(NodeFilter::Nearby.keeps(&rf_near));
        assert!(!NodeFilter::Nearby.keeps(&rf_far));
        assert!(NodeFilter::Nearby.keeps(&rf_unknown), "unknown hops stay");
        assert!(!NodeFilter::Nearby.keeps(&mqtt_near));
        assert!(NodeFilter::Rf.keeps(&rf_unknown) && !NodeFilter::Rf.keeps(&mqtt_near));
        assert!(NodeFilter::Mqtt.keeps(&mqtt_near) && !NodeFilter::Mqtt.keeps(&rf_near));
        assert_eq!("local".parse::<NodeFilter>(), Ok(NodeFilter::Nearby));
        assert!("bogus".parse::<NodeFilter>().is_err());
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // London to Paris is about 343.5 km.
        let d = haversine_km((51.5074, -0.1278), (48.8566, 2.3522));
        assert!((d - 343.5).abs() < 1.0, "{d}");
    }

    #[test]
    fn search_matches_names_and_ids() {
        let r = node(0xabcd, false, None, 1);
        assert!(matches(&r, "node 43"));
        assert!(matches(&r, "!0000abcd"));
        assert!(matches(&r, "ABCD"));
        assert!(!matches(&r, "zzz"));
    }

    #[test]
    fn absurd_values_from_a_radio_are_dropped() {
        let mut n = Node::new(NodeNum(9));
        n.snr = f32::NAN;
        n.set_hops_away(Some(255));
        n.set_position(Position::new(Some(i32::MAX), Some(0), None));
        n.set_device_metrics(Metrics::from(&pb::DeviceMetrics {
            battery_level: Some(300),
            voltage: Some(f32::INFINITY),
            ..Default::default()
        }));
        let r = row(&n, Some((0.0, 0.0)));
        assert_eq!(
            (
                r.snr,
                r.hops_away,
                r.lat,
                r.battery_level,
                r.voltage,
                r.distance_km
            ),
            (None, None, None, None, None, None)
        );
    }
}
