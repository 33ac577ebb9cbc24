//! Charts drawn on the server as inline SVG: a line of means over a band of minima and
//! maxima with axes and units, sparklines for the nodes table, and a position track with a
//! distance scale. Pure functions of points; colours come from the stylesheet (light and
//! dark). Text in an SVG is escaped by maud and stripped of what XML does not allow.

use std::borrow::Cow;
use std::fmt::Write;
use std::time::SystemTime;

use maud::{html, Markup};

use crate::read::geometry::haversine_km;

/// One value over time: (Unix seconds, mean, min, max).
pub type Pt = (f64, f64, f64, f64);

/// A line on a chart.
pub struct Line<'a> {
    pub label: &'a str,
    pub points: Vec<Pt>,
}

/// A chart: its title and unit, the time range it spans and its lines (at most two).
pub struct Chart<'a> {
    pub title: &'a str,
    pub unit: &'a str,
    pub from: SystemTime,
    pub to: SystemTime,
    pub lines: Vec<Line<'a>>,
    /// Decimals of the axis labels.
    pub places: usize,
}

const W: f64 = 640.0;
const H: f64 = 190.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 26.0;

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Text with the characters XML does not allow taken out (maud escapes the rest).
pub fn xml_text(s: &str) -> Cow<'_, str> {
    fn allowed(c: char) -> bool {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
    }
    if s.chars().all(allowed) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().filter(|c| allowed(*c)).collect())
    }
}

/// A round step for about `n` ticks over `span`.
fn step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    mag * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

/// The y range: the values' span, widened to round ticks (and never empty).
fn y_range(lines: &[Line<'_>]) -> (f64, f64, f64) {
    let vals = lines
        .iter()
        .flat_map(|l| l.points.iter().flat_map(|p| [p.2, p.3]));
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let (lo, hi) = if hi - lo < 1e-9 {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let s = step(hi - lo, 4.0);
    ((lo / s).floor() * s, (hi / s).ceil() * s, s)
}

/// The time axis' label of `t`: hours and minutes for a day or less, else day and month.
fn time_label(t: f64, span: f64) -> String {
    let Ok(d) = time::OffsetDateTime::from_unix_timestamp(t as i64) else {
        return String::new();
    };
    if span <= 86_400.0 * 1.5 {
        format!("{:02}:{:02}", d.hour(), d.minute())
    } else {
        format!("{} {}", d.day(), &d.month().to_string()[..3])
    }
}

/// A coordinate with one decimal, written with integer arithmetic (a sparkline per row of a
/// 250-row table made float formatting with a precision the page's largest cost).
fn coord(d: &mut String, v: f64) {
    let n = (v * 10.0).round() as i64;
    let sign = if n < 0 { "-" } else { "" };
    let _ = write!(d, "{sign}{}.{}", n.abs() / 10, n.abs() % 10);
}

/// One path command to (x, y).
fn to(d: &mut String, cmd: char, x: f64, y: f64) {
    d.push(cmd);
    coord(d, x);
    d.push(' ');
    coord(d, y);
    d.push(' ');
}

/// Path data through points, broken where the gap is longer than `gap` seconds.
fn path(points: &[Pt], x: impl Fn(f64) -> f64, y: impl Fn(f64) -> f64, gap: f64) -> String {
    let mut d = String::new();
    let mut last: Option<f64> = None;
    for p in points {
        let cmd = match last {
            Some(t) if p.0 - t <= gap => 'L',
            _ => 'M',
        };
        to(&mut d, cmd, x(p.0), y(p.1));
        last = Some(p.0);
    }
    d
}

/// The min–max band under a line (where it spans anything).
fn band(points: &[Pt], x: impl Fn(f64) -> f64, y: impl Fn(f64) -> f64) -> Option<String> {
    if points.len() < 2 || points.iter().all(|p| (p.3 - p.2).abs() < 1e-9) {
        return None;
    }
    let mut d = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1} {:.1} ",
            if i == 0 { 'M' } else { 'L' },
            x(p.0),
            y(p.3)
        );
    }
    for p in points.iter().rev() {
        let _ = write!(d, "L{:.1} {:.1} ", x(p.0), y(p.2));
    }
    d.push('Z');
    Some(d)
}

