//! Node history as pages and the API show it: role and hardware names of recorded changes,
//! and the nodes export (the node DB's rows with when each node was first heard).

use std::collections::HashMap;
use std::time::SystemTime;

use crate::ids::NodeNum;
use crate::radio::nodedb::{Node, User};
use crate::read::nodes::{row, NodeRow};
use crate::store::export::line;
use crate::time::iso;

/// The names of a role and a hardware model, as the node table spells them.
pub fn role_names(role: i32, hw_model: i32) -> (String, String) {
    let mut n = Node::new(NodeNum(0));
    n.user = Some(User::new("", "", hw_model, role));
    let r = row(&n, None);
    (r.role.into_owned(), r.hw_model.into_owned())
}

/// The nodes filter "heard within".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeardWithin {
    #[default]
    Any,
    Hour,
    Day,
    Week,
}

impl HeardWithin {
    pub const ALL: [(HeardWithin, &'static str); 4] = [
        (HeardWithin::Any, "any time"),
        (HeardWithin::Hour, "1 h"),
        (HeardWithin::Day, "24 h"),
        (HeardWithin::Week, "7 d"),
    ];

    pub fn parse(s: &str) -> Result<HeardWithin, String> {
        match s {
            "" | "any" => Ok(HeardWithin::Any),
            "1h" => Ok(HeardWithin::Hour),
            "24h" => Ok(HeardWithin::Day),
            "7d" => Ok(HeardWithin::Week),
            other => Err(format!(
                "unknown heard filter {other:?}: use any, 1h, 24h or 7d"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HeardWithin::Any => "any",
            HeardWithin::Hour => "1h",
            HeardWithin::Day => "24h",
            HeardWithin::Week => "7d",
        }
    }

    /// Whether a node last heard at `last_heard` (Unix seconds) passes at `now`.
    pub fn keeps(self, last_heard: Option<u32>, now: SystemTime) -> bool {
        let secs = match self {
            HeardWithin::Any => return true,
            HeardWithin::Hour => 3600,
            HeardWithin::Day => 86_400,
            HeardWithin::Week => 7 * 86_400,
        };
        let now = crate::time::unix_secs(now);
        last_heard.is_some_and(|t| t != 0 && now.saturating_sub(t) <= secs)
    }
}

/// The nodes export: a header, then one line per node.
pub fn nodes_csv(rows: &[NodeRow], first_seen: &HashMap<NodeNum, SystemTime>) -> String {
    let mut out = String::new();
    line(
        &mut out,
        [
            "id",
            "num",
            "longName",
            "shortName",
            "hwModel",
            "role",
            "lat",
            "lon",
            "alt",
            "batteryLevel",
            "voltage",
            "channelUtil",
            "airUtilTx",
            "snr",
            "hopsAway",
            "viaMqtt",
            "lastHeard",
            "firstSeen",
        ],
    );
    fn opt<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_default()
    }
    for r in rows {
        let heard = r
            .last_heard
            .map(|s| iso(std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(s))));
        let cells = [
            r.id.clone(),
            r.num.0.to_string(),
            r.long_name.clone(),
            r.short_name.clone(),
            r.hw_model.to_string(),
            r.role.to_string(),
            opt(r.lat.map(|v| format!("{v:.7}"))),
            opt(r.lon.map(|v| format!("{v:.7}"))),
            opt(r.alt),
            opt(r.battery_level),
            opt(r.voltage),
            opt(r.channel_util),
            opt(r.air_util_tx),
            opt(r.snr),
            opt(r.hops_away),
            r.via_mqtt.to_string(),
            heard.unwrap_or_default(),
            first_seen.get(&r.num).map(|t| iso(*t)).unwrap_or_default(),
        ];
        line(&mut out, cells.iter().map(String::as_str));
    }
    out
}
