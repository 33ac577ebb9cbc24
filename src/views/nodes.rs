//! The nodes tab: filters, search, the table, and a node's detail page.

use std::time::{Duration, SystemTime};

use maud::{html, Markup};

use super::components::{battery, opt};
use super::history::{spark as sparkline, Sparks};
use super::{ago, duration};
use crate::radio::observe::Metric;
use crate::read::history::HeardWithin;
use crate::read::nodes::{NodeFilter, NodeRow};

const FILTERS: [(NodeFilter, &str); 4] = [
    (NodeFilter::All, "All"),
    (NodeFilter::Rf, "RF only"),
    (NodeFilter::Mqtt, "MQTT"),
    (NodeFilter::Nearby, "Nearby"),
];

fn heard(row: &NodeRow, now: SystemTime) -> String {
    row.last_heard
        .map(|t| {
            ago(
                SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(t)),
                now,
            )
        })
        .unwrap_or_else(|| "never".into())
}

fn f1(v: Option<f32>, unit: &'static str) -> Fixed {
    Fixed {
        v: v.map(f64::from),
        places: 1,
        unit,
    }
}

/// A value with a fixed number of decimals (1 or 2) and a unit, or "—". Written straight into
/// the page with integer arithmetic: the nodes table shows a thousand of these per render, and
/// float formatting with a precision was a tenth of its cost.
pub struct Fixed {
    v: Option<f64>,
    places: u32,
    unit: &'static str,
}

impl std::fmt::Display for Fixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(v) = self.v.filter(|v| v.is_finite() && v.abs() < 1e12) else {
            return f.write_str("—");
        };
        let scale = 10_i64.pow(self.places);
        let n = (v * scale as f64).round() as i64;
        let sign = if n < 0 { "-" } else { "" };
        let (whole, frac) = (n.abs() / scale, n.abs() % scale);
        write!(
            f,
            "{sign}{whole}.{frac:0width$}{}",
            self.unit,
            width = self.places as usize
        )
    }
}

pub fn nodes_page(
    rows: &[NodeRow],
    (filter, heard): (NodeFilter, HeardWithin),
    query: &str,
    spark: &Sparks,
    now: SystemTime,
) -> Markup {
    html! {
        form.filters method="get" action="/nodes" hx-get="/nodes" hx-target="#nodes-table" hx-swap="outerHTML" hx-push-url="true"
            hx-trigger="input changed delay:300ms from:input[name=q], change from:input[name=filter], change from:input[name=heard], submit" {
            fieldset.segmented {
                legend.sr-only { "Filter" }
                @for (f, label) in FILTERS {
                    label { input type="radio" name="filter" value=(f.as_str()) checked[f == filter]; span { (label) } }
                }
            }
            fieldset.segmented {
                legend.sr-only { "Heard within" }
                @for (h, label) in HeardWithin::ALL {
                    label { input type="radio" name="heard" value=(h.as_str()) checked[h == heard]; span { (label) } }
                }
            }
            input type="search" name="q" value=(query) placeholder="Search name or !id" aria-label="Search nodes" autocomplete="off";
            noscript { button type="submit" { "Apply" } }
        }
        (nodes_table(rows, spark, now))
    }
}

