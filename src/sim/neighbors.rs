//! NeighborInfo from the simulated mesh, as firmware's NeighborInfo module sends it: each node
//! with the module on broadcasts, every `neighbor_interval`, the nodes it hears directly (at
//! most 10) with the SNR it hears each at, in dB. Who hears whom comes from where the nodes
//! are: the nearest within radio range, with an SNR that falls with distance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::sync::mpsc;

use super::handle::{emit, received};
use super::mesh::Rng;
use super::Inner;
use crate::proto::{pb, BROADCAST};

/// How far a simulated node hears another, in km.
const RANGE_KM: f64 = 12.0;
/// Firmware sends at most 10 neighbours.
const MAX_SENT: usize = 10;
/// Neighbours a simulated node reports at most (fewer than firmware allows, for a readable map).
const MAX_HEARD: usize = 5;
/// The first reports are spread over this much time after the client connects.
const FIRST_SPREAD: Duration = Duration::from_secs(20);

/// Whether a simulated node has the NeighborInfo module on (it is off by default in
/// firmware): every node whose number is divisible by 3.
pub fn sends_neighbor_info(num: u32) -> bool {
    num.is_multiple_of(3)
}

/// Distance in km, flat-earth: good enough over a simulated mesh's few tens of km.
fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let dy = (b.0 - a.0) * 111.2;
    let dx = (b.1 - a.1) * 111.2 * a.0.to_radians().cos();
    dx.hypot(dy)
}

fn position(n: &pb::NodeInfo) -> Option<(f64, f64)> {
    let p = n.position.as_ref()?;
    Some((
        f64::from(p.latitude_i?) / 1e7,
        f64::from(p.longitude_i?) / 1e7,
    ))
}

/// The nodes `num` hears directly in `nodes`, nearest first, with the SNR (dB, quarter-dB
/// steps) it hears each at: those within range, or two picked by its number when it has no
/// position.
pub fn heard_by(nodes: &[pb::NodeInfo], num: u32) -> Vec<(u32, f32)> {
    let Some(me) = nodes.iter().find(|n| n.num == num) else {
        return Vec::new();
    };
    let mut rng = Rng::new(u64::from(num) ^ 0x4E16);
    let snr = |km: f64, rng: &mut Rng| -> f32 {
        let db = 10.0 - km * 2.3 + rng.range(-1.5, 1.5);
        ((db.clamp(-20.0, 12.0) * 4.0).round() / 4.0) as f32
    };
    let Some(at) = position(me) else {
        let others: Vec<u32> = nodes.iter().map(|n| n.num).filter(|n| *n != num).collect();
        let mut out = Vec::new();
        for _ in 0..2 {
            if let Some(other) = others.get(rng.below(others.len() as u64) as usize) {
                if !out.iter().any(|(n, _)| n == other) {
                    out.push((*other, snr(rng.range(2.0, 10.0), &mut rng)));
                }
            }
        }
        return out;
    };
    let mut near: Vec<(u32, f64)> = nodes
        .iter()
        .filter(|n| n.num != num)
        .filter_map(|n| Some((n.num, km(at, position(n)?))))
        .filter(|(_, km)| *km <= RANGE_KM)
        .collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1));
    near.into_iter()
        .take(MAX_HEARD.min(MAX_SENT))
        .map(|(n, km)| (n, snr(km, &mut rng)))
        .collect()
}

/// The NeighborInfo packet node `num` broadcasts now, as the radio hands it to its client.
fn report(inner: &Inner, num: u32, rng: &mut Rng) -> Option<pb::MeshPacket> {
    let (heard, node) = {
        let st = inner.lock();
        let node = st.nodes.iter().find(|n| n.num == num)?.clone();
        (heard_by(&st.nodes, num), node)
    };
    let info = pb::NeighborInfo {
        node_id: num,
        last_sent_by_id: num,
        node_broadcast_interval_secs: u32::try_from(inner.cfg.neighbor_interval.as_secs())
            .unwrap_or(u32::MAX),
        neighbors: heard
            .into_iter()
            .map(|(n, snr)| pb::Neighbor {
                node_id: n,
                snr,
                ..Default::default()
            })
            .collect(),
    };
    let hops = node.hops_away.unwrap_or(1).min(3);
    let port = pb::PortNum::NeighborinfoApp;
    Some(pb::MeshPacket {
        rx_snr: if node.via_mqtt {
            0.0
        } else {
            (rng.range(-15.0, 10.0) * 4.0).round() as f32 / 4.0
        },
        rx_rssi: if node.via_mqtt {
            0
        } else {
            -(60 + rng.below(60) as i32)
        },
        hop_start: 3,
        hop_limit: 3 - hops,
        via_mqtt: node.via_mqtt,
        ..received(num, BROADCAST, port, info.encode_to_vec(), 0)
    })
}

/// Sends each reporting node's NeighborInfo every `neighbor_interval`, the first ones spread
/// over the first seconds of the connection, until the client is gone.
pub(super) async fn run(inner: Arc<Inner>, out: mpsc::UnboundedSender<Vec<u8>>) {
    let interval = inner.cfg.neighbor_interval;
    if interval.is_zero() {
        return;
    }
    let me = inner.my_node_num;
    let senders: Vec<u32> = inner
        .lock()
        .nodes
        .iter()
        .map(|n| n.num)
        .filter(|n| *n != me && sends_neighbor_info(*n))
        .collect();
    let spread = interval.min(FIRST_SPREAD).as_millis().max(1) as u64;
    let start = Instant::now();
    let mut due: Vec<(Instant, u32)> = senders
        .into_iter()
        .map(|n| {
            let phase = Rng::new(u64::from(n)).below(spread);
            (start + Duration::from_millis(phase), n)
        })
        .collect();
    let mut rng = Rng::new(u64::from(me) ^ 0x4E16_0001);
    loop {
        let Some(next) = due.iter_mut().min_by_key(|d| d.0) else {
            return;
        };
        tokio::time::sleep_until(next.0.into()).await;
        if out.is_closed() {
            return;
        }
        next.0 += interval;
        let num = next.1;
        if let Some(p) = report(&inner, num, &mut rng) {
            emit(&inner, &out, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate_mesh;

    #[test]
    fn a_node_hears_its_nearest_neighbours_within_range_weaker_further_away() {
        let mesh = generate_mesh(120, 1, 0);
        let mut reporting = 0;
        for n in mesh.nodes.iter().filter(|n| sends_neighbor_info(n.num)) {
            reporting += 1;
            let heard = heard_by(&mesh.nodes, n.num);
            assert_eq!(heard, heard_by(&mesh.nodes, n.num), "deterministic");
            assert!(heard.len() <= MAX_HEARD);
            assert!(heard
                .iter()
                .all(|(m, snr)| *m != n.num && (-20.0..=12.0).contains(snr)));
            let Some(at) = position(n) else { continue };
            let dist: Vec<f64> = heard
                .iter()
                .map(|(m, _)| {
                    let other = mesh.nodes.iter().find(|o| o.num == *m).unwrap();
                    km(at, position(other).unwrap())
                })
                .collect();
            assert!(dist.windows(2).all(|w| w[0] <= w[1]), "nearest first");
            assert!(dist.iter().all(|d| *d <= RANGE_KM));
        }
        assert!(reporting > 20, "{reporting} nodes report");
        assert!(heard_by(&mesh.nodes, 0).is_empty());
    }
}
