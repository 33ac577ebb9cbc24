//! The device settings tab: every config and module section, the channels, the MQTT form,
//! admin actions with their explanations, MQTT health and store & forward.

use maud::{html, Markup};
use serde_json::Value;

use crate::read::settings::{ChannelView, MqttHealth};

fn label(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn value(key: &str, v: &Value) -> String {
    let k = key.to_lowercase();
    let unit = if k.ends_with("secs")
        || k.ends_with("seconds")
        || k.ends_with("interval")
        || k.ends_with("window")
    {
        " s"
    } else if k == "txpower" {
        " dBm"
    } else if k.contains("frequency") {
        " MHz"
    } else {
        ""
    };
    match v {
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::Null => "—".into(),
        Value::String(s) if s.is_empty() => "—".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => format!("{n}{unit}"),
        Value::Array(a) if a.is_empty() => "—".into(),
        other => other.to_string(),
    }
}

fn title(section: &str) -> String {
    match section {
        "lora" => "LoRa".into(),
        "mqtt" => "MQTT".into(),
        "store_forward" => "Store & forward".into(),
        "neighbor_info" => "Neighbour info".into(),
        other => label(&other.replace('_', " ")),
    }
}

pub fn section(name: &str, v: &Value) -> Markup {
    html! {
        details.panel.section data-section=(name) {
            summary { (title(name)) }
            @match v.as_object() {
                Some(fields) => dl.fields {
                    @for (k, v) in fields { dt { (label(k)) } dd data-field=(k) { (value(k, v)) } }
                },
                None => p.muted { "The radio did not send this section." },
            }
        }
    }
}

pub fn channels(list: &[ChannelView]) -> Markup {
    html! {
        div.table-wrap {
            table.channels {
                thead { tr { th { "Index" } th { "Role" } th { "Name" } th { "Uplink" } th { "Downlink" } th { "Key" } } }
                tbody {
                    @for c in list {
                        tr data-index=(c.index) {
                            td { (c.index) } td { (c.role) } td { (if c.name.is_empty() { "(default)" } else { &c.name }) }
                            td { (if c.uplink_enabled { "on" } else { "off" }) } td { (if c.downlink_enabled { "on" } else { "off" }) }
                            td { (c.psk) }
                        }
                    }
                }
            }
        }
    }
}

/// Current MQTT settings for the form (the password never leaves the server).
pub struct MqttForm {
    pub enabled: bool,
    pub address: String,
    pub username: String,
    pub password_set: bool,
    pub encryption_enabled: bool,
    pub tls_enabled: bool,
    pub root: String,
    pub proxy_to_client_enabled: bool,
    pub map_reporting_enabled: bool,
    pub json_enabled: bool,
}

fn check(name: &str, text: &str, on: bool) -> Markup {
    html! { label.check { input type="checkbox" name=(name) value="1" checked[on]; " " (text) } }
}

pub fn mqtt_form(f: &MqttForm, note: Option<&str>) -> Markup {
    html! {
        form #mqtt-form.panel method="post" action="/settings/mqtt" hx-post="/settings/mqtt" hx-swap="outerHTML" hx-disabled-elt="find button" {
            h2 { "MQTT" }
            p.muted { "Saving writes the MQTT module to the radio (begin edit → set → commit). The radio reboots to apply it; the dashboard reconnects by itself." }
            @if let Some(n) = note { div.toast.info role="status" { (n) } }
            (check("enabled", "Enabled", f.enabled))
            div.row {
                label { "Broker address" input type="text" name="address" value=(f.address) maxlength="63"; }
                label { "Root topic" input type="text" name="root" value=(f.root) maxlength="31"; }
            }
            div.row {
                label { "Username" input type="text" name="username" value=(f.username) maxlength="63" autocomplete="off"; }
                label { "Password"
                    input type="password" name="password" value="" maxlength="31" autocomplete="new-password"
                        placeholder=(if f.password_set { "(set — leave empty to keep)" } else { "(not set)" });
                }
            }
            div.row {
                (check("encryption_enabled", "Encryption", f.encryption_enabled))
                (check("tls_enabled", "TLS", f.tls_enabled))
                (check("json_enabled", "JSON", f.json_enabled))
                (check("proxy_to_client_enabled", "Proxy to client", f.proxy_to_client_enabled))
                (check("map_reporting_enabled", "Map reporting", f.map_reporting_enabled))
            }
            button type="submit" { "Save to radio" }
        }
    }
}

