//! The beacon's text: its template filled from my node's state. The link's actor sends it
//! every interval while it is on; "send now" goes through the link's text queue.

use std::time::SystemTime;

use crate::ids::{ChannelIndex, Dest};
use crate::proto::pb;
use crate::radio::automation::{beacon_vars, fill, Beacon};
use crate::radio::state::RadioState;
use crate::radio::{LinkError, LinkHandle};

/// The text a beacon with these settings sends now, and its channel.
pub fn compose(st: &RadioState, b: &Beacon, now: SystemTime) -> (String, ChannelIndex) {
    let mut text = fill(&b.message_template, &beacon_vars(st, now));
    let max = pb::Constants::DataPayloadLen as usize;
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    (text, ChannelIndex::from_radio(b.channel))
}

/// The text the link's beacon would send now.
pub fn text(link: &LinkHandle) -> (String, ChannelIndex) {
    let b = link.automation().lock().beacon.clone();
    compose(&link.state(), &b, SystemTime::now())
}

/// Sends one beacon now and records it.
pub async fn send(link: &LinkHandle) -> Result<String, LinkError> {
    let (text, channel) = text(link);
    link.send_text(Dest::Broadcast, channel, text.clone())
        .await?;
    link.automation().lock().beacon_last = Some(SystemTime::now());
    Ok(text)
}
