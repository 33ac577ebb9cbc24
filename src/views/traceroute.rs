//! The traceroute tab: send form, results with hop chains and SNRs, the RF sweep panel, the
//! comparison with the previous sweep, and the offline coverage picture.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use maud::{html, Markup};

use super::{ago, duration};
use crate::ids::NodeNum;
use crate::radio::trace::{Trace, TraceStatus};
use crate::read::geometry::Placed;
use crate::session::sweep::{Comparison, Progress};

fn name(num: NodeNum, names: &HashMap<NodeNum, String>) -> String {
    names.get(&num).cloned().unwrap_or_else(|| num.to_string())
}

fn snr(v: Option<&Option<f32>>) -> String {
    match v {
        Some(Some(s)) => format!("{s:+.1} dB"),
        _ => "? dB".into(),
    }
}

/// `Me → A (+10.0 dB) → B (? dB)`: each hop with the SNR it was heard at.
pub fn chain(
    from: NodeNum,
    hops: &[NodeNum],
    to: NodeNum,
    snrs: &[Option<f32>],
    names: &HashMap<NodeNum, String>,
) -> Markup {
    let nodes: Vec<NodeNum> = hops.iter().copied().chain(std::iter::once(to)).collect();
    html! {
        span.chain {
            span.hop { (name(from, names)) }
            @for (i, n) in nodes.iter().enumerate() {
                " → " span.hop { (name(*n, names)) } " " span.snr { "(" (snr(snrs.get(i))) ")" }
            }
        }
    }
}

fn status_pill(s: TraceStatus) -> Markup {
    let class = match s {
        TraceStatus::Complete => "ok",
        TraceStatus::Queued | TraceStatus::Pending => "warn",
        TraceStatus::Cancelled => "info",
        TraceStatus::Timeout | TraceStatus::Error => "bad",
    };
    html! { span.pill.(class) { (s.name()) } }
}

pub fn trace_detail(
    t: &Trace,
    me: NodeNum,
    names: &HashMap<NodeNum, String>,
    now: SystemTime,
) -> Markup {
    html! {
        @match t.status {
            TraceStatus::Complete => {
                div { "Towards: " (chain(me, &t.route, t.dest, &t.snr_towards, names)) }
                @if !t.snr_back.is_empty() || !t.route_back.is_empty() {
                    div { "Back: " (chain(t.dest, &t.route_back, me, &t.snr_back, names)) }
                }
            }
            TraceStatus::Queued => { span.muted { "sends in " (t.sends_in.saturating_sub(now.duration_since(t.queued_at).unwrap_or(Duration::ZERO)).as_secs()) " s" } }
            TraceStatus::Pending => { span.muted { "waiting for the reply…" } }
            _ => { span.muted { (t.error.clone().unwrap_or_default()) } }
        }
    }
}

