//! The virtual node: a kept radio's virtual port serves the firmware's client API from
//! meshdeck, over real TCP with the firmware's framing, while meshdeck alone holds the radio.

use std::collections::BTreeSet;
use std::time::Duration;

use meshdeck::proto::{self, pb, FrameDecoder, Message};
use meshdeck::sim::SimRadio;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

use pb::from_radio::PayloadVariant as Out;
use pb::to_radio::PayloadVariant as In;

/// A client of the virtual node speaking the stream protocol.
struct VClient {
    stream: TcpStream,
    decoder: FrameDecoder,
}

impl VClient {
    /// Connects to the virtual port once it listens.
    async fn connect(port: u16) -> VClient {
        let stream = eventually(secs(5), "the virtual node listens", async || {
            TcpStream::connect(("127.0.0.1", port)).await
        })
        .await;
        VClient {
            stream,
            decoder: FrameDecoder::default(),
        }
    }

    async fn send(&mut self, v: In) {
        let msg = pb::ToRadio {
            payload_variant: Some(v),
        };
        self.stream.write_all(&proto::encode(&msg)).await.unwrap();
    }

    /// The next message, or `None` after `timeout`.
    async fn next(&mut self, timeout: Duration) -> Option<Out> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(f) = self.decoder.next_frame() {
                if let Ok(m) = pb::FromRadio::decode(f.as_slice()) {
                    if let Some(v) = m.payload_variant {
                        return Some(v);
                    }
                }
                continue;
            }
            let read =
                tokio::time::timeout_at(deadline, self.stream.read_buf(self.decoder.read_buffer()))
                    .await;
            match read {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
        }
    }

    /// Messages until one `done` says is the last (included); panics after `timeout`.
    async fn until(&mut self, timeout: Duration, done: impl Fn(&Out) -> bool) -> Vec<Out> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(m) = self.next(left).await else {
                panic!("timed out; got {} messages: {:?}", got.len(), got.last());
            };
            let last = done(&m);
            got.push(m);
            if last {
                return got;
            }
        }
    }

    /// The config download for `nonce`, up to and with `config_complete_id`.
    async fn config(&mut self, nonce: u32) -> Vec<Out> {
        self.send(In::WantConfigId(nonce)).await;
        self.until(
            secs(5),
            |m| matches!(m, Out::ConfigCompleteId(n) if *n == nonce),
        )
        .await
    }

    async fn send_packet(&mut self, p: pb::MeshPacket) {
        self.send(In::Packet(p)).await;
    }

    /// Waits for a text packet saying `text`.
    async fn text(&mut self, text: &str) -> pb::MeshPacket {
        let got = self
            .until(
                secs(5),
                |m| matches!(m, Out::Packet(p) if packet_text(p) == Some(text.to_string())),
            )
            .await;
        match got.last() {
            Some(Out::Packet(p)) => p.clone(),
            _ => unreachable!(),
        }
    }
}

fn packet_text(p: &pb::MeshPacket) -> Option<String> {
    match &p.payload_variant {
        Some(pb::mesh_packet::PayloadVariant::Decoded(d))
            if d.portnum == pb::PortNum::TextMessageApp as i32 =>
        {
            Some(String::from_utf8_lossy(&d.payload).into_owned())
        }
        _ => None,
    }
}

/// A text packet as the official client builds one (from 0, its own id).
fn client_text(id: u32, to: u32, text: &str) -> pb::MeshPacket {
    pb::MeshPacket {
        want_ack: true,
        ..heard_text(0, to, id, text)
    }
}

