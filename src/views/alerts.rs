//! The alerts page: the radio's fired alerts, newest first, to acknowledge (one or all);
//! its rules, to mute (an hour, or until unmuted) and delete; and the form for a new rule.
//! Every form works without script (a post, then a redirect) and with HTMX (the panel back).

use std::collections::HashMap;
use std::time::SystemTime;

use maud::{html, Markup};

use crate::ids::NodeNum;
use crate::store::alerts::{muted_for_good, AlertRule, Fired, Kind};

/// How a webhook's last delivery went.
pub type Delivery = Result<(), String>;

/// One rule with how its webhook's last delivery went.
pub struct RuleRow<'a> {
    pub rule: &'a AlertRule,
    pub delivery: Option<&'a Delivery>,
}

pub struct AlertsView<'a> {
    pub fired: &'a [Fired],
    pub rules: &'a [RuleRow<'a>],
    /// Names of the radio's nodes, for the rules that name one.
    pub names: &'a HashMap<NodeNum, String>,
    /// Whether this user may change rules and acknowledge (an operator).
    pub can_edit: bool,
    pub note: Option<&'a str>,
    pub now: SystemTime,
}

/// The words of a kind in the rule list and the form's choice.
fn kind_label(k: Kind) -> &'static str {
    match k {
        Kind::NodeSilent => "Node silent",
        Kind::BatteryBelow => "Battery below",
        Kind::NewNode => "New node heard",
        Kind::Dm => "Direct message to my node",
        Kind::Keyword => "Keyword in a channel",
    }
}

/// What a rule watches for, in a sentence, naming its node when the radio knows its name.
pub fn describe(r: &AlertRule, names: &HashMap<NodeNum, String>) -> String {
    let name = |n: NodeNum| match names.get(&n) {
        Some(s) => format!("{s} ({n})"),
        None => n.to_string(),
    };
    let node = r.node.map_or_else(|| "any node".to_string(), name);
    match r.kind {
        Kind::NodeSilent => format!("{node} not heard for {} min", r.minutes.unwrap_or(0)),
        Kind::BatteryBelow => format!("battery of {node} below {} %", r.percent.unwrap_or(0)),
        Kind::NewNode => "a node this radio never saw".to_string(),
        Kind::Dm => match r.node {
            Some(_) => format!("a direct message to my node from {node}"),
            None => "a direct message to my node".to_string(),
        },
        Kind::Keyword => {
            let word = r.text.as_deref().unwrap_or_default();
            match r.node {
                Some(_) => format!("\"{word}\" in a channel text from {node}"),
                None => format!("\"{word}\" in a channel text"),
            }
        }
    }
}

fn muted_label(r: &AlertRule, now: SystemTime) -> Option<String> {
    let until = r.muted_until.filter(|_| r.muted(now))?;
    if until == muted_for_good() {
        return Some("muted until unmuted".into());
    }
    let secs = until.duration_since(now).map(|d| d.as_secs()).unwrap_or(0);
    Some(format!("muted for {}", super::duration(secs.max(60))))
}

fn form_attrs(action: &str) -> (String, String) {
    (format!("/alerts/{action}"), format!("/alerts/{action}"))
}

