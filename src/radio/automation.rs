//! Automation of one radio link: the auto-responder, the beacon and the message filter.
//! Everything here belongs to one link (one radio of one session) and is stored per radio;
//! nothing is shared between sessions, cooldowns included.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelIndex, Dest, NodeNum};
use crate::proto::{self, pb};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TriggerType {
    #[default]
    Exact,
    Contains,
    StartsWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Broadcast,
    Direct,
    #[default]
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    Rf,
    Mqtt,
    #[default]
    Both,
}

/// One auto-responder rule, in the original dashboard's JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: String,
    #[serde(default)]
    pub trigger_type: TriggerType,
    pub response: String,
    #[serde(default)]
    pub message_type: MessageType,
    #[serde(default)]
    pub source_type: SourceType,
    #[serde(default = "default_cooldown")]
    pub cooldown: u32,
}

fn yes() -> bool {
    true
}

fn default_cooldown() -> u32 {
    30
}

/// The auto-responder: on/off and its rules, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Responder {
    pub enabled: bool,
    pub rules: Vec<Rule>,
}

impl Default for Responder {
    /// A new radio starts with ping → pong.
    fn default() -> Self {
        Responder {
            enabled: true,
            rules: vec![Rule {
                id: 1,
                enabled: true,
                trigger: "ping".into(),
                trigger_type: TriggerType::Exact,
                response: "pong 🏓 {sender_short} ({hops} hops)".into(),
                message_type: MessageType::Both,
                source_type: SourceType::Both,
                cooldown: 30,
            }],
        }
    }
}

/// The most rules a radio may have, and the longest trigger and template.
pub const MAX_RULES: usize = 100;
const MAX_FIELD: usize = 200;

impl Responder {
    /// Checks a rule set before it is stored.
    pub fn validate(&self) -> Result<(), String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules"));
        }
        let mut ids = std::collections::HashSet::new();
        for r in &self.rules {
            if !ids.insert(r.id) {
                return Err(format!("rule id {} is used twice", r.id));
            }
            if r.trigger.trim().is_empty() {
                return Err(format!("rule {} has an empty trigger", r.id));
            }
            if r.response.trim().is_empty() {
                return Err(format!("rule {} has an empty response", r.id));
            }
            if r.trigger.len() > MAX_FIELD || r.response.len() > MAX_FIELD {
                return Err(format!(
                    "rule {}: trigger and response are at most {MAX_FIELD} bytes",
                    r.id
                ));
            }
            if r.cooldown > 86_400 {
                return Err(format!("rule {}: cooldown is at most 86400 s", r.id));
            }
        }
        Ok(())
    }
}

/// What the auto-responder knows about an incoming text.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub from: NodeNum,
    pub to: NodeNum,
    pub channel: ChannelIndex,
    pub text: String,
    pub via_mqtt: bool,
    pub hops: Option<u32>,
    pub sender_name: Option<String>,
    pub sender_short: Option<String>,
}

impl Incoming {
    pub fn is_direct(&self) -> bool {
        !self.to.is_broadcast()
    }
}

/// Who "I" am, for templates.
#[derive(Debug, Clone, Default)]
pub struct Me {
    pub num: NodeNum,
    pub name: String,
}

fn matches(rule: &Rule, text: &str) -> bool {
    let (t, m) = (
        rule.trigger.trim().to_lowercase(),
        text.trim().to_lowercase(),
    );
    match rule.trigger_type {
        TriggerType::Exact => m == t,
        TriggerType::Contains => m.contains(&t),
        TriggerType::StartsWith => m.starts_with(&t),
    }
}

fn applies(rule: &Rule, m: &Incoming) -> bool {
    let kind = match rule.message_type {
        MessageType::Both => true,
        MessageType::Direct => m.is_direct(),
        MessageType::Broadcast => !m.is_direct(),
    };
    let source = match rule.source_type {
        SourceType::Both => true,
        SourceType::Rf => !m.via_mqtt,
        SourceType::Mqtt => m.via_mqtt,
    };
    rule.enabled && kind && source && matches(rule, &m.text)
}

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

