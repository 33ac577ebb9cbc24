//! What a frame from the radio means: state to keep, a probe's answer, an admin answer, an
//! ack, a text to keep and maybe answer. A packet's payload is decoded once here.

use std::sync::Arc;
use std::time::SystemTime;

use super::{Actor, Ended};
use crate::ids::{ChannelIndex, Convo, NodeNum};
use crate::metrics::Metrics;
use crate::proto::{pb, FrameDecoder, Message};
use crate::radio::events::LinkEvent;
use crate::radio::text::{Delivery, HistoryOp, Message as TextMessage};
use crate::radio::{automation, notice};

/// The routing result a packet carries: (request id, error code; 0 = delivered).
pub(super) fn routing_result(p: &pb::MeshPacket) -> Option<(u32, i32)> {
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    if d.portnum != pb::PortNum::RoutingApp as i32 || d.request_id == 0 {
        return None;
    }
    match pb::Routing::decode(d.payload.as_slice()).ok()?.variant? {
        pb::routing::Variant::ErrorReason(e) => Some((d.request_id, e)),
        _ => None,
    }
}

/// A routing error's name as the firmware spells it (`NO_ROUTE`).
pub(super) fn routing_error_name(code: i32) -> String {
    pb::routing::Error::try_from(code)
        .map(|e| e.as_str_name().to_string())
        .unwrap_or_else(|_| format!("ERROR_{code}"))
}

