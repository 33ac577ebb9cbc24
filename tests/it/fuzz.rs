//! Property tests (bounded): arbitrary bytes through the frame decoder, and arbitrary
//! packets through the packet → view path, never panic and never break the escaping.

use meshdeck::proto::{self, pb, FrameDecoder, Message};
use meshdeck::radio::packet::PacketEntry;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_frame_decoder_survives_any_bytes(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..8)) {
        let mut d = FrameDecoder::default();
        for c in &chunks {
            d.push(c);
            while let Some(f) = d.next_frame() {
                prop_assert!(f.len() <= proto::MAX_FRAME);
                let _ = pb::FromRadio::decode(f.as_slice());
            }
        }
    }

    #[test]
    fn a_real_frame_after_junk_is_still_found(junk in proptest::collection::vec(any::<u8>(), 0..300), text in ".{0,100}") {
        let msg = pb::ToRadio { payload_variant: Some(pb::to_radio::PayloadVariant::WantConfigId(7)) };
        let mut d = FrameDecoder::default();
        // Junk that cannot start a frame, then the frame.
        let junk: Vec<u8> = junk.into_iter().filter(|b| *b != proto::START1).collect();
        d.push(&junk);
        d.push(&proto::encode(&msg));
        let _ = text;
        let mut found = false;
        while let Some(f) = d.next_frame() {
            if pb::ToRadio::decode(f.as_slice()).ok() == Some(msg.clone()) {
                found = true;
            }
        }
        prop_assert!(found);
    }

    #[test]
    fn any_packet_renders_escaped(port in -5i32..600, payload in proptest::collection::vec(any::<u8>(), 0..240), snr in any::<f32>(), rssi in any::<i32>(), hop_start in any::<u32>(), hop_limit in any::<u32>(), name in "\\PC{0,40}") {
        let mut payload = payload;
        if port == pb::PortNum::NodeinfoApp as i32 {
            payload = pb::User { long_name: format!("<script>{name}"), ..Default::default() }.encode_to_vec();
        }
        let p = pb::MeshPacket {
            from: 1, to: 2, rx_snr: snr, rx_rssi: rssi, hop_start, hop_limit,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(pb::Data { portnum: port, payload, ..Default::default() })),
            ..Default::default()
        };
        let e = PacketEntry::new(&p, std::time::SystemTime::now(), false);
        let html = meshdeck::views::packets::packet_row(&e, &Default::default()).into_string();
        prop_assert!(!html.contains("<script"));
        prop_assert!(e.heard.snr().is_none_or(|s| s.is_finite()));
    }
}
