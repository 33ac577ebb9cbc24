//! The HTML surface: connect page, nodes page, escaping of strangers' text, saved
//! connections, the live stream, cross-site refusal.

use meshdeck::proto::{pb, Message, BROADCAST};
use scraper::{Html, Selector};
use serde_json::json;

use crate::helpers::*;

fn select_texts(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

#[tokio::test]
async fn the_connect_form_connects_and_the_nodes_page_lists_the_mesh() {
    let app = spawn_app().await;
    let radio = app.radio(quiet(0, 30)).await;
    let a = app.browser();
    let (code, html) = a.get_html("/").await;
    assert_eq!(code, 200);
    assert_eq!(select_texts(&html, "form#connect-form button").len(), 1);
    let r = a
        .post("/connect")
        .form(&[
            ("host", "127.0.0.1"),
            ("port", &radio.addr().port().to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/nodes");
    let (code, html) = a.get_html("/nodes").await;
    assert_eq!(code, 200);
    let rows = select_texts(&html, "table.nodes tbody tr");
    assert_eq!(rows.len(), 29);
    // The stream's extension and notify.js come with the stream only.
    let scripts = |html: &str| {
        let doc = Html::parse_document(html);
        let sel = Selector::parse("script[src]").unwrap();
        doc.select(&sel)
            .filter_map(|s| s.value().attr("src").map(str::to_string))
            .collect::<Vec<_>>()
    };
    let live = scripts(&html);
    assert!(
        live.iter().any(|s| s.contains("htmx-ext-sse"))
            && live.iter().any(|s| s.contains("notify.js")),
        "{live:?}"
    );
    let (_, first) = app.browser().get_html("/").await;
    let first = scripts(&first);
    assert!(first.iter().any(|s| s.contains("/htmx-")), "{first:?}");
    assert!(
        !first
            .iter()
            .any(|s| s.contains("htmx-ext-sse") || s.contains("notify.js")),
        "a visitor with no radio loads no stream code: {first:?}"
    );
    let cards = select_texts(&html, ".cards .card-title");
    assert!(cards.iter().any(|c| c == "Total nodes"), "{cards:?}");
    // HTMX asks for the fragment only.
    let frag = a.hx_get("/nodes?filter=mqtt").await.text().await.unwrap();
    assert!(!frag.contains("<html"));
    let mqtt = radio
        .nodes()
        .iter()
        .filter(|n| n.via_mqtt && n.num != radio.my_node_num())
        .count();
    assert_eq!(select_texts(&frag, "tbody tr").len(), mqtt);
}

#[tokio::test]
async fn hostile_names_from_the_mesh_render_escaped_and_intact() {
    let app = spawn_app().await;
    let (radio, a) = app.connected(quiet(0, 5)).await;
    let evil = "<script>alert(1)</script> \"quoted\" 'single' مرحبا 📡";
    let user = pb::User {
        id: "!0badc0de".into(),
        long_name: evil.into(),
        short_name: "<i>".into(),
        ..Default::default()
    };
    let port = pb::PortNum::NodeinfoApp;
    radio.inject(pb::MeshPacket {
        hop_start: 3,
        hop_limit: 3,
        ..heard(0x0badc0de, BROADCAST, 77, port, user.encode_to_vec())
    });
    let found = within(ms(2500), async || {
        let (_, html) = a.get_html("/nodes").await;
        if !html.contains("0badc0de") {
            return false;
        }
        assert!(!html.contains("<script>alert(1)"), "unescaped script");
        let names = select_texts(&html, "table.nodes tbody td a");
        assert!(names.iter().any(|n| n == evil), "{names:?}");
        true
    })
    .await
    .is_some();
    assert!(found, "the injected node never showed");
    let (_, html) = a.get_html("/packets").await;
    assert!(!html.contains("<script>alert(1)"));
    let nodes = a.nodes("all").await;
    assert!(
        nodes.iter().any(|n| n["longName"] == evil),
        "JSON keeps the text intact"
    );
}

#[tokio::test]
async fn saved_connections_are_per_browser() {
    let app = spawn_app().await;
    let (a, b) = (app.browser(), app.browser());
    let form = [
        ("name", "Club <radio>"),
        ("host", "192.168.77.5"),
        ("port", "4403"),
    ];
    let r = a.hx_post("/connections", &form).await;
    assert_eq!(r.status(), 200);
    let frag = r.text().await.unwrap();
    assert!(frag.contains("Club &lt;radio&gt;"));
    let (_, page_a) = a.get_html("/").await;
    let (_, page_b) = b.get_html("/").await;
    assert!(page_a.contains("192.168.77.5"));
    assert!(
        !page_b.contains("192.168.77.5"),
        "another browser saw a saved connection"
    );
    let form = [("name", "x"), ("host", "bad host!"), ("port", "4403")];
    let r = a.hx_post("/connections", &form).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_live_stream_pushes_status_and_packets() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(live(10, 10.0)).await;
    // One stream per tab: every stream carries the status bar; a dashboard tab's has no
    // packet rows, a packet log's adds the rows (all, or one port's), a conversation's adds
    // its messages only.
    let read = async |path: &str, want: &[&str]| {
        let mut r = a.events(path).await;
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        read_until_all(&mut r, want, secs(8)).await
    };
    let (dash, log, texts, convo) = tokio::join!(
        read("/events", &["statusbar"]),
        read("/events?port=all", &["event: packet", "event: status"]),
        read("/events?port=TEXT_MESSAGE_APP", &["event: packet"]),
        read("/events?convo=ch:0", &["event: msg-ch:0", "statusbar"])
    );
    assert!(
        !convo.contains("event: packet")
            && convo.contains("statusbar")
            && !convo.contains("event: msg-ch:1"),
        "{convo}"
    );
    assert!(
        !dash.contains("event: packet"),
        "a dashboard tab got packet rows"
    );
    assert!(log.contains("event: status") && log.contains("statusbar"));
    let ports: Vec<&str> = texts
        .match_indices("data-port=\"")
        .map(|(i, _)| &texts[i + 11..i + 11 + 16])
        .collect();
    assert!(
        ports.iter().all(|p| p.starts_with("TEXT_MESSAGE_APP")),
        "{ports:?}"
    );
    let metrics = a.get_html("/metrics").await.1;
    assert!(
        metrics.contains("# TYPE meshdeck_sse_clients gauge"),
        "{metrics}"
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused_before_reaching_the_radio() {
    let app = spawn_app().await;
    let radio = app.radio(quiet(0, 5)).await;
    let a = app.browser();
    let body = json!({"host": "127.0.0.1", "port": radio.addr().port()});
    for (header, value) in [
        ("Sec-Fetch-Site", "cross-site"),
        ("Origin", "http://evil.example"),
    ] {
        let r = a.post("/api/connect").header(header, value).json(&body);
        assert_eq!(r.send().await.unwrap().status(), 403);
    }
    let r = a
        .post("/api/connect")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("host=127.0.0.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(radio.connections_accepted(), 0);
    let r = a.get("/").send().await.unwrap();
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

#[tokio::test]
async fn assets_come_gzipped_once_cached_and_revalidated() {
    use std::io::Read;
    let app = spawn_app().await;
    let a = app.browser();
    let url = a.url("/assets/vendor/htmx-2.0.8.min.js");
    let original = std::fs::read("assets/vendor/htmx-2.0.8.min.js").unwrap();
    let r = a
        .http
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "accept-encoding");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let gz = r.bytes().await.unwrap();
    assert!(gz.len() < original.len() / 2, "{} bytes", gz.len());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, original);
    // Without gzip the file itself, with a validator of its own.
    let plain = a.http.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_ne!(plain.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(plain.bytes().await.unwrap(), original);
    // With the validator of what the browser holds: nothing at all.
    let again = a
        .http
        .get(&url)
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // Security headers cover assets too.
    assert_eq!(again.headers()["x-content-type-options"], "nosniff");
    assert!(again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    assert!(again.bytes().await.unwrap().is_empty());
    for path in [
        "/assets/nope.js",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/vendor%2f..%2f..%2fCargo.toml",
        "/assets/vendor/",
    ] {
        assert_eq!(a.get_html(path).await.0, 404, "{path}");
    }
}

#[tokio::test]
async fn every_page_opens_exactly_one_stream_with_what_it_shows() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(quiet(0, 5)).await;
    for (path, stream) in [
        ("/nodes", "/events"),
        ("/traceroute", "/events?bar=line"),
        ("/packets", "/events?port=all&bar=line"),
        (
            "/packets?port=TEXT_MESSAGE_APP",
            "/events?port=TEXT_MESSAGE_APP&bar=line",
        ),
        ("/messages", "/events?convo=ch:0&bar=line"),
        ("/settings", "/events?bar=line"),
        ("/automation", "/events?bar=line"),
    ] {
        let (code, html) = a.get_html(path).await;
        assert_eq!(code, 200, "{path}");
        let doc = Html::parse_document(&html);
        let sel = Selector::parse("[sse-connect]").unwrap();
        let urls: Vec<&str> = doc
            .select(&sel)
            .filter_map(|e| e.value().attr("sse-connect"))
            .collect();
        assert_eq!(urls, vec![stream], "{path}");
    }
}

#[tokio::test]
async fn the_nodes_page_shows_the_cards_and_the_others_one_live_line() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(live(10, 10.0)).await;
    let (_, html) = a.get_html("/nodes").await;
    assert!(select_texts(&html, "#status .statusbar.line").is_empty());
    let cards = select_texts(&html, "#status .cards .card-value");
    // The second card counts the nodes; the line says the same.
    let nodes = format!("{} nodes", cards[1]);
    for path in [
        "/messages",
        "/packets",
        "/traceroute",
        "/settings",
        "/automation",
    ] {
        let (code, html) = a.get_html(path).await;
        assert_eq!(code, 200, "{path}");
        assert!(select_texts(&html, "#status .cards").is_empty(), "{path}");
        let line = select_texts(&html, "#status .statusbar.line");
        assert_eq!(line.len(), 1, "{path}");
        assert!(
            line[0].contains("connected") && line[0].contains(&nodes),
            "{path}: {line:?}"
        );
        let doc = Html::parse_document(&html);
        let poll = Selector::parse("#status[hx-get='/status?bar=line']").unwrap();
        assert_eq!(doc.select(&poll).count(), 1, "{path}");
    }
    // The line's own URL and its live stream keep it a line; the plain ones stay full.
    let line = a.hx_get("/status?bar=line").await.text().await.unwrap();
    assert!(
        line.contains("statusbar line") && !line.contains("card"),
        "{line}"
    );
    let full = a.hx_get("/status").await.text().await.unwrap();
    assert!(full.contains("class=\"cards\""), "{full}");
    let mut r = a.events("/events?port=all&bar=line").await;
    let got = read_until(&mut r, "statusbar", secs(8)).await;
    assert!(
        got.contains("statusbar line") && !got.contains("class=\"cards\""),
        "{got}"
    );
}

#[tokio::test]
async fn the_packet_log_page_shows_the_newest_hundred_and_all_on_request() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(live(20, 200.0)).await;
    let rows = |html: &str| select_texts(html, "#packet-rows tr").len();
    let (mut page, mut total) = (String::new(), 0);
    within(secs(15), async || {
        let (code, html) = a.get_html("/packets").await;
        assert_eq!(code, 200);
        let more = select_texts(&html, "p.count a");
        // Until the log holds more than a page, every packet is shown and there is no link.
        assert!(rows(&html) <= 100);
        if rows(&html) < 100 {
            assert!(more.is_empty(), "{more:?}");
        }
        page = html;
        total = more
            .first()
            .map_or(0, |m| m.trim_start_matches("Show all ").parse().unwrap());
        total > 150
    })
    .await;
    assert!(total > 150, "only {total} packets logged");
    assert_eq!(rows(&page), 100);
    let (_, whole) = a.get_html("/packets?port=&all=1").await;
    assert!(rows(&whole) >= total, "{} < {total}", rows(&whole));
    assert!(select_texts(&whole, "p.count a").is_empty());
}

#[tokio::test]
async fn an_error_answer_to_an_htmx_part_lands_in_the_toast_area() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(quiet(0, 5)).await;
    // The packet filter selects `#app` from its answer; an error must still reach the toast.
    let r = a.hx_get("/packets?port=<script>").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["hx-retarget"], "#toast");
    assert_eq!(r.headers()["hx-reselect"], ".toast");
    let body = r.text().await.unwrap();
    assert_eq!(select_texts(&body, ".toast.error").len(), 1, "{body}");
    assert!(!body.contains("<script>"), "{body}");
}

#[tokio::test]
async fn a_live_stream_comes_gzipped_event_by_event_when_accepted() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(live(30, 20.0)).await;
    // Without gzip: the events as they are.
    let mut plain = a.events("/events?port=all").await;
    assert!(plain.headers().get("content-encoding").is_none());
    let text = read_until(&mut plain, "event: packet", secs(8)).await;
    assert!(text.contains("data: <tr"), "{text}");
    drop(plain);
    // With gzip: each chunk decodes, when it arrives, to whole events.
    let mut r = a
        .get("/events?port=all")
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut d = flate2::Decompress::new(false);
    let mut wire = 0usize;
    let mut text = String::new();
    let mut header = true;
    let end = tokio::time::Instant::now() + secs(10);
    while text.matches("event: packet").count() < 40 {
        let chunk = tokio::time::timeout_at(end, r.chunk())
            .await
            .expect("the stream went quiet")
            .unwrap()
            .unwrap();
        wire += chunk.len();
        let body = if header {
            header = false;
            assert_eq!(&chunk[..2], &[0x1f, 0x8b]);
            &chunk[10..]
        } else {
            &chunk[..]
        };
        let mut out = vec![0; 1 << 20];
        let before = d.total_out();
        d.decompress(body, &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        let got = String::from_utf8(out[..(d.total_out() - before) as usize].to_vec()).unwrap();
        assert!(
            got.ends_with("\n\n"),
            "a chunk ended inside an event: {got:?}"
        );
        text.push_str(&got);
    }
    assert!(text.contains("data: <tr"), "{text}");
    // The rows repeat their markup: a fraction of it goes on the wire.
    assert!(
        wire * 3 < text.len(),
        "{wire} bytes on the wire for {}",
        text.len()
    );
    let metrics = a.get_html("/metrics").await.1;
    assert!(
        metrics.contains("meshdeck_sse_bytes_sent_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn pages_come_gzipped_and_answers_under_a_kilobyte_come_as_they_are() {
    let app = spawn_app().await;
    let (_radio, a) = app.connected(quiet(0, 30)).await;
    // What Chromium asks for.
    let get = |path: &str| {
        a.get(path)
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .send()
    };
    let page = get("/nodes").await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-encoding"], "gzip");
    let z = page.bytes().await.unwrap();
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&z[..]), &mut html).unwrap();
    let plain = a.get("/nodes").send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("<table") && html.ends_with("</html>"),
        "{html}"
    );
    // The same page both ways, but for what changes from one render to the next.
    assert!(
        html.len().abs_diff(plain.len()) < 200,
        "{} and {}",
        html.len(),
        plain.len()
    );
    assert!(
        z.len() * 3 < html.len(),
        "{} bytes for {}",
        z.len(),
        html.len()
    );
    let status = get("/api/status").await.unwrap();
    assert_eq!(status.status(), 200);
    assert!(
        status.headers().get("content-encoding").is_none(),
        "{:?}",
        status.headers()
    );
    let body = status.bytes().await.unwrap();
    assert!(body.len() < 1024, "{} bytes", body.len());
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["connected"], true);
}