pub fn traces_table(
    traces: &[Trace],
    me: NodeNum,
    names: &HashMap<NodeNum, String>,
    now: SystemTime,
) -> Markup {
    html! {
        div #traces sse-swap="traces" hx-swap="outerHTML" {
            @if traces.is_empty() { p.muted { "No traceroute yet." } }
            @else {
                div.table-wrap {
                    table.traces {
                        thead { tr { th { "Node" } th { "Status" } th { "Route" } th { "When" } th {} } }
                        tbody {
                            @for t in traces {
                                tr data-node=(t.dest.to_string()) data-status=(t.status.name()) {
                                    td { a href=(format!("/node/{}", t.dest.to_string())) { (name(t.dest, names)) } }
                                    td { (status_pill(t.status)) }
                                    td.summary { (trace_detail(t, me, names, now)) }
                                    td { (ago(t.done_at.or(t.sent_at).unwrap_or(t.queued_at), now)) }
                                    td {
                                        @if t.status.is_open() {
                                            form.inline method="post" action="/traceroute/cancel" hx-post="/traceroute/cancel" hx-swap="none" {
                                                input type="hidden" name="node" value=(t.dest.to_string());
                                                button.secondary type="submit" { "Cancel" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn trace_form(
    nodes: &[(NodeNum, String)],
    selected: Option<NodeNum>,
    hop_limit: u32,
) -> Markup {
    html! {
        form #trace-form.row.panel method="post" action="/traceroute" hx-post="/traceroute" hx-swap="none" {
            label { "Node"
                select name="node" required {
                    @for (num, label) in nodes {
                        option value=(num.to_string()) selected[selected == Some(*num)] { (label) " " (num.to_string()) }
                    }
                }
            }
            label.port { "Hop limit" input type="number" name="hop_limit" min="1" max="7" value=(hop_limit); }
            button type="submit" { "Traceroute" }
        }
    }
}

pub struct SweepView<'a> {
    pub progress: Option<&'a Progress>,
    pub candidates: usize,
    pub estimate: Duration,
    pub comparison: Option<&'a Comparison>,
}

pub fn sweep_panel(
    v: &SweepView<'_>,
    me: NodeNum,
    names: &HashMap<NodeNum, String>,
    now: SystemTime,
) -> Markup {
    let running = v.progress.is_some_and(|p| p.running);
    html! {
        section #sweep.panel sse-swap="sweep" hx-swap="outerHTML" {
            h2 { "RF sweep" }
            @if running {
                @if let Some(p) = v.progress {
                    p {
                        "Tracing " strong { (p.current.map(|c| name(c, names)).unwrap_or_else(|| "…".into())) }
                        " · " (p.completed) " / " (p.total) " done · about " (duration(p.time_left().as_secs())) " left"
                    }
                    progress max=(p.total.max(1)) value=(p.completed) {}
                    form.inline method="post" action="/sweep/stop" hx-post="/sweep/stop" hx-swap="none" {
                        button.secondary type="submit" { "Stop sweep" }
                    }
                }
            } @else {
                p { (v.candidates) " candidate nodes (RF, plus MQTT within 2 hops); about " (duration(v.estimate.as_secs()))
                    " at one traceroute per firmware interval." }
                form.inline method="post" action="/sweep" hx-post="/sweep" hx-swap="none" {
                    button type="submit" disabled[v.candidates == 0] { "Start sweep" }
                }
            }
            @if let Some(p) = v.progress {
                @if !p.results.is_empty() {
                    div.table-wrap {
                        table.sweep-results {
                            thead { tr { th { "Node" } th { "Result" } th { "Hops" } th { "Worst SNR" } th { "Route" } } }
                            tbody {
                                @for t in &p.results {
                                    tr data-status=(t.status.name()) {
                                        td { (name(t.dest, names)) }
                                        td { (status_pill(t.status)) }
                                        td { (t.hops().map(|h| h.to_string()).unwrap_or_default()) }
                                        td { (t.worst_snr().map(|s| format!("{s:+.1} dB")).unwrap_or_default()) }
                                        td.summary { (trace_detail(t, me, names, now)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(c) = v.comparison {
                h3 { "Compared with the previous sweep" }
                p { (c.gained.len()) " nodes gained, " (c.lost.len()) " lost, " (c.snr_changes.len()) " with another worst SNR." }
                @if !c.gained.is_empty() { p { "Gained: " @for n in &c.gained { span.pill.ok { (name(*n, names)) } " " } } }
                @if !c.lost.is_empty() { p { "Lost: " @for n in &c.lost { span.pill.bad { (name(*n, names)) } " " } } }
            }
        }
    }
}

/// An SVG drawn on the server: my node in the centre, every node with a position placed by
/// bearing and distance (square-root scale so near nodes do not pile up), coloured by the
/// last traceroute outcome; MQTT nodes drawn hollow.
pub fn coverage_svg(nodes: &[Placed], my_label: &str) -> Markup {
    let max = nodes
        .iter()
        .map(|n| n.distance_km)
        .fold(0.0_f64, f64::max)
        .max(0.1);
    let (c, r) = (300.0_f64, 270.0_f64);
    let rings = [0.25, 0.5, 0.75, 1.0];
    html! {
        svg.coverage xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 600" role="img" aria-label="Coverage: nodes by bearing and distance" {
            rect x="0" y="0" width="600" height="600" class="bg" {}
            @for f in rings {
                circle cx=(c) cy=(c) r=(r * f64::sqrt(f)) class="ring" {}
                text x=(c + 4.0) y=(c - r * f64::sqrt(f) + 14.0) class="ring-label" { (format!("{:.1} km", max * f)) }
            }
            @for n in nodes {
                @let d = r * (n.distance_km / max).clamp(0.0, 1.0).sqrt();
                @let (x, y) = (c + d * n.bearing_deg.to_radians().sin(), c - d * n.bearing_deg.to_radians().cos());
                @let class = match n.outcome { Some(TraceStatus::Complete) => "ok", Some(TraceStatus::Timeout) | Some(TraceStatus::Error) => "bad", Some(_) => "warn", None => "unknown" };
                g class=(format!("node {class}{}", if n.via_mqtt { " mqtt" } else { "" })) data-node=(n.num.to_string()) {
                    title { (super::xml_text(&n.label)) " · " (format!("{:.1} km", n.distance_km)) " · " (n.hops.map(|h| format!("{h} hops")).unwrap_or_else(|| "hops ?".into())) " · " (n.outcome.map(|o| o.name()).unwrap_or("not traced")) }
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="7" {}
                    @if let Some(h) = n.hops { text x=(format!("{x:.1}")) y=(format!("{:.1}", y + 3.5)) class="hops" { (h) } }
                }
            }
            circle cx=(c) cy=(c) r="10" class="me" {}
            text x=(c) y=(c + 26.0) class="me-label" { (super::xml_text(my_label)) }
            g.legend transform="translate(12,16)" {
                circle cx="6" cy="0" r="6" class="ok" {} text x="18" y="4" { "answered" }
                circle cx="6" cy="20" r="6" class="bad" {} text x="18" y="24" { "timeout / error" }
                circle cx="6" cy="40" r="6" class="unknown" {} text x="18" y="44" { "not traced" }
                circle cx="6" cy="60" r="6" class="mqtt" {} text x="18" y="64" { "via MQTT (hollow)" }
            }
        }
    }
}

/// The actions and traceroutes part of a node's detail page.
pub fn node_traces(
    num: NodeNum,
    latest: Option<&Trace>,
    history: &[Trace],
    me: NodeNum,
    names: &HashMap<NodeNum, String>,
    now: SystemTime,
) -> Markup {
    let id = num.to_string();
    html! {
        section.panel #node-actions {
            h2 { "Actions" }
            div.row {
                a.button href=(format!("/messages?c={id}")) { "Message" }
                form.inline method="post" action="/traceroute" hx-post="/traceroute" hx-swap="none" {
                    input type="hidden" name="node" value=(id);
                    button type="submit" { "Traceroute" }
                }
            }
            h3 { "Latest traceroute" }
            @match latest {
                Some(t) => p { (t.status.name()) " · " (trace_detail(t, me, names, now)) },
                None => p.muted { "None yet." },
            }
            @if !history.is_empty() {
                h3 { "History" }
                div.table-wrap {
                    table.traces {
                        thead { tr { th { "When" } th { "Result" } th { "Route" } } }
                        tbody {
                            @for t in history {
                                tr data-status=(t.status.name()) {
                                    td { (ago(t.done_at.unwrap_or(t.queued_at), now)) }
                                    td { (t.status.name()) }
                                    td.summary { (trace_detail(t, me, names, now)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
