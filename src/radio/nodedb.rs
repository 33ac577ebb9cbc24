//! The node DB as a link keeps it: one compact record per node, in a vector with an index by
//! node number.
//!
//! A radio hands over a full `NodeInfo` protobuf per node (328 bytes inline, plus keys, MAC
//! and a dozen position fields); a thousand sessions of 250-node radios made that the largest
//! share of a session's memory. [`Node`] keeps only what the dashboard shows (96 bytes and
//! one string allocation for both names) and the vector wastes nothing once the handshake is
//! done.

use std::collections::HashMap;

use crate::ids::NodeNum;
use crate::proto::pb;

/// A radio node DB never grows past this, whatever the radio sends (hostile or buggy radios).
pub const MAX_NODES: usize = 10_000;

/// One node of the DB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Read-only (see [`Node::num`]): the DB's index is keyed by it.
    num: NodeNum,
    /// Unix seconds; 0 when never heard.
    pub last_heard: u32,
    /// As the radio reports it (0 = none).
    pub snr: f32,
    pub channel: u32,
    pub user: Option<User>,
    /// See [`Node::position`] (its own bit says whether there is one: an option would cost
    /// 4 bytes more).
    position: Position,
    /// See [`Node::device_metrics`].
    device_metrics: Metrics,
    /// See [`Node::hops_away`].
    hops_away: Option<u8>,
    pub via_mqtt: bool,
    pub is_favorite: bool,
}

/// Who a node says it is: both names in one allocation, hardware and role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct User {
    /// The long name followed by the short name.
    names: Box<str>,
    /// Where the short name starts in `names`.
    split: u32,
    pub hw_model: i32,
    pub role: i32,
}

impl User {
    pub fn new(long_name: &str, short_name: &str, hw_model: i32, role: i32) -> User {
        let mut names = String::with_capacity(long_name.len() + short_name.len());
        names.push_str(long_name);
        names.push_str(short_name);
        User {
            // A frame is at most 512 bytes, so a name always fits; saturate all the same.
            split: u32::try_from(long_name.len()).unwrap_or(u32::MAX),
            names: names.into_boxed_str(),
            hw_model,
            role,
        }
    }

    pub fn long_name(&self) -> &str {
        self.names.get(..self.split as usize).unwrap_or("")
    }

    pub fn short_name(&self) -> &str {
        self.names.get(self.split as usize..).unwrap_or("")
    }

    /// The long name, or the short one when the long one is empty.
    pub fn display_name(&self) -> &str {
        match self.long_name() {
            "" => self.short_name(),
            long => long,
        }
    }
}

impl From<&pb::User> for User {
    fn from(u: &pb::User) -> User {
        User::new(&u.long_name, &u.short_name, u.hw_model, u.role)
    }
}

/// Where a node says it is (degrees × 1e7 and metres, as on the wire), each part only when
/// it was sent: 16 bytes, where three options take 24.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    latitude_i: i32,
    longitude_i: i32,
    altitude: i32,
    /// What was sent: bit 0 the latitude, 1 the longitude, 2 the altitude; [`PRESENT`] for
    /// a position at all (in a node's record).
    sent: u8,
}

/// In a `sent` byte: there is a position (metrics) at all. The default has none.
const PRESENT: u8 = 0x80;

impl Position {
    pub fn new(latitude_i: Option<i32>, longitude_i: Option<i32>, altitude: Option<i32>) -> Self {
        Position {
            latitude_i: latitude_i.unwrap_or(0),
            longitude_i: longitude_i.unwrap_or(0),
            altitude: altitude.unwrap_or(0),
            sent: PRESENT
                | u8::from(latitude_i.is_some())
                | u8::from(longitude_i.is_some()) << 1
                | u8::from(altitude.is_some()) << 2,
        }
    }

    pub fn latitude_i(&self) -> Option<i32> {
        (self.sent & 1 != 0).then_some(self.latitude_i)
    }

    pub fn longitude_i(&self) -> Option<i32> {
        (self.sent & 2 != 0).then_some(self.longitude_i)
    }

    pub fn altitude(&self) -> Option<i32> {
        (self.sent & 4 != 0).then_some(self.altitude)
    }
}

impl From<&pb::Position> for Position {
    fn from(p: &pb::Position) -> Position {
        Position::new(p.latitude_i, p.longitude_i, p.altitude)
    }
}

/// What a node last said of its battery, radio use and uptime (`DeviceMetrics`), each part
/// only when it was sent: 24 bytes, where the protobuf's five options take 40.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    battery_level: u32,
    voltage: f32,
    channel_utilization: f32,
    air_util_tx: f32,
    uptime_seconds: u32,
    /// What was sent, one bit per field in the order above.
    sent: u8,
}

impl Metrics {
    pub fn battery_level(&self) -> Option<u32> {
        (self.sent & 1 != 0).then_some(self.battery_level)
    }

    /// The protobuf again, as views and the virtual node take it.
    pub fn to_pb(self) -> pb::DeviceMetrics {
        let has = |bit: u8| self.sent & bit != 0;
        pb::DeviceMetrics {
            battery_level: has(1).then_some(self.battery_level),
            voltage: has(2).then_some(self.voltage),
            channel_utilization: has(4).then_some(self.channel_utilization),
            air_util_tx: has(8).then_some(self.air_util_tx),
            uptime_seconds: has(16).then_some(self.uptime_seconds),
        }
    }
}

