//! Text messages as a link reports them: a message, its delivery state, and the changes to
//! the history that links send to the store's writer.

use std::time::SystemTime;

use crate::ids::{ChannelIndex, Convo, NodeNum, RadioKey};
use crate::radio::trace::Trace;

/// Delivery state of a message. A sent text moves on with the radio's routing replies:
/// `Relayed` when the radio heard a neighbour pass it on (its own "implicit" ack, the most a
/// broadcast gets), `Delivered` only when the destination itself acked it, `Failed` with the
/// routing error's name for a NAK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Received,
    Queued,
    Sent,
    Relayed,
    Delivered,
    Failed(String),
    Timeout,
}

impl Delivery {
    pub fn name(&self) -> &'static str {
        match self {
            Delivery::Received => "received",
            Delivery::Queued => "queued",
            Delivery::Sent => "sent",
            Delivery::Relayed => "relayed",
            Delivery::Delivered => "delivered",
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

    /// What the page shows: "heard by a relay", "failed: NO_ROUTE", ...
    pub fn label(&self) -> String {
        match self {
            Delivery::Failed(e) => format!("failed: {e}"),
            Delivery::Relayed => "heard by a relay".to_string(),
            other => other.name().to_string(),
        }
    }

    /// A sentence for people: why it failed (for the routing errors firmware sends), or what
    /// the state means where the name alone may mislead.
    pub fn explain(&self) -> Option<&'static str> {
        match self {
            Delivery::Failed(e) => routing_error_sentence(e),
            Delivery::Relayed => {
                Some("a neighbour passed it on; the destination has not acknowledged it")
            }
            Delivery::Delivered => Some("the destination acknowledged it"),
            Delivery::Timeout => Some("no answer from the radio or the mesh"),
            _ => None,
        }
    }

    /// Back from its [`Delivery::name`] (and error), as the store keeps it. `acked`, what
    /// older versions stored for any routing ack, is read as `relayed`: it may have been only
    /// a relay's.
    pub fn from_name(state: &str, error: Option<String>) -> Delivery {
        match state {
            "queued" => Delivery::Queued,
            "sent" => Delivery::Sent,
            "relayed" | "acked" => Delivery::Relayed,
            "delivered" => Delivery::Delivered,
            "failed" => Delivery::Failed(error.unwrap_or_default()),
            "timeout" => Delivery::Timeout,
            _ => Delivery::Received,
        }
    }
}

/// What a routing error the firmware sends back for a text means, in a sentence.
pub fn routing_error_sentence(name: &str) -> Option<&'static str> {
    Some(match name {
        "NO_ROUTE" => "the radio knows no route to that node",
        "GOT_NAK" => "a node on the way refused it",
        "TIMEOUT" => "the radio gave up waiting for the mesh",
        "NO_INTERFACE" => "the radio has no interface to send it on",
        "MAX_RETRANSMIT" => "nobody relayed or acknowledged it, after every retry",
        "NO_CHANNEL" => "the destination does not have this channel",
        "TOO_LARGE" => "too large for one packet",
        "NO_RESPONSE" => "the destination did not answer",
        "DUTY_CYCLE_LIMIT" => "the radio has used up its legal airtime for now; try later",
        "BAD_REQUEST" => "the radio found the packet malformed",
        "NOT_AUTHORIZED" => "the destination refused it (not authorised)",
        "PKI_FAILED" => "encrypting it for that node failed",
        "PKI_UNKNOWN_PUBKEY" => "the destination does not know our key yet",
        "PKI_SEND_FAIL_PUBLIC_KEY" => "the radio has no key for that node yet",
        "ADMIN_BAD_SESSION_KEY" => "the admin session key was refused",
        "ADMIN_PUBLIC_KEY_UNAUTHORIZED" => "our key is not allowed to administer that node",
        "RATE_LIMIT_EXCEEDED" => "the radio refused it: too many packets too quickly",
        _ => return None,
    })
}

/// One text message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The radio that sent or heard it (its own node number).
    pub radio: RadioKey,
    pub packet_id: u32,
    pub outgoing: bool,
    pub from: NodeNum,
    pub to: NodeNum,
    pub channel: ChannelIndex,
    pub convo: Convo,
    pub text: String,
    pub at: SystemTime,
    pub state: Delivery,
    /// How a received text was heard (`None` for ours, and for texts stored before it was kept).
    pub heard: Option<crate::radio::packet::Heard>,
}

/// A change to the history, sent by links to the writer task.
#[derive(Debug, Clone)]
pub enum HistoryOp {
    Insert(Message),
    State {
        radio: RadioKey,
        packet_id: u32,
        state: Delivery,
    },
    /// A finished traceroute.
    Trace {
        radio: RadioKey,
        trace: Box<Trace>,
    },
    /// What a message from the radio said about nodes (their history).
    Nodes(Vec<crate::radio::observe::Observation>),
    /// A node's NeighborInfo report (replaces its previous one).
    Neighbors {
        radio: RadioKey,
        report: crate::radio::neighbors::Report,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_stored_and_read_back_and_an_old_acked_reads_as_relayed() {
        let states = [
            Delivery::Received,
            Delivery::Queued,
            Delivery::Sent,
            Delivery::Relayed,
            Delivery::Delivered,
            Delivery::Failed("MAX_RETRANSMIT".into()),
            Delivery::Timeout,
        ];
        for s in states {
            let back = Delivery::from_name(s.name(), s.error().map(str::to_string));
            assert_eq!(back, s);
        }
        assert_eq!(Delivery::from_name("acked", None), Delivery::Relayed);
    }

    #[test]
    fn a_nak_has_a_sentence_for_people_and_an_unknown_one_none() {
        let f = |e: &str| Delivery::Failed(e.into()).explain();
        assert_eq!(
            f("PKI_SEND_FAIL_PUBLIC_KEY"),
            Some("the radio has no key for that node yet")
        );
        assert!(f("RATE_LIMIT_EXCEEDED").is_some_and(|s| s.contains("too quickly")));
        assert!(f("NO_RESPONSE").is_some() && f("MAX_RETRANSMIT").is_some());
        assert_eq!(f("not sent: the link is down"), None);
        assert_eq!(Delivery::Relayed.label(), "heard by a relay");
    }
}
