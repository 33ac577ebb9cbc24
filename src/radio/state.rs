//! What a link knows about its radio: my node, node DB, channels, config, and the packet
//! ring. Owned by the link task (it is the only writer); handlers read snapshots of it.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use crate::ids::NodeNum;
use crate::proto::pb;
use crate::proto::pb::from_radio::PayloadVariant as From;
use crate::radio::nodedb::{Node, NodeDb, Position, User};
use crate::radio::packet::{Kept, PacketEntry, PacketHead};
use crate::time::unix_secs;

/// Link state as the status bar shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkStatus {
    Connected,
    /// Lost and trying again; `attempt` counts from 1, the next at `retry_at`.
    Reconnecting {
        attempt: u32,
        error: String,
        retry_at: SystemTime,
    },
    /// Closed for good (disconnect, session end, taken over).
    Closed {
        reason: String,
    },
}

/// Packets heard over RF and via MQTT, and sent by us: what MQTT health is judged by.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub rf_count: u64,
    pub mqtt_count: u64,
    pub last_rf: Option<SystemTime>,
    pub last_mqtt: Option<SystemTime>,
    pub sent_count: u64,
}

impl Traffic {
    fn count(&mut self, p: &pb::MeshPacket, outgoing: bool, now: SystemTime) {
        if outgoing {
            self.sent_count += 1;
        } else if p.via_mqtt {
            self.mqtt_count += 1;
            self.last_mqtt = Some(now);
        } else {
            self.rf_count += 1;
            self.last_rf = Some(now);
        }
    }
}

/// The packet log: the last `max` packets, each inline in a ring ([`Kept`], 48 bytes) and its
/// summary in one buffer with the others, end to end, oldest first; and how many there have
/// been. A full log of 500 packets is about 40 KB (a heap block per summary made it 60).
#[derive(Debug)]
pub struct PacketLog {
    kept: VecDeque<Kept>,
    /// The summaries of `kept`, in its order.
    text: VecDeque<u8>,
    max: usize,
    seen: u64,
}

impl PacketLog {
    pub fn new(max: usize) -> PacketLog {
        PacketLog {
            kept: VecDeque::new(),
            text: VecDeque::new(),
            max: max.max(1),
            seen: 0,
        }
    }

    /// Numbers the packet, keeps it (dropping the oldest when full) and returns what its
    /// event says of it.
    fn record(&mut self, p: &pb::MeshPacket, now: SystemTime, outgoing: bool) -> PacketHead {
        self.seen += 1;
        let entry = PacketEntry::new(p, now, outgoing);
        let head = entry.head(self.seen);
        if self.kept.len() >= self.max {
            if let Some(old) = self.kept.pop_front() {
                self.text.drain(..old.summary_len().min(self.text.len()));
            }
        }
        let kept = entry.kept();
        let summary = &entry.summary().as_bytes()[..kept.summary_len()];
        // Grown by a quarter at a time, not doubled: the buffer stays near its use.
        let spare = self.text.capacity() - self.text.len();
        if spare < summary.len() {
            self.text
                .reserve_exact(summary.len().max(self.text.len() / 4));
        }
        self.text.extend(summary);
        self.kept.push_back(kept);
        head
    }

    /// The packet numbered `seq`, while it is kept. Packets are numbered without gaps, so
    /// the newest is `seen` and the oldest kept is `seen - len + 1`.
    pub fn get(&self, seq: u64) -> Option<PacketEntry> {
        let oldest = (self.seen + 1).checked_sub(self.kept.len() as u64)?;
        let i = usize::try_from(seq.checked_sub(oldest)?).ok()?;
        let k = self.kept.get(i)?;
        // Where its summary starts, counted from the nearer end.
        let at = if i < self.kept.len() / 2 {
            self.kept.range(..i).map(Kept::summary_len).sum()
        } else {
            let after: usize = self.kept.range(i..).map(Kept::summary_len).sum();
            self.text.len().checked_sub(after)?
        };
        Some(self.entry(k, at))
    }

    fn entry(&self, k: &Kept, at: usize) -> PacketEntry {
        let end = (at + k.summary_len()).min(self.text.len());
        let bytes: Vec<u8> = self.text.range(at.min(end)..end).copied().collect();
        // Whole summaries go in and come out, so this is always UTF-8.
        let summary = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        PacketEntry::from_kept(k, summary)
    }

