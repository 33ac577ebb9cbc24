//! The simulated mesh: a node DB, channels and config derived deterministically from a seed
//! and the radio's index, so tests can compute what a radio holds without asking it.

use crate::proto::{self, pb};

/// A small, fast, seedable generator (splitmix64); deterministic across platforms.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A float in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.range(0.0, 1.0) < p
    }

    pub fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const PLACES: [&str; 24] = [
    "Ridge", "Harbor", "Valley", "Summit", "Mill", "Creek", "Oak", "Pine", "Cedar", "Granite",
    "Lake", "River", "Meadow", "Canyon", "Bluff", "Forge", "Station", "Tower", "Beacon", "Delta",
    "Prairie", "Cove", "Hollow", "Point",
];
const KINDS: [&str; 12] = [
    "Relay", "Base", "Mobile", "Hiker", "Repeater", "Home", "Van", "Camp", "Node", "Rover", "Roof",
    "Solar",
];
const MODELS: [pb::HardwareModel; 8] = [
    pb::HardwareModel::Tbeam,
    pb::HardwareModel::HeltecV3,
    pb::HardwareModel::TloraV211p6,
    pb::HardwareModel::Rak4631,
    pb::HardwareModel::TEcho,
    pb::HardwareModel::StationG2,
    pb::HardwareModel::HeltecWirelessTracker,
    pb::HardwareModel::TrackerT1000E,
];

/// Base position of radio `index` (spread so two radios are different meshes).
fn base(index: u32) -> (f64, f64) {
    (
        47.3769 + f64::from(index) * 0.7,
        8.5417 + f64::from(index) * 0.9,
    )
}

/// Whether a node answers traceroutes: every node whose number is divisible by 5 stays silent.
pub fn answers_traceroute(num: u32) -> bool {
    !num.is_multiple_of(5)
}

/// A simulated mesh as the radio holds it at start.
#[derive(Debug, Clone)]
pub struct Mesh {
    pub my_node_num: u32,
    /// Every node, my own first.
    pub nodes: Vec<pb::NodeInfo>,
}

fn user(num: u32, long: String, short: String, rng: &mut Rng) -> pb::User {
    pb::User {
        id: proto::node_id(num),
        long_name: long,
        short_name: short,
        hw_model: *rng.pick(&MODELS) as i32,
        role: if rng.chance(0.1) {
            pb::config::device_config::Role::Router as i32
        } else {
            pb::config::device_config::Role::Client as i32
        },
        ..Default::default()
    }
}

