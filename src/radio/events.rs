//! What a link publishes on its broadcast channel, for live views and the tasks that follow a
//! radio.

use std::sync::Arc;

use crate::ids::NodeNum;
use crate::radio::packet::PacketHead;
use crate::radio::text::{Delivery, Message};

/// Something that happened on a link.
#[derive(Debug, Clone)]
pub enum LinkEvent {
    /// A packet was logged; the entry is in the link's packet log (`PacketLog::get`).
    Packet(PacketHead),
    /// The link's status changed (the state holds the new one).
    Status,
    /// A text message received, or queued by this dashboard.
    Message(Arc<Message>),
    /// A sent text's delivery state changed.
    Delivery { packet_id: u32, state: Delivery },
    /// The traceroute to this node changed.
    Trace(NodeNum),
    /// A sweep on this link progressed.
    Sweep,
    /// Someone attached to the link or left it.
    Holders,
}
