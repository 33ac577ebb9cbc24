//! Node names by node number, for the from/to columns, conversation labels and hop chains.
//! Names come from strangers on the radio: views escape them like any other text.

use std::collections::HashMap;

use crate::ids::{ChannelIndex, NodeNum};
use crate::proto::pb;
use crate::radio::state::RadioState;

/// Short names of every node in the DB.
pub fn short_names(state: &RadioState) -> HashMap<NodeNum, String> {
    short_names_of(state, state.nodes.iter().map(|n| n.num()))
}

/// Short names of just these nodes (the rows on a page, or one live row); nodes without a
/// short name are left out.
pub fn short_names_of(
    state: &RadioState,
    nums: impl IntoIterator<Item = NodeNum>,
) -> HashMap<NodeNum, String> {
    let mut out = HashMap::new();
    for num in nums {
        if out.contains_key(&num) {
            continue;
        }
        if let Some(short) = state.nodes.get(num).and_then(|n| n.short_name()) {
            out.insert(num, short.to_string());
        }
    }
    out
}

/// Display names (long, else short) of every node that has one.
pub fn long_names(state: &RadioState) -> HashMap<NodeNum, String> {
    state
        .nodes
        .iter()
        .filter_map(|n| {
            n.user
                .as_ref()
                .map(|u| (n.num(), u.display_name().to_string()))
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// The radio's enabled channels with their names ("Primary", "Channel N" when unnamed).
pub fn channel_names(state: &RadioState) -> Vec<(ChannelIndex, String)> {
    state
        .channels
        .iter()
        .filter(|c| c.role != pb::channel::Role::Disabled as i32)
        .map(|c| {
            let name = c
                .settings
                .as_ref()
                .map(|s| s.name.clone())
                .filter(|n| !n.is_empty());
            let index = ChannelIndex::from_radio(u32::try_from(c.index).unwrap_or(0));
            let name = name.unwrap_or_else(|| match c.index {
                0 => "Primary".into(),
                i => format!("Channel {i}"),
            });
            (index, name)
        })
        .collect()
}