/// A chart with axes: y ticks with the unit, time ticks (UTC), a legend when two lines share it.
pub fn chart(c: &Chart<'_>) -> Markup {
    let (t0, t1) = (secs(c.from), secs(c.to).max(secs(c.from) + 1.0));
    let (lo, hi, ystep) = y_range(&c.lines);
    let x = |t: f64| LEFT + (t - t0) / (t1 - t0) * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);
    let n = ((hi - lo) / ystep).round().clamp(1.0, 12.0) as usize;
    let yticks: Vec<f64> = (0..=n).map(|i| lo + ystep * i as f64).collect();
    // Whole hours for a day, whole days (about six labels) beyond.
    let xstep = if t1 - t0 > 86_400.0 * 2.0 {
        ((t1 - t0) / 86_400.0 / 6.0).round().max(1.0) * 86_400.0
    } else {
        step(t1 - t0, 5.0).max(3600.0)
    };
    let xticks: Vec<f64> = (1..)
        .map(|i| (t0 / xstep).floor() * xstep + xstep * f64::from(i))
        .take_while(|t| *t < t1)
        .take(12)
        .collect();
    let gap = (t1 - t0) / 24.0;
    let title = xml_text(c.title);
    let empty = c.lines.iter().all(|l| l.points.is_empty());
    html! {
        figure.chart {
            figcaption { (title) " (" (c.unit) ")"
                @if c.lines.len() > 1 {
                    @for (i, l) in c.lines.iter().enumerate() { " " span class=(format!("key s{i}")) { "■ " (xml_text(l.label)) } }
                }
            }
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(format!("{title} over time")) xmlns="http://www.w3.org/2000/svg" {
                @for v in &yticks {
                    line.grid x1=(LEFT) x2=(W - RIGHT) y1=(format!("{:.1}", y(*v))) y2=(format!("{:.1}", y(*v))) {}
                    text.axis x=(LEFT - 6.0) y=(format!("{:.1}", y(*v) + 4.0)) text-anchor="end" { (format!("{v:.p$}", p = c.places)) }
                }
                @for t in &xticks {
                    line.tick x1=(format!("{:.1}", x(*t))) x2=(format!("{:.1}", x(*t))) y1=(H - BOTTOM) y2=(H - BOTTOM + 4.0) {}
                    text.axis x=(format!("{:.1}", x(*t))) y=(H - 8.0) text-anchor="middle" { (time_label(*t, t1 - t0)) }
                }
                line.axisline x1=(LEFT) x2=(W - RIGHT) y1=(H - BOTTOM) y2=(H - BOTTOM) {}
                text.axis x="4" y=(TOP + 4.0) { (c.unit) }
                text.axis x=(W - RIGHT) y=(H - 8.0 + 0.0) text-anchor="end" dy="-12" { "UTC" }
                @for (i, l) in c.lines.iter().enumerate() {
                    @if let Some(b) = band(&l.points, x, y) { path class=(format!("band s{i}")) d=(b) {} }
                    path class=(format!("line s{i}")) d=(path(&l.points, x, y, gap)) data-points=(l.points.len()) {}
                    @if l.points.len() == 1 {
                        @let p = l.points[0];
                        circle class=(format!("dot s{i}")) cx=(format!("{:.1}", x(p.0))) cy=(format!("{:.1}", y(p.1))) r="3" {}
                    }
                }
                @if empty {
                    text.axis x=(W / 2.0) y=(H / 2.0) text-anchor="middle" { "no samples in this range" }
                }
            }
        }
    }
}

/// A sparkline of values over `[from, to]` (56 × 18), with `lo..hi` as its height.
pub fn sparkline(
    points: &[(f64, f64)],
    from: f64,
    to: f64,
    lo: f64,
    hi: f64,
    label: &str,
) -> Markup {
    if points.is_empty() {
        return html! { span.spark.muted { "—" } };
    }
    let (w, h): (f64, f64) = (56.0, 18.0);
    let span = (to - from).max(1.0);
    let x = |t: f64| (t - from) / span * (w - 2.0) + 1.0;
    let y = |v: f64| h - 2.0 - ((v - lo) / (hi - lo).max(1e-9)).clamp(0.0, 1.0) * (h - 4.0);
    // Whole-pixel coordinates: a 250-row table has 500 of these.
    let mut d = String::new();
    let mut last_t: Option<f64> = None;
    for p in points {
        let cmd = match last_t {
            Some(t) if p.0 - t <= span / 8.0 => 'L',
            _ => 'M',
        };
        let _ = write!(
            d,
            "{cmd}{} {}",
            x(p.0).round() as i64,
            y(p.1).round() as i64
        );
        last_t = Some(p.0);
    }
    let (t, last) = points.last().copied().unwrap_or((to, 0.0));
    html! {
        svg.spark viewBox="0 0 56 18" width="56" height="18" role="img" aria-label=(format!("{} {last:.0}", xml_text(label))) {
            path d=(d) {}
            circle cx=(x(t).round() as i64) cy=(y(last).round() as i64) r="2" {}
        }
    }
}

