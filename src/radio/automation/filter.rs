//! The message filter: an allow- or blocklist of node ids and port names, applied to every
//! packet before anything else sees it.

use serde::{Deserialize, Serialize};

use crate::ids::NodeNum;
use crate::proto::{self, pb};

/// Message filter: allow- or blocklist of node ids and port names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub enabled: bool,
    /// "allowlist" or "blocklist".
    pub filter_mode: String,
    pub node_ids: Vec<String>,
    pub portnums: Vec<String>,
}

impl Default for Filter {
    /// Off, an empty allowlist: the original's `message_filter.json` default.
    fn default() -> Self {
        Filter {
            enabled: false,
            filter_mode: "allowlist".into(),
            node_ids: Vec::new(),
            portnums: Vec::new(),
        }
    }
}

impl Filter {
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.filter_mode.as_str(), "allowlist" | "blocklist") {
            return Err("filter_mode must be allowlist or blocklist".into());
        }
        if self.node_ids.len() > 1000 || self.portnums.len() > 100 {
            return Err("too many entries".into());
        }
        for id in &self.node_ids {
            let hex = id.trim().trim_start_matches('!');
            if hex.is_empty() || hex.len() > 8 || u32::from_str_radix(hex, 16).is_err() {
                return Err(format!("not a node id: {id:?}"));
            }
        }
        for p in &self.portnums {
            if pb::PortNum::from_str_name(p.trim()).is_none() {
                return Err(format!("not a port name: {p:?}"));
            }
        }
        Ok(())
    }

    /// Whether a packet passes.
    pub fn passes(&self, from: NodeNum, portnum: i32) -> bool {
        if !self.enabled {
            return true;
        }
        let id = from.to_string();
        let port = proto::port_name(portnum);
        let node_listed = self.node_ids.iter().any(|n| {
            n.trim().eq_ignore_ascii_case(&id)
                || n.trim().eq_ignore_ascii_case(id.trim_start_matches('!'))
        });
        let port_listed = self.portnums.iter().any(|p| p.trim() == port);
        if self.filter_mode == "allowlist" {
            (self.node_ids.is_empty() || node_listed) && (self.portnums.is_empty() || port_listed)
        } else {
            !node_listed && !port_listed
        }
    }
}
