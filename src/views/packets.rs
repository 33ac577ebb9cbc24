//! The packet log: newest on top, one row per packet with its decoded summary.

use std::collections::HashMap;

use maud::{html, Markup};

use crate::ids::NodeNum;
use crate::radio::packet::PacketEntry;

fn who(num: NodeNum, names: &HashMap<NodeNum, String>) -> Markup {
    if num.is_broadcast() {
        return html! { span.muted { "^all" } };
    }
    let id = num.to_string();
    html! {
        @match names.get(&num) {
            Some(n) => span title=(id) { (n) },
            None => code { (id) },
        }
    }
}

fn time_of_day(p: &PacketEntry) -> String {
    let iso = super::iso(p.time());
    iso.get(11..19).unwrap_or("").to_string()
}

pub fn packet_row(p: &PacketEntry, names: &HashMap<NodeNum, String>) -> Markup {
    html! {
        tr class=[p.outgoing.then_some("outgoing")] data-port=(p.port_name()) {
            td { (time_of_day(p)) }
            td { @if p.outgoing { span.pill.info title="sent by this dashboard" { "out" } " " } (who(p.from, names)) }
            td { (who(p.to, names)) }
            td { code { (p.port_name()) } }
            td { (p.heard.snr().map(|s| format!("{s:.1}")).unwrap_or_default()) }
            td { (p.rssi().map(|r| r.to_string()).unwrap_or_default()) }
            td { (p.hops_taken().map(|h| h.to_string()).unwrap_or_default()) }
            td { @if p.heard.via_mqtt() { span.pill.warn { "MQTT" } } }
            td.summary {
                (p.summary())
                @if p.is_text && !p.outgoing {
                    @let convo = crate::ids::Convo::of(p.to, p.from, crate::ids::ChannelIndex::from_radio(p.channel));
                    " " a.reply href=(format!("/messages?c={convo}")) { "Reply" }
                }
            }
        }
    }
}

/// The live stream of a packet log: the status bar plus the rows of one port, or of all.
pub fn stream_path(port: Option<&str>) -> String {
    format!("/events?port={}", port.unwrap_or("all"))
}

/// Port names offered by the filter.
pub const PORTS: [&str; 9] = [
    "TEXT_MESSAGE_APP",
    "POSITION_APP",
    "NODEINFO_APP",
    "TELEMETRY_APP",
    "ROUTING_APP",
    "TRACEROUTE_APP",
    "NEIGHBORINFO_APP",
    "ADMIN_APP",
    "ENCRYPTED",
];

/// Rows a packet log page shows unless asked for the whole ring (live rows come on top).
pub const PAGE_ROWS: usize = 100;

/// `rows` are the newest first, already cut to what the page shows; `total` is how many
/// packets of the chosen port the ring holds.
pub fn packets_page(
    rows: &[PacketEntry],
    total: usize,
    names: &HashMap<NodeNum, String>,
    port: Option<&str>,
    all: bool,
) -> Markup {
    let reload = format!(
        "/packets?port={}{}",
        port.unwrap_or(""),
        if all { "&all=1" } else { "" }
    );
    html! {
        form.filters method="get" action="/packets" {
            @if all { input type="hidden" name="all" value="1"; }
            label { "Port type"
                select name="port" hx-get="/packets" hx-include="closest form" hx-target="#app" hx-select="#app" hx-swap="outerHTML" hx-push-url="true" hx-trigger="change" {
                    option value="" selected[port.is_none()] { "All ports" }
                    @for p in PORTS { option value=(p) selected[port == Some(p)] { (p) } }
                }
            }
            noscript { button type="submit" { "Filter" } }
        }
        // Live rows go on top; every two minutes the table is reloaded from the ring, so a tab
        // left open for days does not grow without bound.
        // The page's stream (`/events?port=…`, see `stream_path`) carries just the rows of the
        // chosen port; a new filter reloads the page's whole live part with its new stream.
        div.table-wrap hx-get=(reload) hx-select=".table-wrap > *"
            hx-trigger="every 120s" hx-swap="innerHTML" {
            @if rows.len() < total {
                p.muted.count {
                    "The newest " (rows.len()) " of " (total) " packets in the log · "
                    a href=(format!("/packets?port={}&all=1", port.unwrap_or(""))) { "Show all " (total) }
                }
            }
            table.packets {
                thead { tr { th { "Time" } th { "From" } th { "To" } th { "Port" } th { "SNR" } th { "RSSI" } th { "Hops" } th { "Via" } th { "Summary" } } }
                tbody #packet-rows sse-swap="packet" hx-swap="afterbegin" {
                    @for p in rows { (packet_row(p, names)) }
                }
            }
        }
    }
}
