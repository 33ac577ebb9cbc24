//! One entry of the packet log, with its decoded one-line summary (`summary.rs`): built once
//! when the packet arrives; what the log keeps of it (`Kept`), and what its event carries
//! (`PacketHead`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ids::NodeNum;
use crate::proto::{self, pb};
use crate::radio::summary::{clip_to, summarize, SUMMARY_MAX};

/// Laid out to stay small (56 bytes): a full log is 500 of these per radio, kept inline in
/// the ring. Its number in the link's stream of packets is its place in the log (see
/// `PacketLog::get`).
#[derive(Debug, Clone, PartialEq)]
pub struct PacketEntry {
    /// When it arrived, in microseconds since the Unix epoch (see [`PacketEntry::time`]).
    time_us: u64,
    pub id: u32,
    pub from: NodeNum,
    pub to: NodeNum,
    pub channel: u32,
    pub portnum: i32,
    /// Signal, hop fields and whether it came through MQTT.
    pub heard: Heard,
    pub outgoing: bool,
    /// Whether this is a text message (its summary is then the text itself).
    pub is_text: bool,
    /// The decoded one-line summary; exact-size, as thousands of these stay in memory.
    summary: Box<str>,
}

impl PacketEntry {
    pub fn new(p: &pb::MeshPacket, time: SystemTime, outgoing: bool) -> PacketEntry {
        let (portnum, text, summary) = match &p.payload_variant {
            Some(pb::mesh_packet::PayloadVariant::Decoded(d)) => {
                let is_text = d.portnum == pb::PortNum::TextMessageApp as i32;
                (
                    d.portnum,
                    is_text,
                    summarize(d.portnum, &d.payload, d.request_id),
                )
            }
            Some(pb::mesh_packet::PayloadVariant::Encrypted(b)) => {
                (-1, false, format!("encrypted, {} bytes", b.len()))
            }
            None => (-1, false, "empty".to_string()),
        };
        let summary = clip_to(summary, SUMMARY_MAX);
        let time_us = time
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        PacketEntry {
            time_us,
            id: p.id,
            from: NodeNum(p.from),
            to: NodeNum(p.to),
            channel: u32::from(channel8(p.channel)),
            portnum: i32::from(port16(portnum)),
            heard: Heard::of(p),
            outgoing,
            is_text: text,
            summary: summary.into_boxed_str(),
        }
    }

    /// When the packet arrived (or was sent).
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.time_us)
    }

    /// What a log keeps of the entry but its summary (see [`Kept`]), the summary kept as it
    /// is: `stored_len` bytes of it.
    pub fn kept(&self) -> Kept {
        let flag = |on: bool, f: u16| if on { f } else { 0 };
        Kept {
            time_us: self.time_us,
            id: self.id,
            from: self.from,
            to: self.to,
            snr: self.heard.snr,
            rssi: self.heard.rssi,
            hops: self.heard.hops,
            // `new` saturated both already.
            channel: channel8(self.channel),
            portnum: port16(self.portnum),
            // `new` clips summaries to SUMMARY_MAX.
            len_flags: stored(self.summary.len())
                | flag(self.outgoing, Kept::OUTGOING)
                | flag(self.is_text, Kept::TEXT)
                | flag(self.heard.via_mqtt, Kept::MQTT),
        }
    }

    /// The entry again, from what a log kept and the bytes it kept beside it: the summary,
    /// or the payload it is made from (see [`payload_form`]).
    pub fn from_kept(k: &Kept, stored: Vec<u8>) -> PacketEntry {
        let portnum = i32::from(k.portnum);
        let summary = if k.flag(Kept::PAYLOAD) {
            let (request_id, payload) = match stored.split_first_chunk::<4>() {
                Some((id, rest)) if shows_request_id(portnum) => (u32::from_le_bytes(*id), rest),
                _ => (0, &stored[..]),
            };
            clip_to(summarize(portnum, payload, request_id), SUMMARY_MAX)
        } else {
            // Whole summaries go in and come out, so this is always UTF-8.
            String::from_utf8(stored)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        };
        PacketEntry {
            time_us: k.time_us,
            id: k.id,
            from: k.from,
            to: k.to,
            channel: u32::from(k.channel),
            portnum,
            heard: k.heard(),
            outgoing: k.flag(Kept::OUTGOING),
            is_text: k.flag(Kept::TEXT),
            summary: summary.into_boxed_str(),
        }
    }

    /// RSSI in dBm, when the radio measured a plausible one.
    pub fn rssi(&self) -> Option<i32> {
        self.heard.rssi().map(i32::from)
    }

    pub fn hop_start(&self) -> u32 {
        u32::from(self.heard.hops().0)
    }

    pub fn hop_limit(&self) -> u32 {
        u32::from(self.heard.hops().1)
    }

    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// The text of a text message.
    pub fn text(&self) -> Option<&str> {
        self.is_text.then_some(&*self.summary)
    }

    /// The protobuf name of the port, `ENCRYPTED` for undecoded packets.
    pub fn port_name(&self) -> std::borrow::Cow<'static, str> {
        port_label(self.portnum)
    }

    /// What its event carries (see [`PacketHead`]), `seq` its number in the link's stream.
    pub fn head(&self, seq: u64) -> PacketHead {
        PacketHead {
            seq,
            time_us: self.time_us,
            from: self.from,
            portnum: self.portnum,
            outgoing: self.outgoing,
        }
    }

    /// Hops the packet took, when the header says (hop_start − hop_limit).
    pub fn hops_taken(&self) -> Option<u32> {
        let (start, limit) = self.heard.hops();
        (start > 0 && start >= limit).then(|| u32::from(start - limit))
    }
}