/// The table. On narrow screens `app.css` hides voltage, utilisation, air TX, uptime,
/// hardware and role by column number (7-10, 12, 13), not by a class on every cell: this is
/// the largest page. Keep the two in step when columns change. The SNR and battery cells of
/// the nodes in `spark` have the day's sparkline beside the value.
pub fn nodes_table(rows: &[NodeRow], spark: &Sparks, now: SystemTime) -> Markup {
    html! {
        div #nodes-table.table-wrap {
            p.muted.count { (rows.len()) " nodes" }
            table.nodes {
                thead {
                    tr {
                        th { "Name" } th { "ID" } th { "Hops" } th { "SNR" } th { "Last heard" } th { "Battery" }
                        th { "Voltage" } th { "Ch. util" } th { "Air TX" } th { "Uptime" }
                        th { "Distance" } th { "Hardware" } th { "Role" } th { "Via" }
                    }
                }
                tbody {
                    @for r in rows {
                        tr class=[r.via_mqtt.then_some("mqtt")] data-node=(r.id) {
                            td {
                                a href=(format!("/node/{}", r.id)) { (if r.long_name.is_empty() { "(unnamed)" } else { &r.long_name }) }
                                " " span.short { (r.short_name) }
                                @if r.is_favorite { " " span title="Favourite" { "★" } }
                            }
                            td { code { (r.id) } }
                            td { (opt(r.hops_away)) }
                            td { (f1(r.snr, " dB")) @if let Some(p) = spark.get(r.num) { " " (sparkline(p, Metric::Snr, now)) } }
                            td { (heard(r, now)) }
                            td { (battery(r.battery_level)) @if let Some(p) = spark.get(r.num) { " " (sparkline(p, Metric::Battery, now)) } }
                            td { (Fixed { v: r.voltage.map(f64::from), places: 2, unit: " V" }) }
                            td { (f1(r.channel_util, "%")) }
                            td { (f1(r.air_util_tx, "%")) }
                            td { (r.uptime.map(|u| duration(u64::from(u))).unwrap_or_else(|| "—".into())) }
                            td { (Fixed { v: r.distance_km, places: 1, unit: " km" }) }
                            td { (r.hw_model) }
                            td { (r.role) }
                            td { @if r.via_mqtt { span.pill.warn { "MQTT" } } @else { span.pill.ok { "RF" } } }
                        }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No node matches." } }
        }
    }
}

pub fn node_detail(r: &NodeRow, now: SystemTime) -> Markup {
    let fields: Vec<(&str, String)> = vec![
        ("Long name", r.long_name.clone()),
        ("Short name", r.short_name.clone()),
        ("ID", r.id.clone()),
        ("Number", r.num.to_string()),
        ("Hardware", r.hw_model.to_string()),
        ("Role", r.role.to_string()),
        ("Battery", battery(r.battery_level)),
        (
            "Voltage",
            r.voltage
                .map(|v| format!("{v:.2} V"))
                .unwrap_or_else(|| "—".into()),
        ),
        ("Channel utilisation", f1(r.channel_util, "%").to_string()),
        ("Air util TX", f1(r.air_util_tx, "%").to_string()),
        (
            "Uptime",
            r.uptime
                .map(|u| duration(u64::from(u)))
                .unwrap_or_else(|| "—".into()),
        ),
        ("SNR", f1(r.snr, " dB").to_string()),
        ("Last heard", heard(r, now)),
        ("Hops away", opt(r.hops_away)),
        ("Via MQTT", yes_no(r.via_mqtt)),
        ("Favourite", yes_no(r.is_favorite)),
        (
            "Position",
            match (r.lat, r.lon) {
                (Some(lat), Some(lon)) => format!(
                    "{lat:.5}, {lon:.5}{}",
                    r.alt.map(|a| format!(", {a} m")).unwrap_or_default()
                ),
                _ => "unknown".into(),
            },
        ),
        (
            "Distance",
            r.distance_km
                .map(|d| format!("{d:.2} km"))
                .unwrap_or_else(|| "—".into()),
        ),
    ];
    html! {
        article.panel.node-detail {
            p { a href="/nodes" { "← All nodes" } }
            h2 { (r.long_name) " " span.short { (r.short_name) } }
            dl.fields {
                @for (k, v) in &fields { dt { (k) } dd { (v) } }
            }
        }
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals_round_like_format() {
        for (v, places, want) in [
            (-0.04, 1, "-0.0"),
            (1.26, 1, "1.3"),
            (-12.75, 1, "-12.8"),
            (3.999, 2, "4.00"),
            (0.0, 2, "0.00"),
            (-3.456, 2, "-3.46"),
        ] {
            let got = Fixed {
                v: Some(v),
                places,
                unit: "",
            }
            .to_string();
            let std = format!("{v:.prec$}", prec = places as usize);
            assert_eq!(
                got.trim_start_matches('-'),
                want.trim_start_matches('-'),
                "{v}"
            );
            assert_eq!(
                got.trim_start_matches('-'),
                std.trim_start_matches('-'),
                "{v} vs format!"
            );
        }
        assert_eq!(
            Fixed {
                v: None,
                places: 1,
                unit: " dB"
            }
            .to_string(),
            "—"
        );
        assert_eq!(
            Fixed {
                v: Some(f64::NAN),
                places: 1,
                unit: " dB"
            }
            .to_string(),
            "—"
        );
    }

    #[test]
    fn hostile_names_are_escaped() {
        let r = NodeRow {
            id: "!00000001".into(),
            num: crate::ids::NodeNum(1),
            long_name: "<script>alert('x')</script> \"q\" مرحبا 📡".into(),
            short_name: "<b>".into(),
            hw_model: "".into(),
            role: "".into(),
            lat: None,
            lon: None,
            alt: None,
            battery_level: Some(101),
            voltage: None,
            channel_util: None,
            air_util_tx: None,
            uptime: None,
            snr: None,
            last_heard: None,
            hops_away: None,
            via_mqtt: false,
            is_favorite: false,
            distance_km: None,
        };
        let html = nodes_table(
            std::slice::from_ref(&r),
            &Default::default(),
            SystemTime::now(),
        )
        .into_string();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &quot;q&quot; مرحبا 📡"));
        assert!(html.contains("plugged in"));
        let doc = scraper::Html::parse_fragment(&html);
        let sel = scraper::Selector::parse("tbody tr td a").unwrap();
        let text: String = doc.select(&sel).next().unwrap().text().collect();
        assert_eq!(text, r.long_name);
    }
}
