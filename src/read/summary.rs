//! The figures of the status bar and the cards, computed from a radio's state.

use std::time::SystemTime;

use crate::ids::NodeNum;
use crate::radio::state::{LinkStatus, RadioState};
use crate::read::nodes::{self, NodeRow};

/// What the header shows about a link.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub address: String,
    pub status: LinkStatus,
    pub my_node: Option<NodeRow>,
    pub my_num: NodeNum,
    pub my_id: String,
    pub firmware: Option<String>,
    pub node_count: usize,
    pub rf_count: usize,
    pub mqtt_count: usize,
    pub direct_count: usize,
    pub multihop_count: usize,
    pub connected_since: SystemTime,
    pub last_packet: Option<SystemTime>,
    pub packets_seen: u64,
}

impl Summary {
    pub fn of(state: &RadioState, address: String) -> Summary {
        let (mut rf, mut mqtt, mut direct, mut multi) = (0, 0, 0, 0);
        for n in state.nodes.iter().filter(|n| n.num() != state.my_node_num) {
            if n.via_mqtt {
                mqtt += 1;
            } else {
                rf += 1;
                match n.hops_away() {
                    Some(0) => direct += 1,
                    Some(_) => multi += 1,
                    None => {}
                }
            }
        }
        Summary {
            address,
            status: state.status.clone(),
            my_node: nodes::my_row(state),
            my_num: state.my_node_num,
            my_id: state.my_node_num.to_string(),
            firmware: state.metadata.as_ref().map(|m| m.firmware_version.clone()),
            node_count: rf + mqtt,
            rf_count: rf,
            mqtt_count: mqtt,
            direct_count: direct,
            multihop_count: multi,
            connected_since: state.connected_since,
            last_packet: state.last_packet,
            packets_seen: state.packets.seen(),
        }
    }
}