impl Actor {
    /// Applies every complete frame in the decoder.
    pub(super) fn drain(&mut self, decoder: &mut FrameDecoder) -> Option<Ended> {
        while let Some(frame) = decoder.next_frame() {
            let msg = match pb::FromRadio::decode(frame.as_slice()) {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(radio = %self.addr, error = %e, "undecodable frame skipped");
                    continue;
                }
            };
            match &msg.payload_variant {
                Some(pb::from_radio::PayloadVariant::QueueStatus(q)) if q.mesh_packet_id == 0 => {
                    self.heartbeats.answered();
                }
                Some(pb::from_radio::PayloadVariant::Rebooted(_)) => {
                    return Some(Ended::Lost("the radio rebooted".into()));
                }
                Some(pb::from_radio::PayloadVariant::ClientNotification(n)) => {
                    // Firmware refuses a probe inside its interval with just this notification.
                    let refused = n
                        .reply_id
                        .and_then(|id| self.write_state().traces.refused(id, &n.message));
                    match refused {
                        // The traceroute's own row says so.
                        Some(dest) => self.trace_changed(dest),
                        None => self.radio_notice(n),
                    }
                }
                Some(pb::from_radio::PayloadVariant::Packet(p)) if !self.inbound_packet(p) => {
                    continue;
                }
                _ => {}
            }
            self.observe(&msg);
            self.publish_from_radio(&msg);
            let entry = self.write_state().apply(msg);
            if let Some(entry) = entry {
                Metrics::add(&self.opts.metrics.packets_in, 1);
                let _ = self.events.send(LinkEvent::Packet(entry));
            }
        }
        None
    }

    /// Hands a mesh packet, node info or notification to the virtual node's clients, when
    /// there are any.
    fn publish_from_radio(&self, msg: &pb::FromRadio) {
        use pb::from_radio::PayloadVariant as V;
        let wanted = matches!(
            msg.payload_variant,
            Some(V::Packet(_) | V::NodeInfo(_) | V::ClientNotification(_))
        );
        if let Some(tx) = self.from_radio.listened().filter(|_| wanted) {
            let _ = tx.send(Arc::new(msg.clone()));
        }
    }

    /// A notification from the radio becomes a notice for every session on it.
    fn radio_notice(&self, n: &pb::ClientNotification) {
        let (level, text) = (notice::level(n), notice::describe(n));
        let shown = self.write_state().notes.add(level, text, SystemTime::now());
        if shown {
            let _ = self.events.send(LinkEvent::Status);
        }
    }

    /// Notes what a mesh packet answers or says; false when the filter drops it.
    fn inbound_packet(&mut self, p: &pb::MeshPacket) -> bool {
        // Answers to our own requests are always noted.
        self.observe_admin(p);
        let changed = self.write_state().traces.observe(p);
        if let Some(dest) = changed {
            self.trace_changed(dest);
        }
        let port = match &p.payload_variant {
            Some(pb::mesh_packet::PayloadVariant::Decoded(d)) => d.portnum,
            _ => -1,
        };
        // Firmware's simulated radio hands its own transmissions back to its client: an echo
        // of what this link sent, not news from the mesh.
        let me = self.read_state().my_node_num;
        if port == pb::PortNum::SimulatorApp as i32 && NodeNum(p.from) == me {
            return false;
        }
        let routing = routing_result(p);
        // A filtered packet reaches neither the log, nor messages, nor the responder.
        if !self.automation.passes(NodeNum(p.from), port) {
            if let Some((request_id, _)) = routing {
                self.awaiting_ack.remove(&request_id);
            }
            return false;
        }
        if let Some((request_id, error)) = routing {
            self.routing_reply(request_id, NodeNum(p.from), error);
        } else if port == pb::PortNum::TextMessageApp as i32 {
            self.text_received(p);
        } else if port == pb::PortNum::NeighborinfoApp as i32 {
            self.neighbors_heard(p);
        }
        true
    }

    /// A node's report of who it hears: kept in the link's state and in the store.
    fn neighbors_heard(&mut self, p: &pb::MeshPacket) {
        let Some(report) = crate::radio::neighbors::decode(p, SystemTime::now()) else {
            return;
        };
        let radio = {
            let mut st = self.write_state();
            st.neighbors.insert(report.clone());
            st.radio_key
        };
        self.record(HistoryOp::Neighbors { radio, report });
    }

    /// A text from the mesh: kept, published and shown to the auto-responder.
    fn text_received(&mut self, p: &pb::MeshPacket) {
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            return;
        };
        let radio = self.read_state().radio_key;
        let (from, to, channel) = (
            NodeNum(p.from),
            NodeNum(p.to),
            ChannelIndex::from_radio(p.channel),
        );
        let msg = Arc::new(TextMessage {
            radio,
            packet_id: p.id,
            outgoing: false,
            from,
            to,
            channel,
            convo: Convo::of(to, from, channel),
            text: String::from_utf8_lossy(&d.payload).into_owned(),
            at: SystemTime::now(),
            state: Delivery::Received,
            heard: Some(crate::radio::packet::Heard::of(p)),
        });
        self.record(HistoryOp::Insert((*msg).clone()));
        self.auto_respond(p, &msg);
        let _ = self.events.send(LinkEvent::Message(msg));
    }

    /// Asks the auto-responder; a reply waits its delay in the actor, then joins the queue.
    fn auto_respond(&mut self, p: &pb::MeshPacket, msg: &TextMessage) {
        let (me, incoming) = {
            let st = self.read_state();
            let user = st
                .nodes
                .get(msg.from)
                .and_then(|n| n.user.clone())
                .filter(|u| !u.long_name().is_empty() || !u.short_name().is_empty());
            let my_name = st
                .my_node()
                .and_then(|n| n.user.as_ref())
                .map(|u| u.long_name().to_string())
                .unwrap_or_default();
            let hops =
                (p.hop_start > 0 && p.hop_start >= p.hop_limit).then(|| p.hop_start - p.hop_limit);
            (
                automation::Me {
                    num: st.my_node_num,
                    name: my_name,
                },
                automation::Incoming {
                    from: msg.from,
                    to: msg.to,
                    channel: msg.channel,
                    text: msg.text.clone(),
                    via_mqtt: p.via_mqtt,
                    hops,
                    sender_name: user.as_ref().map(|u| u.long_name().to_string()),
                    sender_short: user.map(|u| u.short_name().to_string()),
                },
            )
        };
        if let Some(reply) = self.automation.respond(&incoming, &me) {
            self.schedule_reply(reply);
        }
    }
}
