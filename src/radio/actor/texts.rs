//! The text queue: texts leave one per firmware interval, each waits for its routing reply,
//! and every change of its delivery state is published and recorded.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Actor;
use crate::ids::{ChannelIndex, Convo, Dest, PacketId};
use crate::proto::pb;
use crate::radio::events::LinkEvent;
use crate::radio::handle::Queued;
use crate::radio::text::{Delivery, HistoryOp, Message as TextMessage};

impl Actor {
    pub(super) fn set_delivery(&self, packet_id: u32, state: Delivery) {
        let radio = self.read_state().my_node_num;
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
        let (radio, hop_limit) = {
            let st = self.read_state();
            (st.my_node_num, st.hop_limit())
        };
        let packet_id = PacketId::random().get();
        let packet = pb::MeshPacket {
            from: radio.0,
            to: to.num().0,
            channel: channel.get(),
            id: packet_id,
            want_ack: true,
            hop_limit,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::TextMessageApp as i32,
                payload: text.clone().into_bytes(),
                ..Default::default()
            })),
            ..Default::default()
        };
        let msg = Arc::new(TextMessage {
            radio,
            packet_id,
            outgoing: true,
            from: radio,
            to: to.num(),
            channel,
            convo: Convo::of(to.num(), to.num(), channel),
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
        let id = packet.id;
        if let Err(e) = self.send_packet(stream, packet).await {
            self.set_delivery(
                id,
                Delivery::Failed(format!("link lost before sending: {e}")),
            );
            return Err(e);
        }
        self.last_text = Some(Instant::now());
        self.awaiting_ack.insert(id, Instant::now());
        self.set_delivery(id, Delivery::Sent);
        Ok(())
    }

    pub(super) fn expire_acks(&mut self) {
        let timeout = self.opts.ack_timeout;
        let expired: Vec<u32> = self
            .awaiting_ack
            .iter()
            .filter(|(_, at)| at.elapsed() > timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.awaiting_ack.remove(&id);
            self.set_delivery(id, Delivery::Timeout);
        }
    }

    /// Queued texts cannot go out on a lost link: say so rather than lose them silently.
    pub(super) fn fail_queued(&mut self, reason: &str) {
        while let Some(p) = self.pop_text() {
            self.set_delivery(p.id, Delivery::Failed(format!("not sent: {reason}")));
        }
    }
}
