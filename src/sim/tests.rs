//! The simulated radio against a raw client over real TCP: handshake order and nonces, one
//! client at a time, queue status per packet, rate limits, admin.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::proto::{self, pb, FrameDecoder, Message};

use pb::from_radio::PayloadVariant as Out;
use pb::to_radio::PayloadVariant as In;

struct Raw {
    s: TcpStream,
    d: FrameDecoder,
}

impl Raw {
    async fn connect(r: &SimRadio) -> Raw {
        Raw {
            s: TcpStream::connect(r.addr()).await.unwrap(),
            d: FrameDecoder::default(),
        }
    }

    async fn send(&mut self, v: In) {
        self.s
            .write_all(&proto::encode(&pb::ToRadio {
                payload_variant: Some(v),
            }))
            .await
            .unwrap();
    }

    /// Next message, or `None` on close or after `ms` of silence.
    async fn next(&mut self, ms: u64) -> Option<Out> {
        let mut buf = [0u8; 4096];
        loop {
            if let Some(f) = self.d.next_frame() {
                return pb::FromRadio::decode(f.as_slice()).ok()?.payload_variant;
            }
            let n = tokio::time::timeout(Duration::from_millis(ms), self.s.read(&mut buf))
                .await
                .ok()?
                .ok()?;
            if n == 0 {
                return None;
            }
            self.d.push(&buf[..n]);
        }
    }

    /// Everything up to and including `config_complete_id`.
    async fn handshake(&mut self, nonce: u32) -> Vec<Out> {
        self.send(In::WantConfigId(nonce)).await;
        let mut out = Vec::new();
        while let Some(m) = self.next(2000).await {
            let done = matches!(m, Out::ConfigCompleteId(n) if n == nonce);
            out.push(m);
            if done {
                return out;
            }
        }
        panic!("no config_complete_id");
    }
}

fn quiet(nodes: usize) -> SimConfig {
    SimConfig {
        nodes,
        rate: 0.0,
        text_interval: Duration::from_millis(300),
        ..SimConfig::default()
    }
}

#[test]
fn the_mesh_is_deterministic_per_seed_and_index_and_scales() {
    let a = generate_mesh(250, 1, 0);
    let b = generate_mesh(250, 1, 0);
    let c = generate_mesh(250, 1, 1);
    assert_eq!(a.nodes.len(), 250);
    assert_eq!(
        a.nodes.iter().map(|n| n.num).collect::<Vec<_>>(),
        b.nodes.iter().map(|n| n.num).collect::<Vec<_>>()
    );
    assert_eq!(a.nodes[5].user, b.nodes[5].user);
    let nums: std::collections::HashSet<u32> = a.nodes.iter().map(|n| n.num).collect();
    assert!(
        c.nodes.iter().all(|n| !nums.contains(&n.num)),
        "two radios share a node number"
    );
    assert_eq!(generate_mesh(2000, 3, 0).nodes.len(), 2000);
}

#[tokio::test]
async fn the_handshake_sends_everything_in_order_and_honours_the_special_nonces() {
    let r = SimRadio::bind("127.0.0.1:0", quiet(20)).await.unwrap();
    let mut c = Raw::connect(&r).await;
    // Wake bytes before the first frame are skipped, as firmware does.
    c.s.write_all(&[proto::START2; 32]).await.unwrap();
    let all = c.handshake(4242).await;
    assert!(matches!(all[0], Out::MyInfo(ref m) if m.my_node_num == r.my_node_num()));
    let count = |f: fn(&Out) -> bool| all.iter().filter(|m| f(m)).count();
    assert_eq!(count(|m| matches!(m, Out::NodeInfo(_))), 20);
    assert_eq!(count(|m| matches!(m, Out::Channel(_))), 8);
    assert_eq!(count(|m| matches!(m, Out::Config(_))), 8);
    assert_eq!(count(|m| matches!(m, Out::ModuleConfig(_))), 13);
    let config_only = c.handshake(69420).await;
    assert!(!config_only.iter().any(|m| matches!(m, Out::NodeInfo(_))));
    assert!(config_only.iter().any(|m| matches!(m, Out::Config(_))));
    let nodes_only = c.handshake(69421).await;
    assert_eq!(
        nodes_only
            .iter()
            .filter(|m| matches!(m, Out::NodeInfo(_)))
            .count(),
        20
    );
    assert!(!nodes_only
        .iter()
        .any(|m| matches!(m, Out::Config(_) | Out::Channel(_))));
}

#[tokio::test]
async fn a_new_client_force_closes_the_previous_one() {
    let r = SimRadio::bind("127.0.0.1:0", quiet(5)).await.unwrap();
    let mut first = Raw::connect(&r).await;
    first.handshake(1000).await;
    let mut second = Raw::connect(&r).await;
    second.handshake(1001).await;
    assert_eq!(
        first.next(2000).await.map(|_| ()),
        None,
        "the first client was not closed"
    );
    assert_eq!(r.connections_accepted(), 2);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.connections_open(), 1);
}

