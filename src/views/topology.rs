//! The topology page: who hears whom as an SVG graph (nodes where they are when known, else
//! on a ring; each pair's line coloured and labelled by its SNR), and every link in a table.

use std::collections::BTreeMap;
use std::time::SystemTime;

use maud::{html, Markup};

use super::{ago, xml_text};
use crate::ids::NodeNum;
use crate::read::topology::{layout, Link, Topology};
use crate::views::map::snr_class;

pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 720.0;
/// SNR labels on the lines are drawn when at most this many pairs are linked.
const MAX_EDGE_LABELS: usize = 40;

fn snr_text(snr: Option<f32>) -> String {
    snr.map_or_else(|| "? dB".to_string(), |s| format!("{s:+.1} dB"))
}

/// A pair of nodes the graph joins with one line: its links (either way, any source).
struct Pair<'a> {
    a: NodeNum,
    b: NodeNum,
    links: Vec<&'a Link>,
}

fn pairs(links: &[Link]) -> Vec<Pair<'_>> {
    let mut by: BTreeMap<(u32, u32), Vec<&Link>> = BTreeMap::new();
    for l in links {
        let key = (l.from.0.min(l.to.0), l.from.0.max(l.to.0));
        by.entry(key).or_default().push(l);
    }
    by.into_iter()
        .map(|((a, b), links)| Pair {
            a: NodeNum(a),
            b: NodeNum(b),
            links,
        })
        .collect()
}

/// The weakest SNR known of a pair (what limits the link).
fn weakest(p: &Pair<'_>) -> Option<f32> {
    p.links.iter().filter_map(|l| l.snr).reduce(f32::min)
}

fn name(t: &Topology, num: NodeNum) -> String {
    t.node(num)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| num.to_string())
}

pub fn topology_page(t: &Topology, now: SystemTime) -> Markup {
    html! {
        section.panel.topology-page {
            h2 { "Topology" }
            p.muted {
                "Who hears whom: from the NeighborInfo reports nodes send (every few hours at most, when their module is on) and from the hops of finished traceroutes. "
                (t.links.len()) " links between " (t.nodes.len()) " nodes."
            }
            @if t.links.is_empty() {
                p { "No links heard yet. A node reports its neighbours only when its NeighborInfo module is on; a traceroute adds its hops." }
            } @else {
                figure.topology { (graph(t)) }
                ul.map-legend {
                    li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-good x1="2" y1="10" x2="18" y2="10" {} } "SNR ≥ 0 dB" }
                    li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-fair x1="2" y1="10" x2="18" y2="10" {} } "0 to −7 dB" }
                    li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-poor x1="2" y1="10" x2="18" y2="10" {} } "below −7 dB" }
                    li { svg viewBox="0 0 20 20" width="20" height="20" aria-hidden="true" { line.map-link.snr-unknown.traceroute x1="2" y1="10" x2="18" y2="10" {} } "dashed: from a traceroute only" }
                }
                (links_table(t, now))
            }
        }
    }
}