impl From<&pb::DeviceMetrics> for Metrics {
    fn from(m: &pb::DeviceMetrics) -> Metrics {
        Metrics {
            battery_level: m.battery_level.unwrap_or(0),
            voltage: m.voltage.unwrap_or(0.0),
            channel_utilization: m.channel_utilization.unwrap_or(0.0),
            air_util_tx: m.air_util_tx.unwrap_or(0.0),
            uptime_seconds: m.uptime_seconds.unwrap_or(0),
            sent: PRESENT
                | u8::from(m.battery_level.is_some())
                | u8::from(m.voltage.is_some()) << 1
                | u8::from(m.channel_utilization.is_some()) << 2
                | u8::from(m.air_util_tx.is_some()) << 3
                | u8::from(m.uptime_seconds.is_some()) << 4,
        }
    }
}

impl Node {
    /// A node known only by its number (first heard in a packet).
    pub fn new(num: NodeNum) -> Node {
        Node {
            num,
            ..Default::default()
        }
    }

    /// The node number, fixed for the life of the record.
    pub fn num(&self) -> NodeNum {
        self.num
    }

    /// Where it last said it is, when it did.
    pub fn position(&self) -> Option<Position> {
        (self.position.sent & PRESENT != 0).then_some(self.position)
    }

    pub fn set_position(&mut self, p: Position) {
        self.position = p;
    }

    /// What it last said of its battery and radio use, when it did.
    pub fn device_metrics(&self) -> Option<Metrics> {
        (self.device_metrics.sent & PRESENT != 0).then_some(self.device_metrics)
    }

    pub fn set_device_metrics(&mut self, m: Metrics) {
        self.device_metrics = m;
    }

    /// How many hops away it is, when known. Firmware counts at most 7 (three bits); more
    /// from a radio saturates at 255.
    pub fn hops_away(&self) -> Option<u32> {
        self.hops_away.map(u32::from)
    }

    pub fn set_hops_away(&mut self, hops: Option<u32>) {
        self.hops_away = hops.map(saturate_hops);
    }

    /// The short name, when the node told us one.
    pub fn short_name(&self) -> Option<&str> {
        self.user
            .as_ref()
            .map(User::short_name)
            .filter(|s| !s.is_empty())
    }
}

fn saturate_hops(h: u32) -> u8 {
    u8::try_from(h).unwrap_or(u8::MAX)
}

impl From<&pb::NodeInfo> for Node {
    fn from(n: &pb::NodeInfo) -> Node {
        Node {
            num: NodeNum(n.num),
            last_heard: n.last_heard,
            snr: n.snr,
            channel: n.channel,
            user: n.user.as_ref().map(User::from),
            position: n.position.as_ref().map(Position::from).unwrap_or_default(),
            device_metrics: n
                .device_metrics
                .as_ref()
                .map(Metrics::from)
                .unwrap_or_default(),
            hops_away: n.hops_away.map(saturate_hops),
            via_mqtt: n.via_mqtt,
            is_favorite: n.is_favorite,
        }
    }
}

/// The node DB: records in arrival order, found by number through an index.
#[derive(Debug, Default)]
pub struct NodeDb {
    nodes: Vec<Node>,
    index: HashMap<NodeNum, u32>,
    /// Changes at every change (any mutable access), and is never the same in two DBs of
    /// one process: what is made of a DB stays valid while its generation does.
    generation: u64,
}

/// The generations handed out so far, in every node DB of the process.
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl NodeDb {
    pub fn new() -> NodeDb {
        NodeDb::default()
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The DB's generation: the same value means the same content.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn changed(&mut self) {
        self.generation = GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn get(&self, num: NodeNum) -> Option<&Node> {
        let i = *self.index.get(&num)?;
        self.nodes.get(i as usize)
    }

    pub fn contains(&self, num: NodeNum) -> bool {
        self.index.contains_key(&num)
    }

    /// Every node, in the order they were first learned.
    pub fn iter(&self) -> std::slice::Iter<'_, Node> {
        self.nodes.iter()
    }

    /// Adds a node or replaces what was known of it. A full DB takes no new node.
    pub fn upsert(&mut self, node: Node) {
        if let Some(slot) = self.get_or_insert(node.num) {
            *slot = node;
        }
    }

    /// The node with this number, added when new; `None` only when the DB is full.
    pub fn get_or_insert(&mut self, num: NodeNum) -> Option<&mut Node> {
        self.changed();
        let i = match self.index.get(&num) {
            Some(i) => *i as usize,
            None => {
                if self.nodes.len() >= MAX_NODES {
                    return None;
                }
                let i = self.nodes.len();
                // MAX_NODES keeps every index far below u32::MAX.
                self.index.insert(num, i as u32);
                self.nodes.push(Node::new(num));
                i
            }
        };
        self.nodes.get_mut(i)
    }

    /// Keeps only the nodes `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&Node) -> bool) {
        self.changed();
        self.nodes.retain(keep);
        self.reindex();
    }

    /// Gives back the spare capacity (after a handshake, when the DB is complete).
    pub fn shrink_to_fit(&mut self) {
        self.nodes.shrink_to_fit();
        self.index.shrink_to_fit();
    }

    fn reindex(&mut self) {
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.num, i as u32))
            .collect();
    }
}

impl<'a> IntoIterator for &'a NodeDb {
    type Item = &'a Node;
    type IntoIter = std::slice::Iter<'a, Node>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// An SNR a LoRa radio can report (dB); 0 means "none" in the protocol, and anything far
/// outside what radios measure is garbage.
pub fn plausible_snr(snr: f32) -> Option<f32> {
    (snr.is_finite() && snr != 0.0 && (-60.0..=60.0).contains(&snr)).then_some(snr)
}

#[cfg(test)]
#[path = "nodedb_tests.rs"]
mod tests;
