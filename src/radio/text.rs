//! Text messages as a link reports them: a message, its delivery state, and the changes to
//! the history that links send to the store's writer.

use std::time::SystemTime;

use crate::ids::{ChannelIndex, Convo, NodeNum};
use crate::radio::trace::Trace;

/// Delivery state of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Received,
    Queued,
    Sent,
    Acked,
    Failed(String),
    Timeout,
}

impl Delivery {
    pub fn name(&self) -> &'static str {
        match self {
            Delivery::Received => "received",
            Delivery::Queued => "queued",
            Delivery::Sent => "sent",
            Delivery::Acked => "acked",
            Delivery::Failed(_) => "failed",
            Delivery::Timeout => "timeout",
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Delivery::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// What the page shows: "acked", "failed: NO_ROUTE", ...
    pub fn label(&self) -> String {
        match self {
            Delivery::Failed(e) => format!("failed: {e}"),
            other => other.name().to_string(),
        }
    }

    /// Back from its [`Delivery::name`] (and error), as the store keeps it.
    pub fn from_name(state: &str, error: Option<String>) -> Delivery {
        match state {
            "queued" => Delivery::Queued,
            "sent" => Delivery::Sent,
            "acked" => Delivery::Acked,
            "failed" => Delivery::Failed(error.unwrap_or_default()),
            "timeout" => Delivery::Timeout,
            _ => Delivery::Received,
        }
    }
}

/// One text message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The radio that sent or heard it (its own node number).
    pub radio: NodeNum,
    pub packet_id: u32,
    pub outgoing: bool,
    pub from: NodeNum,
    pub to: NodeNum,
    pub channel: ChannelIndex,
    pub convo: Convo,
    pub text: String,
    pub at: SystemTime,
    pub state: Delivery,
}

/// A change to the history, sent by links to the writer task.
#[derive(Debug, Clone)]
pub enum HistoryOp {
    Insert(Message),
    State {
        radio: NodeNum,
        packet_id: u32,
        state: Delivery,
    },
    /// A finished traceroute.
    Trace {
        radio: NodeNum,
        trace: Box<Trace>,
    },
    /// What a message from the radio said about nodes (their history).
    Nodes(Vec<crate::radio::observe::Observation>),
}
