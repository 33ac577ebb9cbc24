//! The simulated radio's side of a test: configs, what reached the radio (its request log,
//! read the same way by every test file), packets to inject, and its nodes.

use std::time::{Duration, Instant};

use meshdeck::proto::{pb, Message};
use meshdeck::sim::{SimConfig, SimRadio};

/// A radio of `nodes` nodes with the mesh of `index` and no live traffic.
pub fn quiet(index: u32, nodes: usize) -> SimConfig {
    SimConfig {
        index,
        nodes,
        rate: 0.0,
        ..SimConfig::default()
    }
}

/// Radio 0 of `nodes` nodes with `rate` live packets a second.
pub fn live(nodes: usize, rate: f64) -> SimConfig {
    SimConfig {
        nodes,
        rate,
        ..SimConfig::default()
    }
}

/// Radio 0, quiet, with `reboot_delay`.
pub fn rebooting_in(nodes: usize, reboot_delay: Duration) -> SimConfig {
    SimConfig {
        reboot_delay,
        ..quiet(0, nodes)
    }
}

/// One packet of the client's that the radio took, decoded.
#[derive(Debug, Clone)]
pub struct Taken {
    pub to: u32,
    pub channel: u32,
    pub data: pb::Data,
    pub at: Instant,
    pub rejected: bool,
}

impl Taken {
    /// The payload as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data.payload).into_owned()
    }
}

/// The client's packets on `port` that reached the radio, in order (refused ones too).
pub fn taken(radio: &SimRadio, port: pb::PortNum) -> Vec<Taken> {
    radio
        .requests()
        .into_iter()
        .filter_map(|r| match r.to_radio.payload_variant {
            Some(pb::to_radio::PayloadVariant::Packet(p)) => match p.payload_variant {
                Some(pb::mesh_packet::PayloadVariant::Decoded(data))
                    if data.portnum == port as i32 =>
                {
                    Some(Taken {
                        to: p.to,
                        channel: p.channel,
                        data,
                        at: r.at,
                        rejected: r.rejected.is_some(),
                    })
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The time between each two of `taken`, in order.
pub fn gaps(taken: &[Taken]) -> Vec<Duration> {
    taken.windows(2).map(|w| w[1].at - w[0].at).collect()
}

/// Texts that reached the radio: (to, channel, text).
pub fn sent_texts(radio: &SimRadio) -> Vec<(u32, u32, String)> {
    taken(radio, pb::PortNum::TextMessageApp)
        .into_iter()
        .map(|t| (t.to, t.channel, t.text()))
        .collect()
}

/// Admin messages that reached the radio (those that decode).
pub fn admin_requests(radio: &SimRadio) -> Vec<pb::AdminMessage> {
    taken(radio, pb::PortNum::AdminApp)
        .into_iter()
        .filter_map(|t| pb::AdminMessage::decode(t.data.payload.as_slice()).ok())
        .collect()
}

/// A packet heard from the mesh: `from` to `to` with id `id`, carrying `payload` on `port`
/// (a `PortNum`, or any number).
pub fn heard(
    from: u32,
    to: u32,
    id: u32,
    port: impl Into<i32>,
    payload: Vec<u8>,
) -> pb::MeshPacket {
    pb::MeshPacket {
        from,
        to,
        id,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: port.into(),
            payload,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// A text heard from the mesh.
pub fn heard_text(from: u32, to: u32, id: u32, text: &str) -> pb::MeshPacket {
    heard(
        from,
        to,
        id,
        pb::PortNum::TextMessageApp,
        text.as_bytes().to_vec(),
    )
}

/// The radio's nodes but its own, in its order.
pub fn peers(radio: &SimRadio) -> Vec<u32> {
    radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .filter(|n| *n != radio.my_node_num())
        .collect()
}

/// Node `num` of the radio's DB.
pub fn node(radio: &SimRadio, num: u32) -> pb::NodeInfo {
    radio.nodes().into_iter().find(|n| n.num == num).unwrap()
}

/// The long name of node `num` of the radio.
pub fn long_name(radio: &SimRadio, num: u32) -> String {
    node(radio, num).user.unwrap().long_name
}