/// A packet as a log keeps it: every field of its entry but the summary, which the log keeps
/// with the others' end to end (32 bytes, and no heap block per summary: one of its own cost
/// 30 bytes more, its header and its rounding, and 16 for the pointer). The signal is laid
/// out field by field, so that the channel, the port and the stored length fit beside it.
#[derive(Debug, Clone, Copy)]
pub struct Kept {
    time_us: u64,
    id: u32,
    from: NodeNum,
    to: NodeNum,
    /// [`Heard`]'s fields.
    snr: f32,
    rssi: i16,
    hops: u8,
    /// Saturated at 8 and 16 bits ([`channel8`], [`port16`]), as [`PacketEntry::new`] does.
    channel: u8,
    portnum: i16,
    /// The length of what the log keeps beside it in the low 12 bits (summaries are at most
    /// [`SUMMARY_MAX`]), [`Kept::OUTGOING`], [`Kept::TEXT`], [`Kept::PAYLOAD`] and
    /// [`Kept::MQTT`] above.
    len_flags: u16,
}

impl Kept {
    /// When it arrived (or was sent).
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.time_us)
    }

    /// As [`PacketEntry::port_name`].
    pub fn port_name(&self) -> std::borrow::Cow<'static, str> {
        port_label(i32::from(self.portnum))
    }

    const LEN: u16 = 0x0fff;
    const OUTGOING: u16 = 0x1000;
    const TEXT: u16 = 0x2000;
    /// The log keeps its payload, not its summary.
    const PAYLOAD: u16 = 0x4000;
    /// [`Heard::via_mqtt`].
    const MQTT: u16 = 0x8000;

    fn flag(&self, f: u16) -> bool {
        self.len_flags & f != 0
    }

    fn heard(&self) -> Heard {
        Heard {
            snr: self.snr,
            rssi: self.rssi,
            hops: self.hops,
            via_mqtt: self.flag(Kept::MQTT),
        }
    }

    /// The length of what the log keeps of it beside it (its summary or its payload), bytes.
    pub fn stored_len(&self) -> usize {
        usize::from(self.len_flags & Kept::LEN)
    }

    /// The same, the log keeping `len` bytes of the packet's [`payload_form`] instead of its
    /// summary; `len` is shorter than the summary, so within [`SUMMARY_MAX`].
    pub fn with_payload(self, len: usize) -> Kept {
        Kept {
            len_flags: (self.len_flags & !Kept::LEN) | Kept::PAYLOAD | stored(len),
            ..self
        }
    }
}

/// No firmware sends a channel past 8 bits (an index or a hash) or a port past 16: such
/// values from a radio saturate, as the log keeps them in that much.
fn channel8(channel: u32) -> u8 {
    u8::try_from(channel).unwrap_or(u8::MAX)
}

/// See [`channel8`].
fn port16(portnum: i32) -> i16 {
    i16::try_from(portnum).unwrap_or(if portnum < 0 { i16::MIN } else { i16::MAX })
}

/// A length of at most [`SUMMARY_MAX`], as [`Kept`] holds it.
fn stored(len: usize) -> u16 {
    u16::try_from(len.min(SUMMARY_MAX)).unwrap_or(Kept::LEN) & Kept::LEN
}

/// Whether a port's summary shows the packet's `request_id` (an ack's or a reply's).
fn shows_request_id(portnum: i32) -> bool {
    portnum == pb::PortNum::RoutingApp as i32 || portnum == pb::PortNum::TracerouteApp as i32
}

/// What a decoded packet's summary is made from, for a log to keep when it is shorter than
/// the summary (a position's 12 bytes against its 36 in words): the request id, on the ports
/// that show it, and the payload. A text is its own summary, so it has none.
pub fn payload_form(p: &pb::MeshPacket) -> Option<(Option<[u8; 4]>, &[u8])> {
    let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant else {
        return None;
    };
    // A port the log saturates would be summarized as another one: such a packet keeps its
    // words.
    if d.portnum == pb::PortNum::TextMessageApp as i32 || i16::try_from(d.portnum).is_err() {
        return None;
    }
    let id = shows_request_id(d.portnum).then(|| d.request_id.to_le_bytes());
    Some((id, &d.payload))
}

