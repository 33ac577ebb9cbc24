//! The page shell: head, header with the active radio, live status, tabs, toast area.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::status::Bar;

/// HTMX settings: swap error responses too (they are toasts retargeted by the server).
const HTMX_CONFIG: &str = r#"{"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"[45]..","swap":true,"error":true}],"includeIndicatorStyles":false}"#;

/// The tabs of a connected session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Nodes,
    Messages,
    Traceroute,
    Packets,
    Settings,
    Automation,
    Map,
    Topology,
    Alerts,
}

impl Tab {
    const ALL: [(Tab, &'static str, &'static str); 9] = [
        (Tab::Nodes, "Nodes", "/nodes"),
        (Tab::Map, "Map", "/map"),
        (Tab::Topology, "Topology", "/topology"),
        (Tab::Messages, "Messages", "/messages"),
        (Tab::Traceroute, "Traceroute", "/traceroute"),
        (Tab::Packets, "Packet log", "/packets"),
        (Tab::Settings, "Settings", "/settings"),
        (Tab::Automation, "Automation", "/automation"),
        (Tab::Alerts, "Alerts", "/alerts"),
    ];

    /// The status a tab shows: in full on the nodes page, one line on every other.
    pub fn bar(tab: Option<Tab>) -> Bar {
        match tab {
            Some(Tab::Nodes) => Bar::Full,
            _ => Bar::Line,
        }
    }
}

/// `url` with `query` added (`a` + `b=1` → `a?b=1`, `a?x=2` + `b=1` → `a?x=2&b=1`).
fn with_query(url: &str, query: &str) -> String {
    if query.is_empty() {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&{query}")
    } else {
        format!("{url}?{query}")
    }
}

/// What the shell needs to know.
pub struct Chrome<'a> {
    pub title: &'a str,
    /// Radio address when a link is held; enables the live stream and the tabs.
    pub radio: Option<&'a str>,
    pub tab: Option<Tab>,
    /// The rendered status bar and cards, when connected.
    pub status: Option<Markup>,
    /// A notice shown once at the top (e.g. "session expired, reconnect").
    pub notice: Option<&'a str>,
    /// The page's one live stream, when it needs more than the status bar (`/events` then):
    /// a packet log's rows, a conversation's messages. One connection per tab, as browsers
    /// allow only six per server over HTTP/1.1.
    pub stream: Option<&'a str>,
    /// The logged-in user's name (the footer offers to log out).
    pub user: Option<&'a str>,
}

pub fn page(chrome: Chrome<'_>, body: Markup) -> Markup {
    let live = chrome.radio.is_some();
    let bar = Tab::bar(chrome.tab);
    let stream = with_query(chrome.stream.unwrap_or("/events"), bar.query());
    let poll = with_query("/status", bar.query());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (chrome.title) " · meshdeck" }
                link rel="stylesheet" href="/assets/app.css";
                link rel="icon" href="/assets/icon.svg" type="image/svg+xml";
                script src="/assets/vendor/htmx-2.0.8.min.js" defer {}
                // The stream's extension and the notifications it feeds only where there is a
                // stream: a visitor with no radio yet loads neither (a connect navigates).
                @if live {
                    script src="/assets/vendor/htmx-ext-sse-2.2.4.js" defer {}
                    script src="/assets/notify.js" defer {}
                }
            }
            body {
                // Everything that listens to the stream is inside this element, so a page part
                // that needs another stream (the packet filter) replaces it whole.
                div #app hx-ext=[live.then_some("sse")] sse-connect=[live.then_some(stream.as_str())] {
                    header.top {
                        a.brand href="/" { "meshdeck" }
                        a.radios-link href="/radios" { "Radios" }
                        @if let Some(radio) = chrome.radio {
                            span.radio title="Radio address" { (radio) }
                            form.inline method="post" action="/disconnect" {
                                button.secondary type="submit" { "Disconnect" }
                            }
                        } @else {
                            span.radio.muted { "no radio" }
                        }
                    }
                    @if let Some(status) = chrome.status {
                        section #status sse-swap="status" hx-get=(poll) hx-trigger="every 30s" aria-live="polite" {
                            (status)
                        }
                    }
                    @if live {
                        nav.tabs aria-label="Views" {
                            @for (tab, label, href) in Tab::ALL {
                                a href=(href) aria-current=[(chrome.tab == Some(tab)).then_some("page")] { (label) }
                            }
                        }
                    }
                    div #toast aria-live="assertive" {
                        @if let Some(n) = chrome.notice { (super::components::info_toast(n)) }
                    }
                    main #main { (body) }
                    footer {
                        "meshdeck · " a href="/healthz" { "health" }
                        @if let Some(user) = chrome.user {
                            " · " (user) " · "
                            form.inline method="post" action="/logout" { button.link type="submit" { "Log out" } }
                        }
                    }
                }
                (PreEscaped(""))
            }
        }
    }
}
