//! The config handshake the way firmware sends it after `want_config_id`, in the order its
//! `PhoneAPI` state machine uses (clients are told to assume it): my info, my own node info,
//! device metadata, the 8 channels, every config section, every module section, the other
//! nodes, then `config_complete_id` echoing the nonce.
//!
//! Two nonces are special, as in current firmware: 69420 asks for the config only (my info,
//! my own node, metadata, channels, config, modules: no other nodes), 69421 for the node DB
//! only (my info and every node; no metadata, channels or config).

use super::{Fault, SimState};
use crate::proto::{self, pb};

use pb::from_radio::PayloadVariant as Out;

/// The version the simulated firmware reports, and the one it reports as old firmware
/// (before 2.7.4, which does not answer heartbeats).
pub const FIRMWARE: &str = "2.7.15.sim";
pub const OLD_FIRMWARE: &str = "2.6.11.sim";

/// What the simulated firmware reports about itself.
pub fn metadata(old: bool) -> pb::DeviceMetadata {
    pb::DeviceMetadata {
        firmware_version: if old { OLD_FIRMWARE } else { FIRMWARE }.into(),
        device_state_version: 23,
        can_shutdown: true,
        has_wifi: true,
        has_bluetooth: true,
        has_pkc: true,
        role: pb::config::device_config::Role::Client as i32,
        hw_model: pb::HardwareModel::StationG2 as i32,
        ..Default::default()
    }
}

/// Every message of the handshake for `nonce`, and whether it ends with `config_complete_id`
/// (it does not under [`Fault::NoConfigComplete`]).
pub(super) fn messages(st: &SimState, my_node_num: u32, nonce: u32) -> (Vec<Out>, bool) {
    // My own node first (a NodeDB reset keeps it), the others after the config.
    let (mine, others): (Vec<&pb::NodeInfo>, Vec<&pb::NodeInfo>) =
        st.nodes.iter().partition(|n| n.num == my_node_num);
    let dump = proto::ConfigDump {
        my_info: pb::MyNodeInfo {
            my_node_num,
            nodedb_count: u32::try_from(st.nodes.len()).unwrap_or(u32::MAX),
            min_app_version: 30200,
            reboot_count: st.reboots,
            ..Default::default()
        },
        mine: mine.first().map(|n| (*n).clone()),
        others: others.into_iter().cloned().collect(),
        metadata: Some(metadata(st.old_firmware)),
        channels: &st.channels,
        config: &st.config,
        module_config: &st.module_config,
    };
    let mut out = proto::config_dump(dump, nonce);
    let complete = !matches!(st.fault, Fault::NoConfigComplete);
    if complete {
        out.push(Out::ConfigCompleteId(nonce));
    }
    (out, complete)
}
