//! What the traceroute page and its API show: the nodes a probe can go to, the default hop
//! limit, and this link's traceroutes, newest first.

use crate::ids::NodeNum;
use crate::radio::state::RadioState;
use crate::radio::trace::Trace;

/// Every other node with its long name, by name: what a traceroute can be sent to.
pub fn trace_targets(state: &RadioState) -> Vec<(NodeNum, String)> {
    let mut nodes: Vec<(NodeNum, String)> = state
        .nodes
        .iter()
        .filter(|n| n.num() != state.my_node_num)
        .map(|n| {
            let name = n.user.as_ref().map(|u| u.long_name().to_string());
            (n.num(), name.unwrap_or_default())
        })
        .collect();
    nodes.sort_by_key(|a| a.1.to_lowercase());
    nodes
}

/// The radio's configured LoRa hop limit (3 when unset or absurd).
pub fn hop_limit(state: &RadioState) -> u32 {
    state
        .config
        .lora
        .as_ref()
        .map(|l| l.hop_limit)
        .filter(|h| (1..=7).contains(h))
        .unwrap_or(3)
}

/// The link's traceroutes, newest first.
pub fn latest_first(state: &RadioState) -> Vec<Trace> {
    let mut v: Vec<Trace> = state.traces.traces.values().cloned().collect();
    v.sort_by_key(|t| std::cmp::Reverse(t.queued_at));
    v
}
