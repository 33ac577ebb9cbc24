//! The firmware's stream framing and small protobuf helpers shared by the radio link and the
//! simulated radio.
//!
//! A frame is `0x94 0xC3`, a 16-bit big-endian length, then that many bytes of protobuf
//! (`ToRadio` towards the radio, `FromRadio` from it). Bytes outside a frame are skipped (the
//! official client sends 32 × `0xC3` to wake a serial console first) and a header announcing
//! more than [`MAX_FRAME`] bytes is dropped, as the firmware does. The `meshtastic` crate only
//! offers its framing behind its serial-port feature (which needs libudev), so the few lines
//! of framing live here and the crate provides the protobufs.

pub use meshtastic::protobufs as pb;
pub use meshtastic::Message;

/// First magic byte of a frame.
pub const START1: u8 = 0x94;
/// Second magic byte of a frame.
pub const START2: u8 = 0xC3;
/// Largest payload the firmware accepts in one frame.
pub const MAX_FRAME: usize = 512;
/// Destination number meaning "everybody".
pub const BROADCAST: u32 = 0xFFFF_FFFF;

/// Wraps an encoded protobuf in a frame header.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.push(START1);
    out.push(START2);
    // A payload above u16::MAX cannot be framed; callers only frame protobufs they built.
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Encodes and frames one message.
pub fn encode<M: Message>(msg: &M) -> Vec<u8> {
    frame(&msg.encode_to_vec())
}

/// The room a link's next read gets at least (it fills whatever spare capacity there is).
pub const READ_CHUNK: usize = 1024;

/// Incremental frame parser: feed it bytes as they arrive, take complete payloads out.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Frames dropped because their header announced more than [`MAX_FRAME`] bytes.
    pub oversize: u64,
    /// Bytes skipped because they were outside any frame.
    pub skipped: u64,
}

impl FrameDecoder {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer to read the next bytes into (`AsyncReadExt::read_buf` appends to it), with
    /// room for at least [`READ_CHUNK`] bytes: a link needs no read buffer of its own.
    pub fn read_buffer(&mut self) -> &mut Vec<u8> {
        self.buf.reserve(READ_CHUNK);
        &mut self.buf
    }

    /// Returns the next complete frame payload, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        let frame = self.next_frame_inner();
        // A burst (the whole node DB at connect) can grow the buffer to tens of KB; a link
        // then idles for hours with a few bytes in it, so give that memory back.
        if frame.is_none() && self.buf.capacity() > 4 * READ_CHUNK && self.buf.len() < READ_CHUNK {
            self.buf.shrink_to(2 * READ_CHUNK);
        }
        frame
    }

    fn next_frame_inner(&mut self) -> Option<Vec<u8>> {
        loop {
            // Resynchronise on the magic bytes.
            let start = self.buf.windows(2).position(|w| w == [START1, START2]);
            match start {
                None => {
                    // Keep a trailing START1 that may begin a frame.
                    let keep = usize::from(self.buf.last() == Some(&START1));
                    let drop = self.buf.len() - keep;
                    self.skipped += drop as u64;
                    self.buf.drain(..drop);
                    return None;
                }
                Some(pos) if pos > 0 => {
                    self.skipped += pos as u64;
                    self.buf.drain(..pos);
                }
                Some(_) => {}
            }
            if self.buf.len() < 4 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]]));
            if len > MAX_FRAME {
                // Drop the header only; what follows is treated as bytes outside a frame.
                self.oversize += 1;
                self.buf.drain(..4);
                continue;
            }
            if self.buf.len() < 4 + len {
                return None;
            }
            let payload = self.buf[4..4 + len].to_vec();
            self.buf.drain(..4 + len);
            return Some(payload);
        }
    }
}

/// Nonce asking for the config without the node DB (current firmware).
pub const CONFIG_ONLY: u32 = 69420;
/// Nonce asking for the node DB without the config.
pub const NODES_ONLY: u32 = 69421;

/// What a config handshake tells a client: the simulated radio's and a virtual node's.
pub struct ConfigDump<'a> {
    pub my_info: pb::MyNodeInfo,
    /// My own node (sent first; a NodeDB reset keeps it).
    pub mine: Option<pb::NodeInfo>,
    /// Every other node (sent after the config).
    pub others: Vec<pb::NodeInfo>,
    pub metadata: Option<pb::DeviceMetadata>,
    pub channels: &'a [pb::Channel],
    pub config: &'a pb::LocalConfig,
    pub module_config: &'a pb::LocalModuleConfig,
}

/// The handshake's messages for `nonce` in the order firmware's `PhoneAPI` sends them (my
/// info, my node, metadata, channels, config, modules, the other nodes), without the final
/// `config_complete_id`. [`CONFIG_ONLY`] leaves the other nodes out, [`NODES_ONLY`] the
/// metadata, channels and config.
pub fn config_dump(d: ConfigDump<'_>, nonce: u32) -> Vec<pb::from_radio::PayloadVariant> {
    use pb::from_radio::PayloadVariant as Out;
    let (config_only, nodes_only) = (nonce == CONFIG_ONLY, nonce == NODES_ONLY);
    let mut out = Vec::with_capacity(d.others.len() + 40);
    out.push(Out::MyInfo(d.my_info));
    out.extend(d.mine.map(Out::NodeInfo));
    if !nodes_only {
        out.extend(d.metadata.map(Out::Metadata));
        out.extend(d.channels.iter().cloned().map(Out::Channel));
        out.extend(config_parts(d.config).into_iter().map(Out::Config));
        out.extend(
            module_parts(d.module_config)
                .into_iter()
                .map(Out::ModuleConfig),
        );
    }
    if !config_only {
        out.extend(d.others.into_iter().map(Out::NodeInfo));
    }
    out
}

