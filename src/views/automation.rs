//! The automation tab: auto-responder rules with a "try it" box, the beacon, the message
//! filter. Every form re-renders the whole panel.

use std::time::SystemTime;

use maud::{html, Markup};

use crate::radio::automation::{
    Beacon, Filter, MessageType, Reply, Responder, SourceType, TriggerType,
};

pub struct AutomationView<'a> {
    pub responder: &'a Responder,
    pub beacon: &'a Beacon,
    pub beacon_last: Option<SystemTime>,
    pub beacon_next: Option<SystemTime>,
    pub filter: &'a Filter,
    pub filtered: u64,
    pub replies_sent: u64,
    /// Result of the "try it" box: the text tried and what would happen.
    pub tried: Option<(&'a str, Option<&'a Reply>)>,
    pub note: Option<&'a str>,
    pub now: SystemTime,
}

fn select<T: PartialEq + Copy>(name: &str, current: T, options: &[(T, &str, &str)]) -> Markup {
    html! {
        select name=(name) {
            @for (v, value, label) in options { option value=(value) selected[*v == current] { (label) } }
        }
    }
}

const TRIGGERS: [(TriggerType, &str, &str); 3] = [
    (TriggerType::Exact, "exact", "is exactly"),
    (TriggerType::Contains, "contains", "contains"),
    (TriggerType::StartsWith, "starts_with", "starts with"),
];
const KINDS: [(MessageType, &str, &str); 3] = [
    (MessageType::Both, "both", "DM & broadcast"),
    (MessageType::Direct, "direct", "DM only"),
    (MessageType::Broadcast, "broadcast", "broadcast only"),
];
const SOURCES: [(SourceType, &str, &str); 3] = [
    (SourceType::Both, "both", "RF & MQTT"),
    (SourceType::Rf, "rf", "RF only"),
    (SourceType::Mqtt, "mqtt", "MQTT only"),
];

/// The port types a filter offers: the common ones of the packet log's filter.
const PORTS: &[&str] = super::packets::PORTS.split_at(7).0;

fn when(t: Option<SystemTime>, now: SystemTime) -> String {
    match t {
        Some(t) if t <= now => super::ago(t, now),
        Some(t) => format!(
            "in {}",
            super::duration(t.duration_since(now).map(|d| d.as_secs()).unwrap_or(0))
        ),
        None => "—".into(),
    }
}

