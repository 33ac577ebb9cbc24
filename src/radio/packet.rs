//! One entry of the packet log, with its decoded one-line summary. Built once when the
//! packet arrives, then shared (`Arc`) by the ring, the SSE streams and the JSON API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::ids::NodeNum;
use crate::proto::{self, pb};

/// The most text kept from one packet (a Meshtastic payload is at most ~233 bytes anyway).
const MAX_TEXT: usize = 512;

/// Laid out to stay small (64 bytes): a full log is 500 of these per radio, kept inline in
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
                (d.portnum, is_text, summarize(d))
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
            channel: p.channel,
            portnum,
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

    /// What a log keeps of the entry but its summary (see [`Kept`]).
    pub fn kept(&self) -> Kept {
        Kept {
            time_us: self.time_us,
            id: self.id,
            from: self.from,
            to: self.to,
            channel: self.channel,
            portnum: self.portnum,
            heard: self.heard,
            outgoing: self.outgoing,
            is_text: self.is_text,
            // `new` clips summaries to SUMMARY_MAX.
            summary_len: u16::try_from(self.summary.len()).unwrap_or(u16::MAX),
        }
    }

    /// The entry again, from what a log kept and the summary it kept beside it.
    pub fn from_kept(k: &Kept, summary: String) -> PacketEntry {
        PacketEntry {
            time_us: k.time_us,
            id: k.id,
            from: k.from,
            to: k.to,
            channel: k.channel,
            portnum: k.portnum,
            heard: k.heard,
            outgoing: k.outgoing,
            is_text: k.is_text,
            summary: summary.into_boxed_str(),
        }
    }

    /// RSSI in dBm, when the radio measured a plausible one.
    pub fn rssi(&self) -> Option<i32> {
        self.heard.rssi.map(i32::from)
    }

    pub fn hop_start(&self) -> u32 {
        u32::from(self.heard.hop_start)
    }

    pub fn hop_limit(&self) -> u32 {
        u32::from(self.heard.hop_limit)
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
        let h = self.heard;
        (h.hop_start > 0 && h.hop_start >= h.hop_limit)
            .then(|| u32::from(h.hop_start - h.hop_limit))
    }
}

/// A packet as a log keeps it: every field of its entry but the summary, which the log keeps
/// with the others' end to end (48 bytes, and no heap block per summary: one of its own cost
/// 30 bytes more, its header and its rounding, and 16 for the pointer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kept {
    time_us: u64,
    id: u32,
    from: NodeNum,
    to: NodeNum,
    channel: u32,
    portnum: i32,
    heard: Heard,
    outgoing: bool,
    is_text: bool,
    summary_len: u16,
}

impl Kept {
    /// When it arrived (or was sent).
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.time_us)
    }

    /// As [`PacketEntry::port_name`].
    pub fn port_name(&self) -> std::borrow::Cow<'static, str> {
        port_label(self.portnum)
    }

    /// The length of its summary, bytes.
    pub fn summary_len(&self) -> usize {
        usize::from(self.summary_len)
    }
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
/// event channel keeps its last 128 events per radio, and entries there would be a second
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
/// header's hop fields (3 bits on the wire; larger values saturate) and the firmware's flag
/// for a packet that came through an MQTT gateway.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Heard {
    snr: Option<f32>,
    rssi: Option<i16>,
    hop_start: u8,
    hop_limit: u8,
    via_mqtt: bool,
}

impl Heard {
    /// As stored: the signal, then hop start and limit, then the MQTT flag.
    pub fn new(signal: (Option<f32>, Option<i16>), hops: (u8, u8), via_mqtt: bool) -> Heard {
        Heard {
            snr: signal.0,
            rssi: signal.1,
            hop_start: hops.0,
            hop_limit: hops.1,
            via_mqtt,
        }
    }

    pub fn snr(&self) -> Option<f32> {
        self.snr
    }

    pub fn rssi(&self) -> Option<i16> {
        self.rssi
    }

    /// Hop start and hop limit, as the header says.
    pub fn hops(&self) -> (u8, u8) {
        (self.hop_start, self.hop_limit)
    }

    pub fn via_mqtt(&self) -> bool {
        self.via_mqtt
    }

