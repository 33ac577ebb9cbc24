//! The beacon: its settings, the variables of its template, and its text. The link's actor
//! sends it every interval while it is on; "send now" goes through the link's text queue.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::fill;
use super::responder::MAX_FIELD;
use crate::ids::{ChannelIndex, Dest};
use crate::proto::pb;
use crate::radio::state::RadioState;
use crate::radio::{LinkError, LinkHandle};

/// Beacon settings; absent fields take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Beacon {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub message_template: String,
    pub channel: u32,
}

impl Default for Beacon {
    fn default() -> Self {
        Beacon {
            enabled: false,
            interval_minutes: 60,
            message_template: "{my_name} beacon · battery {battery}% · up {uptime}".into(),
            channel: 0,
        }
    }
}

impl Beacon {
    pub fn validate(&self) -> Result<(), String> {
        if !(5..=1440).contains(&self.interval_minutes) {
            return Err("interval_minutes must be 5–1440 (5 min to 24 h)".into());
        }
        // An empty template is allowed while the beacon is off (the original's default).
        let empty = self.message_template.trim().is_empty();
        if (empty && self.enabled) || self.message_template.len() > MAX_FIELD {
            return Err(format!("message_template must be 1–{MAX_FIELD} bytes"));
        }
        if self.channel > 7 {
            return Err("channel must be 0–7".into());
        }
        Ok(())
    }
}

/// The beacon's variables from my node's state.
pub fn beacon_vars(st: &RadioState, now: SystemTime) -> HashMap<&'static str, String> {
    let me = st.my_node();
    let user = me.and_then(|n| n.user.clone()).unwrap_or_default();
    let m = me
        .and_then(|n| n.device_metrics())
        .map(crate::radio::nodedb::Metrics::to_pb)
        .unwrap_or_default();
    let pos = me.and_then(|n| n.position()).unwrap_or_default();
    let f = |v: Option<f32>, p: usize| {
        v.filter(|v| v.is_finite())
            .map(|v| format!("{v:.p$}"))
            .unwrap_or_default()
    };
    HashMap::from([
        ("my_name", user.long_name().to_string()),
        ("my_id", st.my_node_num.to_string()),
        (
            "battery",
            m.battery_level
                .map(|b| {
                    if b > 100 {
                        "plugged in".to_string()
                    } else {
                        b.to_string()
                    }
                })
                .unwrap_or_default(),
        ),
        ("voltage", f(m.voltage, 2)),
        (
            "uptime",
            m.uptime_seconds
                .map(|u| crate::time::duration(u64::from(u)))
                .unwrap_or_default(),
        ),
        (
            "time",
            crate::time::iso(now).get(11..16).unwrap_or("").to_string(),
        ),
        (
            "lat",
            pos.latitude_i()
                .map(|v| format!("{:.5}", f64::from(v) * 1e-7))
                .unwrap_or_default(),
        ),
        (
            "lon",
            pos.longitude_i()
                .map(|v| format!("{:.5}", f64::from(v) * 1e-7))
                .unwrap_or_default(),
        ),
        (
            "alt",
            pos.altitude().map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("temp", String::new()),
    ])
}

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