pub fn automation(v: &AutomationView<'_>) -> Markup {
    let form = |action: &str| format!("/automation/{action}");
    html! {
        div #automation {
            @if let Some(n) = v.note { div.toast.info role="status" { (n) } }
            section.panel #responder {
                h2 { "Auto-responder" }
                p.muted { "Answers texts that match a rule, after a short delay, through the radio's send queue. Never answers this radio's own messages, unknown senders or empty texts. Rules and cooldowns belong to this radio only. Variables: "
                    code { "{sender_name} {sender_short} {sender_id} {my_name} {my_id} {message} {message_type} {source_type} {hops}" } }
                form.row method="post" action=(form("responder")) hx-post=(form("responder")) hx-target="#automation" hx-swap="outerHTML" {
                    label.check { input type="checkbox" name="enabled" value="1" checked[v.responder.enabled]; " Enabled" }
                    span.muted { (v.replies_sent) " replies sent on this link" }
                    button.secondary type="submit" { "Save" }
                }
                ol.rules {
                    @for (i, r) in v.responder.rules.iter().enumerate() {
                        li data-rule=(r.id) {
                            form.rule method="post" action=(form("rule")) hx-post=(form("rule")) hx-target="#automation" hx-swap="outerHTML" {
                                input type="hidden" name="id" value=(r.id);
                                label.check { input type="checkbox" name="enabled" value="1" checked[r.enabled]; " On" }
                                label { "When the text" (select("trigger_type", r.trigger_type, &TRIGGERS)) }
                                label { "Trigger" input type="text" name="trigger" value=(r.trigger) required maxlength="200"; }
                                label.wide { "Reply" input type="text" name="response" value=(r.response) required maxlength="200"; }
                                label { "To" (select("message_type", r.message_type, &KINDS)) }
                                label { "Heard" (select("source_type", r.source_type, &SOURCES)) }
                                label.port { "Cooldown (s)" input type="number" name="cooldown" value=(r.cooldown) min="0" max="86400"; }
                                div.buttons {
                                    button.secondary type="submit" name="op" value="save" { "Save" }
                                    @if i > 0 { button.secondary type="submit" name="op" value="up" aria-label="Move up" { "↑" } }
                                    @if i + 1 < v.responder.rules.len() { button.secondary type="submit" name="op" value="down" aria-label="Move down" { "↓" } }
                                    button.secondary type="submit" name="op" value="delete" { "Delete" }
                                }
                            }
                        }
                    }
                }
                h3 { "New rule" }
                form.rule method="post" action=(form("rule")) hx-post=(form("rule")) hx-target="#automation" hx-swap="outerHTML" {
                    input type="hidden" name="id" value="0";
                    input type="hidden" name="enabled" value="1";
                    label { "When the text" (select("trigger_type", TriggerType::Exact, &TRIGGERS)) }
                    label { "Trigger" input type="text" name="trigger" required maxlength="200"; }
                    label.wide { "Reply" input type="text" name="response" required maxlength="200" placeholder="e.g. hello {sender_short}"; }
                    label { "To" (select("message_type", MessageType::Both, &KINDS)) }
                    label { "Heard" (select("source_type", SourceType::Both, &SOURCES)) }
                    label.port { "Cooldown (s)" input type="number" name="cooldown" value="30" min="0" max="86400"; }
                    div.buttons { button type="submit" name="op" value="add" { "Add rule" } }
                }
                form.row method="post" action=(form("try")) hx-post=(form("try")) hx-target="#automation" hx-swap="outerHTML" {
                    label { "Try it: a text as a stranger would send it" input type="text" name="text" maxlength="233" required; }
                    label.check { input type="checkbox" name="direct" value="1"; " as a DM" }
                    button.secondary type="submit" { "Try" }
                }
                @if let Some((text, reply)) = v.tried {
                    p #try-result {
                        "\"" (text) "\" → "
                        @match reply {
                            Some(r) => { "rule " (r.rule_id) " replies: " strong { (r.text) } }
                            None => "no rule fires",
                        }
                    }
                }
                p { a href="/api/autoresponder" download="autoresponder.json" { "Export rules (JSON)" } }
                form.row method="post" action=(form("import")) hx-post=(form("import")) hx-target="#automation" hx-swap="outerHTML" {
                    label { "Import rules (the original's JSON: {\"enabled\": …, \"rules\": […]})" textarea name="json" rows="3" required {} }
                    button.secondary type="submit" { "Import" }
                }
            }
            section.panel #beacon {
                h2 { "Beacon" }
                p.muted { "Broadcasts a text every interval while enabled; it stops when this session ends. Variables: "
                    code { "{my_name} {my_id} {battery} {voltage} {uptime} {time} {lat} {lon} {alt} {temp}" } " (\"?\" where unknown)." }
                form method="post" action=(form("beacon")) hx-post=(form("beacon")) hx-target="#automation" hx-swap="outerHTML" {
                    div.row {
                        label.check { input type="checkbox" name="enabled" value="1" checked[v.beacon.enabled]; " Enabled" }
                        label.port { "Every (min)" input type="number" name="interval_minutes" value=(v.beacon.interval_minutes) min="5" max="1440" required; }
                        label.port { "Channel" input type="number" name="channel" value=(v.beacon.channel) min="0" max="7" required; }
                    }
                    label { "Template" input type="text" name="message_template" value=(v.beacon.message_template) maxlength="200" required; }
                    div.row {
                        button type="submit" name="op" value="save" { "Save" }
                        button.secondary type="submit" name="op" value="test" { "Send test now" }
                    }
                }
                p { "Last sent: " (when(v.beacon_last, v.now)) " · next: " (if v.beacon.enabled { when(v.beacon_next, v.now) } else { "stopped".into() }) }
            }
            section.panel #filter {
                h2 { "Message filter" }
                p.muted { "Filtered packets reach neither the packet log, nor messages, nor the auto-responder." }
                form method="post" action=(form("filter")) hx-post=(form("filter")) hx-target="#automation" hx-swap="outerHTML" {
                    div.row {
                        label.check { input type="checkbox" name="enabled" value="1" checked[v.filter.enabled]; " Enabled" }
                        label { "Mode"
                            select name="filter_mode" {
                                option value="blocklist" selected[v.filter.filter_mode != "allowlist"] { "Blocklist: drop what is listed" }
                                option value="allowlist" selected[v.filter.filter_mode == "allowlist"] { "Allowlist: keep only what is listed" }
                            }
                        }
                    }
                    label { "Node ids (comma separated)" input type="text" name="node_ids" value=(v.filter.node_ids.join(", ")) placeholder="!a1b2c3d4, !00ff00ff"; }
                    fieldset.ports {
                        legend { "Port types" }
                        @for p in PORTS { label.check { input type="checkbox" name="portnums" value=(p) checked[v.filter.portnums.iter().any(|x| x == p)]; " " (p) } }
                    }
                    button type="submit" { "Save" }
                }
                p { (v.filtered) " packets filtered on this link" }
            }
        }
    }
}