/// The responder's variables for one incoming message.
pub fn responder_vars(m: &Incoming, me: &Me) -> HashMap<&'static str, String> {
    HashMap::from([
        ("sender_name", m.sender_name.clone().unwrap_or_default()),
        ("sender_short", m.sender_short.clone().unwrap_or_default()),
        ("sender_id", m.from.to_string()),
        ("my_name", me.name.clone()),
        ("my_id", me.num.to_string()),
        ("message", m.text.clone()),
        (
            "message_type",
            if m.is_direct() {
                "direct".into()
            } else {
                "broadcast".into()
            },
        ),
        (
            "source_type",
            if m.via_mqtt {
                "mqtt".into()
            } else {
                "rf".into()
            },
        ),
        ("hops", m.hops.map(|h| h.to_string()).unwrap_or_default()),
    ])
}

/// A reply the responder decided on.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub rule_id: u32,
    pub to: Dest,
    pub channel: ChannelIndex,
    pub text: String,
}

/// The first rule that fires for `m`, ignoring cooldowns (for "try it").
pub fn first_match(r: &Responder, m: &Incoming, me: &Me) -> Option<Reply> {
    let rule = r.rules.iter().find(|rule| applies(rule, m))?;
    let (to, channel) = if m.is_direct() {
        (Dest::Node(m.from), m.channel)
    } else {
        (Dest::Broadcast, m.channel)
    };
    let mut text = fill(&rule.response, &responder_vars(m, me));
    truncate_utf8(
        &mut text,
        crate::proto::pb::Constants::DataPayloadLen as usize,
    );
    Some(Reply {
        rule_id: rule.id,
        to,
        channel,
        text,
    })
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

/// Message filter: allow- or blocklist of node ids and port names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Filter {
    pub enabled: bool,
    /// "allowlist" or "blocklist".
    pub filter_mode: String,
    pub node_ids: Vec<String>,
    pub portnums: Vec<String>,
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
        if self.message_template.trim().is_empty() || self.message_template.len() > MAX_FIELD {
            return Err(format!("message_template must be 1–{MAX_FIELD} bytes"));
        }
        if self.channel > 7 {
            return Err("channel must be 0–7".into());
        }
        Ok(())
    }
}

/// The beacon's variables from my node's state.
pub fn beacon_vars(
    st: &crate::radio::RadioState,
    now: SystemTime,
) -> HashMap<&'static str, String> {
    let me = st.my_node();
    let user = me.and_then(|n| n.user.clone()).unwrap_or_default();
    let m = me.and_then(|n| n.device_metrics).unwrap_or_default();
    let pos = me.and_then(|n| n.position).unwrap_or_default();
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
            pos.latitude_i
                .map(|v| format!("{:.5}", f64::from(v) * 1e-7))
                .unwrap_or_default(),
        ),
        (
            "lon",
            pos.longitude_i
                .map(|v| format!("{:.5}", f64::from(v) * 1e-7))
                .unwrap_or_default(),
        ),
        (
            "alt",
            pos.altitude.map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("temp", String::new()),
    ])
}

