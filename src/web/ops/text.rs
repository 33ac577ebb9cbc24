//! Sending a text: the checks every send goes through (page and JSON alike), so nothing
//! invalid ever reaches the radio.

use crate::error::{AppError, Result};
use crate::ids::{ChannelIndex, Dest};
use crate::proto::pb;
use crate::radio::LinkHandle;
use crate::radio::Queued;

/// The most bytes of text one Meshtastic packet carries (`DATA_PAYLOAD_LEN`).
pub const MAX_TEXT_BYTES: usize = pb::Constants::DataPayloadLen as usize;

/// Checks a text and queues it on the link.
pub async fn send(
    link: &LinkHandle,
    text: &str,
    to: Dest,
    channel: ChannelIndex,
) -> Result<Queued> {
    if text.trim().is_empty() {
        return Err(AppError::BadRequest("the message is empty".into()));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(AppError::BadRequest(format!(
            "the message is {} bytes of UTF-8; one Meshtastic packet carries at most {MAX_TEXT_BYTES}",
            text.len()
        )));
    }
    {
        let st = link.state();
        let enabled = st
            .channels
            .get(channel.get() as usize)
            .is_some_and(|c| c.role != pb::channel::Role::Disabled as i32);
        if !enabled {
            return Err(AppError::BadRequest(format!(
                "channel {channel} is not enabled on this radio"
            )));
        }
        // A node the radio's DB does not hold (heard over MQTT, known from elsewhere) is
        // sent to all the same, as the firmware does.
        if let Dest::Node(to) = to {
            if to == st.my_node_num {
                return Err(AppError::BadRequest("that is this radio itself".into()));
            }
        }
    }
    Ok(link.send_text(to, channel, text.to_string()).await?)
}
