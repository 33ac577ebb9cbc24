//! The offline map and the topology: a marker for every node with a position, linking to its
//! page, nothing loaded from outside (tiles only from the operator's server, which the CSP
//! then allows alone), pan and zoom by query, bad parameters refused; who hears whom from the
//! NeighborInfo packets the simulated radio sends and from traceroutes, kept over a restart.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use meshdeck::ids::RadioKey;
use meshdeck::proto::{node_id, pb, Message};
use meshdeck::sim::{answers_traceroute, SimConfig, SimRadio};
use scraper::{Html, Selector};
use serde_json::{json, Value};

use crate::helpers::*;

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel).collect()
}

/// The ids of the markers drawn on a map page or fragment.
fn marker_ids(html: &str) -> BTreeSet<String> {
    let doc = Html::parse_document(html);
    select(&doc, "svg.map-svg a.marker")
        .iter()
        .map(|a| a.value().attr("data-node").unwrap().to_string())
        .collect()
}

/// The map's view (lat, lon, zoom) as the page says it.
fn view_of(html: &str) -> (f64, f64, f64) {
    let doc = Html::parse_document(html);
    let fig = select(&doc, "figure#map")[0].value();
    let num = |k: &str| fig.attr(k).unwrap().parse::<f64>().unwrap();
    (num("data-lat"), num("data-lon"), num("data-zoom"))
}

/// The address of the map control titled `title`.
fn control(html: &str, title: &str) -> String {
    let doc = Html::parse_document(html);
    let a = select(&doc, &format!("nav.map-controls a[title=\"{title}\"]"));
    let a = a.first().unwrap_or_else(|| panic!("no {title} control"));
    assert_eq!(a.value().attr("hx-get"), a.value().attr("href"));
    a.value().attr("href").unwrap().to_string()
}