#[tokio::test]
async fn packets_get_queue_status_texts_are_acked_and_rate_limited() {
    let r = SimRadio::bind("127.0.0.1:0", quiet(5)).await.unwrap();
    let mut c = Raw::connect(&r).await;
    c.handshake(7).await;
    let text = |id: u32| pb::MeshPacket {
        to: proto::BROADCAST,
        id,
        want_ack: true,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::TextMessageApp as i32,
            payload: b"hi".to_vec(),
            ..Default::default()
        })),
        ..Default::default()
    };
    c.send(In::Packet(text(11))).await;
    c.send(In::Packet(text(12))).await; // too soon
    let mut queue = Vec::new();
    let mut routing = Vec::new();
    while let Some(m) = c.next(600).await {
        match m {
            Out::QueueStatus(q) => queue.push(q.mesh_packet_id),
            Out::Packet(p) => {
                if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = p.payload_variant {
                    if let Ok(pb::Routing {
                        variant: Some(pb::routing::Variant::ErrorReason(e)),
                    }) = pb::Routing::decode(d.payload.as_slice())
                    {
                        routing.push((d.request_id, e));
                    }
                }
            }
            _ => {}
        }
    }
    assert_eq!(queue, vec![11, 12]);
    routing.sort();
    assert_eq!(
        routing,
        vec![(11, 0), (12, pb::routing::Error::RateLimitExceeded as i32)]
    );
    let log = r.requests();
    let rejected: Vec<bool> = log
        .iter()
        .filter(|q| matches!(q.to_radio.payload_variant, Some(In::Packet(_))))
        .map(|q| q.rejected.is_some())
        .collect();
    assert_eq!(rejected, vec![false, true]);
    c.send(In::Heartbeat(pb::Heartbeat::default())).await;
    assert!(matches!(c.next(1000).await, Some(Out::QueueStatus(_))));
}

#[tokio::test]
async fn admin_get_and_set_module_config_work_like_firmware() {
    let r = SimRadio::bind(
        "127.0.0.1:0",
        SimConfig {
            reboot_delay: Duration::from_millis(300),
            ..quiet(5)
        },
    )
    .await
    .unwrap();
    let mut c = Raw::connect(&r).await;
    c.handshake(8).await;
    let admin = |id: u32, v: pb::admin_message::PayloadVariant| pb::MeshPacket {
        to: r.my_node_num(),
        id,
        payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data {
            portnum: pb::PortNum::AdminApp as i32,
            payload: pb::AdminMessage {
                payload_variant: Some(v),
                ..Default::default()
            }
            .encode_to_vec(),
            want_response: true,
            ..Default::default()
        })),
        ..Default::default()
    };
    use pb::admin_message::PayloadVariant as A;
    c.send(In::Packet(admin(21, A::GetModuleConfigRequest(0))))
        .await;
    let mut got = None;
    while let Some(m) = c.next(500).await {
        if let Out::Packet(p) = m {
            if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = p.payload_variant {
                if d.request_id == 21 {
                    got = pb::AdminMessage::decode(d.payload.as_slice()).ok();
                }
            }
        }
    }
    let Some(pb::AdminMessage {
        payload_variant: Some(A::GetModuleConfigResponse(m)),
        ..
    }) = got
    else {
        panic!("no response")
    };
    assert!(
        matches!(m.payload_variant, Some(pb::module_config::PayloadVariant::Mqtt(ref q)) if q.root == "msh/EU_868")
    );
    let mqtt = pb::module_config::MqttConfig {
        root: "msh/test".into(),
        ..Default::default()
    };
    c.send(In::Packet(admin(22, A::BeginEditSettings(true))))
        .await;
    c.send(In::Packet(admin(
        23,
        A::SetModuleConfig(pb::ModuleConfig {
            payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(mqtt)),
        }),
    )))
    .await;
    c.send(In::Packet(admin(24, A::CommitEditSettings(true))))
        .await;
    // The commit reboots the radio: the link drops, and it comes back after the delay.
    while c.next(2000).await.is_some() {}
    assert_eq!(r.module_config().mqtt.unwrap().root, "msh/test");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut again = Raw::connect(&r).await;
    again.handshake(9).await;
}

#[tokio::test]
async fn garbage_bytes_and_truncated_frames_never_break_the_radio() {
    let r = SimRadio::bind("127.0.0.1:0", quiet(5)).await.unwrap();
    let mut c = Raw::connect(&r).await;
    c.s.write_all(&[0x94, 0xC3, 0x7F, 0xFF, 1, 2, 3])
        .await
        .unwrap();
    c.s.write_all(&proto::frame(&[0x0A, 0xFF, 0x01]))
        .await
        .unwrap();
    c.s.write_all(b"random junk \x00\xff").await.unwrap();
    c.handshake(10).await;
}
