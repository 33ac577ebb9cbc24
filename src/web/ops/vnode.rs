//! A kept radio's virtual node settings as the API's JSON and the Radios page's form give
//! them: checked, then stored (the virtual node listens or stops within a moment).

use serde_json::Value;

use crate::error::{AppError, Result};
use crate::vnode::VirtualNode;
use crate::web::AppState;

const BAD_PORT: &str = "virtual_port must be 1–65535 (null or empty for none)";

/// A virtual port from JSON: a number or a string of digits; null or "" for none.
pub fn json_port(v: &Value) -> Result<Option<u16>> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| AppError::BadRequest(BAD_PORT.into())),
        Value::String(s) => form_port(s),
        _ => Err(AppError::BadRequest(BAD_PORT.into())),
    }
}

/// A virtual port from a form field; empty for none.
pub fn form_port(s: &str) -> Result<Option<u16>> {
    match s.trim() {
        "" => Ok(None),
        t => t
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| AppError::BadRequest(BAD_PORT.into())),
    }
}

/// What a request asks to change: `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Change {
    pub port: Option<Option<u16>>,
    pub admin: Option<bool>,
}

impl Change {
    /// Parses the JSON fields `virtual_port` and `virtual_admin`, when present.
    pub fn from_json(port: Option<&Value>, admin: Option<bool>) -> Result<Change> {
        Ok(Change {
            port: port.map(json_port).transpose()?,
            admin,
        })
    }

    fn over(self, current: VirtualNode) -> VirtualNode {
        VirtualNode {
            port: self.port.unwrap_or(current.port),
            admin: self.admin.unwrap_or(current.admin),
        }
    }

    /// Checks the change for a kept radio not made yet.
    pub fn check_new(self, state: &AppState) -> Result<()> {
        let v = self.over(VirtualNode::default());
        state.vnodes.check("", v).map_err(AppError::BadRequest)
    }

    /// Stores the change for the kept radio `kept_id`.
    pub async fn apply(self, state: &AppState, kept_id: &str) -> Result<()> {
        let current = state.vnodes.get(kept_id);
        let v = self.over(current);
        if v == current {
            return Ok(());
        }
        state
            .vnodes
            .set(kept_id, v)
            .await
            .map_err(AppError::BadRequest)
    }
}

/// For a JSON field where null means something (no virtual port): present as `Some(Null)`.
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    <Value as serde::Deserialize>::deserialize(d).map(Some)
}