/// Every attribute in the page that makes a browser load or open something.
fn addresses(html: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let mut out = Vec::new();
    for el in select(&doc, "*") {
        for (k, v) in el.value().attrs() {
            if matches!(
                k,
                "src" | "href" | "xlink:href" | "action" | "hx-get" | "srcset" | "poster" | "data"
            ) {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn with_neighbors(index: u32, nodes: usize, every: Duration) -> SimConfig {
    SimConfig {
        neighbor_interval: every,
        ..quiet(index, nodes)
    }
}

/// The NeighborInfo packets the radio handed its client, the latest of each sender.
fn neighbor_reports(radio: &SimRadio) -> HashMap<u32, pb::NeighborInfo> {
    let mut out = HashMap::new();
    for p in radio.sent_packets() {
        let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
            continue;
        };
        if d.portnum == pb::PortNum::NeighborinfoApp as i32 {
            let info = pb::NeighborInfo::decode(d.payload.as_slice()).unwrap();
            assert_eq!(info.node_id, p.from);
            assert_eq!(p.to, meshdeck::proto::BROADCAST);
            out.insert(p.from, info);
        }
    }
    out
}

/// (heard, heard by, SNR) of every neighbour in the reports.
fn report_links(reports: &HashMap<u32, pb::NeighborInfo>) -> HashSet<(String, String, String)> {
    reports
        .values()
        .flat_map(|r| {
            r.neighbors.iter().map(|n| {
                (
                    node_id(n.node_id),
                    node_id(r.node_id),
                    format!("{:.2}", n.snr),
                )
            })
        })
        .collect()
}

fn api_links(topo: &Value, source: &str) -> HashSet<(String, String, String)> {
    topo["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["source"] == source)
        .map(|l| {
            let snr = l["snr"]
                .as_f64()
                .map_or("null".into(), |s| format!("{s:.2}"));
            (
                l["from"].as_str().unwrap().to_string(),
                l["to"].as_str().unwrap().to_string(),
                snr,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_map_shows_a_marker_for_every_node_with_a_position_each_linking_to_its_page() {
    let (_app, radio, b) = spawn_connected(quiet(0, 60)).await;
    let positioned: BTreeSet<String> = b
        .nodes("all")
        .await
        .iter()
        .filter(|n| n["lat"].is_number() && n["lon"].is_number())
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        positioned.len() > 30,
        "the mesh has positions: {}",
        positioned.len()
    );
    let (status, html) = b.get_html("/map").await;
    assert_eq!(status, 200);
    assert_eq!(marker_ids(&html), positioned);
    let doc = Html::parse_document(&html);
    for a in select(&doc, "svg.map-svg a.marker") {
        let id = a.value().attr("data-node").unwrap();
        assert_eq!(a.value().attr("href"), Some(format!("/node/{id}").as_str()));
        let title = select(&doc, &format!("a.marker[data-node=\"{id}\"] title"));
        assert_eq!(title.len(), 1, "{id} has a tooltip");
    }
    let mine = select(&doc, "a.marker.me");
    assert_eq!(mine.len(), 1);
    assert_eq!(
        mine[0].value().attr("data-node"),
        Some(node_id(radio.my_node_num()).as_str())
    );
    // A node's page is where its marker leads.
    let first = positioned.iter().next().unwrap();
    assert_eq!(b.get_html(&format!("/node/{first}")).await.0, 200);
    // Hollow markers are the nodes heard via MQTT.
    let mqtt: BTreeSet<String> = select(&doc, "a.marker.mqtt")
        .iter()
        .map(|a| a.value().attr("data-node").unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = b
        .nodes("mqtt")
        .await
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .filter(|id| positioned.contains(id))
        .collect();
    assert_eq!(mqtt, want);
    assert!(html.contains("class=\"scale-bar\"") && html.contains("class=\"north\""));
}

#[tokio::test]
async fn the_map_loads_nothing_from_outside_and_keeps_the_policy() {
    let (_app, _radio, b) =
        spawn_connected(with_neighbors(0, 40, Duration::from_millis(300))).await;
    let nodes = b.get("/nodes").send().await.unwrap();
    let policy = nodes.headers()["content-security-policy"].clone();
    let r = b.get("/map").send().await.unwrap();
    assert_eq!(r.headers()["content-security-policy"], policy);
    let html = r.text().await.unwrap();
    let outside: Vec<String> = addresses(&html)
        .into_iter()
        .filter(|a| a.contains("://") || a.starts_with("//"))
        .collect();
    assert!(outside.is_empty(), "the map points outside: {outside:?}");
    assert!(!html.contains("<image"), "no tiles without --map-tiles");
    let t = b.get("/topology").send().await.unwrap();
    assert_eq!(t.headers()["content-security-policy"], policy);
    let html = t.text().await.unwrap();
    assert!(addresses(&html).iter().all(|a| !a.contains("://")));
}

#[tokio::test]
async fn pan_and_zoom_links_move_the_view_and_htmx_gets_just_the_map() {
    let (_app, _radio, b) = spawn_connected(quiet(0, 60)).await;
    let (_, html) = b.get_html("/map").await;
    let (lat, lon, zoom) = view_of(&html);
    let all = marker_ids(&html);

    let (_, zin) = b.get_html(&control(&html, "Zoom in")).await;
    let v = view_of(&zin);
    assert!((v.2 - (zoom + 1.0)).abs() < 0.011, "{v:?} after {zoom}");
    assert!((v.0 - lat).abs() < 1e-4 && (v.1 - lon).abs() < 1e-4);
    assert!(
        marker_ids(&zin).len() < all.len(),
        "zoomed in, some nodes are off the map"
    );
    assert!(zin.contains("Fit all"));
    // The map refreshes itself with the view it shows (a fitted one fits again).
    let refresh = |html: &str| {
        let doc = Html::parse_document(html);
        let fig = select(&doc, "figure#map")[0].value().clone();
        assert_eq!(fig.attr("hx-trigger"), Some("every 60s"));
        fig.attr("hx-get").unwrap().to_string()
    };
    assert_eq!(refresh(&html), "/map");
    assert_eq!(refresh(&zin), control(&html, "Zoom in"));

    let (_, east) = b.get_html(&control(&html, "East")).await;
    let e = view_of(&east);
    assert!(e.1 > lon && (e.0 - lat).abs() < 1e-4);
    let (_, north) = b.get_html(&control(&html, "North")).await;
    assert!(view_of(&north).0 > lat);
    let (_, out) = b.get_html(&control(&html, "Zoom out")).await;
    assert!(view_of(&out).2 < zoom);

    // HTMX swaps the map alone.
    let r = b.hx_get(&control(&html, "Zoom in")).await;
    assert_eq!(r.status(), 200);
    let part = r.text().await.unwrap();
    assert!(part.starts_with("<figure") && !part.contains("<html"));
    assert_eq!(marker_ids(&part), marker_ids(&zin));

    // A view far away shows no node.
    let (_, empty) = b.get_html("/map?lat=-40&lon=-100&z=12").await;
    assert!(marker_ids(&empty).is_empty());
}

#[tokio::test]
async fn bad_map_parameters_are_a_clear_400_and_out_of_range_ones_are_brought_into_range() {
    let (_app, _radio, b) = spawn_connected(quiet(0, 20)).await;
    for bad in [
        "/map?lat=NaN&lon=8&z=10",
        "/map?lat=47&lon=inf&z=10",
        "/map?z=garbage",
        "/map?lat=1e999",
        "/map?lon=%00",
        "/map?z=-Infinity",
    ] {
        let (status, body) = b.get_html(bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body.contains("must be a finite number"), "{bad}: {body}");
        let r = b.hx_get(bad).await;
        assert_eq!(r.status(), 400, "{bad} from HTMX");
    }
    for (q, want) in [
        ("/map?lat=47&lon=8&z=1e300", (47.0, 8.0, 19.0)),
        ("/map?lat=1000&lon=-1000&z=-5", (85.05113, -180.0, 1.0)),
        (
            "/map?lat=47&lon=8&z=99999999999999999999999",
            (47.0, 8.0, 19.0),
        ),
    ] {
        let (status, html) = b.get_html(q).await;
        assert_eq!(status, 200, "{q}");
        let v = view_of(&html);
        assert!(
            (v.0 - want.0).abs() < 1e-4
                && (v.1 - want.1).abs() < 1e-4
                && (v.2 - want.2).abs() < 1e-4,
            "{q}: {v:?}"
        );
    }
    assert_eq!(b.get_html("/healthz").await.0, 200);
}

#[tokio::test]
async fn the_topology_shows_the_links_of_the_neighborinfo_packets_the_radio_sent() {
    let (_app, radio, b) = spawn_connected(with_neighbors(0, 30, Duration::from_millis(300))).await;
    let links = eventually(secs(8), "NeighborInfo links in /api/topology", async || {
        let sent = neighbor_reports(&radio);
        let want = report_links(&sent);
        let (status, topo) = b.get_json("/api/topology").await;
        assert_eq!(status, 200);
        let got = api_links(&topo, "neighborinfo");
        if sent.len() >= 3 && !want.is_empty() && want == got {
            Ok((want, topo))
        } else {
            Err(format!(
                "{} reports; want {want:?}, got {got:?}",
                sent.len()
            ))
        }
    })
    .await;
    let (want, topo) = links;
    // Every node a link joins is listed, with its name and position when known.
    let listed: HashSet<&str> = topo["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    for (from, to, _) in &want {
        assert!(listed.contains(from.as_str()) && listed.contains(to.as_str()));
    }
    assert!(topo["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["lat"].is_number()));
    assert!(topo["links"][0]["time"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));

    // The radio keeps reporting (every 300 ms here): the page is compared with the links the
    // API shows just before it, until no report came in between.
    let _ = want;
    let doc = eventually(
        secs(8),
        "the topology page shows the API's links",
        async || {
            let (_, before) = b.get_json("/api/topology").await;
            let want = api_links(&before, "neighborinfo");
            let (status, html) = b.get_html("/topology").await;
            assert_eq!(status, 200);
            let (_, after) = b.get_json("/api/topology").await;
            if api_links(&after, "neighborinfo") != want {
                return Err("a report came in meanwhile".to_string());
            }
            let doc = Html::parse_document(&html);
            let rows = select(&doc, "table#links tr[data-source=\"neighborinfo\"]");
            let shown: HashSet<(String, String)> = rows
                .iter()
                .map(|r| {
                    let v = r.value();
                    (
                        v.attr("data-from").unwrap().to_string(),
                        v.attr("data-to").unwrap().to_string(),
                    )
                })
                .collect();
            let pairs: HashSet<(String, String)> = want
                .iter()
                .map(|(f, t, _)| (f.clone(), t.clone()))
                .collect();
            assert_eq!(shown, pairs);
            // Each row says the SNR in dB, as the packet had it.
            for (from, to, snr) in &want {
                let row = rows
                    .iter()
                    .find(|r| {
                        r.value().attr("data-from") == Some(from)
                            && r.value().attr("data-to") == Some(to)
                    })
                    .unwrap();
                let text: String = row.text().collect();
                let db: f64 = snr.parse().unwrap();
                assert!(text.contains(&format!("{db:+.1} dB")), "{text} has {db}");
            }
            Ok::<_, String>(doc)
        },
    )
    .await;
    assert!(!select(&doc, "svg.topology-svg g.edge line").is_empty());
    assert!(!select(&doc, "svg.topology-svg a.graph-node").is_empty());
    // And the map draws them as lines between nodes with positions.
    let (_, map) = b.get_html("/map").await;
    let doc = Html::parse_document(&map);
    assert!(!select(&doc, "g.map-links line.map-link").is_empty());
}

#[tokio::test]
async fn neighbor_reports_are_stored_and_survive_a_restart() {
    let app = spawn_app().await;
    let (radio, b) = app
        .connected(with_neighbors(0, 30, Duration::from_millis(300)))
        .await;
    let want = eventually(secs(8), "NeighborInfo links", async || {
        let want = report_links(&neighbor_reports(&radio));
        let got = api_links(&b.get_json("/api/topology").await.1, "neighborinfo");
        if want.len() >= 3 && want == got {
            Ok(want)
        } else {
            Err(format!("{want:?} vs {got:?}"))
        }
    })
    .await;
    let app = app.restart().await;
    let key = RadioKey(i64::from(radio.my_node_num()));
    let stored = eventually(secs(3), "the reports in SQLite", async || {
        let reports = app.app.state.store.neighbor_reports(key).await.unwrap();
        let links: HashSet<(String, String, String)> = reports
            .iter()
            .flat_map(|r| {
                r.neighbors.iter().map(|(n, snr)| {
                    (
                        n.to_string(),
                        r.node.to_string(),
                        format!("{:.2}", snr.unwrap_or(f32::NAN)),
                    )
                })
            })
            .collect();
        if want.is_subset(&links) {
            Ok(links)
        } else {
            Err(format!("{links:?}"))
        }
    })
    .await;
    assert!(!stored.is_empty());
}

#[tokio::test]
async fn a_traceroute_adds_its_hops_as_links_with_their_snr() {
    let app = spawn_app_with(|c| {
        c.traceroute_interval_ms = 250;
        c.traceroute_timeout_ms = 3000;
    })
    .await;
    let cfg = SimConfig {
        traceroute_interval: Duration::from_millis(200),
        traceroute_delay: Duration::from_millis(50),
        ..quiet(0, 30)
    };
    let (radio, b) = app.connected(cfg).await;
    let me = radio.my_node_num();
    let dest = radio
        .nodes()
        .iter()
        .map(|n| n.num)
        .find(|n| *n != me && answers_traceroute(*n))
        .unwrap();
    let id = node_id(dest);
    let (status, _) = b.traceroute(json!({"dest": id})).await;
    assert_eq!(status, 200);
    let result = eventually(secs(6), "the traceroute to complete", async || {
        let all = b.traceroute_results().await;
        if all[&id]["status"] == "complete" {
            Ok(all[&id].clone())
        } else {
            Err(all)
        }
    })
    .await;
    let route: Vec<u32> = serde_json::from_value(result["route"].clone()).unwrap();
    let towards: Vec<i32> = serde_json::from_value(result["snrTowards"].clone()).unwrap();
    let mut path = vec![me];
    path.extend(&route);
    path.push(dest);
    let (_, topo) = b.get_json("/api/topology").await;
    let links = api_links(&topo, "traceroute");
    for (i, hop) in path.windows(2).enumerate() {
        if hop[0] == hop[1] {
            continue;
        }
        let snr = match towards[i] {
            -128 => "null".to_string(),
            q => format!("{:.2}", f64::from(q) / 4.0),
        };
        let link = (node_id(hop[0]), node_id(hop[1]), snr);
        assert!(links.contains(&link), "{link:?} in {links:?}");
    }
    let (_, html) = b.get_html("/topology").await;
    let doc = Html::parse_document(&html);
    assert!(!select(&doc, "table#links tr[data-source=\"traceroute\"]").is_empty());
}

#[tokio::test]
async fn with_map_tiles_the_tiles_use_the_template_and_the_policy_allows_only_that_origin() {
    let app = spawn_app_with(|c| {
        c.map_tiles = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png".parse().unwrap();
    })
    .await;
    let (_radio, b) = app.connected(quiet(0, 40)).await;
    let plain = b.get("/nodes").send().await.unwrap();
    let policy = plain.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let r = b.get("/map").send().await.unwrap();
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        csp,
        policy.replace(
            "img-src 'self' data:",
            "img-src 'self' data: http://127.0.0.1:9"
        )
    );
    assert_ne!(csp, policy);
    let html = r.text().await.unwrap();
    let doc = Html::parse_document(&html);
    let tiles = select(&doc, "svg.map-svg g.tiles image");
    assert!(!tiles.is_empty());
    for t in &tiles {
        let href = t.value().attr("href").unwrap();
        let rest = href.strip_prefix("http://127.0.0.1:9/tiles/").unwrap();
        let parts: Vec<&str> = rest.trim_end_matches(".png").split('/').collect();
        assert_eq!(parts.len(), 3, "{href}");
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{href}");
    }
    // Only the tiles point at the tile server.
    let elsewhere: Vec<String> = addresses(&html)
        .into_iter()
        .filter(|a| a.contains("://") && !a.starts_with("http://127.0.0.1:9/tiles/"))
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
}

#[tokio::test]
async fn strangers_names_on_the_map_and_the_topology_are_escaped() {
    let cfg = SimConfig {
        hostile_names: true,
        ..with_neighbors(0, 30, Duration::from_millis(300))
    };
    let (_app, _radio, b) = spawn_connected(cfg).await;
    eventually(secs(8), "some links", async || {
        let (_, t) = b.get_json("/api/topology").await;
        let n = t["links"].as_array().map_or(0, Vec::len);
        if n > 0 {
            Ok(())
        } else {
            Err(t)
        }
    })
    .await;
    for page in ["/map", "/topology"] {
        let (status, html) = b.get_html(page).await;
        assert_eq!(status, 200);
        for bad in ["<script>window", "<img src=x", "<svg onload", "<b>", "<i>x"] {
            assert!(!html.contains(bad), "{page} holds {bad}");
        }
    }
}

#[tokio::test]
async fn a_strangers_neighborinfo_is_bounded_and_its_garbage_dropped() {
    let (_app, radio, b) = spawn_connected(quiet(0, 10)).await;
    let stranger = 0x0bad_f00d;
    // As many as fit a frame (firmware sends at most 10).
    let mut neighbors: Vec<pb::Neighbor> = (1..=30)
        .map(|i| pb::Neighbor {
            node_id: 0x0100_0000 + i,
            snr: if i % 2 == 0 { f32::NAN } else { 1e30 },
            ..Default::default()
        })
        .collect();
    neighbors.insert(
        0,
        pb::Neighbor {
            node_id: radio.my_node_num(),
            snr: -3.25,
            ..Default::default()
        },
    );
    let info = pb::NeighborInfo {
        node_id: stranger,
        neighbors,
        ..Default::default()
    };
    let port = pb::PortNum::NeighborinfoApp;
    radio.inject(heard(
        stranger,
        meshdeck::proto::BROADCAST,
        77,
        port,
        info.encode_to_vec(),
    ));
    // A payload that is no protobuf at all is skipped.
    radio.inject(heard(
        stranger + 1,
        meshdeck::proto::BROADCAST,
        78,
        port,
        vec![0xff; 40],
    ));
    let links = eventually(secs(3), "the stranger's links", async || {
        let (_, t) = b.get_json("/api/topology").await;
        let links = t["links"].as_array().cloned().unwrap_or_default();
        if links.is_empty() {
            Err(t)
        } else {
            Ok(links)
        }
    })
    .await;
    assert_eq!(links.len(), 16, "at most 16 neighbours of a report");
    assert!(links.iter().all(|l| l["to"] == node_id(stranger)));
    let mine = links
        .iter()
        .find(|l| l["from"] == node_id(radio.my_node_num()))
        .unwrap();
    assert_eq!(mine["snr"], -3.25);
    assert!(links
        .iter()
        .filter(|l| l["from"] != node_id(radio.my_node_num()))
        .all(|l| l["snr"].is_null()));
    assert_eq!(b.get_html("/topology").await.0, 200);
    assert_eq!(b.get_html("/map").await.0, 200);
}

#[tokio::test]
async fn a_node_that_moved_has_its_track_from_the_history_on_the_map() {
    let (_app, radio, b) = spawn_connected(quiet(0, 10)).await;
    let walker = peers(&radio)[0];
    let spots = [(47.30, 8.50), (47.31, 8.52), (47.33, 8.53)];
    for (i, (lat, lon)) in spots.iter().enumerate() {
        let pos = pb::Position {
            latitude_i: Some((lat * 1e7) as i32),
            longitude_i: Some((lon * 1e7) as i32),
            ..Default::default()
        };
        let port = pb::PortNum::PositionApp;
        radio.inject(heard(
            walker,
            meshdeck::proto::BROADCAST,
            500 + i as u32,
            port,
            pos.encode_to_vec(),
        ));
        tokio::time::sleep(ms(30)).await;
    }
    let id = node_id(walker);
    // Where the node DB had it at connect, then each of the three (history is written in
    // batches, so the track may show fewer for a moment).
    let had = node(&radio, walker)
        .position
        .is_some_and(|p| p.latitude_i.is_some());
    let want = 3 + usize::from(had);
    let points = eventually(secs(10), "the walker's whole track", async || {
        let (_, html) = b.get_html("/map").await;
        let doc = Html::parse_document(&html);
        let track = select(&doc, &format!("polyline.track[data-node=\"{id}\"]"));
        match track.first() {
            Some(t) => {
                let n = t.value().attr("points").unwrap().split(' ').count();
                if n >= want {
                    Ok(n)
                } else {
                    Err(format!("{n} points"))
                }
            }
            None => Err(html.len().to_string()),
        }
    })
    .await;
    assert_eq!(points, want);
}
