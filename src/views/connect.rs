//! The connect page: the form, the owner's saved connections, the demo radios.

use maud::{html, Markup};

use crate::store::SavedConnection;

/// A simulated radio offered by `--demo`.
#[derive(Debug, Clone)]
pub struct DemoRadio {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub nodes: usize,
}

pub struct ConnectPage<'a> {
    pub host: &'a str,
    pub port: u16,
    pub saved: &'a [SavedConnection],
    pub demo: &'a [DemoRadio],
    /// Set when the radio is held by another session: offer the take-over.
    pub in_use: bool,
    pub error: Option<&'a str>,
    /// With no users yet: the command that creates the first admin.
    pub first_admin: Option<&'a str>,
}

pub fn connect_form(p: &ConnectPage<'_>) -> Markup {
    html! {
        form #connect-form.panel method="post" action="/connect" hx-post="/connect" hx-target="#connect-form" hx-swap="outerHTML" hx-disabled-elt="find button" {
            h2 { "Connect to a radio" }
            p.muted { "The radio's network API must be on (TCP port 4403)." }
            @if let Some(e) = p.error { div.toast.error role="alert" { (e) } }
            div.row {
                label { "Host" input type="text" name="host" value=(p.host) required placeholder="192.168.1.100" autocomplete="off" spellcheck="false"; }
                label.port { "Port" input type="number" name="port" value=(p.port) min="1" max="65535" required; }
            }
            @if p.in_use {
                label.check { input type="checkbox" name="takeover" value="1"; " Take over: disconnect the other session" }
            }
            button type="submit" { "Connect" }
            span.htmx-indicator { " connecting…" }
        }
    }
}

pub fn saved_list(saved: &[SavedConnection]) -> Markup {
    html! {
        section #saved.panel {
            h2 { "Saved connections" }
            @if saved.is_empty() { p.muted { "None yet." } }
            ul.saved {
                @for s in saved {
                    li {
                        form.inline method="post" action="/connect" {
                            input type="hidden" name="host" value=(s.host);
                            input type="hidden" name="port" value=(s.port);
                            button type="submit" { (s.name) }
                        }
                        span.muted { (s.host) ":" (s.port) }
                        form.inline method="post" action=(format!("/connections/{}/delete", s.id)) hx-post=(format!("/connections/{}/delete", s.id)) hx-target="#saved" hx-swap="outerHTML" {
                            button.secondary type="submit" aria-label=(format!("Delete {}", s.name)) { "Delete" }
                        }
                    }
                }
            }
            form.row method="post" action="/connections" hx-post="/connections" hx-target="#saved" hx-swap="outerHTML" {
                label { "Name" input type="text" name="name" required maxlength="64"; }
                label { "Host" input type="text" name="host" required maxlength="253"; }
                label.port { "Port" input type="number" name="port" value="4403" min="1" max="65535" required; }
                button type="submit" { "Save" }
            }
        }
    }
}

pub fn connect_page(p: &ConnectPage<'_>) -> Markup {
    html! {
        div.connect {
            (connect_form(p))
            @if !p.demo.is_empty() {
                section.panel #demo {
                    h2 { "Demo radios" }
                    p.muted { "Simulated radios running inside this server." }
                    ul.saved {
                        @for d in p.demo {
                            li {
                                form.inline method="post" action="/connect" {
                                    input type="hidden" name="host" value=(d.host);
                                    input type="hidden" name="port" value=(d.port);
                                    button type="submit" { "Connect to " (d.name) }
                                }
                                span.muted { (d.host) ":" (d.port) " · " (d.nodes) " nodes" }
                            }
                        }
                    }
                }
            }
            (saved_list(p.saved))
            @if let Some(cmd) = p.first_admin {
                section.panel #first-run {
                    h2 { "No users yet" }
                    p { "Anyone who can open this page can use the radios. To require a login, create the first admin on the server:" }
                    pre { code { (cmd) } }
                    p.muted { "It reads the password (8 or more characters) from the next line you type. From then on every page asks for a login; add more users the same way with --role viewer, operator or admin." }
                }
            }
        }
    }
}