/// The graph: each pair of nodes one line, each node a circle linking to its page.
pub fn graph(t: &Topology) -> Markup {
    let places = layout(&t.nodes, WIDTH, HEIGHT, 34.0);
    let at: std::collections::HashMap<NodeNum, (f64, f64)> = t
        .nodes
        .iter()
        .zip(places.iter())
        .map(|(n, p)| (n.num, *p))
        .collect();
    let pairs = pairs(&t.links);
    // On a big mesh only the lines to my node say their SNR (the others in their tooltips).
    let me = t.nodes.iter().find(|n| n.me).map(|n| n.num);
    let labelled =
        |p: &Pair<'_>| pairs.len() <= MAX_EDGE_LABELS || Some(p.a) == me || Some(p.b) == me;
    html! {
        svg.topology-svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label="Who hears whom" {
            rect.map-bg x="0" y="0" width=(WIDTH) height=(HEIGHT) {}
            g.edges {
                @for p in &pairs {
                    @if let (Some(a), Some(b)) = (at.get(&p.a), at.get(&p.b)) {
                        @let snr = weakest(p);
                        @let only_trace = p.links.iter().all(|l| l.source == crate::read::topology::Source::Traceroute);
                        @let texts = p.links.iter().map(|l| format!("{} → {}: {} ({})", name(t, l.from), name(t, l.to), snr_text(l.snr), l.source.name())).collect::<Vec<_>>().join("; ");
                        g.edge data-from=(p.a.to_string()) data-to=(p.b.to_string()) {
                            title { (xml_text(&texts)) }
                            line class=(format!("map-link {}{}", snr_class(snr), if only_trace { " traceroute" } else { "" })) x1=(format!("{:.1}", a.0)) y1=(format!("{:.1}", a.1)) x2=(format!("{:.1}", b.0)) y2=(format!("{:.1}", b.1)) {}
                            @if labelled(p) {
                                text.edge-label x=(format!("{:.1}", (a.0 + b.0) / 2.0)) y=(format!("{:.1}", (a.1 + b.1) / 2.0 - 3.0)) { (snr_text(snr)) }
                            }
                        }
                    }
                }
            }
            g.graph-nodes {
                @for (n, (x, y)) in t.nodes.iter().zip(places.iter()) {
                    a class=(if n.me { "graph-node me" } else { "graph-node" }) href=(format!("/node/{}", n.id)) data-node=(n.id) {
                        title { (xml_text(&n.name)) " (" (n.id) ")" @if n.lat.is_none() { " · no position" } }
                        circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r=(if n.me { "11" } else { "8" }) {}
                        text.node-label x=(format!("{x:.1}")) y=(format!("{:.1}", y + 22.0)) { (xml_text(if n.short.trim().is_empty() { &n.id } else { &n.short })) }
                    }
                }
            }
        }
    }
}

fn node_link(t: &Topology, num: NodeNum) -> Markup {
    html! { a href=(format!("/node/{num}")) { (name(t, num)) } }
}

pub fn links_table(t: &Topology, now: SystemTime) -> Markup {
    html! {
        div.table-wrap {
            table.links #links {
                thead { tr { th { "Heard" } th { "By" } th { "SNR" } th { "Source" } th { "When" } } }
                tbody {
                    @for l in &t.links {
                        tr data-from=(l.from.to_string()) data-to=(l.to.to_string()) data-source=(l.source.name()) {
                            td { (node_link(t, l.from)) }
                            td { (node_link(t, l.to)) }
                            td class=(format!("snr {}", snr_class(l.snr))) { (snr_text(l.snr)) }
                            td { (l.source.name()) }
                            td { (ago(l.at, now)) }
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
    use crate::read::topology::{Source, TopoNode};

    #[test]
    fn the_graph_and_table_show_every_link_with_its_snr() {
        let node = |n: u32, name: &str| TopoNode {
            num: NodeNum(n),
            id: NodeNum(n).to_string(),
            name: name.into(),
            short: "<b>".into(),
            lat: None,
            lon: None,
            me: n == 1,
        };
        let at = SystemTime::UNIX_EPOCH;
        let t = Topology {
            nodes: vec![node(1, "Me"), node(2, "<i>x</i>")],
            links: vec![Link {
                from: NodeNum(2),
                to: NodeNum(1),
                snr: Some(-8.5),
                source: Source::NeighborInfo,
                at,
            }],
        };
        let html = topology_page(&t, at).into_string();
        assert!(html.contains("-8.5 dB"));
        assert!(html.contains("snr-poor"));
        assert!(html.contains(r#"href="/node/!00000002""#));
        assert!(!html.contains("<i>x") && !html.contains("<b>"));
        assert!(html.contains(r#"data-source="neighborinfo""#));
    }
}
