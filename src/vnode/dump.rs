//! A client's config download, built from what the link already knows: nothing is asked of
//! the radio again.

use crate::proto::{self, pb};
use crate::radio::nodedb::Node;
use crate::radio::RadioState;

use pb::from_radio::PayloadVariant as Out;

/// A node DB record as the firmware hands it to its client.
pub fn node_info(n: &Node) -> pb::NodeInfo {
    let num = n.num().0;
    pb::NodeInfo {
        num,
        user: n.user.as_ref().map(|u| pb::User {
            id: proto::node_id(num),
            long_name: u.long_name().to_string(),
            short_name: u.short_name().to_string(),
            hw_model: u.hw_model,
            role: u.role,
            ..Default::default()
        }),
        position: n.position().map(|p| pb::Position {
            latitude_i: p.latitude_i(),
            longitude_i: p.longitude_i(),
            altitude: p.altitude(),
            ..Default::default()
        }),
        snr: n.snr,
        last_heard: n.last_heard,
        device_metrics: n.device_metrics().map(crate::radio::nodedb::Metrics::to_pb),
        channel: n.channel,
        via_mqtt: n.via_mqtt,
        hops_away: n.hops_away(),
        is_favorite: n.is_favorite,
        ..Default::default()
    }
}

/// Every message answering `want_config_id` with `nonce`, `config_complete_id` last.
pub fn messages(st: &RadioState, nonce: u32) -> Vec<Out> {
    let me = st.my_node_num;
    let dump = proto::ConfigDump {
        my_info: pb::MyNodeInfo {
            my_node_num: me.0,
            nodedb_count: u32::try_from(st.nodes.len()).unwrap_or(u32::MAX),
            min_app_version: 30200,
            ..Default::default()
        },
        mine: st.my_node().map(node_info),
        others: st
            .nodes
            .iter()
            .filter(|n| n.num() != me)
            .map(node_info)
            .collect(),
        metadata: st.metadata.clone(),
        channels: &st.channels,
        config: &st.config,
        module_config: &st.module_config,
    };
    let mut out = proto::config_dump(dump, nonce);
    out.push(Out::ConfigCompleteId(nonce));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_goes_back_to_the_radios_node_info() {
        let info = pb::NodeInfo {
            num: 0xa1b2_c3d4,
            user: Some(pb::User {
                id: "!a1b2c3d4".into(),
                long_name: "Hill top".into(),
                short_name: "HT".into(),
                hw_model: 9,
                role: 2,
                ..Default::default()
            }),
            position: Some(pb::Position {
                latitude_i: Some(515_000_000),
                longitude_i: Some(-1_000_000),
                altitude: Some(80),
                ..Default::default()
            }),
            snr: 6.5,
            last_heard: 1_700_000_000,
            channel: 1,
            via_mqtt: true,
            hops_away: Some(2),
            is_favorite: true,
            ..Default::default()
        };
        assert_eq!(node_info(&Node::from(&info)), info);
    }
}
