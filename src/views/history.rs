//! A node's history on its page: the range picker (24 h / 7 d / 30 d), charts of battery,
//! voltage, SNR and channel utilisation, first and last heard, name and role changes, and
//! the position track. Pure: the page hands in the points and the history it read.

use std::time::{Duration, SystemTime};

use maud::{html, Markup};

use super::chart::{chart, sparkline, track, xml_text, Chart, Line, Pt};
use super::{ago, iso};
use crate::radio::observe::Metric;
use crate::read::history::role_names;
pub use crate::store::history_read::Sparks;
use crate::store::history_read::{Every, NodeHistory, Point, SparkPoint};

/// The time a chart spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Range {
    #[default]
    Day,
    Week,
    Month,
}

impl Range {
    pub const ALL: [Range; 3] = [Range::Day, Range::Week, Range::Month];

    pub fn parse(s: &str) -> Option<Range> {
        match s {
            "" | "24h" => Some(Range::Day),
            "7d" => Some(Range::Week),
            "30d" => Some(Range::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Range::Day => "24 h",
            Range::Week => "7 days",
            Range::Month => "30 days",
        }
    }

    pub fn span(self) -> Duration {
        Duration::from_secs(86_400 * [1, 7, 30][self as usize])
    }

    /// A day is drawn from raw samples in 5-minute groups, longer ranges from hourly rows.
    pub fn every(self) -> Every {
        match self {
            Range::Day => Every::Ms(300_000),
            _ => Every::Hour,
        }
    }
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The points of one metric: (time, mean, min, max) where the metric has a value.
pub fn values(points: &[Point], m: Metric) -> Vec<Pt> {
    points
        .iter()
        .filter_map(|p| {
            let mean = p.mean.get(m)?;
            Some((
                secs(p.at),
                mean,
                p.min.get(m).unwrap_or(mean),
                p.max.get(m).unwrap_or(mean),
            ))
        })
        .collect()
}

/// The history part of a node's page.
pub fn node_history(
    id: &str,
    name: &str,
    points: &[Point],
    h: &NodeHistory,
    range: Range,
    now: SystemTime,
) -> Markup {
    let from = now - range.span();
    let one = |title, unit, m: Metric, places| Chart {
        title,
        unit,
        from,
        to: now,
        lines: vec![Line {
            label: title,
            points: values(points, m),
        }],
        places,
    };
    let util = Chart {
        title: "Channel utilisation and air util TX",
        unit: "%",
        from,
        to: now,
        lines: vec![
            Line {
                label: "channel",
                points: values(points, Metric::ChannelUtil),
            },
            Line {
                label: "air TX",
                points: values(points, Metric::AirUtilTx),
            },
        ],
        places: 0,
    };
    let track_points: Vec<(f64, f64)> = h.positions.iter().map(|p| (p.1, p.2)).collect();
    html! {
        section.panel.history #history aria-label=(format!("History of {}", xml_text(name))) {
            h2 { "History" }
            nav.segmented aria-label="Range" {
                @for r in Range::ALL {
                    a href=(format!("/node/{id}?range={}#history", r.as_str())) aria-current=[(r == range).then_some("page")] { (r.label()) }
                }
            }
            dl.fields {
                dt { "First seen" } dd { (h.first_seen.map(|t| format!("{} ({})", ago(t, now), iso(t))).unwrap_or_else(|| "—".into())) }
                dt { "Last heard" } dd { (h.last_seen.map(|t| format!("{} ({})", ago(t, now), iso(t))).unwrap_or_else(|| "—".into())) }
                dt { "Points" } dd { (points.len()) " (" (points.iter().map(|p| u64::from(p.samples)).sum::<u64>()) " samples)" }
            }
            div.charts {
                (chart(&one("Battery", "%", Metric::Battery, 0)))
                (chart(&one("Voltage", "V", Metric::Voltage, 2)))
                (chart(&one("SNR", "dB", Metric::Snr, 0)))
                (chart(&util))
            }
            div.changes {
                div {
                    h3 { "Names" }
                    @if h.names.is_empty() { p.muted { "none recorded" } }
                    ul { @for (t, long, short) in h.names.iter().rev().take(20) {
                        li { time datetime=(iso(*t)) { (ago(*t, now)) } " — " (long) " " span.short { (short) } }
                    } }
                }
                div {
                    h3 { "Role and hardware" }
                    @if h.roles.is_empty() { p.muted { "none recorded" } }
                    ul { @for (t, role, hw) in h.roles.iter().rev().take(20) {
                        @let (role, hw) = role_names(*role, *hw);
                        li { time datetime=(iso(*t)) { (ago(*t, now)) } " — " (role) ", " (hw) }
                    } }
                }
                div {
                    h3 { "Position track" }
                    (track(&track_points))
                }
            }
        }
    }
}

/// The last day of one value of a node, by hour, as a sparkline for its cell of the table.
pub fn spark(points: &[SparkPoint], m: Metric, now: SystemTime) -> Markup {
    let to = secs(now);
    let (lo, hi, label) = match m {
        Metric::Snr => (-20.0, 12.0, "SNR over the last day, dB"),
        _ => (0.0, 100.0, "battery over the last day, %"),
    };
    let line: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| Some((f64::from(p.at), p.get(m)?)))
        .collect();
    sparkline(&line, to - 86_400.0, to, lo, hi, label)
}
