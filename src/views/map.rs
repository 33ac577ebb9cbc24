//! The map: an SVG drawn on the server in Web Mercator, every node with a position a marker
//! (coloured by when it was last heard, hollow via MQTT, mine marked) that links to its page,
//! tracks of nodes that moved, the topology's links as lines, a scale bar and north. Pan and
//! zoom are links (HTMX swaps just the map). Tiles only from the operator's tile server.

use std::time::{Duration, SystemTime};

use maud::{html, Markup};

use super::xml_text;
use crate::read::map::{MapLink, Marker, TrackLine};
use crate::read::mercator::{scale_bar, View};

/// The SVG's size in its own pixels.
pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 720.0;
/// Most tiles drawn for one view.
const MAX_TILES: usize = 48;
/// Labels are drawn when at most this many markers are in view.
const MAX_LABELS: usize = 60;

/// One tile image: where it goes and its URL.
pub struct TileImage {
    pub px: f64,
    pub py: f64,
    pub size: f64,
    pub url: String,
}

/// What the map shows.
pub struct MapModel<'a> {
    pub view: View,
    pub markers: &'a [Marker],
    pub tracks: &'a [TrackLine],
    pub links: &'a [MapLink],
    /// Tiles under the markers (empty: none configured, or too many for the view).
    pub tiles: Vec<TileImage>,
    /// The view was fitted to the nodes (no position asked for).
    pub fitted: bool,
}

impl MapModel<'_> {
    /// The tiles of `view`, when a tile server is set (`url` builds a tile's address).
    pub fn tiles_of(view: &View, url: impl Fn(u32, u32, u32) -> Option<String>) -> Vec<TileImage> {
        view.tiles(MAX_TILES)
            .into_iter()
            .filter_map(|t| {
                Some(TileImage {
                    px: t.px,
                    py: t.py,
                    size: t.size,
                    url: url(t.z, t.x, t.y)?,
                })
            })
            .collect()
    }
}

/// The address of a view of the map.
pub fn view_url(v: &View) -> String {
    format!("/map?lat={:.5}&lon={:.5}&z={:.2}", v.lat, v.lon, v.zoom)
}

/// How recently a node was heard, as the marker's class.
pub fn heard_class(last_heard: Option<u32>, now: SystemTime) -> &'static str {
    let Some(t) = last_heard else {
        return "never";
    };
    let then = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(t));
    match now.duration_since(then).map(|d| d.as_secs()).unwrap_or(0) {
        0..900 => "recent",
        900..7200 => "hours",
        _ => "old",
    }
}

/// The SNR's class for a line's colour.
pub fn snr_class(snr: Option<f32>) -> &'static str {
    match snr {
        Some(s) if s >= 0.0 => "snr-good",
        Some(s) if s >= -7.0 => "snr-fair",
        Some(_) => "snr-poor",
        None => "snr-unknown",
    }
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// A link that moves the map: a plain link without JS, an HTMX swap of the map with it.
fn nav(label: &str, title: &str, to: &str) -> Markup {
    html! {
        a.button href=(to) title=(title) aria-label=(title) hx-get=(to) hx-target="#map" hx-swap="outerHTML" hx-push-url="true" { (label) }
    }
}

/// The page's body: the map and its legend.
pub fn map_page(m: &MapModel<'_>, now: SystemTime) -> Markup {
    let moving = m.tracks.len();
    html! {
        section.panel.map-page {
            h2 { "Map" }
            p.muted {
                (m.markers.len()) " nodes with a position"
                @if moving > 0 { ", " (moving) " moved in the last 24 h" }
                @if !m.links.is_empty() { ", " (m.links.len()) " links heard (" a href="/topology" { "topology" } ")" }
                "."
            }
            (map_part(m, now))
            ul.map-legend {
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { circle.marker-dot.recent cx="10" cy="10" r="7" {} } "heard < 15 min" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { circle.marker-dot.hours cx="10" cy="10" r="7" {} } "< 2 h" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { circle.marker-dot.old cx="10" cy="10" r="7" {} } "older" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { circle.marker-dot.recent.mqtt cx="10" cy="10" r="6" {} } "via MQTT (hollow)" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { circle.me-ring cx="10" cy="10" r="8" {} circle.marker-dot.recent cx="10" cy="10" r="5" {} } "my node" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-good x1="2" y1="10" x2="18" y2="10" {} } "link, SNR ≥ 0 dB" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-fair x1="2" y1="10" x2="18" y2="10" {} } "0 to −7 dB" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-poor x1="2" y1="10" x2="18" y2="10" {} } "below −7 dB" }
                li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { polyline.track points="2,16 8,8 12,12 18,4" {} } "track, 24 h" }
            }
        }
    }
}

/// The part HTMX swaps: the controls and the SVG.
pub fn map_part(m: &MapModel<'_>, now: SystemTime) -> Markup {
    let v = &m.view;
    html! {
        // A wall tablet's map keeps itself current: the same view (or a fresh fit) a minute on.
        figure #map.map data-zoom=(format!("{:.2}", v.zoom)) data-lat=(format!("{:.5}", v.lat)) data-lon=(format!("{:.5}", v.lon))
            hx-get=(if m.fitted { "/map".to_string() } else { view_url(v) }) hx-trigger="every 60s" hx-swap="outerHTML" {
            nav.map-controls aria-label="Move the map" {
                (nav("+", "Zoom in", &view_url(&v.zoomed(1.0))))
                (nav("−", "Zoom out", &view_url(&v.zoomed(-1.0))))
                (nav("←", "West", &view_url(&v.panned(-0.4, 0.0))))
                (nav("↑", "North", &view_url(&v.panned(0.0, -0.4))))
                (nav("↓", "South", &view_url(&v.panned(0.0, 0.4))))
                (nav("→", "East", &view_url(&v.panned(0.4, 0.0))))
                @if !m.fitted { (nav("Fit all", "Show every node", "/map")) }
            }
            (map_svg(m, now))
        }
    }
}

