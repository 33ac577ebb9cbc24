//! The live status bar and the row of cards under the header: in full on the nodes page, as
//! one compact line on the others (a tablet keeps its screen for the page).

use std::time::SystemTime;

use maud::{html, Markup};

use super::components::{battery, card};
use super::{ago, duration};
use crate::radio::notice::{Level, Note};
use crate::radio::LinkStatus;
use crate::read::company::Company;
use crate::read::summary::Summary;

/// "last packet 3 s ago": the part of the status bar that changes every few seconds, pushed
/// on its own so a quiet dashboard tab costs a few bytes a tick.
pub fn last_packet(last: Option<SystemTime>, now: SystemTime) -> Markup {
    html! { "last packet " (last.map(|t| ago(t, now)).unwrap_or_else(|| "none yet".into())) }
}

/// A wait in words: "45 s" under two minutes, "7 min" beyond.
fn soon(secs: u64) -> String {
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

/// What the radio said lately, newest first: one line each, with how often.
fn radio_notes(notes: &[Note]) -> Markup {
    html! {
        @if !notes.is_empty() {
            ul.radio-notes aria-label="The radio says" {
                @for n in notes {
                    li { span.pill.(level_class(n.level)) { "radio" } " " (n.text) @if n.times > 1 { " " span.muted { "(×" (n.times) ")" } } }
                }
            }
        }
    }
}

/// How much of the status a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bar {
    /// The bar, the radio's notes and the cards (the nodes page).
    #[default]
    Full,
    /// One line: link, my node, counts, battery, channel use, last packet, company.
    Line,
}

impl Bar {
    /// `?bar=line` on the status URL, the live stream and "Reconnect now".
    pub fn from_query(v: Option<&str>) -> Bar {
        match v {
            Some("line") => Bar::Line,
            _ => Bar::Full,
        }
    }

    /// The query to ask for this bar again (`""` for the full one).
    pub fn query(self) -> &'static str {
        match self {
            Bar::Full => "",
            Bar::Line => "bar=line",
        }
    }
}

/// The link's state as a pill class and words.
fn link_state(s: &Summary, now: SystemTime) -> (&'static str, String) {
    match &s.status {
        LinkStatus::Connected => ("ok", "connected".to_string()),
        LinkStatus::Reconnecting {
            attempt,
            error,
            retry_at,
        } => {
            let wait = retry_at
                .duration_since(now)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let next = if wait > 0 {
                format!(", next try in {}", soon(wait))
            } else {
                String::new()
            };
            (
                "warn",
                format!("reconnecting (attempt {attempt}{next}): {error}"),
            )
        }
        LinkStatus::Closed { reason } => ("bad", format!("disconnected: {reason}")),
    }
}

/// "Reconnect now", for a lost link; it answers the same kind of bar.
fn reconnect(bar: Bar) -> Markup {
    let url = match bar {
        Bar::Full => "/reconnect".to_string(),
        Bar::Line => format!("/reconnect?{}", bar.query()),
    };
    html! {
        form.inline method="post" action=(url) hx-post=(url) hx-target="#status" hx-swap="innerHTML" {
            button type="submit" { "Reconnect now" }
        }
    }
}

/// `alerts`: the radio's unacknowledged alerts (a pill linking to the Alerts page, swapped
/// live by the stream's `alert` event).
pub fn status(
    s: &Summary,
    company: &Company,
    notice: Option<&str>,
    notes: &[Note],
    now: SystemTime,
    bar: Bar,
    alerts: u32,
) -> Markup {
    let v = Shown {
        s,
        company,
        notice,
        notes,
        now,
        alerts,
    };
    match bar {
        Bar::Full => full(&v),
        Bar::Line => line(&v),
    }
}

/// What either bar shows.
struct Shown<'a> {
    s: &'a Summary,
    company: &'a Company,
    notice: Option<&'a str>,
    notes: &'a [Note],
    now: SystemTime,
    alerts: u32,
}

