//! Automation of one radio link: the auto-responder, the beacon and the message filter.
//! Everything here belongs to one link and is stored per radio; the link's actor runs it
//! (the filter on every packet, replies and the beacon as its timers).

pub mod beacon;
mod filter;
mod responder;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::ids::NodeNum;

pub use beacon::{beacon_vars, compose, send, text, Beacon};
pub use filter::Filter;
pub use responder::{
    first_match, responder_vars, Incoming, Me, MessageType, Reply, Responder, Rule, SourceType,
    TriggerType, MAX_RULES,
};

/// Fills `{name}` variables; unknown ones become "?".
pub fn fill(template: &str, vars: &HashMap<&str, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end)
                if after[..end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && end > 0 =>
            {
                let key = &after[..end];
                out.push_str(
                    vars.get(key)
                        .map(String::as_str)
                        .filter(|v| !v.is_empty())
                        .unwrap_or("?"),
                );
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The live automation state of one link.
#[derive(Debug, Default)]
pub struct State {
    pub responder: Responder,
    pub beacon: Beacon,
    pub filter: Filter,
    /// When each rule last fired, per link.
    pub cooldowns: HashMap<String, Instant>,
    pub filtered: u64,
    pub replies_sent: u64,
    pub beacon_last: Option<SystemTime>,
    pub beacon_next: Option<SystemTime>,
    /// The store key of the radio the settings belong to (0 until loaded).
    pub radio: crate::ids::RadioKey,
}

/// Shared between the link task (filter), the beacon task and the handlers.
#[derive(Debug, Default)]
pub struct Shared(pub Mutex<State>, pub tokio::sync::Notify);

impl Shared {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the beacon task after its settings changed.
    pub fn beacon_changed(&self) {
        self.1.notify_one();
    }

    /// Applies the filter; counts what it drops.
    pub fn passes(&self, from: NodeNum, portnum: i32) -> bool {
        let mut st = self.lock();
        let ok = st.filter.passes(from, portnum);
        if !ok {
            st.filtered += 1;
        }
        ok
    }

    /// The reply to send for an incoming text, honouring cooldowns (and starting one).
    pub fn respond(&self, m: &Incoming, me: &Me) -> Option<Reply> {
        if m.from == me.num || m.text.trim().is_empty() || m.sender_name.is_none() {
            return None;
        }
        let mut st = self.lock();
        if !st.responder.enabled {
            return None;
        }
        let reply = first_match(&st.responder, m, me)?;
        let cooldown = st
            .responder
            .rules
            .iter()
            .find(|r| r.id == reply.rule_id)
            .map(|r| r.cooldown)
            .unwrap_or(0);
        if let Some(last) = st.cooldowns.get(&reply.rule_id) {
            if last.elapsed() < Duration::from_secs(u64::from(cooldown)) {
                return None;
            }
        }
        st.cooldowns.insert(reply.rule_id.clone(), Instant::now());
        st.replies_sent += 1;
        Some(reply)
    }
}
