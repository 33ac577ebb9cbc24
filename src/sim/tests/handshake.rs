//! The config handshake: firmware's order, the special nonces, big node DBs.

use super::*;

/// A one-letter name per message kind, to compare orders at a glance.
fn kinds(msgs: &[Out]) -> String {
    msgs.iter()
        .map(|m| match m {
            Out::MyInfo(_) => 'I',
            Out::NodeInfo(_) => 'N',
            Out::Metadata(_) => 'M',
            Out::Channel(_) => 'C',
            Out::Config(_) => 'G',
            Out::ModuleConfig(_) => 'O',
            Out::ConfigCompleteId(_) => '.',
            _ => '?',
        })
        .collect()
}

/// Metadata, 8 channels, 8 config sections, 13 module sections.
fn config_kinds() -> String {
    format!("M{}{}{}", "C".repeat(8), "G".repeat(8), "O".repeat(13))
}

#[tokio::test]
async fn the_handshake_comes_in_firmware_order_and_ends_with_the_nonce() {
    let r = radio(quiet(20)).await;
    let mut c = Raw::connect(&r).await;
    // Wake bytes before the first frame are skipped, as firmware does.
    c.s.write_all(&[proto::START2; 32]).await.unwrap();
    let all = c.handshake(4242).await;
    assert_eq!(
        kinds(&all),
        format!("IN{}{}.", config_kinds(), "N".repeat(19))
    );
    let Out::MyInfo(my) = &all[0] else {
        unreachable!()
    };
    assert_eq!(my.my_node_num, r.my_node_num());
    assert_eq!(my.nodedb_count, 20);
    assert!(matches!(&all[1], Out::NodeInfo(n) if n.num == r.my_node_num()));
    let Out::Metadata(meta) = &all[2] else {
        unreachable!()
    };
    assert!(meta.firmware_version.ends_with(".sim"));
    let channels: Vec<&pb::Channel> = all
        .iter()
        .filter_map(|m| match m {
            Out::Channel(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(channels[0].role, pb::channel::Role::Primary as i32);
    assert_eq!(channels[0].settings.as_ref().unwrap().psk, vec![1]);
    assert_eq!(channels[1].role, pb::channel::Role::Secondary as i32);
    assert_eq!(channels[1].settings.as_ref().unwrap().name, "Ops");
    assert_eq!(channels[1].settings.as_ref().unwrap().psk.len(), 32);
    assert!(channels[2..]
        .iter()
        .all(|c| c.role == pb::channel::Role::Disabled as i32));
    let lora = all.iter().find_map(|m| match m {
        Out::Config(pb::Config {
            payload_variant: Some(pb::config::PayloadVariant::Lora(l)),
        }) => Some(l),
        _ => None,
    });
    assert_eq!(lora.unwrap().hop_limit, 3);
    let mut got: Vec<u32> = all
        .iter()
        .filter_map(|m| match m {
            Out::NodeInfo(n) => Some(n.num),
            _ => None,
        })
        .collect();
    let mut want: Vec<u32> = r.nodes().iter().map(|n| n.num).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(r.requests().len(), 1, "the want_config_id is logged");
}

#[tokio::test]
async fn nonce_69420_sends_the_config_only_and_69421_the_node_db_only() {
    let r = radio(quiet(20)).await;
    let mut c = Raw::connect(&r).await;
    let config_only = c.handshake(69420).await;
    // Firmware still sends my own node with the config.
    assert_eq!(kinds(&config_only), format!("IN{}.", config_kinds()));
    let nodes_only = c.handshake(69421).await;
    assert_eq!(kinds(&nodes_only), format!("I{}.", "N".repeat(20)));
    assert!(matches!(
        nodes_only.last(),
        Some(Out::ConfigCompleteId(69421))
    ));
}

#[tokio::test]
async fn a_two_thousand_node_db_arrives_whole_in_frames_firmware_accepts() {
    let r = radio(quiet(2000)).await;
    let Raw { mut s, .. } = Raw::asking(&r, 5).await;
    // Parse the raw bytes by hand to see every frame's length.
    let mut bytes = Vec::new();
    let mut buf = [0u8; 65536];
    let mut nodes = 0;
    let mut done = false;
    while !done {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed mid-handshake");
        bytes.extend_from_slice(&buf[..n]);
        while bytes.len() >= 4 {
            assert_eq!(&bytes[..2], &[proto::START1, proto::START2]);
            let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
            assert!(len <= proto::MAX_FRAME, "a {len}-byte frame");
            if bytes.len() < 4 + len {
                break;
            }
            let m = pb::FromRadio::decode(&bytes[4..4 + len]).unwrap();
            bytes.drain(..4 + len);
            match m.payload_variant {
                Some(Out::NodeInfo(_)) => nodes += 1,
                Some(Out::ConfigCompleteId(5)) => done = true,
                _ => {}
            }
        }
    }
    assert_eq!(nodes, 2000);
}

#[tokio::test]
async fn from_radio_ids_increase() {
    let r = radio(quiet(5)).await;
    let Raw { mut s, mut d } = Raw::asking(&r, 6).await;
    let mut buf = [0u8; 8192];
    let mut ids = Vec::new();
    'read: loop {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0);
        d.push(&buf[..n]);
        while let Some(f) = d.next_frame() {
            let m = pb::FromRadio::decode(f.as_slice()).unwrap();
            ids.push(m.id);
            if matches!(m.payload_variant, Some(Out::ConfigCompleteId(_))) {
                break 'read;
            }
        }
    }
    assert!(ids.windows(2).all(|w| w[1] > w[0]), "{ids:?}");
}
