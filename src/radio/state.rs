//! What a link knows about its radio: my node, node DB, channels, config, and the packet
//! ring. Owned by the link task (it is the only writer); handlers read snapshots of it.

use std::time::{Instant, SystemTime};

use crate::ids::NodeNum;
use crate::proto::pb;
use crate::proto::pb::from_radio::PayloadVariant as From;
use crate::radio::nodedb::{Metrics, Node, NodeDb, Position, User};
use crate::radio::packet::PacketHead;
use crate::radio::packet_log::PacketLog;
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
            node.set_hops_away(Some(p.hop_start - p.hop_limit));
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
                    node.set_position(Position::from(&pos));
                }
            }
            Ok(pb::PortNum::TelemetryApp) => {
                if let Ok(t) = <pb::Telemetry as prost::Message>::decode(d.payload.as_slice()) {
                    if let Some(pb::telemetry::Variant::DeviceMetrics(m)) = t.variant {
                        node.set_device_metrics(Metrics::from(&m));
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