pub fn health(h: &MqttHealth) -> Markup {
    let class = match h.health_status {
        "healthy" => "ok",
        "slow" => "warn",
        "stalled" => "bad",
        _ => "info",
    };
    let ago = |v: Option<u64>| {
        v.map(|s| format!("{s} s ago"))
            .unwrap_or_else(|| "never".into())
    };
    html! {
        section #mqtt-health.panel hx-get="/settings/health" hx-trigger="every 10s" hx-swap="outerHTML" {
            h2 { "MQTT health " span.pill.(class) { (h.health_status) } }
            p { (h.health_message) }
            dl.fields {
                dt { "Received via RF" } dd { (h.rf_count) " · last " (ago(h.last_rf_ago)) }
                dt { "Received via MQTT" } dd { (h.mqtt_count) " · last " (ago(h.last_mqtt_ago)) }
                dt { "Sent" } dd { (h.mqtt_sent) }
                dt { "Link up for" } dd { (super::duration(h.uptime)) }
                dt { "Root topic" } dd { (if h.mqtt_root.is_empty() { "—" } else { &h.mqtt_root }) }
                dt { "MQTT module" } dd { (if h.mqtt_enabled { "enabled" } else { "disabled" }) }
            }
        }
    }
}

pub fn store_forward(sf: &Value) -> Markup {
    let enabled = sf["enabled"].as_bool().unwrap_or(false);
    let server = sf["isServer"].as_bool().unwrap_or(false);
    html! {
        section.panel #store-forward {
            h2 { "Store & forward" }
            p {
                @if enabled && server { "This radio is a store & forward server: it keeps recent messages and replays them to clients that ask." }
                @else if enabled { "Store & forward is on as a client: this radio can ask a server nearby for messages it missed." }
                @else { "Store & forward is off. A router with PSRAM can serve as a server; clients ask it for missed messages." }
            }
            (section("store_forward", sf))
        }
    }
}

/// Admin actions, each explained, each behind a confirmation.
pub fn admin_actions(short_name: &str) -> Markup {
    html! {
        section.panel #admin {
            h2 { "Admin actions" }
            form.admin method="post" action="/settings/admin/reboot" hx-post="/settings/admin/reboot" hx-swap="none" hx-confirm="Reboot the radio now? It goes away for a short while; the dashboard reconnects by itself." {
                button.secondary type="submit" { "Reboot" } span.muted { " The radio restarts; the link comes back by itself." }
            }
            form.admin method="post" action="/settings/admin/shutdown" hx-post="/settings/admin/shutdown" hx-swap="none" hx-confirm="Shut the radio down? It stays off until someone powers it on." {
                button.secondary type="submit" { "Shut down" } span.muted { " The radio powers off; nobody can reach it until it is switched on again." }
            }
            form.admin method="post" action="/settings/admin/nodedb-reset" hx-post="/settings/admin/nodedb-reset" hx-swap="none" hx-confirm="Forget every node the radio knows?" {
                button.secondary type="submit" { "Reset NodeDB" } span.muted { " The radio forgets every other node; they reappear as they are heard again." }
            }
            form.admin method="post" action="/settings/admin/factory-reset" hx-post="/settings/admin/factory-reset" hx-swap="none" {
                p { strong { "Factory reset" } " erases the radio's settings (channels, keys, MQTT) and reboots it. Type the radio's short name, "
                    code { (short_name) } ", to confirm." }
                div.row {
                    label { "Short name" input type="text" name="confirm" required autocomplete="off"; }
                    button.danger type="submit" { "Factory reset" }
                }
            }
        }
    }
}