/// Formats a node number the way Meshtastic does: `!` and eight lower-case hex digits.
pub fn node_id(num: u32) -> String {
    format!("!{num:08x}")
}

/// The protobuf enum name of a port number (`TEXT_MESSAGE_APP`), or the number itself.
pub fn port_name(port: i32) -> std::borrow::Cow<'static, str> {
    match pb::PortNum::try_from(port) {
        Ok(p) => std::borrow::Cow::Borrowed(p.as_str_name()),
        Err(_) => std::borrow::Cow::Owned(format!("PORT_{port}")),
    }
}

/// Both directions between a whole config and its sections, from one list of sections, so
/// a section added to one direction cannot be missing from the other.
macro_rules! sections {
    (
        $(#[$parts_doc:meta])* fn $parts:ident,
        $(#[$set_doc:meta])* fn $set:ident,
        $whole:ty => $part:ident, $variant:path,
        { $($field:ident => $v:ident),* $(,)? }
    ) => {
        $(#[$parts_doc])*
        pub fn $parts(whole: &$whole) -> Vec<pb::$part> {
            use $variant as V;
            [$(whole.$field.as_ref().cloned().map(V::$v)),*]
                .into_iter()
                .flatten()
                .map(|x| pb::$part { payload_variant: Some(x) })
                .collect()
        }

        $(#[$set_doc])*
        pub fn $set(whole: &mut $whole, new: pb::$part) {
            use $variant as V;
            match new.payload_variant {
                $(Some(V::$v(x)) => whole.$field = Some(x),)*
                // Sections the local config does not hold (session key, device UI…).
                _ => {}
            }
        }
    };
}

sections! {
    /// Every config section as separate `Config` messages, as the handshake sends them.
    fn config_parts,
    /// Stores one config section in the whole config.
    fn set_config,
    pb::LocalConfig => Config, pb::config::PayloadVariant,
    {
        device => Device, position => Position, power => Power, network => Network,
        display => Display, lora => Lora, bluetooth => Bluetooth, security => Security,
    }
}

sections! {
    /// Every module section as separate `ModuleConfig` messages.
    fn module_parts,
    /// Stores one module section in the whole module config.
    fn set_module_config,
    pb::LocalModuleConfig => ModuleConfig, pb::module_config::PayloadVariant,
    {
        mqtt => Mqtt, serial => Serial, external_notification => ExternalNotification,
        store_forward => StoreForward, range_test => RangeTest, telemetry => Telemetry,
        canned_message => CannedMessage, audio => Audio, remote_hardware => RemoteHardware,
        neighbor_info => NeighborInfo, ambient_lighting => AmbientLighting,
        detection_sensor => DetectionSensor, paxcounter => Paxcounter,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sections_round_trip_in_handshake_order() {
        let whole = pb::LocalConfig {
            device: Some(Default::default()),
            lora: Some(Default::default()),
            security: Some(Default::default()),
            ..Default::default()
        };
        let parts = config_parts(&whole);
        assert_eq!(parts.len(), 3);
        assert!(matches!(
            parts[0].payload_variant,
            Some(pb::config::PayloadVariant::Device(_))
        ));
        let mut back = pb::LocalConfig::default();
        for p in parts {
            set_config(&mut back, p);
        }
        assert_eq!(back, whole);
    }

    #[test]
    fn a_frame_round_trips_through_the_decoder() {
        let mut d = FrameDecoder::default();
        d.push(&frame(b"hello"));
        assert_eq!(d.next_frame().as_deref(), Some(&b"hello"[..]));
        assert_eq!(d.next_frame(), None);
    }

    #[test]
    fn wake_bytes_and_garbage_before_a_frame_are_skipped() {
        let mut d = FrameDecoder::default();
        let mut bytes = vec![START2; 32];
        bytes.extend_from_slice(b"junk");
        bytes.extend_from_slice(&frame(b"ok"));
        d.push(&bytes);
        assert_eq!(d.next_frame().as_deref(), Some(&b"ok"[..]));
        assert_eq!(d.skipped, 36);
    }

    #[test]
    fn a_frame_split_across_reads_is_reassembled() {
        let mut d = FrameDecoder::default();
        let f = frame(b"split payload");
        for b in &f[..f.len() - 1] {
            d.push(&[*b]);
            assert_eq!(d.next_frame(), None);
        }
        d.push(&f[f.len() - 1..]);
        assert_eq!(d.next_frame().as_deref(), Some(&b"split payload"[..]));
    }

    #[test]
    fn an_oversize_header_is_dropped_and_the_next_frame_still_parses() {
        let mut d = FrameDecoder::default();
        d.push(&[START1, START2, 0x02, 0x01]); // 513 bytes announced
        d.push(&frame(b"next"));
        assert_eq!(d.next_frame().as_deref(), Some(&b"next"[..]));
        assert_eq!(d.oversize, 1);
    }

    #[test]
    fn a_burst_does_not_keep_its_buffer() {
        let mut d = FrameDecoder::default();
        let mut burst = Vec::new();
        for _ in 0..200 {
            burst.extend_from_slice(&frame(&[7u8; 200]));
        }
        d.push(&burst);
        while d.next_frame().is_some() {}
        assert!(d.buf.capacity() <= 2 * READ_CHUNK, "{}", d.buf.capacity());
    }

    #[test]
    fn node_ids_are_bang_and_eight_hex_digits() {
        assert_eq!(node_id(0xa1b2c3d4), "!a1b2c3d4");
        assert_eq!(node_id(1), "!00000001");
    }
}
