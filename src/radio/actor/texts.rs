//! The text queue: texts leave one per firmware interval, each waits for its routing replies,
//! and every change of its delivery state is published and recorded.
//!
//! What a routing reply means depends on who sent it. The radio's own ack (from my node
//! number: it heard a neighbour rebroadcast the packet, firmware's "implicit ack") means a
//! relay heard it: the most a broadcast gets, and for a direct message only a step, after
//! which no NAK comes if the destination never answers. Only the destination's ack means
//! delivered. Any error is a NAK: failed, with the error's name.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Actor;
use crate::ids::{ChannelIndex, Convo, Dest, NodeNum, PacketId};
use crate::proto::pb;
use crate::radio::events::LinkEvent;
use crate::radio::handle::Queued;
use crate::radio::text::{Delivery, HistoryOp, Message as TextMessage};

/// A sent text waiting for its routing replies.
#[derive(Debug, Clone, Copy)]
pub(super) struct Awaiting {
    pub sent: Instant,
    pub to: NodeNum,
    /// The radio has said a relay heard it.
    pub relayed: bool,
}

impl Actor {
    /// A routing reply to one of our texts, from `from`: relayed, delivered, or why not.
    pub(super) fn routing_reply(&mut self, request_id: u32, from: NodeNum, error: i32) {
        let me = self.read_state().my_node_num;
        let Some(w) = self.awaiting_ack.get_mut(&request_id) else {
            return;
        };
        let state = if error != 0 {
            Delivery::Failed(super::inbound::routing_error_name(error))
        } else if w.to == NodeNum(crate::proto::BROADCAST) {
            Delivery::Relayed
        } else if from == w.to && from != me {
            Delivery::Delivered
        } else if w.relayed {
            // A second relay's word adds nothing.
            return;
        } else {
            // The radio's implicit ack: keep waiting for the destination's.
            w.relayed = true;
            self.set_delivery(request_id, Delivery::Relayed);
            return;
        };
        self.awaiting_ack.remove(&request_id);
        self.set_delivery(request_id, state);
    }

    pub(super) fn set_delivery(&self, packet_id: u32, state: Delivery) {
        let radio = self.read_state().radio_key;
        self.record(HistoryOp::State {
            radio,
            packet_id,
            state: state.clone(),
        });
        let _ = self.events.send(LinkEvent::Delivery { packet_id, state });
    }

    /// When the next queued text may leave.
    pub(super) fn next_text_at(&self) -> Instant {
        match self.last_text {
            Some(t) => t + self.opts.text_interval,
            None => Instant::now(),
        }
    }

    pub(super) fn enqueue_text(&mut self, to: Dest, channel: ChannelIndex, text: String) -> Queued {
        let (me, radio, hop_limit) = {
            let st = self.read_state();
            (st.my_node_num, st.radio_key, st.hop_limit())
        };
        let packet = pb::MeshPacket {
            from: me.0,
            to: to.num().0,
            channel: channel.get(),
            id: PacketId::random().get(),
            want_ack: true,
            hop_limit,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TextMessageApp as i32,
                payload: text.clone().into_bytes(),
                ..Default::default()
            })),
            ..Default::default()
        };
        self.queue_text(packet, radio, text)
    }

    /// A text packet a virtual node's client built: from my node, its id kept (a new one
    /// when it has none), my hop limit when it sets none.
    pub(super) fn enqueue_text_packet(&mut self, mut packet: pb::MeshPacket) -> Queued {
        let (me, radio, hop_limit) = {
            let st = self.read_state();
            (st.my_node_num, st.radio_key, st.hop_limit())
        };
        packet.from = me.0;
        if packet.id == 0 {
            packet.id = PacketId::random().get();
        }
        if packet.hop_limit == 0 {
            packet.hop_limit = hop_limit;
        }
        let text = match &packet.payload_variant {
            Some(pb::mesh_packet::PayloadVariant::Decoded(d)) => {
                String::from_utf8_lossy(&d.payload).into_owned()
            }
            _ => String::new(),
        };
        self.queue_text(packet, radio, text)
    }

    fn queue_text(
        &mut self,
        packet: pb::MeshPacket,
        radio: crate::ids::RadioKey,
        text: String,
    ) -> Queued {
        let (packet_id, me, to) = (packet.id, NodeNum(packet.from), NodeNum(packet.to));
        let channel = ChannelIndex::from_radio(packet.channel);
        let msg = Arc::new(TextMessage {
            radio,
            packet_id,
            outgoing: true,
            from: me,
            to,
            channel,
            convo: Convo::of(to, to, channel),
            text,
            at: SystemTime::now(),
            state: Delivery::Queued,
            heard: None,
        });
        let ahead = self.texts.len();
        let first = self
            .next_text_at()
            .saturating_duration_since(Instant::now());
        let sends_in = first + self.opts.text_interval * u32::try_from(ahead).unwrap_or(u32::MAX);
        self.record(HistoryOp::Insert((*msg).clone()));
        let _ = self.events.send(LinkEvent::Message(msg.clone()));
        self.texts.push_back((packet, msg));
        self.opts.metrics.send_queue.fetch_add(1, Ordering::Relaxed);
        Queued {
            packet_id,
            ahead,
            sends_in,
        }
    }

    fn pop_text(&mut self) -> Option<pb::MeshPacket> {
        let (packet, _) = self.texts.pop_front()?;
        self.opts.metrics.send_queue.fetch_sub(1, Ordering::Relaxed);
        Some(packet)
    }

    pub(super) async fn send_next_text(&mut self, stream: &mut TcpStream) -> std::io::Result<()> {
        let Some(packet) = self.pop_text() else {
            return Ok(());
        };
        let (id, packet_to) = (packet.id, packet.to);
        if let Err(e) = self.send_packet(stream, packet).await {
            self.set_delivery(
                id,
                Delivery::Failed(format!("link lost before sending: {e}")),
            );
            return Err(e);
        }
        self.last_text = Some(Instant::now());
        let to = NodeNum(packet_to);
        self.awaiting_ack.insert(
            id,
            Awaiting {
                sent: Instant::now(),
                to,
                relayed: false,
            },
        );
        self.set_delivery(id, Delivery::Sent);
        Ok(())
    }

    /// A text with no routing reply within the ack timeout timed out; one a relay heard
    /// stays "heard by a relay" (firmware sends nothing more when the destination is silent).
    pub(super) fn expire_acks(&mut self) {
        let timeout = self.opts.ack_timeout;
        let expired: Vec<(u32, bool)> = self
            .awaiting_ack
            .iter()
            .filter(|(_, w)| w.sent.elapsed() > timeout)
            .map(|(id, w)| (*id, w.relayed))
            .collect();
        for (id, relayed) in expired {
            self.awaiting_ack.remove(&id);
            if !relayed {
                self.set_delivery(id, Delivery::Timeout);
            }
        }
    }

    /// Queued texts cannot go out on a lost link: say so rather than lose them silently.
    pub(super) fn fail_queued(&mut self, reason: &str) {
        while let Some(p) = self.pop_text() {
            self.set_delivery(p.id, Delivery::Failed(format!("not sent: {reason}")));
        }
    }
}
