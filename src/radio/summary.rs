//! A packet's one-line summary: what its payload says, decoded per port, cut to a bounded
//! length (a stranger's text or traceroute can be long).

use prost::Message;

use crate::proto::{self, pb};

/// The most text kept from one packet (a Meshtastic payload is at most ~233 bytes anyway).
const MAX_TEXT: usize = 512;

/// Summaries past this are cut (a text message's at [`MAX_TEXT`]): a log keeps their
/// lengths in 12 bits.
pub(crate) const SUMMARY_MAX: usize = 4095;

/// `s`, cut at a character boundary to at most `max` bytes and an ellipsis.
pub(crate) fn clip_to(mut s: String, max: usize) -> String {
    if s.len() <= max {
        return s;
    }
    s.truncate(s.floor_char_boundary(max.saturating_sub('…'.len_utf8())));
    s.push('…');
    s
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    format!("{}…", &s[..s.floor_char_boundary(MAX_TEXT)])
}

/// A one-line description of a decoded payload: its port, its bytes and the packet's
/// `request_id` (an ack's or a traceroute reply's).
pub fn summarize(portnum: i32, bytes: &[u8], request_id: u32) -> String {
    use pb::PortNum as P;
    match P::try_from(portnum) {
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
                    format!("ack for {:08x}", request_id)
                }
                Some(pb::routing::Variant::ErrorReason(e)) => {
                    let name = pb::routing::Error::try_from(e)
                        .map(|e| e.as_str_name().to_string())
                        .unwrap_or_else(|_| e.to_string());
                    format!("error {name} for {:08x}", request_id)
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
                let kind = if request_id != 0 { "reply" } else { "request" };
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
        Err(_) => format!("port {} ({} bytes)", portnum, bytes.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary of a whole `Data`, as a packet carries it.
    fn summarize(d: &pb::Data) -> String {
        super::summarize(d.portnum, &d.payload, d.request_id)
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