/// The protobuf name of a port, `ENCRYPTED` for undecoded packets (`-1`).
fn port_label(portnum: i32) -> std::borrow::Cow<'static, str> {
    if portnum < 0 {
        std::borrow::Cow::Borrowed("ENCRYPTED")
    } else {
        proto::port_name(portnum)
    }
}

/// A packet as a link's event announces it: enough to filter on and follow, 32 bytes. The
/// entry itself stays in the link's packet log only, under `seq` (`PacketLog::get`): the
/// event channel keeps its last 64 events per radio, and entries there would be a second
/// copy of the log's newest (18 KB a radio at 5 packets/s, BENCHMARKS.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacketHead {
    pub seq: u64,
    time_us: u64,
    pub from: NodeNum,
    portnum: i32,
    pub outgoing: bool,
}

impl PacketHead {
    /// When it arrived (or was sent).
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.time_us)
    }

    /// As [`PacketEntry::port_name`].
    pub fn port_name(&self) -> std::borrow::Cow<'static, str> {
        port_label(self.portnum)
    }
}

/// How a packet was heard: its signal in dB and dBm (when plausible; none over MQTT), its
/// header's hop fields (3 bits on the wire; larger values saturate at 15) and the firmware's
/// flag for a packet that came through an MQTT gateway. 8 bytes (it was 16 as options and
/// bytes): each of a radio's 500 logged packets holds one.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// NaN for none.
    snr: f32,
    /// `NO_RSSI` for none.
    rssi: i16,
    /// Hop start in the high four bits, hop limit in the low four.
    hops: u8,
    via_mqtt: bool,
}

const NO_RSSI: i16 = i16::MIN;

impl PartialEq for Heard {
    /// No SNR equals no SNR (NaN is not equal to itself).
    fn eq(&self, other: &Heard) -> bool {
        self.snr() == other.snr()
            && (self.rssi, self.hops, self.via_mqtt) == (other.rssi, other.hops, other.via_mqtt)
    }
}

impl Default for Heard {
    fn default() -> Heard {
        Heard::new((None, None), (0, 0), false)
    }
}

impl Heard {
    /// As stored: the signal, then hop start and limit, then the MQTT flag.
    pub fn new(signal: (Option<f32>, Option<i16>), hops: (u8, u8), via_mqtt: bool) -> Heard {
        Heard {
            snr: signal.0.filter(|s| !s.is_nan()).unwrap_or(f32::NAN),
            rssi: signal.1.filter(|r| *r != NO_RSSI).unwrap_or(NO_RSSI),
            hops: (hops.0.min(15) << 4) | hops.1.min(15),
            via_mqtt,
        }
    }

    pub fn snr(&self) -> Option<f32> {
        (!self.snr.is_nan()).then_some(self.snr)
    }

    pub fn rssi(&self) -> Option<i16> {
        (self.rssi != NO_RSSI).then_some(self.rssi)
    }

    /// Hop start and hop limit, as the header says.
    pub fn hops(&self) -> (u8, u8) {
        (self.hops >> 4, self.hops & 15)
    }

    pub fn via_mqtt(&self) -> bool {
        self.via_mqtt
    }

    pub fn of(p: &pb::MeshPacket) -> Heard {
        let hop = |v: u32| u8::try_from(v).unwrap_or(u8::MAX);
        Heard::new(
            (
                crate::radio::nodedb::plausible_snr(p.rx_snr),
                i16::try_from(p.rx_rssi)
                    .ok()
                    .filter(|r| (-200..0).contains(r)),
            ),
            (hop(p.hop_start), hop(p.hop_limit)),
            p.via_mqtt,
        )
    }

    /// "MQTT" or "RF", as the original labels a message's source.
    pub fn source(&self) -> &'static str {
        if self.via_mqtt {
            "MQTT"
        } else {
            "RF"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stays_small_and_keeps_what_the_header_said() {
        assert!(std::mem::size_of::<PacketEntry>() <= 56);
        assert_eq!(std::mem::size_of::<Kept>(), 32);
        assert_eq!(std::mem::size_of::<Heard>(), 8);
        let p = pb::MeshPacket {
            from: 1,
            to: 2,
            rx_rssi: -97,
            hop_start: 5,
            hop_limit: 3,
            ..Default::default()
        };
        let at = UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
        let e = PacketEntry::new(&p, at, false);
        assert_eq!(e.time(), at);
        assert_eq!((e.rssi(), e.hop_start(), e.hop_limit()), (Some(-97), 5, 3));
        assert_eq!(e.hops_taken(), Some(2));
        // Garbage from a radio: out-of-range RSSI is dropped, hop fields saturate.
        let bad = pb::MeshPacket {
            rx_rssi: 40_000,
            hop_start: 1_000,
            hop_limit: 2_000,
            ..Default::default()
        };
        let e = PacketEntry::new(&bad, at, false);
        assert_eq!((e.rssi(), e.hops_taken()), (None, Some(0)));
    }
}