    pub fn of(p: &pb::MeshPacket) -> Heard {
        Heard {
            snr: crate::radio::nodedb::plausible_snr(p.rx_snr),
            rssi: i16::try_from(p.rx_rssi)
                .ok()
                .filter(|r| (-200..0).contains(r)),
            hop_start: u8::try_from(p.hop_start).unwrap_or(u8::MAX),
            hop_limit: u8::try_from(p.hop_limit).unwrap_or(u8::MAX),
            via_mqtt: p.via_mqtt,
        }
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

/// Summaries past this are cut (a text message's at [`MAX_TEXT`]): a log keeps their
/// lengths in 16 bits.
const SUMMARY_MAX: usize = 4096;

/// `s`, cut at a character boundary to at most `max` bytes and an ellipsis.
fn clip_to(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push('…');
    s
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A one-line description of a decoded payload.
pub fn summarize(d: &pb::Data) -> String {
    use pb::PortNum as P;
    let bytes = d.payload.as_slice();
    match P::try_from(d.portnum) {
        Ok(P::TextMessageApp) => clip(&String::from_utf8_lossy(bytes)),
        Ok(P::PositionApp) => match pb::Position::decode(bytes) {
            Ok(p) => {
                let deg = |v: Option<i32>| {
                    v.map(|v| format!("{:.5}", f64::from(v) * 1e-7))
                        .unwrap_or_else(|| "?".into())
                };
                let alt = p
                    .altitude
                    .map(|a| format!(" alt {a} m"))
                    .unwrap_or_default();
                format!(
                    "position {}, {}{}",
                    deg(p.latitude_i),
                    deg(p.longitude_i),
                    alt
                )
            }
            Err(_) => "position (undecodable)".into(),
        },
        Ok(P::TelemetryApp) => match pb::Telemetry::decode(bytes) {
            Ok(t) => match t.variant {
                Some(pb::telemetry::Variant::DeviceMetrics(m)) => {
                    let mut parts = Vec::new();
                    if let Some(b) = m.battery_level {
                        parts.push(if b > 100 {
                            "plugged in".to_string()
                        } else {
                            format!("battery {b}%")
                        });
                    }
                    if let Some(v) = m.voltage {
                        parts.push(format!("{v:.2} V"));
                    }
                    if let Some(c) = m.channel_utilization {
                        parts.push(format!("ch util {c:.1}%"));
                    }
                    if let Some(a) = m.air_util_tx {
                        parts.push(format!("air tx {a:.1}%"));
                    }
                    format!("telemetry {}", parts.join(", "))
                }
                Some(pb::telemetry::Variant::EnvironmentMetrics(e)) => {
                    let t = e
                        .temperature
                        .map(|t| format!(" {t:.1} °C"))
                        .unwrap_or_default();
                    let h = e
                        .relative_humidity
                        .map(|h| format!(" {h:.0}% RH"))
                        .unwrap_or_default();
                    format!("environment{t}{h}")
                }
                _ => "telemetry".into(),
            },
            Err(_) => "telemetry (undecodable)".into(),
        },
        Ok(P::NodeinfoApp) => match pb::User::decode(bytes) {
            Ok(u) => clip(&format!(
                "node info {} ({}) {}",
                u.long_name, u.short_name, u.id
            )),
            Err(_) => "node info (undecodable)".into(),
        },
        Ok(P::RoutingApp) => match pb::Routing::decode(bytes) {
            Ok(r) => match r.variant {
                Some(pb::routing::Variant::ErrorReason(0)) => {
                    format!("ack for {:08x}", d.request_id)
                }
                Some(pb::routing::Variant::ErrorReason(e)) => {
                    let name = pb::routing::Error::try_from(e)
                        .map(|e| e.as_str_name().to_string())
                        .unwrap_or_else(|_| e.to_string());
                    format!("error {name} for {:08x}", d.request_id)
                }
                Some(pb::routing::Variant::RouteRequest(_)) => "route request".into(),
                Some(pb::routing::Variant::RouteReply(_)) => "route reply".into(),
                None => "routing".into(),
            },
            Err(_) => "routing (undecodable)".into(),
        },
        Ok(P::TracerouteApp) => match pb::RouteDiscovery::decode(bytes) {
            Ok(r) => {
                let hops: Vec<String> = r.route.iter().map(|n| proto::node_id(*n)).collect();
                let kind = if d.request_id != 0 {
                    "reply"
                } else {
                    "request"
                };
                if hops.is_empty() {
                    format!("traceroute {kind}, direct")
                } else {
                    format!("traceroute {kind} via {}", hops.join(" → "))
                }
            }
            Err(_) => "traceroute (undecodable)".into(),
        },
        Ok(P::NeighborinfoApp) => match pb::NeighborInfo::decode(bytes) {
            Ok(n) => format!("neighbour info: {} neighbours", n.neighbors.len()),
            Err(_) => "neighbour info (undecodable)".into(),
        },
        Ok(p) => format!("{} ({} bytes)", p.as_str_name(), bytes.len()),
        Err(_) => format!("port {} ({} bytes)", d.portnum, bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stays_small_and_keeps_what_the_header_said() {
        assert!(std::mem::size_of::<PacketEntry>() <= 64);
        assert!(std::mem::size_of::<Kept>() <= 48);
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

    fn data(port: pb::PortNum, payload: Vec<u8>) -> pb::Data {
        pb::Data {
            portnum: port as i32,
            payload,
            ..Default::default()
        }
    }

    #[test]
    fn summaries_decode_each_port() {
        let pos = pb::Position {
            latitude_i: Some(515_000_000),
            longitude_i: Some(-1_250_000),
            altitude: Some(42),
            ..Default::default()
        };
        assert_eq!(
            summarize(&data(pb::PortNum::PositionApp, pos.encode_to_vec())),
            "position 51.50000, -0.12500 alt 42 m"
        );
        let tel = pb::Telemetry {
            variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
                battery_level: Some(101),
                voltage: Some(4.2),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            summarize(&data(pb::PortNum::TelemetryApp, tel.encode_to_vec())),
            "telemetry plugged in, 4.20 V"
        );
        let r = pb::Routing {
            variant: Some(pb::routing::Variant::ErrorReason(
                pb::routing::Error::NoRoute as i32,
            )),
        };
        let mut d = data(pb::PortNum::RoutingApp, r.encode_to_vec());
        d.request_id = 0xab;
        assert_eq!(summarize(&d), "error NO_ROUTE for 000000ab");
        assert_eq!(
            summarize(&data(pb::PortNum::TextMessageApp, "hi <b>".into())),
            "hi <b>"
        );
        assert_eq!(
            summarize(&data(pb::PortNum::PositionApp, vec![0xff, 0xff])),
            "position (undecodable)"
        );
    }

    #[test]
    fn long_text_is_clipped_on_a_char_boundary() {
        let s = "é".repeat(400);
        let c = clip(&s);
        assert!(c.ends_with('…'));
        assert!(c.len() <= MAX_TEXT + 3);
    }
}
