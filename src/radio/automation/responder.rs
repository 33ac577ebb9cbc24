//! The auto-responder: rules in the original dashboard's JSON shape, which rule fires for an
//! incoming text, and the variables its reply may use.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{fill, truncate_utf8};
use crate::ids::{ChannelIndex, Dest, NodeNum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TriggerType {
    #[default]
    Exact,
    Contains,
    /// The original's `startswith`; our older `starts_with` is read too.
    #[serde(alias = "starts_with")]
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

/// One auto-responder rule, in the original dashboard's JSON shape (`autoresponder.json`:
/// camelCase, a free-text `id`); our older snake_case names and numeric ids are read too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// A label, unique among the rules; the key of the rule's cooldown.
    #[serde(default, deserialize_with = "label")]
    pub id: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: String,
    #[serde(default, alias = "trigger_type")]
    pub trigger_type: TriggerType,
    #[serde(default = "default_response")]
    pub response: String,
    #[serde(default, alias = "message_type")]
    pub message_type: MessageType,
    #[serde(default, alias = "source_type")]
    pub source_type: SourceType,
    #[serde(
        rename = "cooldownSeconds",
        alias = "cooldown",
        default = "default_cooldown"
    )]
    pub cooldown: u32,
}

/// A rule id as either file gives it: a string (the original's) or a number (ours before).
fn label<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Label {
        Text(String),
        Number(u64),
    }
    Ok(match Label::deserialize(d)? {
        Label::Text(s) => s.trim().to_string(),
        Label::Number(n) => n.to_string(),
    })
}

fn yes() -> bool {
    true
}

fn default_cooldown() -> u32 {
    30
}

fn default_response() -> String {
    "Auto-reply".into()
}

/// The auto-responder: on/off and its rules, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Responder {
    #[serde(default)]
    pub enabled: bool,
    pub rules: Vec<Rule>,
}

impl Default for Responder {
    /// A new radio starts with ping → pong.
    fn default() -> Self {
        Responder {
            enabled: true,
            rules: vec![Rule {
                id: "ping".into(),
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
pub(super) const MAX_FIELD: usize = 200;

impl Responder {
    /// Gives every rule without an id one ("rule-N", by its place), as the original's rules
    /// may have none.
    pub fn name_rules(&mut self) {
        let taken: std::collections::HashSet<String> =
            self.rules.iter().map(|r| r.id.clone()).collect();
        for (i, r) in self.rules.iter_mut().enumerate() {
            if r.id.is_empty() {
                let mut n = i + 1;
                while taken.contains(&format!("rule-{n}")) {
                    n += 100;
                }
                r.id = format!("rule-{n}");
            }
        }
    }

    /// Checks a rule set before it is stored.
    pub fn validate(&self) -> Result<(), String> {
        if self.rules.len() > MAX_RULES {
            return Err(format!("at most {MAX_RULES} rules"));
        }
        let mut ids = std::collections::HashSet::new();
        for r in &self.rules {
            if r.id.len() > 64 {
                return Err("a rule id is at most 64 bytes".into());
            }
            // Rules without an id are named when stored (`name_rules`).
            if !r.id.is_empty() && !ids.insert(r.id.as_str()) {
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

pub(super) fn matches(rule: &Rule, text: &str) -> bool {
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
                "MQTT".into()
            } else {
                "RF".into()
            },
        ),
        ("hops", m.hops.map(|h| h.to_string()).unwrap_or_default()),
    ])
}

/// A reply the responder decided on.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub rule_id: String,
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
        rule_id: rule.id.clone(),
        to,
        channel,
        text,
    })
}