/// The node DB of radio `index`: `nodes` entries (my node included).
pub fn generate_mesh(nodes: usize, seed: u64, index: u32) -> Mesh {
    let mut rng = Rng::new(seed.wrapping_mul(1_000_003).wrapping_add(u64::from(index)));
    let now = crate::time::unix_secs(std::time::SystemTime::now());
    let (lat0, lon0) = base(index);
    // Node numbers: distinct, never 0 or broadcast, distinct across radio indexes.
    let mut used = std::collections::HashSet::new();
    let mut next_num = |rng: &mut Rng| loop {
        let n = (rng.next_u64() as u32 & 0x0FFF_FFFF) | ((index & 0xF) << 28);
        if n > 16 && n != proto::BROADCAST && used.insert(n) {
            return n;
        }
    };
    let my_num = next_num(&mut rng);
    let mut out = Vec::with_capacity(nodes);
    let me = pb::NodeInfo {
        num: my_num,
        user: Some(user(
            my_num,
            format!("Sim Base {}", index + 1),
            format!("SB{:02}", (index + 1) % 100),
            &mut rng,
        )),
        position: Some(pb::Position {
            latitude_i: Some((lat0 * 1e7) as i32),
            longitude_i: Some((lon0 * 1e7) as i32),
            altitude: Some(410),
            ..Default::default()
        }),
        device_metrics: Some(pb::DeviceMetrics {
            battery_level: Some(87),
            voltage: Some(4.05),
            channel_utilization: Some(12.5),
            air_util_tx: Some(2.3),
            uptime_seconds: Some(86_400 + index * 3600),
        }),
        last_heard: now,
        ..Default::default()
    };
    out.push(me);
    for i in 1..nodes {
        let num = next_num(&mut rng);
        let long = format!("{} {} {}", rng.pick(&PLACES), rng.pick(&KINDS), i);
        let short = format!("{}{:03}", &long[..1], i % 1000);
        let via_mqtt = rng.chance(0.2);
        let hops_away = if rng.chance(0.1) {
            None
        } else {
            Some(rng.below(5) as u32)
        };
        let position = if rng.chance(0.2) {
            None
        } else {
            let dist = rng.range(0.2, 25.0) / 111.0;
            let ang = rng.range(0.0, std::f64::consts::TAU);
            Some(pb::Position {
                latitude_i: Some(((lat0 + dist * ang.cos()) * 1e7) as i32),
                longitude_i: Some(
                    ((lon0 + dist * ang.sin() / lat0.to_radians().cos()) * 1e7) as i32,
                ),
                altitude: Some(rng.range(300.0, 1500.0) as i32),
                ..Default::default()
            })
        };
        let heard = if rng.chance(0.05) {
            0
        } else {
            now.saturating_sub(rng.below(7200) as u32)
        };
        out.push(pb::NodeInfo {
            num,
            user: Some(user(num, long, short, &mut rng)),
            position,
            snr: ((rng.range(-20.0, 12.0) * 4.0).round() / 4.0) as f32,
            last_heard: heard,
            device_metrics: Some(pb::DeviceMetrics {
                battery_level: Some(if rng.chance(0.15) {
                    101
                } else {
                    rng.below(101) as u32
                }),
                voltage: Some(rng.range(3.3, 4.2) as f32),
                channel_utilization: Some(rng.range(0.0, 40.0) as f32),
                air_util_tx: Some(rng.range(0.0, 8.0) as f32),
                uptime_seconds: Some(rng.below(3_000_000) as u32),
            }),
            channel: 0,
            via_mqtt,
            hops_away,
            is_favorite: rng.chance(0.05),
            ..Default::default()
        });
    }
    Mesh {
        my_node_num: my_num,
        nodes: out,
    }
}

/// Texts and names that try to run script in a page that forgets to escape.
pub const HOSTILE: [&str; 7] = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=window.__xss=1>",
    "\"><svg onload=window.__xss=1>",
    "javascript:window.__xss=1",
    "';window.__xss=1;//",
    "{{7*7}} ${7*7} &amp; &lt;",
    "\u{202e}RTL 📡 مرحبا",
];

/// Gives every fifth node a hostile name, and channel 1 a hostile name.
pub fn make_hostile(mesh: &mut Mesh, channels: &mut [pb::Channel]) {
    for (i, n) in mesh.nodes.iter_mut().enumerate().skip(1).step_by(5) {
        if let Some(u) = n.user.as_mut() {
            u.long_name = HOSTILE[i % HOSTILE.len()].to_string();
            u.short_name = "<b>".into();
        }
    }
    if let Some(s) = channels.get_mut(1).and_then(|c| c.settings.as_mut()) {
        s.name = "<i>x</i>".into();
    }
}

/// `{myNodeNum, nodes: [{num, id, longName, shortName, hopsAway, viaMqtt}]}` of radio
/// `index` (`hopsAway` null when unknown), for checks outside Rust.
pub fn mesh_json(nodes: usize, seed: u64, index: u32) -> serde_json::Value {
    let mesh = generate_mesh(nodes, seed, index);
    let list: Vec<serde_json::Value> = mesh
        .nodes
        .iter()
        .map(|n| {
            let u = n.user.clone().unwrap_or_default();
            serde_json::json!({
                "num": n.num,
                "id": proto::node_id(n.num),
                "longName": u.long_name,
                "shortName": u.short_name,
                "hopsAway": n.hops_away,
                "viaMqtt": n.via_mqtt,
            })
        })
        .collect();
    serde_json::json!({ "myNodeNum": mesh.my_node_num, "nodes": list })
}
