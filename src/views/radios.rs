//! The Radios page: the radios the server keeps connected (with their state, who is on them,
//! their last packet and automation) and every radio open right now, with attach, connect,
//! disconnect, and for admins create, edit and delete.

use crate::store::identity::Apart;
use std::time::SystemTime;

use maud::{html, Markup};

use super::ago;

/// One kept radio as the page lists it.
#[derive(Debug, Clone)]
pub struct RadioRow {
    pub name: String,
    pub address: String,
    /// connected, reconnecting, connecting, disconnected, closed.
    pub state: &'static str,
    /// Why it is not connected, when known.
    pub detail: Option<String>,
    pub sessions: usize,
    pub last_packet: Option<SystemTime>,
    pub auto_connect: bool,
    pub responder: bool,
    pub beacon: bool,
    pub filter: bool,
    /// The link is held (connected or trying again).
    pub held: bool,
    /// Where meshdeck serves the firmware's client API for it, and whether it listens now.
    pub virtual_port: Option<u16>,
    pub virtual_listening: bool,
    /// Whether the virtual node's clients may send admin messages.
    pub virtual_admin: bool,
}

/// A radio open on this server now (kept or only held by browser sessions).
#[derive(Debug, Clone)]
pub struct OpenLink {
    pub address: String,
    pub sessions: usize,
    pub kept: Vec<String>,
}

fn state_pill(state: &str) -> Markup {
    let class = match state {
        "connected" => "ok",
        "reconnecting" | "connecting" => "warn",
        _ => "bad",
    };
    html! { span.pill.(class) { (state) } }
}

fn on_off(label: &str, on: bool) -> Markup {
    html! { span.pill.(if on { "ok" } else { "off" }) title=(format!("{label} {}", if on { "on" } else { "off" })) { (label) } }
}

fn post_button(action: &str, label: &str, secondary: bool, confirm: Option<&str>) -> Markup {
    html! {
        form.inline method="post" action=(action) hx-post=(action) hx-target="#radios" hx-select="#radios" hx-swap="outerHTML" hx-confirm=[confirm] {
            button.secondary[secondary] type="submit" { (label) }
        }
    }
}

fn row(r: &RadioRow, manage: bool, now: SystemTime) -> Markup {
    let base = format!("/radios/{}", urlencode(&r.name));
    html! {
        tr data-name=(r.name) data-state=(r.state) {
            td { strong { (r.name) } br; span.muted { code { (r.address) } } (virtual_note(r)) }
            td.state { (state_pill(r.state)) @if let Some(d) = &r.detail { br; span.muted { (d) } } }
            td.sessions { (r.sessions) }
            td { (r.last_packet.map(|t| ago(t, now)).unwrap_or_else(|| "—".into())) }
            td { (on_off("responder", r.responder)) " " (on_off("beacon", r.beacon)) " " (on_off("filter", r.filter)) }
            // On a narrow screen the row becomes a card and these wrap under it (app.css).
            td.actions { div.actions {
                @if r.held {
                    form.inline method="post" action=(format!("{base}/open")) {
                        button type="submit" { "Open" }
                    }
                    (post_button(&format!("{base}/disconnect"), "Disconnect", true, None))
                } @else {
                    (post_button(&format!("{base}/connect"), "Connect", false, None))
                }
                @if manage {
                    form.inline method="post" action=(format!("{base}/edit")) hx-post=(format!("{base}/edit")) hx-target="#radios" hx-select="#radios" hx-swap="outerHTML" {
                        label.check { input type="checkbox" name="auto_connect" value="1" checked[r.auto_connect]; " at start-up" }
                        (virtual_fields(r.virtual_port, r.virtual_admin))
                        button.secondary type="submit" { "Save" }
                    }
                    (post_button(&format!("{base}/delete"), "Delete", true, Some(&format!("Delete the kept radio {}? Its history stays.", r.name))))
                }
            } }
        }
    }
}

/// The virtual node's port under the radio's address.
fn virtual_note(r: &RadioRow) -> Markup {
    html! {
        @if let Some(p) = r.virtual_port {
            br; span.muted.vnode title="Clients (phone apps, the Python CLI) connect here; meshdeck alone talks to the radio" {
                "virtual node :" (p) @if !r.virtual_listening { " (not listening)" } @if r.virtual_admin { " · admin allowed" }
            }
        }
    }
}

