//! Admin requests to the radio itself: sent with a packet id, answered (when asked for) by a
//! packet whose `request_id` is that id, or failed after a timeout or with the link.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Actor;
use crate::ids::PacketId;
use crate::proto::{pb, Message};
use crate::radio::handle::{AdminReply, LinkError};

/// How long an admin request waits for the radio's answer.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

impl Actor {
    pub(super) async fn send_admin(
        &mut self,
        stream: &mut TcpStream,
        msg: pb::AdminMessage,
        want_response: bool,
        reboots: bool,
        reply: AdminReply,
    ) -> std::io::Result<()> {
        let me = self.read_state().my_node_num;
        let id = PacketId::random().get();
        let packet = pb::MeshPacket {
            to: me.0,
            id,
            want_ack: true,
            hop_limit: 3,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
                portnum: pb::PortNum::AdminApp as i32,
                payload: msg.encode_to_vec(),
                want_response,
                ..Default::default()
            })),
            ..Default::default()
        };
        if let Err(e) = self.send_packet(stream, packet).await {
            let _ = reply.send(Err(LinkError::Down(e.to_string())));
            return Err(e);
        }
        if reboots {
            self.reboot_expected = Some(Instant::now());
        }
        if want_response {
            self.awaiting_admin.insert(id, (Instant::now(), reply));
        } else {
            let _ = reply.send(Ok(None));
        }
        Ok(())
    }

    /// Hands an admin answer to whoever asked.
    pub(super) fn observe_admin(&mut self, p: &pb::MeshPacket) {
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            return;
        };
        if d.portnum != pb::PortNum::AdminApp as i32 || d.request_id == 0 {
            return;
        }
        let Some((_, reply)) = self.awaiting_admin.remove(&d.request_id) else {
            return;
        };
        let answer = pb::AdminMessage::decode(d.payload.as_slice())
            .map_err(|e| LinkError::Down(format!("undecodable admin answer: {e}")));
        let _ = reply.send(answer.map(Some));
    }

    pub(super) fn expire_admin(&mut self) {
        let late: Vec<u32> = self
            .awaiting_admin
            .iter()
            .filter(|(_, (at, _))| at.elapsed() > ADMIN_TIMEOUT)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            if let Some((_, reply)) = self.awaiting_admin.remove(&id) {
                let _ = reply.send(Err(LinkError::Down(
                    "the radio did not answer the admin request".into(),
                )));
            }
        }
    }

    /// The link went down: nobody will answer the open requests.
    pub(super) fn fail_admin(&mut self, reason: &str) {
        for (_, (_, reply)) in self.awaiting_admin.drain() {
            let _ = reply.send(Err(LinkError::Down(reason.to_string())));
        }
    }
}