/// The fired alerts, which fetch themselves again when the stream says one fired.
pub fn fired_section(v: &AlertsView<'_>) -> Markup {
    let unacked = v.fired.iter().filter(|a| !a.acknowledged).count();
    let (ack_all, ack_all_hx) = form_attrs("ack-all");
    html! {
    section.panel #fired hx-get="/alerts?part=fired" hx-trigger="sse:alert" hx-swap="outerHTML" {
        div.alerts-head {
            h2 { "Alerts" }
            span.pill.(if unacked > 0 { "warn" } else { "ok" }) { (unacked) " unacknowledged" }
            @if v.can_edit && unacked > 0 {
                form.inline method="post" action=(ack_all) hx-post=(ack_all_hx) hx-target="#alerts" hx-swap="outerHTML" {
                    button.secondary type="submit" { "Acknowledge all" }
                }
            }
            button.secondary #notify-me type="button" hidden { "Notify me in this browser" }
        }
        @if v.fired.is_empty() {
            p.muted { "No alerts yet. They fire whoever is watching, also for a kept radio with no browser open." }
        } @else {
            ol.alert-list {
                @for a in v.fired {
                    li.alert-item.(if a.acknowledged { "acked" } else { "new" }) data-alert=(a.id) {
                        div.alert-text {
                            span.pill.(if a.acknowledged { "quiet" } else { "bad" }) { (a.kind.name()) }
                            " " span.alert-message { (a.message) }
                        }
                        div.alert-meta {
                            time datetime=(crate::time::iso(a.time)) title=(crate::time::iso(a.time)) { (super::ago(a.time, v.now)) }
                            " · " a href={ "/node/" (a.node) } { (a.node) }
                            @if !a.acknowledged && v.can_edit {
                                @let (act, hx) = form_attrs("ack");
                                form.inline method="post" action=(act) hx-post=(hx) hx-target="#alerts" hx-swap="outerHTML" {
                                    input type="hidden" name="id" value=(a.id);
                                    button.secondary.small type="submit" { "Acknowledge" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }    }
}

pub fn alerts_panel(v: &AlertsView<'_>) -> Markup {
    html! {
        div #alerts {
            @if let Some(n) = v.note { div.toast.info role="status" { (n) } }
            (fired_section(v))
            section.panel #alert-rules {
                h2 { "Rules" }
                p.muted { "Rules belong to this radio: every session on it sees the same, and they run with no browser open. A rule for one node says at once when that node is silent or low already; a rule for any node reports what starts while it watches (nodes heard within the last day). A muted rule records and sends nothing." }
                @if v.rules.is_empty() {
                    p.muted { "No rules yet." }
                } @else {
                    ul.alert-rules {
                        @for row in v.rules {
                            @let r = row.rule;
                            li data-rule=(r.id) {
                                div.alert-text {
                                    strong { (kind_label(r.kind)) } ": " (describe(r, v.names))
                                    @if let Some(m) = muted_label(r, v.now) { " " span.pill.quiet { (m) } }
                                }
                                @if let Some(w) = &r.webhook {
                                    div.alert-meta {
                                        "webhook " code { (w) }
                                        @match row.delivery {
                                            Some(Ok(())) => { " " span.pill.ok { "last delivery ok" } }
                                            Some(Err(e)) => { " " span.pill.bad { "last delivery failed: " (e) } }
                                            None => {}
                                        }
                                    }
                                }
                                @if v.can_edit {
                                    div.buttons {
                                        @if r.muted(v.now) {
                                            @let (act, hx) = form_attrs("unmute");
                                            form.inline method="post" action=(act) hx-post=(hx) hx-target="#alerts" hx-swap="outerHTML" {
                                                input type="hidden" name="id" value=(r.id);
                                                button.secondary.small type="submit" { "Unmute" }
                                            }
                                        } @else {
                                            @let (act, hx) = form_attrs("mute");
                                            form.inline method="post" action=(act) hx-post=(hx) hx-target="#alerts" hx-swap="outerHTML" {
                                                input type="hidden" name="id" value=(r.id);
                                                button.secondary.small type="submit" name="for" value="60" { "Mute 1 h" }
                                                button.secondary.small type="submit" name="for" value="forever" { "Mute until unmuted" }
                                            }
                                        }
                                        @let (act, hx) = form_attrs("delete");
                                        form.inline method="post" action=(act) hx-post=(hx) hx-target="#alerts" hx-swap="outerHTML" {
                                            input type="hidden" name="id" value=(r.id);
                                            button.secondary.small type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if v.can_edit {
                    h3 { "New rule" }
                    @let (act, hx) = form_attrs("rule");
                    form.rule #new-alert-rule method="post" action=(act) hx-post=(hx) hx-target="#alerts" hx-swap="outerHTML" {
                        label { "When"
                            select name="kind" {
                                @for k in Kind::ALL { option value=(k.name()) { (kind_label(k)) } }
                            }
                        }
                        label { "Node (empty: any)" input type="text" name="node" placeholder="!a1b2c3d4" maxlength="12"; }
                        label.port { "Minutes" input type="number" name="minutes" min="1" max="10080" placeholder="silent"; }
                        label.port { "Percent" input type="number" name="percent" min="1" max="100" placeholder="battery"; }
                        label { "Keyword" input type="text" name="text" maxlength="100" placeholder="e.g. help"; }
                        label.wide { "Webhook (optional)" input type="text" name="webhook" maxlength="300" placeholder="http://192.168.1.10:8080/hook"; }
                        div.buttons { button type="submit" { "Add rule" } }
                    }
                    p.muted { "Minutes are for “node silent”, percent for “battery below”, the keyword for “keyword”. A webhook gets each alert POSTed as JSON (" code { "{id, time, kind, node, message, radio}" } "): plain http:// to an address the radio allowlist allows (loopback and private ranges by default)." }
                }
            }
        }
    }
}

/// The pill that says how many alerts nobody acknowledged, linking to the page; with the
/// alert that just fired, its words for a browser notification (`notify.js` reads them).
pub fn pill(unacked: u32, fired: Option<&Fired>) -> Markup {
    let label = match unacked {
        1 => "1 alert".to_string(),
        n => format!("{n} alerts"),
    };
    html! {
        a.pill.alert-pill.(if unacked > 0 { "bad" } else { "off" }) href="/alerts"
            hidden[unacked == 0 && fired.is_none()]
            data-note-id=[fired.map(|a| a.id)]
            data-note-title=[fired.map(|a| format!("meshdeck: {}", a.kind.name()))]
            data-note-body=[fired.map(|a| a.message.as_str())] { (label) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ids::{NodeNum, RadioKey};

    #[test]
    fn alerts_and_rules_render_escaped_with_their_actions() {
        let fired = [Fired {
            id: 7,
            radio: RadioKey(1),
            rule: Some(1),
            time: SystemTime::UNIX_EPOCH,
            kind: Kind::Dm,
            node: NodeNum(5),
            message: "DM from <b>x</b>".into(),
            acknowledged: false,
        }];
        let rule = AlertRule {
            id: 1,
            kind: Kind::Keyword,
            node: None,
            minutes: None,
            percent: None,
            text: Some("help".into()),
            webhook: Some("http://127.0.0.1:9/h".into()),
            muted_until: None,
        };
        let failed: Delivery = Err("HTTP 500".into());
        let rows = [RuleRow {
            rule: &rule,
            delivery: Some(&failed),
        }];
        let names = HashMap::new();
        let v = AlertsView {
            fired: &fired,
            rules: &rows,
            names: &names,
            can_edit: true,
            note: None,
            now: SystemTime::UNIX_EPOCH,
        };
        let html = alerts_panel(&v).into_string();
        assert!(html.contains("DM from &lt;b&gt;x&lt;/b&gt;"));
        assert!(html.contains("last delivery failed: HTTP 500"));
        assert!(html.contains("&quot;help&quot; in a channel text"));
        assert!(html.contains("Acknowledge all"));
        let ro = AlertsView {
            can_edit: false,
            ..v
        };
        let html = alerts_panel(&ro).into_string();
        assert!(!html.contains("Add rule") && !html.contains("Acknowledge"));
    }
}