/// A free loopback port.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An app, a quiet radio of `nodes` nodes kept with a virtual port, and that port.
async fn kept_with_vnode(nodes: usize, extra: Value) -> (TestApp, SimRadio, Browser, u16) {
    let app = spawn_app_with(|c| c.text_interval_ms = 200).await;
    let radio = app
        .radio(meshdeck::sim::SimConfig {
            text_interval: ms(100),
            ..quiet(0, nodes)
        })
        .await;
    let b = app.browser();
    let port = free_port();
    let mut body = json!({"name": "Home", "host": "127.0.0.1", "port": radio.addr().port(),
        "auto_connect": true, "virtual_port": port});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (code, res) = b.post_json("/api/sessions/create", body).await;
    assert_eq!(code, 200, "{res}");
    (app, radio, b, port)
}

/// The radio's config requests (meshdeck's handshakes).
fn config_requests(radio: &SimRadio) -> usize {
    radio
        .requests()
        .iter()
        .filter(|r| matches!(r.to_radio.payload_variant, Some(In::WantConfigId(_))))
        .count()
}

fn node_nums(msgs: &[Out]) -> BTreeSet<u32> {
    msgs.iter()
        .filter_map(|m| match m {
            Out::NodeInfo(n) => Some(n.num),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_client_downloads_the_radios_identity_and_node_db_from_the_cache() {
    let (_app, radio, b, port) = kept_with_vnode(40, json!({})).await;
    let mut c = VClient::connect(port).await;
    let msgs = c.config(1234).await;
    assert!(
        matches!(&msgs[0], Out::MyInfo(i) if i.my_node_num == radio.my_node_num()),
        "{:?}",
        msgs[0]
    );
    assert!(matches!(&msgs[1], Out::NodeInfo(n) if n.num == radio.my_node_num()));
    let want: BTreeSet<u32> = radio.nodes().iter().map(|n| n.num).collect();
    assert_eq!(node_nums(&msgs), want);
    for n in radio.nodes() {
        let got = msgs.iter().find_map(|m| match m {
            Out::NodeInfo(g) if g.num == n.num => Some(g),
            _ => None,
        });
        let (gu, wu) = (got.unwrap().user.clone().unwrap(), n.user.clone().unwrap());
        assert_eq!((gu.long_name, gu.short_name), (wu.long_name, wu.short_name));
        assert_eq!(gu.id, proto::node_id(n.num));
    }
    let channels = msgs.iter().filter(|m| matches!(m, Out::Channel(_))).count();
    assert_eq!(channels, radio.channels().len());
    let configs = msgs.iter().filter(|m| matches!(m, Out::Config(_))).count();
    assert_eq!(configs, proto::config_parts(&radio.local_config()).len());
    let modules = msgs
        .iter()
        .filter(|m| matches!(m, Out::ModuleConfig(_)))
        .count();
    assert_eq!(modules, proto::module_parts(&radio.module_config()).len());
    assert!(msgs.iter().any(|m| matches!(m, Out::Metadata(_))));
    // The config only, and the node DB only, as firmware answers those nonces.
    let config_only = c.config(proto::CONFIG_ONLY).await;
    assert_eq!(
        node_nums(&config_only),
        BTreeSet::from([radio.my_node_num()])
    );
    assert!(config_only.iter().any(|m| matches!(m, Out::Channel(_))));
    let nodes_only = c.config(proto::NODES_ONLY).await;
    assert_eq!(node_nums(&nodes_only), want);
    assert!(!nodes_only
        .iter()
        .any(|m| matches!(m, Out::Channel(_) | Out::Config(_) | Out::Metadata(_))));
    // Nothing was asked of the radio again, over one connection.
    assert_eq!(config_requests(&radio), 1);
    assert_eq!(radio.connections_accepted(), 1);
    let (_, list) = b.get_json("/api/sessions").await;
    let k = &list["sessions"][0];
    assert_eq!(
        (
            k["virtual_port"].clone(),
            k["virtual_admin"].clone(),
            k["virtual_listening"].clone()
        ),
        (json!(port), json!(false), json!(true))
    );
}

#[tokio::test]
async fn a_heartbeat_is_answered_with_the_queue_status() {
    let (_app, _radio, _b, port) = kept_with_vnode(5, json!({})).await;
    let mut c = VClient::connect(port).await;
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    let got = c.until(secs(5), |m| matches!(m, Out::QueueStatus(_))).await;
    assert!(
        matches!(got.last(), Some(Out::QueueStatus(q)) if q.mesh_packet_id == 0 && q.maxlen == 16)
    );
}

#[tokio::test]
async fn a_text_from_a_client_reaches_the_radio_once_over_meshdecks_link_and_shows_in_history() {
    let (_app, radio, _b, port) = kept_with_vnode(10, json!({})).await;
    let mut c = VClient::connect(port).await;
    c.config(7).await;
    let id = 0x1234_5678;
    c.send_packet(client_text(id, proto::BROADCAST, "from the phone"))
        .await;
    let got = c
        .until(
            secs(5),
            |m| matches!(m, Out::QueueStatus(q) if q.mesh_packet_id == id),
        )
        .await;
    assert!(matches!(got.last(), Some(Out::QueueStatus(q)) if q.res == 0));
    // The radio's ack reaches the client that sent it.
    let ack = c
        .until(secs(5), |m| {
            matches!(m, Out::Packet(p) if matches!(&p.payload_variant,
                Some(pb::mesh_packet::PayloadVariant::Decoded(d)) if d.request_id == id))
        })
        .await;
    assert!(!ack.is_empty());
    eventually(secs(5), "the text reaches the radio", async || {
        sent_texts(&radio).iter().any(|t| t.2 == "from the phone")
    })
    .await;
    tokio::time::sleep(ms(400)).await;
    let sent: Vec<pb::MeshPacket> = radio
        .requests()
        .into_iter()
        .filter_map(|r| match r.to_radio.payload_variant {
            Some(In::Packet(p)) if packet_text(&p).as_deref() == Some("from the phone") => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].id, sent[0].from), (id, radio.my_node_num()));
    assert_eq!(radio.connections_accepted(), 1);
    // meshdeck's history has it, as a text sent from this radio.
    let viewer = _app.browser();
    assert_eq!(viewer.connect(&radio).await.0, 200);
    let m = eventually(secs(5), "the text in /api/messages", async || {
        let m = viewer.message(u64::from(id)).await;
        (!m.is_null()).then_some(m)
    })
    .await;
    assert_eq!(m["text"], json!("from the phone"), "{m}");
    assert_eq!(radio.connections_accepted(), 1);
}

#[tokio::test]
async fn texts_from_the_mesh_reach_every_client_and_two_clients_share_one_radio_connection() {
    let (_app, radio, _b, port) = kept_with_vnode(10, json!({})).await;
    let mut a = VClient::connect(port).await;
    let mut b = VClient::connect(port).await;
    a.config(1).await;
    b.config(2).await;
    let from = peers(&radio)[0];
    radio.inject(heard_text(from, proto::BROADCAST, 777, "hello mesh"));
    let pa = a.text("hello mesh").await;
    let pb_ = b.text("hello mesh").await;
    assert_eq!((pa.from, pa.id, pb_.id), (from, 777, 777));
    // Each client's texts go out through the one link, one after the other.
    a.send_packet(client_text(11, proto::BROADCAST, "from a"))
        .await;
    b.send_packet(client_text(22, proto::BROADCAST, "from b"))
        .await;
    eventually(secs(5), "both texts reach the radio", async || {
        let texts: Vec<String> = sent_texts(&radio).into_iter().map(|t| t.2).collect();
        texts.contains(&"from a".to_string()) && texts.contains(&"from b".to_string())
    })
    .await;
    assert_eq!(radio.connections_accepted(), 1);
    assert_eq!(config_requests(&radio), 1);
}

fn admin_packet(id: u32, to: u32) -> pb::MeshPacket {
    let admin = pb::AdminMessage {
        payload_variant: Some(pb::admin_message::PayloadVariant::GetOwnerRequest(true)),
        ..Default::default()
    };
    pb::MeshPacket {
        want_ack: true,
        ..heard(0, to, id, pb::PortNum::AdminApp, admin.encode_to_vec())
    }
}

fn routing_error_for(m: &Out, id: u32) -> Option<i32> {
    let Out::Packet(p) = m else { return None };
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    if d.portnum != pb::PortNum::RoutingApp as i32 || d.request_id != id {
        return None;
    }
    match pb::Routing::decode(d.payload.as_slice()).ok()?.variant? {
        pb::routing::Variant::ErrorReason(e) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn an_admin_message_is_refused_by_default_and_never_reaches_the_radio() {
    let (_app, radio, b, port) = kept_with_vnode(5, json!({})).await;
    let me = radio.my_node_num();
    let mut c = VClient::connect(port).await;
    c.config(3).await;
    c.send_packet(admin_packet(901, me)).await;
    let got = c
        .until(secs(5), |m| routing_error_for(m, 901).is_some())
        .await;
    assert_eq!(
        got.last().and_then(|m| routing_error_for(m, 901)),
        Some(pb::routing::Error::NotAuthorized as i32)
    );
    tokio::time::sleep(ms(300)).await;
    assert!(admin_requests(&radio).is_empty());
    // Allowed, it goes to the radio and its answer comes back.
    let (code, res) = b
        .post_json("/api/sessions/Home/update", json!({"virtual_admin": true}))
        .await;
    assert_eq!(code, 200, "{res}");
    eventually(secs(3), "the virtual node allows admin", async || {
        let (_, l) = b.get_json("/api/sessions").await;
        l["sessions"][0]["virtual_admin"] == json!(true)
    })
    .await;
    tokio::time::sleep(ms(300)).await;
    c.send_packet(admin_packet(902, me)).await;
    eventually(secs(5), "the admin message reaches the radio", async || {
        admin_requests(&radio).len() == 1
    })
    .await;
    let answer = c
        .until(secs(5), |m| {
            matches!(m, Out::Packet(p) if matches!(&p.payload_variant,
            Some(pb::mesh_packet::PayloadVariant::Decoded(d))
                if d.portnum == pb::PortNum::AdminApp as i32 && d.request_id == 902))
        })
        .await;
    assert!(!answer.is_empty());
}

/// A client that asks for the config and then never reads, with a small receive buffer.
async fn stalled_client(port: u16) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let hello = pb::ToRadio {
        payload_variant: Some(In::WantConfigId(5)),
    };
    stalled.write_all(&proto::encode(&hello)).await.unwrap();
    stalled
}

#[tokio::test]
async fn a_stalled_client_does_not_block_the_link_or_another_client() {
    let (_app, radio, b, port) = kept_with_vnode(10, json!({})).await;
    let mut good = VClient::connect(port).await;
    good.config(6).await;
    let stalled = stalled_client(port).await;
    let from = peers(&radio)[0];
    let filler = "x".repeat(200);
    for i in 0..300u32 {
        radio.inject(heard_text(from, proto::BROADCAST, 10_000 + i, &filler));
    }
    radio.inject(heard_text(from, proto::BROADCAST, 99, "last one"));
    let got = good
        .until(secs(10), |m| matches!(m, Out::Packet(p) if p.id == 99))
        .await;
    let fillers = got
        .iter()
        .filter(|m| matches!(m, Out::Packet(p) if p.id >= 10_000))
        .count();
    assert_eq!(fillers, 300);
    // meshdeck's own view of the radio kept up too.
    let viewer = b;
    assert_eq!(viewer.connect(&radio).await.0, 200);
    eventually(secs(5), "the last text in history", async || {
        !viewer.message(99).await.is_null()
    })
    .await;
    drop(stalled);
}

#[tokio::test]
async fn a_virtual_port_is_checked_and_can_be_removed() {
    let (_app, radio, b, port) = kept_with_vnode(5, json!({})).await;
    let _c = VClient::connect(port).await;
    for bad in [json!(0), json!(70000), json!("abc"), json!(true)] {
        let (code, res) = b
            .post_json("/api/sessions/Home/update", json!({"virtual_port": bad}))
            .await;
        assert_eq!(code, 400, "{bad}: {res}");
    }
    let body = json!({"name": "Other", "host": "127.0.0.1", "port": radio.addr().port(), "virtual_port": port});
    let (code, res) = b.post_json("/api/sessions/create", body).await;
    assert_eq!(code, 400, "{res}");
    let (code, _) = b
        .post_json("/api/sessions/Home/update", json!({"virtual_port": null}))
        .await;
    assert_eq!(code, 200);
    eventually(secs(3), "the virtual node stops listening", async || {
        TcpStream::connect(("127.0.0.1", port)).await.is_err()
    })
    .await;
    let (_, l) = b.get_json("/api/sessions").await;
    assert_eq!(l["sessions"][0]["virtual_port"], Value::Null);
}

#[tokio::test]
async fn junk_oversize_headers_and_bad_frames_from_a_client_are_dropped() {
    let (_app, radio, _b, port) = kept_with_vnode(5, json!({})).await;
    let mut c = VClient::connect(port).await;
    let mut junk = vec![proto::START2; 32];
    junk.extend_from_slice(&[proto::START1, proto::START2, 0x7F, 0xFF]);
    junk.extend_from_slice(&proto::frame(&[0x12, 0x40, 0x01]));
    junk.extend_from_slice(b"\x00\xffnoise");
    c.stream.write_all(&junk).await.unwrap();
    let msgs = c.config(77).await;
    assert!(matches!(&msgs[0], Out::MyInfo(i) if i.my_node_num == radio.my_node_num()));
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    c.until(secs(5), |m| matches!(m, Out::QueueStatus(_))).await;
}

#[tokio::test]
async fn the_radios_page_sets_a_virtual_port() {
    let app = spawn_app().await;
    let radio = app.radio(quiet(0, 5)).await;
    let b = app.browser();
    let port = free_port().to_string();
    let radio_port = radio.addr().port().to_string();
    let form = [
        ("name", "Form"),
        ("host", "127.0.0.1"),
        ("port", radio_port.as_str()),
        ("auto_connect", "1"),
        ("virtual_port", port.as_str()),
    ];
    let res = b.hx_post("/radios/create", &form).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("virtual node :{port}")), "{html}");
    let mut c = VClient::connect(port.parse().unwrap()).await;
    c.config(1).await;
    let res = b
        .hx_post(
            "/radios/Form/edit",
            &[("virtual_port", ""), ("virtual_admin", "1")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, l) = b.get_json("/api/sessions").await;
    let k = &l["sessions"][0];
    assert_eq!(
        (k["virtual_port"].clone(), k["virtual_admin"].clone()),
        (Value::Null, json!(true))
    );
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped() {
    let (_app, radio, _b, port) = kept_with_vnode(10, json!({})).await;
    let mut good = VClient::connect(port).await;
    good.config(6).await;
    let mut stalled = stalled_client(port).await;
    let from = peers(&radio)[0];
    let filler = "y".repeat(220);
    for i in 0..3000u32 {
        radio.inject(heard_text(from, proto::BROADCAST, 20_000 + i, &filler));
    }
    // The other client gets every one meanwhile.
    let got = good
        .until(secs(20), |m| matches!(m, Out::Packet(p) if p.id == 22_999))
        .await;
    assert_eq!(
        got.iter().filter(|m| matches!(m, Out::Packet(_))).count(),
        3000
    );
    // The stalled one was cut off: reading it now ends before the last packet.
    tokio::time::sleep(meshdeck::vnode::WRITE_TIMEOUT + secs(1)).await;
    let mut all = Vec::new();
    let read = tokio::time::timeout(secs(10), stalled.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the stalled client's socket was not closed");
    assert!(all.len() < 3000 * 240, "{} bytes", all.len());
}

#[tokio::test]
async fn the_virtual_node_listens_only_while_the_kept_radio_is_connected() {
    let (_app, _radio, b, port) = kept_with_vnode(5, json!({})).await;
    let mut c = VClient::connect(port).await;
    c.config(1).await;
    let (code, _) = b
        .post_json("/api/sessions/Home/disconnect", json!({}))
        .await;
    assert_eq!(code, 200);
    // Its clients are let go and the port closes.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(secs(3), c.stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the client was not let go");
    eventually(secs(3), "the port closes", async || {
        TcpStream::connect(("127.0.0.1", port)).await.is_err()
    })
    .await;
    let (code, _) = b.post_json("/api/sessions/Home/connect", json!({})).await;
    assert_eq!(code, 200);
    let mut again = VClient::connect(port).await;
    again.config(2).await;
}

#[tokio::test]
async fn a_notification_about_a_clients_packet_goes_to_that_client_only() {
    let (_app, radio, _b, port) = kept_with_vnode(5, json!({})).await;
    let mut a = VClient::connect(port).await;
    let mut b = VClient::connect(port).await;
    a.config(1).await;
    b.config(2).await;
    a.send_packet(client_text(4711, proto::BROADCAST, "mine"))
        .await;
    a.until(
        secs(5),
        |m| matches!(m, Out::QueueStatus(q) if q.mesh_packet_id == 4711),
    )
    .await;
    let note = |reply_id, message: &str| pb::ClientNotification {
        reply_id,
        message: message.into(),
        level: 30,
        ..Default::default()
    };
    radio.notify(note(Some(4711), "about a's packet"));
    radio.notify(note(None, "for everyone"));
    let is = |m: &Out, text: &str| matches!(m, Out::ClientNotification(n) if n.message == text);
    let got_a = a.until(secs(5), |m| is(m, "for everyone")).await;
    assert!(got_a.iter().any(|m| is(m, "about a's packet")));
    let got_b = b.until(secs(5), |m| is(m, "for everyone")).await;
    assert!(
        !got_b.iter().any(|m| is(m, "about a's packet")),
        "{got_b:?}"
    );
}

#[tokio::test]
async fn the_text_interval_holds_across_clients_and_meshdecks_own_sends() {
    let (app, radio, _b, port) = kept_with_vnode(5, json!({})).await;
    let mut a = VClient::connect(port).await;
    let mut b = VClient::connect(port).await;
    a.config(1).await;
    b.config(2).await;
    let page = app.browser();
    assert_eq!(page.connect(&radio).await.0, 200);
    for i in 0..3u32 {
        a.send_packet(client_text(100 + i, proto::BROADCAST, &format!("a{i}")))
            .await;
        b.send_packet(client_text(200 + i, proto::BROADCAST, &format!("b{i}")))
            .await;
        let (code, body) = page.send(json!({"text": format!("page{i}")})).await;
        assert_eq!(code, 200, "{body}");
    }
    let sent = eventually(secs(10), "nine texts reach the radio", async || {
        let t = taken(&radio, pb::PortNum::TextMessageApp);
        (t.len() >= 9).then_some(t)
    })
    .await;
    assert_eq!(sent.len(), 9);
    assert!(
        sent.iter().all(|t| !t.rejected),
        "the radio rejected a text"
    );
    // meshdeck's text interval here is 200 ms (the firmware's is 2 s). The radio notes a text
    // when its reader gets to it, so one gap may be short by what that reader was late for
    // the text before (tens of milliseconds on a busy machine); texts sent without the
    // interval come a few milliseconds apart, and the nine together take eight intervals.
    for gap in gaps(&sent) {
        assert!(gap >= ms(120), "two texts arrived {gap:?} apart");
    }
    let span = sent[8].at - sent[0].at;
    assert!(span >= ms(8 * 200 - 40), "nine texts within {span:?}");
}
