//! Telemetry that moves: each report of a simulated node varies around its node DB values
//! (battery drifting down and back with the hour of the day, utilisation with the traffic),
//! so history charts of the demo and the tests have something to draw.

use std::time::SystemTime;

use super::mesh::Rng;
use crate::proto::pb;

/// `base` as the node would report it at `now`.
pub(super) fn device_metrics(
    base: pb::DeviceMetrics,
    rng: &mut Rng,
    now: SystemTime,
) -> pb::DeviceMetrics {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    // A solar day: lowest before dawn, highest in the afternoon.
    let day = (secs / 86_400.0 * std::f64::consts::TAU).sin();
    let battery = base.battery_level.map(|b| {
        if b > 100 {
            b
        } else {
            (f64::from(b) + day * 12.0 + rng.range(-2.0, 2.0)).clamp(1.0, 100.0) as u32
        }
    });
    let jitter = |v: Option<f32>, rng: &mut Rng, spread: f64| {
        v.map(|v| (f64::from(v) * rng.range(1.0 - spread, 1.0 + spread)).max(0.0) as f32)
    };
    pb::DeviceMetrics {
        battery_level: battery,
        voltage: base
            .voltage
            .map(|v| (f64::from(v) + day * 0.12 + rng.range(-0.02, 0.02)) as f32),
        channel_utilization: jitter(base.channel_utilization, rng, 0.35),
        air_util_tx: jitter(base.air_util_tx, rng, 0.35),
        uptime_seconds: base.uptime_seconds,
    }
}

/// Kinds of node that move (by their long name).
const MOVING: [&str; 5] = ["Mobile", "Hiker", "Van", "Rover", "Camp"];

/// The position node `num` reports now: a moving node (a mobile, a hiker, ...) has walked a
/// few hundred metres since its last report, and keeps it; the others stay put.
pub(super) fn walk(inner: &super::Inner, num: u32, rng: &mut Rng) -> pb::Position {
    let mut st = inner.lock();
    let Some(node) = st.nodes.iter_mut().find(|n| n.num == num) else {
        return pb::Position::default();
    };
    let moving = node
        .user
        .as_ref()
        .is_some_and(|u| MOVING.iter().any(|k| u.long_name.contains(k)));
    let Some(pos) = node.position.as_mut() else {
        return pb::Position::default();
    };
    if moving {
        let step = |v: Option<i32>, rng: &mut Rng| {
            v.map(|v| v.saturating_add(rng.range(-40_000.0, 40_000.0) as i32))
        };
        pos.latitude_i = step(pos.latitude_i, rng);
        pos.longitude_i = step(pos.longitude_i, rng);
    }
    *pos
}