/// The live automation state of one link.
#[derive(Debug, Default)]
pub struct State {
    pub responder: Responder,
    pub beacon: Beacon,
    pub filter: Filter,
    /// When each rule last fired, per link.
    pub cooldowns: HashMap<u32, Instant>,
    pub filtered: u64,
    pub replies_sent: u64,
    pub beacon_last: Option<SystemTime>,
    pub beacon_next: Option<SystemTime>,
    /// The radio's node number the settings belong to (0 until loaded).
    pub radio: NodeNum,
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
        st.cooldowns.insert(reply.rule_id, Instant::now());
        st.replies_sent += 1;
        Some(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BROADCAST: NodeNum = NodeNum::BROADCAST;

    fn incoming(text: &str, to: u32) -> Incoming {
        Incoming {
            from: NodeNum(0xabc),
            to: NodeNum(to),
            channel: ChannelIndex::from_radio(2),
            text: text.into(),
            via_mqtt: false,
            hops: Some(2),
            sender_name: Some("Ridge <Relay>".into()),
            sender_short: Some("RR".into()),
        }
    }

    #[test]
    fn every_variable_substitutes_and_unknowns_become_question_marks() {
        let me = Me {
            num: NodeNum(0x10),
            name: "Base".into(),
        };
        let m = incoming("Ping", 0x10);
        let vars = responder_vars(&m, &me);
        let cases = [
            ("{sender_name}", "Ridge <Relay>"),
            ("{sender_short}", "RR"),
            ("{sender_id}", "!00000abc"),
            ("{my_name}", "Base"),
            ("{my_id}", "!00000010"),
            ("{message}", "Ping"),
            ("{message_type}", "direct"),
            ("{source_type}", "rf"),
            ("{hops}", "2"),
            ("{nonsense}", "?"),
            ("{unclosed", "{unclosed"),
            ("{}", "{}"),
        ];
        for (t, want) in cases {
            assert_eq!(fill(t, &vars), want, "{t}");
        }
        let m = Incoming {
            hops: None,
            sender_short: None,
            ..incoming("x", BROADCAST.0)
        };
        assert_eq!(
            fill(
                "{hops}/{sender_short}/{message_type}",
                &responder_vars(&m, &me)
            ),
            "?/?/broadcast"
        );
    }

    #[test]
    fn triggers_match_case_insensitively_by_type() {
        let rule = |t, ty| Rule {
            id: 1,
            enabled: true,
            trigger: t,
            trigger_type: ty,
            response: "r".into(),
            message_type: MessageType::Both,
            source_type: SourceType::Both,
            cooldown: 0,
        };
        assert!(matches(&rule("ping".into(), TriggerType::Exact), " PING "));
        assert!(!matches(
            &rule("ping".into(), TriggerType::Exact),
            "ping me"
        ));
        assert!(matches(
            &rule("ping".into(), TriggerType::StartsWith),
            "Ping me"
        ));
        assert!(matches(
            &rule("weather".into(), TriggerType::Contains),
            "how is the WEATHER?"
        ));
    }

    #[test]
    fn cooldowns_self_unknown_and_empty_are_respected() {
        let s = Shared::default();
        let me = Me {
            num: NodeNum(0x10),
            name: "Base".into(),
        };
        let first = s.respond(&incoming("ping", 0x10), &me).unwrap();
        assert_eq!(
            (first.to, first.channel),
            (Dest::Node(NodeNum(0xabc)), ChannelIndex::from_radio(2))
        );
        assert!(first.text.starts_with("pong"));
        assert!(
            s.respond(&incoming("ping", 0x10), &me).is_none(),
            "cooldown"
        );
        let s = Shared::default();
        let b = s.respond(&incoming("ping", BROADCAST.0), &me).unwrap();
        assert_eq!(
            (b.to, b.channel),
            (Dest::Broadcast, ChannelIndex::from_radio(2)),
            "a broadcast is answered on its channel"
        );
        let s = Shared::default();
        assert!(s
            .respond(
                &Incoming {
                    from: NodeNum(0x10),
                    ..incoming("ping", BROADCAST.0)
                },
                &me
            )
            .is_none());
        assert!(s
            .respond(
                &Incoming {
                    sender_name: None,
                    ..incoming("ping", BROADCAST.0)
                },
                &me
            )
            .is_none());
        assert!(s.respond(&incoming("  ", BROADCAST.0), &me).is_none());
    }

    #[test]
    fn the_filter_allows_and_blocks() {
        let mut f = Filter {
            enabled: true,
            filter_mode: "blocklist".into(),
            node_ids: vec!["!00000abc".into()],
            portnums: vec!["POSITION_APP".into()],
        };
        assert!(!f.passes(NodeNum(0xabc), pb::PortNum::TextMessageApp as i32));
        assert!(!f.passes(NodeNum(0x1), pb::PortNum::PositionApp as i32));
        assert!(f.passes(NodeNum(0x1), pb::PortNum::TextMessageApp as i32));
        f.filter_mode = "allowlist".into();
        assert!(!f.passes(NodeNum(0xabc), pb::PortNum::TextMessageApp as i32));
        f.portnums.clear();
        assert!(f.passes(NodeNum(0xabc), pb::PortNum::TextMessageApp as i32));
        assert!(!f.passes(NodeNum(0x1), pb::PortNum::TextMessageApp as i32));
        assert!(f.validate().is_ok());
        f.node_ids.push("zz".into());
        assert!(f.validate().is_err());
    }
}
