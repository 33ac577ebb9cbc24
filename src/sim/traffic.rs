//! Live traffic from the simulated mesh: texts, positions, telemetry, node info and
//! node info from nodes of the DB, some heard via MQTT, at the configured rate (neighbour
//! info comes at its own interval, see `neighbors`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prost::Message;
use tokio::sync::mpsc;

use super::handle::{emit, received};
use super::mesh::Rng;
use super::Inner;
use crate::proto::{pb, BROADCAST};

const WORDS: [&str; 16] = [
    "anyone copy?",
    "testing 1 2 3",
    "good morning mesh",
    "battery low, heading home",
    "signal is great up here",
    "who is on the ridge?",
    "weather looks clear",
    "ping",
    "relay check",
    "nice to hear you",
    "on my way",
    "73!",
    "new node online",
    "checking range",
    "back at base",
    "see you at the meetup",
];

/// A text to send: everyday words, or hostile ones when the radio is set so.
fn pick_text(inner: &Inner, rng: &mut Rng) -> &'static str {
    if inner.cfg.hostile_names && rng.chance(0.5) {
        rng.pick::<&str>(&super::mesh::HOSTILE)
    } else {
        rng.pick::<&str>(&WORDS)
    }
}

pub(super) async fn run(inner: Arc<Inner>, out: mpsc::UnboundedSender<Vec<u8>>) {
    let mut rng = Rng::new(u64::from(inner.my_node_num) ^ 0x5EED);
    let rate = inner.rate();
    if rate <= 0.0 {
        return;
    }
    let period = Duration::from_secs_f64(1.0 / rate.min(10_000.0));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        if out.is_closed() {
            return;
        }
        if let Some(p) = next_packet(&inner, &mut rng) {
            emit(&inner, &out, p);
        }
    }
}

fn next_packet(inner: &Inner, rng: &mut Rng) -> Option<pb::MeshPacket> {
    let me = inner.my_node_num;
    let (from, via_mqtt, hops) = {
        let mut st = inner.lock();
        let others: Vec<usize> = (0..st.nodes.len())
            .filter(|i| st.nodes[*i].num != me)
            .collect();
        if others.is_empty() {
            return None;
        }
        let i = others[rng.below(others.len() as u64) as usize];
        let n = &mut st.nodes[i];
        n.last_heard = crate::time::unix_secs(SystemTime::now());
        (n.num, n.via_mqtt, n.hops_away.unwrap_or(1).min(7))
    };
    let roll = rng.below(100);
    let (port, payload, to, channel) = match roll {
        0..=24 => {
            let ch = if rng.chance(0.2) { 1 } else { 0 };
            (
                pb::PortNum::TextMessageApp,
                pick_text(inner, rng).as_bytes().to_vec(),
                BROADCAST,
                ch,
            )
        }
        25..=29 => (
            pb::PortNum::TextMessageApp,
            pick_text(inner, rng).as_bytes().to_vec(),
            me,
            0,
        ),
        30..=49 => {
            let pos = super::drift::walk(inner, from, rng);
            (pb::PortNum::PositionApp, pos.encode_to_vec(), BROADCAST, 0)
        }
        50..=79 => {
            let m = super::drift::device_metrics(
                inner.node_part(from, |n| n.device_metrics),
                rng,
                SystemTime::now(),
            );
            let t = pb::Telemetry {
                time: 0,
                variant: Some(pb::telemetry::Variant::DeviceMetrics(m)),
            };
            (pb::PortNum::TelemetryApp, t.encode_to_vec(), BROADCAST, 0)
        }
        _ => {
            let u = inner.node_part(from, |n| n.user.clone());
            (pb::PortNum::NodeinfoApp, u.encode_to_vec(), BROADCAST, 0)
        }
    };
    Some(pb::MeshPacket {
        channel,
        rx_snr: if via_mqtt {
            0.0
        } else {
            (rng.range(-18.0, 10.0) * 4.0).round() as f32 / 4.0
        },
        rx_rssi: if via_mqtt {
            0
        } else {
            -(60 + rng.below(60) as i32)
        },
        hop_start: 3.max(hops),
        hop_limit: 3.max(hops) - hops,
        via_mqtt,
        ..received(from, to, port, payload, 0)
    })
}