/// The SVG itself.
pub fn map_svg(m: &MapModel<'_>, now: SystemTime) -> Markup {
    let v = &m.view;
    let shown: Vec<(&Marker, (f64, f64))> = m
        .markers
        .iter()
        .map(|mk| (mk, v.project(mk.lat, mk.lon)))
        .filter(|(_, p)| v.shows(*p, 12.0))
        .collect();
    let labels = shown.len() <= MAX_LABELS;
    let bar = scale_bar(v.metres_per_px(), WIDTH / 4.0);
    let (bx, by) = (16.0, HEIGHT - 22.0);
    html! {
        svg.map-svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label="Map of the nodes with a position" {
            rect.map-bg x="0" y="0" width=(WIDTH) height=(HEIGHT) {}
            @if !m.tiles.is_empty() {
                g.tiles {
                    @for t in &m.tiles {
                        image href=(t.url) x=(f1(t.px)) y=(f1(t.py)) width=(f1(t.size + 0.5)) height=(f1(t.size + 0.5)) preserveAspectRatio="none" {}
                    }
                }
            }
            g.map-links {
                @for l in m.links {
                    @let (a, b) = (v.project(l.a.0, l.a.1), v.project(l.b.0, l.b.1));
                    line class=(format!("map-link {}", snr_class(l.snr))) x1=(f1(a.0)) y1=(f1(a.1)) x2=(f1(b.0)) y2=(f1(b.1)) {
                        title { (xml_text(&l.label)) }
                    }
                }
            }
            g.tracks {
                @for t in m.tracks {
                    @let pts = t.points.iter().map(|p| { let (x, y) = v.project(p.0, p.1); format!("{x:.1},{y:.1}") }).collect::<Vec<_>>().join(" ");
                    polyline.track points=(pts) data-node=(t.num.to_string()) {}
                }
            }
            g.markers {
                @for (mk, (x, y)) in &shown {
                    @let class = format!("marker {}{}{}", heard_class(mk.last_heard, now), if mk.via_mqtt { " mqtt" } else { "" }, if mk.me { " me" } else { "" });
                    a class=(class) href=(format!("/node/{}", mk.id)) data-node=(mk.id) {
                        title { (xml_text(&mk.name)) " (" (mk.id) ")" @if mk.me { " · my node" } @if mk.via_mqtt { " · via MQTT" } }
                        @if mk.me { circle.me-ring cx=(f1(*x)) cy=(f1(*y)) r="13" {} }
                        circle.marker-dot cx=(f1(*x)) cy=(f1(*y)) r=(if mk.me { "8" } else { "7" }) {}
                        @if labels {
                            text.marker-label x=(f1(x + 11.0)) y=(f1(y + 4.0)) { (xml_text(if mk.short.trim().is_empty() { &mk.id } else { &mk.short })) }
                        }
                    }
                }
            }
            g.north transform=(format!("translate({},{})", WIDTH - 34.0, 40.0)) aria-label="North is up" {
                circle r="20" {}
                path d="M0,-15 L7,6 L0,2 L-7,6 Z" {}
                text x="0" y="17" { "N" }
            }
            g.scale-bar {
                rect.scale-back x=(f1(bx - 6.0)) y=(f1(by - 18.0)) width=(f1(bar.px + 12.0)) height="30" rx="4" {}
                path d=(format!("M{bx:.1},{:.1} V{by:.1} H{:.1} V{:.1}", by - 6.0, bx + bar.px, by - 6.0)) {}
                text x=(f1(bx)) y=(f1(by - 8.0)) { (bar.label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeNum;

    fn marker(num: u32, lat: f64, lon: f64, name: &str) -> Marker {
        Marker {
            num: NodeNum(num),
            id: NodeNum(num).to_string(),
            name: name.into(),
            short: "S".into(),
            lat,
            lon,
            last_heard: Some(1_000_000),
            via_mqtt: num == 2,
            me: num == 1,
        }
    }

    #[test]
    fn markers_link_to_their_nodes_with_escaped_names_and_classes() {
        let ms = [
            marker(1, 47.0, 8.0, "Me"),
            marker(2, 47.1, 8.1, "<script>x</script>\u{1}"),
        ];
        let view = View::fit(&[(47.0, 8.0), (47.1, 8.1)], WIDTH, HEIGHT, 40.0);
        let m = MapModel {
            view,
            markers: &ms,
            tracks: &[],
            links: &[],
            tiles: vec![],
            fitted: true,
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_060);
        let html = map_page(&m, now).into_string();
        assert!(html.contains(r#"href="/node/!00000001""#));
        assert!(html.contains("marker recent mqtt"));
        assert!(html.contains("marker recent me"));
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;\u{FFFD}"));
        assert!(!html.contains("Fit all"));
        assert_eq!(
            heard_class(Some(1_000_000), now + Duration::from_secs(3600)),
            "hours"
        );
        assert_eq!(heard_class(None, now), "never");
        assert_eq!(snr_class(Some(-10.0)), "snr-poor");
    }
}
