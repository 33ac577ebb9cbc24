//! Who hears whom, from `NEIGHBORINFO_APP` packets: the latest report of each reporting node,
//! as the link keeps it (bounded, since the reports come from strangers) and as the store
//! keeps it so the topology survives a restart.
//!
//! Firmware's NeighborInfo module broadcasts, every `update_interval` (hours), the nodes it
//! heard directly (at most 10) with the SNR it heard each at, as a float in dB.

use std::time::SystemTime;

use crate::ids::NodeNum;
use crate::proto::{pb, Message, BROADCAST};

/// Most neighbours kept of one report (firmware sends at most 10).
pub const MAX_NEIGHBORS: usize = 16;
/// Most reports a link keeps (the oldest one goes).
pub const MAX_REPORTS: usize = 512;

/// One node's report of the nodes it hears.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The node that heard its neighbours (the packet's sender).
    pub node: NodeNum,
    pub at: SystemTime,
    /// How often it reports, in seconds (0 when it did not say).
    pub interval_secs: u32,
    /// Each neighbour with the SNR the reporting node heard it at, in dB (`None` when the
    /// value was not a plausible number).
    pub neighbors: Vec<(NodeNum, Option<f32>)>,
}

/// An SNR as a report gives it, kept when it is a plausible one.
fn plausible(snr: f32) -> Option<f32> {
    (snr.is_finite() && (-40.0..=40.0).contains(&snr)).then_some(snr)
}

/// The report a mesh packet carries, when it is a NeighborInfo packet that decodes.
/// Neighbours that are no node (0, broadcast) or the reporter itself are left out, as are
/// repeats and those past [`MAX_NEIGHBORS`].
pub fn decode(p: &pb::MeshPacket, at: SystemTime) -> Option<Report> {
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    if d.portnum != pb::PortNum::NeighborinfoApp as i32 || p.from == 0 || p.from == BROADCAST {
        return None;
    }
    let info = pb::NeighborInfo::decode(d.payload.as_slice()).ok()?;
    let node = NodeNum(p.from);
    let mut neighbors: Vec<(NodeNum, Option<f32>)> = Vec::new();
    for n in &info.neighbors {
        if neighbors.len() >= MAX_NEIGHBORS {
            break;
        }
        let num = NodeNum(n.node_id);
        if n.node_id == 0 || n.node_id == BROADCAST || num == node {
            continue;
        }
        if neighbors.iter().any(|(k, _)| *k == num) {
            continue;
        }
        neighbors.push((num, plausible(n.snr)));
    }
    Some(Report {
        node,
        at,
        interval_secs: info.node_broadcast_interval_secs,
        neighbors,
    })
}

/// The latest report of each node a link heard, at most [`MAX_REPORTS`]: sorted by node,
/// each report 32 bytes and its neighbours 8 bytes apiece (no SNR a NaN). As a map of
/// [`Report`]s it was 10 KB a radio of the simulated mesh's hundred reporters, 4 KB now.
#[derive(Debug, Default)]
pub struct NeighborBook {
    reports: Vec<Kept>,
}

#[derive(Debug)]
struct Kept {
    node: NodeNum,
    interval_secs: u32,
    /// Milliseconds since the Unix epoch.
    at_ms: u64,
    neighbors: Box<[(NodeNum, f32)]>,
}

impl Kept {
    fn of(r: Report) -> Kept {
        let at_ms =
            r.at.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Kept {
            node: r.node,
            interval_secs: r.interval_secs,
            at_ms,
            neighbors: r
                .neighbors
                .into_iter()
                .map(|(n, snr)| (n, snr.unwrap_or(f32::NAN)))
                .collect(),
        }
    }

    fn report(&self) -> Report {
        Report {
            node: self.node,
            at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.at_ms),
            interval_secs: self.interval_secs,
            neighbors: self
                .neighbors
                .iter()
                .map(|&(n, snr)| (n, (!snr.is_nan()).then_some(snr)))
                .collect(),
        }
    }
}

impl NeighborBook {
    /// Keeps a report in place of the node's previous one; when full, the oldest goes.
    pub fn insert(&mut self, r: Report) {
        let kept = Kept::of(r);
        match self.reports.binary_search_by_key(&kept.node, |k| k.node) {
            Ok(i) => self.reports[i] = kept,
            Err(mut i) => {
                if self.reports.len() >= MAX_REPORTS {
                    let oldest = (0..self.reports.len()).min_by_key(|&j| self.reports[j].at_ms);
                    if let Some(j) = oldest {
                        self.reports.remove(j);
                        if j < i {
                            i -= 1;
                        }
                    }
                }
                // Grown a few at a time: the book stays near its size.
                if self.reports.len() == self.reports.capacity() {
                    let room = MAX_REPORTS - self.reports.len();
                    self.reports
                        .reserve_exact((self.reports.len() / 4).max(4).min(room.max(1)));
                }
                self.reports.insert(i, kept);
            }
        }
    }

