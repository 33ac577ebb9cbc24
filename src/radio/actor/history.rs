//! The link's part in node history: what each message from the radio says about a node, and
//! the node DB after a handshake, go to the store's writer (see `radio::observe`).

use std::time::SystemTime;

use super::Actor;
use crate::proto::pb;
use crate::radio::observe;
use crate::radio::text::HistoryOp;

impl Actor {
    /// Notes for the history what a message from the radio says about a node.
    pub(super) fn observe(&self, msg: &pb::FromRadio) {
        let radio = self.read_state().radio_key;
        let seen = observe::from_radio(radio, msg, SystemTime::now());
        if !seen.is_empty() {
            self.record(HistoryOp::Nodes(seen));
        }
    }

    /// Notes every node of the DB a handshake brought: known, with its names and position.
    pub(super) fn observe_node_db(&self) {
        let now = SystemTime::now();
        let seen = {
            let st = self.read_state();
            let radio = st.radio_key;
            st.nodes
                .iter()
                .flat_map(|n| observe::from_node(radio, n, now))
                .collect::<Vec<_>>()
        };
        if !seen.is_empty() {
            self.record(HistoryOp::Nodes(seen));
        }
    }
}
