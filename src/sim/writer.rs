//! The write half of a client connection. It owns the socket's writer and applies the fault
//! modes that shape what leaves the radio: junk between frames, a drop (reset) after N frames, and
//! the silence of a stalled radio.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::mesh::Rng;
use super::{Fault, Inner};
use crate::proto;

/// The write half, which leaves the closing to the read half: dropped (the task ended or
/// aborted) it sends no FIN of its own, so a reset the reader asks for is a reset.
struct Half(Option<OwnedWriteHalf>);

impl Drop for Half {
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            w.forget();
        }
    }
}

/// Writes queued frames until the queue closes, the socket fails or a fault closes the link.
pub(super) async fn run(
    inner: Arc<Inner>,
    wr: OwnedWriteHalf,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut half = Half(Some(wr));
    let Some(wr) = half.0.as_mut() else {
        return;
    };
    let mut sent: u64 = 0;
    let mut junk = Rng::new(u64::from(inner.my_node_num) ^ 0x6A12);
    while let Some(frame) = frames.recv().await {
        let fault = inner.lock().fault.clone();
        if fault == Fault::Stall {
            // A hung radio: nothing leaves it, the socket stays open.
            continue;
        }
        if fault == Fault::Garbage && wr.write_all(&garbage(&mut junk)).await.is_err() {
            return;
        }
        if wr.write_all(&frame).await.is_err() {
            return;
        }
        sent += 1;
        if let Fault::DropAfter(n) = fault {
            if sent >= n {
                // A link that breaks: the client's socket is reset, as after a reboot.
                let _ = wr.as_ref().set_zero_linger();
                return;
            }
        }
    }
}

/// Junk for between two real frames: random bytes (never a frame's first magic byte, so
/// the junk cannot swallow the real frame that follows), then sometimes a header announcing
/// an oversize frame or a frame holding a truncated protobuf. A client that resynchronises
/// on the magic bytes and skips bad frames, as firmware clients do, loses nothing real.
fn garbage(rng: &mut Rng) -> Vec<u8> {
    let n = 1 + rng.below(20) as usize;
    let mut g: Vec<u8> = (0..n)
        .map(|_| match rng.next_u64() as u8 {
            proto::START1 => 0,
            b => b,
        })
        .collect();
    match rng.below(3) {
        // 0x7FFF bytes announced: over the 512-byte limit, so only the header is dropped.
        0 => g.extend_from_slice(&[proto::START1, proto::START2, 0x7F, 0xFF]),
        // my_info announcing 64 bytes and holding one: does not decode.
        1 => g.extend_from_slice(&proto::frame(&[0x12, 0x40, 0x01])),
        _ => {}
    }
    g
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::proto::pb;

    #[test]
    fn real_frames_survive_any_amount_of_junk() {
        let mut rng = Rng::new(1);
        let mut bytes = Vec::new();
        for i in 0..2000u32 {
            bytes.extend(garbage(&mut rng));
            bytes.extend(proto::encode(&pb::FromRadio {
                id: i + 1,
                payload_variant: Some(pb::from_radio::PayloadVariant::ConfigCompleteId(i)),
            }));
        }
        let mut d = proto::FrameDecoder::default();
        d.push(&bytes);
        let mut got = Vec::new();
        while let Some(f) = d.next_frame() {
            if let Ok(m) = pb::FromRadio::decode(f.as_slice()) {
                got.push(m.id);
            }
        }
        assert_eq!(got, (1..=2000).collect::<Vec<_>>());
    }
}
