//! The beacon: one task per link that broadcasts a templated text every interval while it is
//! enabled, through the link's send queue. It ends with the link.

use std::time::{Duration, SystemTime};

use tokio::sync::broadcast::error::RecvError;

use crate::ids::{ChannelIndex, Dest};
use crate::radio::automation::{beacon_vars, fill};
use crate::radio::{LinkError, LinkEvent, LinkHandle, LinkStatus};

/// The text the beacon would send now.
pub fn text(link: &LinkHandle) -> (String, ChannelIndex) {
    let template = link.automation().lock().beacon.clone();
    let mut text = fill(
        &template.message_template,
        &beacon_vars(&link.state(), SystemTime::now()),
    );
    let max = crate::proto::pb::Constants::DataPayloadLen as usize;
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    (text, ChannelIndex::from_radio(template.channel))
}

/// Sends one beacon now and records it.
pub async fn send(link: &LinkHandle) -> Result<String, LinkError> {
    let (text, channel) = text(link);
    link.send_text(Dest::Broadcast, channel, text.clone())
        .await?;
    link.automation().lock().beacon_last = Some(SystemTime::now());
    Ok(text)
}

/// Starts the beacon task of a link; `minute` is how long a minute of the interval lasts
/// (a minute, except in tests).
pub fn spawn(link: LinkHandle, minute: Duration) {
    tokio::spawn(run(link, minute));
}

async fn run(link: LinkHandle, minute: Duration) {
    let mut events = link.subscribe();
    let shared = link.automation().clone();
    loop {
        let next = {
            let mut st = shared.lock();
            if st.beacon.enabled {
                let every = minute * st.beacon.interval_minutes.max(5);
                let next = st.beacon_next.unwrap_or_else(|| SystemTime::now() + every);
                st.beacon_next = Some(next);
                Some(next)
            } else {
                st.beacon_next = None;
                None
            }
        };
        let wait = next.map(|n| {
            n.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
        });
        tokio::select! {
            _ = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {
                if let Err(e) = send(&link).await {
                    tracing::info!(radio = %link.addr(), error = %e, "beacon not sent");
                }
                let mut st = shared.lock();
                let every = minute * st.beacon.interval_minutes.max(5);
                st.beacon_next = Some(SystemTime::now() + every);
            }
            _ = shared.1.notified() => {}
            ev = events.recv() => match ev {
                Ok(LinkEvent::Status(LinkStatus::Closed { .. })) | Err(RecvError::Closed) => return,
                _ => {}
            },
        }
        if link.is_closed() {
            return;
        }
    }
}