/// A distance as people read it: metres under a km, else km.
fn distance(km: f64) -> String {
    if km < 1.0 {
        format!("{:.0} m", km * 1000.0)
    } else {
        format!("{km:.1} km")
    }
}

/// A position track (lat, lon) as a small map-less SVG: the path, start and end, a scale bar,
/// and the distance covered.
pub fn track(points: &[(f64, f64)]) -> Markup {
    let size = 260.0;
    let pad = 16.0;
    if points.is_empty() {
        return html! { p.muted { "No positions recorded yet." } };
    }
    let lat0 = points.iter().map(|p| p.0).sum::<f64>() / points.len() as f64;
    let k = lat0.to_radians().cos().max(0.01);
    // Kilometres east and north of the first point.
    let first = points[0];
    let km: Vec<(f64, f64)> = points
        .iter()
        .map(|p| ((p.1 - first.1) * k * 111.32, (p.0 - first.0) * 110.57))
        .collect();
    let (minx, maxx) = km.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.0), a.1.max(p.0))
    });
    let (miny, maxy) = km.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |a, p| {
        (a.0.min(p.1), a.1.max(p.1))
    });
    let extent = (maxx - minx).max(maxy - miny).max(0.05);
    let scale = (size - 2.0 * pad) / extent;
    let cx = (minx + maxx) / 2.0;
    let cy = (miny + maxy) / 2.0;
    let px = |p: (f64, f64)| {
        (
            size / 2.0 + (p.0 - cx) * scale,
            size / 2.0 - (p.1 - cy) * scale,
        )
    };
    let mut d = String::new();
    for (i, p) in km.iter().enumerate() {
        let (x, y) = px(*p);
        to(&mut d, if i == 0 { 'M' } else { 'L' }, x, y);
    }
    // (An empty sum of floats is -0.)
    let travelled: f64 = points
        .windows(2)
        .map(|w| haversine_km(w[0], w[1]))
        .sum::<f64>()
        + 0.0;
    let bar_km = step(extent / 3.0, 1.0);
    let bar = bar_km * scale;
    let (sx, sy) = px(km[0]);
    let (ex, ey) = px(km[km.len() - 1]);
    html! {
        figure.track {
            svg viewBox=(format!("0 0 {size} {size}")) role="img" aria-label="Position track" xmlns="http://www.w3.org/2000/svg" {
                rect.frame x="0.5" y="0.5" width=(size - 1.0) height=(size - 1.0) rx="6" {}
                path.line.s0 d=(d) {}
                circle.start cx=(format!("{sx:.1}")) cy=(format!("{sy:.1}")) r="4" {}
                circle.end cx=(format!("{ex:.1}")) cy=(format!("{ey:.1}")) r="5" {}
                line.axisline x1=(pad) x2=(format!("{:.1}", pad + bar)) y1=(size - pad) y2=(size - pad) {}
                text.axis x=(pad) y=(size - pad - 5.0) { (distance(bar_km)) }
                text.axis x=(size - pad) y=(pad + 4.0) text-anchor="end" { "N ↑" }
            }
            figcaption.muted {
                (points.len()) @if points.len() == 1 { " position" } @else { " positions" } " · " (distance(travelled)) " travelled · "
                (distance(haversine_km(points[0], points[points.len() - 1]))) " from first to last"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn text_xml_forbids_is_stripped_and_names_are_escaped() {
        assert_eq!(xml_text("a\u{0}b\u{1b}c\u{FFFE}"), "abc");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let c = Chart {
            title: "<script>x</script>\u{7}",
            unit: "%",
            from: now - Duration::from_secs(3600),
            to: now,
            lines: vec![Line {
                label: "b",
                points: vec![(999_000.0, 50.0, 40.0, 60.0), (999_500.0, 55.0, 55.0, 55.0)],
            }],
            places: 0,
        };
        let html = chart(&c).into_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains('\u{7}'));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("data-points=\"2\""));
        assert!(html.contains("class=\"band s0\""));
    }

    #[test]
    fn a_track_measures_what_it_covers() {
        let html = track(&[(52.0, 4.0), (52.01, 4.0)]).into_string();
        assert!(html.contains("1.1 km travelled"), "{html}");
        assert!(track(&[]).into_string().contains("No positions"));
    }
}