/// A radio note's pill class.
fn level_class(l: Level) -> &'static str {
    match l {
        Level::Error => "bad",
        Level::Warning => "warn",
        Level::Info => "info",
    }
}

/// Where the stream's `alert` event puts the alerts pill.
fn alerts_pill(n: u32) -> Markup {
    html! { span #alerts-pill sse-swap="alert" { (super::alerts::pill(n, None)) } }
}

/// The status in one line: what a page beside the nodes page keeps of it.
fn line(v: &Shown<'_>) -> Markup {
    let (s, company, notice, notes, now) = (v.s, v.company, v.notice, v.notes, v.now);
    let ((class, text), me, alerts) = (link_state(s, now), s.my_node.as_ref(), v.alerts);
    let lost = matches!(s.status, LinkStatus::Reconnecting { .. });
    let util = me
        .and_then(|m| m.channel_util)
        .map(|c| format!("ch {c:.0}%"));
    html! {
        div.statusbar.line {
            span.pill.(class) #link-state title=(text) { (text) }
            @if lost { (reconnect(Bar::Line)) }
            (alerts_pill(alerts))
            @if let Some(n) = notice { span.pill.bad title=(n) { (n) } }
            @if let Some(n) = notes.first() {
                span.pill.(level_class(n.level)) title=(n.text) { "radio: " (n.text) }
            }
            span title=(s.my_id) { strong { (me.map(|m| m.short_name.as_str()).unwrap_or("?")) } }
            a href="/nodes" title=(format!("{} RF · {} MQTT", s.rf_count, s.mqtt_count)) { (s.node_count) " nodes" }
            span { "battery " (battery(me.and_then(|m| m.battery_level))) }
            @if let Some(u) = util { span title="Channel utilisation" { (u) } }
            span #last-packet sse-swap="last" { (last_packet(s.last_packet, now)) }
            span.company title="Who else is on this radio" { "with " (company.describe()) }
        }
    }
}

fn full(v: &Shown<'_>) -> Markup {
    let (s, company, notice, notes, now) = (v.s, v.company, v.notice, v.notes, v.now);
    let ((class, text), me, alerts) = (link_state(s, now), s.my_node.as_ref(), v.alerts);
    let lost = matches!(s.status, LinkStatus::Reconnecting { .. });
    let since = now
        .duration_since(s.connected_since)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    html! {
        div.statusbar {
            span.pill.(class) #link-state { (text) }
            @if lost { (reconnect(Bar::Full)) }
            (alerts_pill(alerts))
            @if let Some(n) = notice { span.pill.bad { (n) } }
            span { strong { (me.map(|m| m.long_name.as_str()).unwrap_or("?")) } " (" (me.map(|m| m.short_name.as_str()).unwrap_or("?")) ") " code { (s.my_id) } }
            @if let Some(m) = me { span.muted { (m.hw_model) } }
            span { "connected " (duration(since)) }
            span #last-packet sse-swap="last" { (last_packet(s.last_packet, now)) }
            span.company title="Who else is on this radio" { "on this radio: " (company.describe()) }
        }
        (radio_notes(notes))
        div.cards {
            (card("My node", me.map(|m| m.short_name.as_str()).unwrap_or("?"), &s.my_id))
            (card("Total nodes", &s.node_count.to_string(), &format!("{} RF · {} MQTT", s.rf_count, s.mqtt_count)))
            (card("RF nodes", &s.rf_count.to_string(), &format!("{} direct · {} multi-hop", s.direct_count, s.multihop_count)))
            (card("Via MQTT", &s.mqtt_count.to_string(), "heard through a broker"))
            (card("Battery", &battery(me.and_then(|m| m.battery_level)), &me.and_then(|m| m.voltage).map(|v| format!("{v:.2} V")).unwrap_or_else(|| "—".into())))
            (card("Channel util.", &me.and_then(|m| m.channel_util).map(|c| format!("{c:.1}%")).unwrap_or_else(|| "—".into()),
                &me.and_then(|m| m.air_util_tx).map(|a| format!("air TX {a:.1}%")).unwrap_or_else(|| "air TX —".into())))
        }
    }
}