    /// Every report, by node.
    pub fn iter(&self) -> impl Iterator<Item = Report> + '_ {
        self.reports.iter().map(Kept::report)
    }

    pub fn len(&self) -> usize {
        self.reports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reports.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(from: u32, info: &pb::NeighborInfo) -> pb::MeshPacket {
        pb::MeshPacket {
            from,
            to: BROADCAST,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::NeighborinfoApp as i32,
                payload: info.encode_to_vec(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn neighbor(id: u32, snr: f32) -> pb::Neighbor {
        pb::Neighbor {
            node_id: id,
            snr,
            ..Default::default()
        }
    }

    #[test]
    fn a_report_keeps_real_neighbours_once_with_plausible_snrs() {
        let info = pb::NeighborInfo {
            node_id: 7,
            node_broadcast_interval_secs: 14_400,
            neighbors: vec![
                neighbor(8, 6.25),
                neighbor(8, 1.0),
                neighbor(0, 1.0),
                neighbor(7, 1.0),
                neighbor(BROADCAST, 1.0),
                neighbor(9, f32::NAN),
                neighbor(10, 1e9),
            ],
            ..Default::default()
        };
        let r = decode(&packet(7, &info), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(r.node, NodeNum(7));
        assert_eq!(r.interval_secs, 14_400);
        assert_eq!(
            r.neighbors,
            vec![
                (NodeNum(8), Some(6.25)),
                (NodeNum(9), None),
                (NodeNum(10), None)
            ]
        );
    }

    #[test]
    fn a_huge_report_is_cut_and_garbage_is_no_report() {
        let info = pb::NeighborInfo {
            neighbors: (100..1100).map(|i| neighbor(i, 0.0)).collect(),
            ..Default::default()
        };
        let r = decode(&packet(7, &info), SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(r.neighbors.len(), MAX_NEIGHBORS);
        let mut bad = packet(7, &info);
        if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &mut bad.payload_variant {
            d.payload = vec![0xff, 0xff, 0xff];
        }
        assert_eq!(decode(&bad, SystemTime::UNIX_EPOCH), None);
    }

    #[test]
    fn the_book_gives_back_what_it_was_given_by_node() {
        assert_eq!(std::mem::size_of::<Kept>(), 32);
        let mut book = NeighborBook::default();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        let report = |node: u32, neighbors: Vec<(NodeNum, Option<f32>)>| Report {
            node: NodeNum(node),
            at,
            interval_secs: 900,
            neighbors,
        };
        let nine = report(9, vec![(NodeNum(3), Some(-6.25)), (NodeNum(4), None)]);
        book.insert(nine.clone());
        book.insert(report(2, vec![]));
        book.insert(report(5, vec![(NodeNum(9), Some(1.5))]));
        let again = report(2, vec![(NodeNum(7), None)]);
        book.insert(again.clone());
        let all: Vec<Report> = book.iter().collect();
        assert_eq!(
            all.iter().map(|r| r.node.0).collect::<Vec<_>>(),
            vec![2, 5, 9]
        );
        assert_eq!((&all[0], &all[2]), (&again, &nine));
    }

    #[test]
    fn the_book_keeps_the_latest_report_per_node_and_drops_the_oldest_when_full() {
        let mut book = NeighborBook::default();
        let at = |s: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s);
        for i in 0..(MAX_REPORTS as u32 + 5) {
            book.insert(Report {
                node: NodeNum(i + 1),
                at: at(u64::from(i) + 10),
                interval_secs: 0,
                neighbors: vec![],
            });
        }
        assert_eq!(book.len(), MAX_REPORTS);
        assert!(book.reports.capacity() <= MAX_REPORTS);
        assert!(book.iter().all(|r| r.node.0 > 5));
        book.insert(Report {
            node: NodeNum(100),
            at: at(1),
            interval_secs: 0,
            neighbors: vec![(NodeNum(3), Some(1.0))],
        });
        assert_eq!(book.len(), MAX_REPORTS);
        let r = book.iter().find(|r| r.node == NodeNum(100)).unwrap();
        assert_eq!(r.neighbors.len(), 1);
    }
}
