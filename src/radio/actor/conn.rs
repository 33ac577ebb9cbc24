//! The connection to a radio: TCP connect, the config handshake, and writing frames.

use std::net::SocketAddr;
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::proto::{self, pb, FrameDecoder, Message};
use crate::radio::handle::{LinkError, LinkOptions};
use crate::radio::state::RadioState;

/// Writes one message to the radio.
pub(super) async fn write(
    stream: &mut TcpStream,
    msg: pb::to_radio::PayloadVariant,
) -> std::io::Result<()> {
    let frame = proto::encode(&pb::ToRadio {
        payload_variant: Some(msg),
    });
    stream.write_all(&frame).await
}

/// Tells the radio we are leaving (briefly: it may be gone already) and closes the stream.
pub(super) async fn say_goodbye(stream: &mut TcpStream) {
    let bye = pb::to_radio::PayloadVariant::Disconnect(true);
    let _ = timeout(Duration::from_millis(200), write(stream, bye)).await;
    let _ = stream.shutdown().await;
}

/// The firmware's nonce that asks for the config only (my info, my node, channels, config):
/// a reconnect keeps the node DB it knows and asks for the nodes with [`NODES_ONLY`] after.
pub(super) const CONFIG_ONLY: u32 = 69420;
/// The firmware's nonce that asks for the node DB only.
pub(super) const NODES_ONLY: u32 = 69421;

/// What a handshake asks the radio for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// Everything: config and node DB (a first connect).
    Everything,
    /// The config only (a reconnect, which already knows the nodes).
    ConfigOnly,
}

/// TCP connect plus handshake, bounded by the handshake timeout.
pub(super) async fn open(
    addr: SocketAddr,
    opts: &LinkOptions,
    want: Want,
) -> Result<(TcpStream, FrameDecoder, RadioState), LinkError> {
    let secs = opts.handshake_timeout.as_secs();
    let opened = async {
        let (stream, decoder, mut state) = handshake(addr, opts.packet_log_max, want).await?;
        if let Some(ids) = &opts.identities {
            let key = public_key(&state);
            let who = ids
                .identify(addr, state.my_node_num, &key)
                .await
                .ok_or_else(|| LinkError::Connect {
                    addr,
                    reason: "could not look up which radio this is (the database failed)".into(),
                })?;
            state.radio_key = who.key;
            state.apart_from = who.apart_from;
        }
        Ok((stream, decoder, state))
    };
    match timeout(opts.handshake_timeout, opened).await {
        Ok(r) => r,
        Err(_) => Err(LinkError::HandshakeTimeout { addr, secs }),
    }
}

/// The radio's public key (firmware 2.5 and later have one), from its security config;
/// empty when it has none.
fn public_key(state: &RadioState) -> Vec<u8> {
    state
        .config
        .security
        .as_ref()
        .map(|s| s.public_key.clone())
        .unwrap_or_default()
}

async fn handshake(
    addr: SocketAddr,
    packet_log_max: usize,
    want: Want,
) -> Result<(TcpStream, FrameDecoder, RadioState), LinkError> {
    let refused = |e: std::io::Error| LinkError::Connect {
        addr,
        reason: e.to_string(),
    };
    let mut stream = TcpStream::connect(addr).await.map_err(refused)?;
    let _ = stream.set_nodelay(true);
    let nonce: u32 = match want {
        // Any nonce but the firmware's special ones.
        Want::Everything => rand::rng().random_range(100_000..u32::MAX),
        Want::ConfigOnly => CONFIG_ONLY,
    };
    write(
        &mut stream,
        pb::to_radio::PayloadVariant::WantConfigId(nonce),
    )
    .await
    .map_err(refused)?;
    let mut decoder = FrameDecoder::default();
    let mut state = RadioState::new(packet_log_max);
    loop {
        let n = stream
            .read_buf(decoder.read_buffer())
            .await
            .map_err(|_| LinkError::HandshakeClosed { addr })?;
        if n == 0 {
            return Err(LinkError::HandshakeClosed { addr });
        }
        while let Some(frame) = decoder.next_frame() {
            let Ok(msg) = pb::FromRadio::decode(frame.as_slice()) else {
                continue;
            };
            if let Some(pb::from_radio::PayloadVariant::ConfigCompleteId(id)) = msg.payload_variant
            {
                if id == nonce {
                    return Ok((stream, decoder, state));
                }
                continue;
            }
            // Packets during the handshake are live traffic; the node DB learns from them.
            state.apply(msg);
        }
    }
}