/// The virtual node's fields of the create and edit forms.
fn virtual_fields(port: Option<u16>, admin: bool) -> Markup {
    html! {
        label.port { "Virtual node port" input type="number" name="virtual_port" value=[port] min="1" max="65535" placeholder="none"; }
        label.check { input type="checkbox" name="virtual_admin" value="1" checked[admin]; " its clients may send admin messages" }
    }
}

/// A kept radio's name in a URL path.
fn urlencode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Radios kept apart from another with the same node number, for an admin to join.
fn kept_apart(apart: &[Apart], manage: bool) -> Markup {
    html! {
        section.panel #apart {
            h2 { "Radios kept apart" }
            p.muted { "Each of these says it is a node that a radio at another address already is. Its messages, traceroutes and automation are kept apart from that radio's, so a radio that lies about who it is sees nothing of another's. If they are really one radio (it moved), say so: its data joins the other's." }
            ul.saved {
                @for a in apart {
                    li {
                        code { (a.node) } " at " code { (a.address) } " · known at " code { (a.known_at) }
                        @if manage {
                            form.inline method="post" action=(format!("/radios/same/{}", a.key)) hx-post=(format!("/radios/same/{}", a.key)) hx-target="#radios" hx-select="#radios" hx-swap="outerHTML" {
                                button type="submit" { "Same radio" }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn radios_page(
    radios: &[RadioRow],
    open: &[OpenLink],
    apart: &[Apart],
    manage: bool,
    max: usize,
    now: SystemTime,
) -> Markup {
    html! {
        div #radios {
            @if !apart.is_empty() { (kept_apart(apart, manage)) }
            section.panel {
                h2 { "Kept radios" }
                p.muted { "The server keeps these connected with no browser open: their auto-responder, beacon and filter run and their history is recorded all the time. “Open” shows one here; every session on a radio shares its one link." }
                @if radios.is_empty() {
                    p.muted.empty-note { "None yet." }
                } @else {
                    div.table-wrap {
                        table.radios {
                            thead { tr { th { "Radio" } th { "State" } th { "Sessions" } th { "Last packet" } th { "Automation" } th { span.sr-only { "Actions" } } } }
                            tbody { @for r in radios { (row(r, manage, now)) } }
                        }
                    }
                }
            }
            @if manage {
                form #radio-create.panel method="post" action="/radios/create" hx-post="/radios/create" hx-target="#radios" hx-select="#radios" hx-swap="outerHTML" {
                    h2 { "Keep a radio" }
                    p.muted { "At most " (max) " kept radios (MAX_RADIOS)." }
                    div.row {
                        label { "Name" input type="text" name="name" required maxlength="64" autocomplete="off"; }
                        label { "Host" input type="text" name="host" required placeholder="192.168.1.100" autocomplete="off" spellcheck="false"; }
                        label.port { "Port" input type="number" name="port" value="4403" min="1" max="65535" required; }
                    }
                    label.check { input type="checkbox" name="auto_connect" value="1" checked; " Connect at start-up and keep trying" }
                    (virtual_fields(None, false))
                    button type="submit" { "Keep it" }
                }
            }
            section.panel {
                h2 { "Open now" }
                @if open.is_empty() {
                    p.muted { "No radio is open." }
                } @else {
                    ul.open-links {
                        @for l in open {
                            li data-address=(l.address) {
                                code { (l.address) } " · "
                                (l.sessions) @if l.sessions == 1 { " session" } @else { " sessions" }
                                @if !l.kept.is_empty() { " · kept as " (l.kept.join(", ")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_strangers_are_escaped_and_urls_encoded() {
        let r = RadioRow {
            name: "<b>Hill</b> 1/2".into(),
            address: "127.0.0.1:4403".into(),
            state: "connected",
            detail: None,
            sessions: 2,
            last_packet: None,
            auto_connect: true,
            responder: true,
            beacon: false,
            filter: false,
            held: true,
            virtual_port: Some(4404),
            virtual_listening: false,
            virtual_admin: false,
        };
        let html = radios_page(&[r], &[], &[], true, 32, SystemTime::now()).into_string();
        assert!(!html.contains("<b>Hill"), "{html}");
        assert!(
            html.contains("virtual node :4404 (not listening)"),
            "{html}"
        );
        assert!(
            html.contains("/radios/%3Cb%3EHill%3C%2Fb%3E%201%2F2/open"),
            "{html}"
        );
    }
}