    /// Oldest first; [`Logged::entry`] makes an entry of one.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            log: self,
            front: 0,
            back: self.kept.len(),
            front_at: 0,
            back_at: self.text.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Packets recorded since the link started, kept or not.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// A packet in the log, as [`PacketLog::iter`] walks it.
pub struct Logged<'a> {
    log: &'a PacketLog,
    kept: &'a Kept,
    at: usize,
}

impl std::ops::Deref for Logged<'_> {
    type Target = Kept;

    fn deref(&self) -> &Kept {
        self.kept
    }
}

impl Logged<'_> {
    /// The whole entry, its summary copied out.
    pub fn entry(&self) -> PacketEntry {
        self.log.entry(self.kept, self.at)
    }
}

/// Walks a [`PacketLog`] from either end, keeping where each end's summaries start.
pub struct Iter<'a> {
    log: &'a PacketLog,
    /// The next index from the front, and one past the next from the back.
    front: usize,
    back: usize,
    /// Where the front's summary starts, and where the back's ends.
    front_at: usize,
    back_at: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Logged<'a>;

    fn next(&mut self) -> Option<Logged<'a>> {
        if self.front >= self.back {
            return None;
        }
        let kept = self.log.kept.get(self.front)?;
        let at = self.front_at;
        self.front += 1;
        self.front_at += kept.summary_len();
        Some(Logged {
            log: self.log,
            kept,
            at,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let kept = self.log.kept.get(self.back - 1)?;
        self.back -= 1;
        self.back_at = self.back_at.saturating_sub(kept.summary_len());
        Some(Logged {
            log: self.log,
            kept,
            at: self.back_at,
        })
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Everything known about the radio.
#[derive(Debug)]
pub struct RadioState {
    pub my_node_num: NodeNum,
    /// The key of this radio's stored data (see [`crate::radio::identity`]).
    pub radio_key: crate::ids::RadioKey,
    /// Set when this radio claims the node number of a known radio at another address:
    /// that address (its data is kept apart).
    pub apart_from: Option<String>,
    pub metadata: Option<pb::DeviceMetadata>,
    pub nodes: NodeDb,
    pub channels: Vec<pb::Channel>,
    pub config: pb::LocalConfig,
    pub module_config: pb::LocalModuleConfig,
    pub status: LinkStatus,
    pub connected_since: SystemTime,
    pub last_packet: Option<SystemTime>,
    pub last_rx: Instant,
    pub packets: PacketLog,
    /// Counts for MQTT health.
    pub traffic: Traffic,
    /// Traceroutes of this link and its probe queue.
    pub traces: crate::radio::trace::TraceBook,
    /// What the radio told its client (`ClientNotification`s), rate-limited.
    pub notes: crate::radio::notice::Notes,
    /// The latest NeighborInfo report of each node heard (who hears whom).
    pub neighbors: crate::radio::neighbors::NeighborBook,
}

impl RadioState {
    pub fn new(packet_log_max: usize) -> RadioState {
        RadioState {
            my_node_num: NodeNum(0),
            radio_key: crate::ids::RadioKey(0),
            apart_from: None,
            metadata: None,
            nodes: NodeDb::new(),
            channels: Vec::new(),
            config: pb::LocalConfig::default(),
            module_config: pb::LocalModuleConfig::default(),
            status: LinkStatus::Connected,
            connected_since: SystemTime::now(),
            last_packet: None,
            last_rx: Instant::now(),
            packets: PacketLog::new(packet_log_max),
            traffic: Traffic::default(),
            traces: crate::radio::trace::TraceBook::new(std::time::Duration::from_secs(30)),
            notes: crate::radio::notice::Notes::default(),
            neighbors: Default::default(),
        }
    }

    /// My own node's entry in the node DB.
    /// The hop limit the radio's LoRa config sets (1 to 7), or the firmware's default 3.
    pub fn hop_limit(&self) -> u32 {
        self.config
            .lora
            .as_ref()
            .map(|l| l.hop_limit)
            .filter(|h| (1..=7).contains(h))
            .unwrap_or(3)
    }

    pub fn my_node(&self) -> Option<&Node> {
        self.nodes.get(self.my_node_num)
    }

    /// Takes over what a fresh handshake learned, keeping the packet log.
    pub fn replace_config(&mut self, fresh: RadioState) {
        self.my_node_num = fresh.my_node_num;
        self.radio_key = fresh.radio_key;
        self.apart_from = fresh.apart_from;
        self.metadata = fresh.metadata;
        self.nodes = fresh.nodes;
        self.nodes.shrink_to_fit();
        self.channels = fresh.channels;
        self.config = fresh.config;
        self.module_config = fresh.module_config;
        self.connected_since = SystemTime::now();
        self.last_rx = Instant::now();
        self.status = LinkStatus::Connected;
    }

    /// Takes a reconnect's config (asked for without the node DB) and keeps the nodes known:
    /// the radio's node DB arrives after it and refreshes them.
    pub fn refresh_config(&mut self, fresh: RadioState) {
        let known = std::mem::take(&mut self.nodes);
        let mine = fresh.nodes.iter().cloned().collect::<Vec<_>>();
        self.replace_config(fresh);
        self.nodes = known;
        for n in mine {
            self.nodes.upsert(n);
        }
    }

    /// Applies one message from the radio. Returns the packet entry when it was a mesh packet.
    pub fn apply(&mut self, msg: pb::FromRadio) -> Option<PacketHead> {
        self.last_rx = Instant::now();
        match msg.payload_variant? {
            From::MyInfo(info) => {
                self.my_node_num = NodeNum(info.my_node_num);
                // Until the link asks who the radio is, its key is its number.
                self.radio_key = crate::ids::RadioKey::from(self.my_node_num);
            }
            From::Metadata(m) => self.metadata = Some(m),
            From::NodeInfo(n) => self.nodes.upsert(Node::from(&n)),
            From::Channel(c) => {
                // Channel indices are 0..=7 on firmware; anything else is ignored.
                if let Ok(i) = usize::try_from(c.index) {
                    if i < 8 {
                        if self.channels.len() <= i {
                            self.channels.resize_with(i + 1, pb::Channel::default);
                        }
                        self.channels[i] = c;
                    }
                }
            }
            From::Config(c) => crate::proto::set_config(&mut self.config, c),
            From::ModuleConfig(m) => crate::proto::set_module_config(&mut self.module_config, m),
            From::Packet(p) => return Some(self.apply_packet(p, false)),
            _ => {}
        }
        None
    }

    /// Records a packet (received, or sent by us when `outgoing`) in the ring and updates the
    /// node DB from what it carries.
    pub fn apply_packet(&mut self, p: pb::MeshPacket, outgoing: bool) -> PacketHead {
        let now = SystemTime::now();
        self.traffic.count(&p, outgoing, now);
        if !outgoing {
            self.last_packet = Some(now);
            self.learn_from(&p, now);
        }
        self.packets.record(&p, now, outgoing)
    }

    fn learn_from(&mut self, p: &pb::MeshPacket, now: SystemTime) {
        let from = NodeNum(p.from);
        if from.0 == 0 || from == self.my_node_num {
            return;
        }
        let Some(node) = self.nodes.get_or_insert(from) else {
            return;
        };
        node.last_heard = unix_secs(now);
        if crate::radio::nodedb::plausible_snr(p.rx_snr).is_some() {
            node.snr = p.rx_snr;
        }
        node.via_mqtt = p.via_mqtt;
        if p.hop_start > 0 && p.hop_start >= p.hop_limit && p.hop_start <= 7 {
            node.hops_away = Some(p.hop_start - p.hop_limit);
        }
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            return;
        };
        match pb::PortNum::try_from(d.portnum) {
            Ok(pb::PortNum::NodeinfoApp) => {
                if let Ok(user) = <pb::User as prost::Message>::decode(d.payload.as_slice()) {
                    node.user = Some(User::from(&user));
                }
            }
            Ok(pb::PortNum::PositionApp) => {
                if let Ok(pos) = <pb::Position as prost::Message>::decode(d.payload.as_slice()) {
                    node.position = Some(Position::from(&pos));
                }
            }
            Ok(pb::PortNum::TelemetryApp) => {
                if let Ok(t) = <pb::Telemetry as prost::Message>::decode(d.payload.as_slice()) {
                    if let Some(pb::telemetry::Variant::DeviceMetrics(m)) = t.variant {
                        node.device_metrics = Some(m);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(id: u32) -> pb::MeshPacket {
        pb::MeshPacket {
            id,
            from: 7,
            ..Default::default()
        }
    }

    #[test]
    fn the_log_finds_a_packet_by_its_number_while_it_keeps_it() {
        let mut log = PacketLog::new(3);
        assert_eq!(log.get(0), None);
        assert_eq!(log.get(1), None);
        let now = SystemTime::now();
        let heads: Vec<PacketHead> = (1..=5)
            .map(|i| log.record(&packet(i), now, false))
            .collect();
        assert_eq!(
            heads.iter().map(|h| h.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        // Three kept: 3, 4 and 5; 1 and 2 are gone, 6 is not there yet.
        for gone in [0, 1, 2, 6, u64::MAX] {
            assert_eq!(log.get(gone), None, "seq {gone}");
        }
        for (seq, id) in [(3, 3), (4, 4), (5, 5)] {
            let e = log.get(seq).expect("kept");
            assert_eq!(e.id, id);
            assert_eq!(e.head(seq), heads[usize::try_from(seq - 1).unwrap()]);
        }
    }

    fn text(from: u32, body: &str) -> pb::MeshPacket {
        pb::MeshPacket {
            from,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TextMessageApp as i32,
                payload: body.as_bytes().to_vec(),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// The log against a plain list of whole entries, through many wraps of its buffer:
    /// every summary (of any length, multi-byte too) comes back whole, from either end and
    /// by number.
    #[test]
    fn the_log_gives_back_every_summary_it_keeps_from_either_end() {
        let mut log = PacketLog::new(7);
        let mut model: VecDeque<PacketEntry> = VecDeque::new();
        let now = SystemTime::now();
        for i in 0..200u32 {
            let body = match i % 5 {
                0 => String::new(),
                1 => "ü€😀".repeat(usize::try_from(i).unwrap() % 40),
                2 => "x".repeat(usize::try_from(i * 37).unwrap() % 700),
                3 => format!("hello {i}"),
                _ => "é".repeat(300),
            };
            let p = if i % 7 == 6 {
                packet(i)
            } else {
                text(i, &body)
            };
            let head = log.record(&p, now, false);
            model.push_back(PacketEntry::new(&p, now, false));
            if model.len() > 7 {
                model.pop_front();
            }
            let forward: Vec<PacketEntry> = log.iter().map(|l| l.entry()).collect();
            assert_eq!(forward, Vec::from(model.clone()), "after packet {i}");
            let mut backward: Vec<PacketEntry> = log.iter().rev().map(|l| l.entry()).collect();
            backward.reverse();
            assert_eq!(backward, forward);
            // Both ends at once meet in the middle.
            let mut it = log.iter();
            let (a, b) = (
                it.next().map(|l| l.entry()),
                it.next_back().map(|l| l.entry()),
            );
            assert_eq!(a.as_ref(), model.front());
            assert_eq!(
                b.as_ref(),
                if model.len() > 1 { model.back() } else { None }
            );
            assert_eq!(it.len(), model.len().saturating_sub(2));
            let oldest = head.seq + 1 - model.len() as u64;
            for (j, e) in model.iter().enumerate() {
                assert_eq!(log.get(oldest + j as u64).as_ref(), Some(e));
            }
            assert_eq!(log.get(head.seq + 1), None);
            assert_eq!(log.len(), model.len());
        }
        // The buffer holds what is kept, not the high-water mark doubled.
        let used: usize = log.iter().map(|l| l.summary_len()).sum();
        assert_eq!(used, log.text.len());
        assert!(
            log.text.capacity() <= 2 * 7 * 4096,
            "{}",
            log.text.capacity()
        );
    }

    #[test]
    fn a_summary_past_the_limit_is_cut_at_a_character() {
        // A traceroute from a radio that lies: 2,000 hops, 26 KB of summary ("→" is 3 bytes).
        let route = pb::RouteDiscovery {
            route: (1..=2000).collect(),
            ..Default::default()
        };
        let p = pb::MeshPacket {
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TracerouteApp as i32,
                payload: prost::Message::encode_to_vec(&route),
                ..Default::default()
            })),
            ..Default::default()
        };
        let mut log = PacketLog::new(3);
        let head = log.record(&p, SystemTime::now(), false);
        let e = log.get(head.seq).expect("kept");
        assert!(e
            .summary()
            .starts_with("traceroute request via !00000001 → "));
        assert!(e.summary().ends_with('…'), "{}", e.summary());
        assert!(
            (4000..=4096).contains(&e.summary().len()),
            "{}",
            e.summary().len()
        );
        assert_eq!(log.text.len(), e.summary().len());
    }

    #[test]
    fn an_event_head_says_what_its_filters_need() {
        let mut st = RadioState::new(10);
        let p = pb::MeshPacket {
            from: 9,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TextMessageApp as i32,
                payload: b"hi".to_vec(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let head = st.apply_packet(p, true);
        assert_eq!((head.seq, head.from, head.outgoing), (1, NodeNum(9), true));
        assert_eq!(head.port_name(), "TEXT_MESSAGE_APP");
        let e = st.packets.get(head.seq).expect("logged");
        assert_eq!(e.time(), head.time());
        assert_eq!(e.text(), Some("hi"));
        assert!(std::mem::size_of::<crate::radio::LinkEvent>() <= 40);
    }
}
