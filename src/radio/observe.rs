//! What a link notes about the nodes it hears, for their history: a sample of the values each
//! packet carries (signal, hops, telemetry), positions, names, role and hardware. Pure: the
//! actor hands each message from the radio here and sends what comes back to the store.

use std::time::SystemTime;

use crate::ids::NodeNum;
use crate::ids::RadioKey;
use crate::proto::pb;
use crate::proto::pb::from_radio::PayloadVariant as From;
use crate::radio::nodedb::Node;

/// A value kept over time for each node, in the unit the store keeps it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Battery,
    Voltage,
    ChannelUtil,
    AirUtilTx,
    Snr,
    Rssi,
    Hops,
    Temperature,
    Humidity,
    Pressure,
}

impl Metric {
    pub const ALL: [Metric; 10] = [
        Metric::Battery,
        Metric::Voltage,
        Metric::ChannelUtil,
        Metric::AirUtilTx,
        Metric::Snr,
        Metric::Rssi,
        Metric::Hops,
        Metric::Temperature,
        Metric::Humidity,
        Metric::Pressure,
    ];

    /// Its column in the `sample` table (and the prefix of its `rollup` columns).
    pub fn column(self) -> &'static str {
        match self {
            Metric::Battery => "battery",
            Metric::Voltage => "voltage",
            Metric::ChannelUtil => "chan_util",
            Metric::AirUtilTx => "air_util",
            Metric::Snr => "snr",
            Metric::Rssi => "rssi",
            Metric::Hops => "hops",
            Metric::Temperature => "temperature",
            Metric::Humidity => "humidity",
            Metric::Pressure => "pressure",
        }
    }

    /// Stored integer = value × scale.
    pub fn scale(self) -> f64 {
        match self {
            Metric::Voltage => 1000.0,
            Metric::ChannelUtil
            | Metric::AirUtilTx
            | Metric::Snr
            | Metric::Temperature
            | Metric::Humidity => 100.0,
            Metric::Pressure => 10.0,
            Metric::Battery | Metric::Rssi | Metric::Hops => 1.0,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Battery | Metric::ChannelUtil | Metric::AirUtilTx | Metric::Humidity => "%",
            Metric::Voltage => "V",
            Metric::Snr => "dB",
            Metric::Rssi => "dBm",
            Metric::Hops => "hops",
            Metric::Temperature => "°C",
            Metric::Pressure => "hPa",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::Battery => "Battery",
            Metric::Voltage => "Voltage",
            Metric::ChannelUtil => "Channel utilisation",
            Metric::AirUtilTx => "Air util TX",
            Metric::Snr => "SNR",
            Metric::Rssi => "RSSI",
            Metric::Hops => "Hops",
            Metric::Temperature => "Temperature",
            Metric::Humidity => "Humidity",
            Metric::Pressure => "Pressure",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The values one packet carried; `None` for what it did not.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample([Option<f64>; 10]);

impl Sample {
    pub fn get(&self, m: Metric) -> Option<f64> {
        self.0.get(m.index()).copied().flatten()
    }

    /// Sets a value; one that is not a finite number is left out.
    pub fn set(&mut self, m: Metric, v: Option<f64>) {
        if let Some(slot) = self.0.get_mut(m.index()) {
            *slot = v.filter(|v| v.is_finite());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// Takes what `t` says: device metrics, or environment values.
    fn add_telemetry(&mut self, t: &pb::Telemetry) {
        match &t.variant {
            Some(pb::telemetry::Variant::DeviceMetrics(d)) => {
                // Firmware reports 101 for "plugged in"; it is kept as it comes.
                self.set(Metric::Battery, d.battery_level.map(f64::from));
                self.set(Metric::Voltage, d.voltage.map(f64::from));
                self.set(Metric::ChannelUtil, d.channel_utilization.map(f64::from));
                self.set(Metric::AirUtilTx, d.air_util_tx.map(f64::from));
            }
            Some(pb::telemetry::Variant::EnvironmentMetrics(e)) => {
                self.set(Metric::Temperature, e.temperature.map(f64::from));
                self.set(Metric::Humidity, e.relative_humidity.map(f64::from));
                self.set(Metric::Pressure, e.barometric_pressure.map(f64::from));
            }
            _ => {}
        }
    }
}

/// Something learned about one node at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The radio that heard it (its own node number).
    pub radio: RadioKey,
    pub node: NodeNum,
    pub at: SystemTime,
    pub what: Observed,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// A packet heard from the node (it was heard now), with what it carried.
    Heard(Sample),
    /// The node is in the radio's node DB, last heard at this time by the radio.
    Known(SystemTime),
    Position {
        lat_i: i32,
        lon_i: i32,
        alt: Option<i32>,
    },
    User {
        long_name: String,
        short_name: String,
        hw_model: i32,
        role: i32,
    },
}

/// What a message from the radio says about a node.
pub fn from_radio(radio: RadioKey, msg: &pb::FromRadio, now: SystemTime) -> Vec<Observation> {
    match &msg.payload_variant {
        Some(From::Packet(p)) => from_packet(radio, p, now),
        Some(From::NodeInfo(n)) => from_node(radio, &Node::from(n), now),
        _ => Vec::new(),
    }
}

/// What a node DB entry says: known (with the radio's last heard), names, position.
pub fn from_node(radio: RadioKey, n: &Node, now: SystemTime) -> Vec<Observation> {
    let node = n.num();
    if node.0 == 0 {
        return Vec::new();
    }
    let heard = match n.last_heard {
        0 => now,
        s => std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(s)),
    }
    .min(now);
    let mut out = vec![Observation {
        radio,
        node,
        at: heard,
        what: Observed::Known(heard),
    }];
    let mut add = |what| {
        out.push(Observation {
            radio,
            node,
            at: now,
            what,
        })
    };
    if let Some(u) = &n.user {
        add(Observed::User {
            long_name: u.long_name().to_string(),
            short_name: u.short_name().to_string(),
            hw_model: u.hw_model,
            role: u.role,
        });
    }
    if let Some(p) = n.position() {
        if let Some(p) = position(p.latitude_i(), p.longitude_i(), p.altitude()) {
            add(p);
        }
    }
    out
}

fn user(u: &pb::User) -> Observed {
    Observed::User {
        long_name: u.long_name.clone(),
        short_name: u.short_name.clone(),
        hw_model: u.hw_model,
        role: u.role,
    }
}

/// A position with both coordinates (0, 0 is what firmware sends for "no fix").
fn position(lat: Option<i32>, lon: Option<i32>, alt: Option<i32>) -> Option<Observed> {
    let (lat_i, lon_i) = lat.zip(lon)?;
    ((lat_i, lon_i) != (0, 0)).then_some(Observed::Position { lat_i, lon_i, alt })
}

/// What a packet heard from a node says: one sample, and a position or names it carries.
pub fn from_packet(radio: RadioKey, p: &pb::MeshPacket, now: SystemTime) -> Vec<Observation> {
    let node = NodeNum(p.from);
    if node.0 == 0 {
        return Vec::new();
    }
    let mut sample = Sample::default();
    sample.set(
        Metric::Snr,
        crate::radio::nodedb::plausible_snr(p.rx_snr).map(f64::from),
    );
    sample.set(
        Metric::Rssi,
        (p.rx_rssi != 0 && (-200..=20).contains(&p.rx_rssi)).then_some(f64::from(p.rx_rssi)),
    );
    sample.set(
        Metric::Hops,
        (p.hop_start > 0 && p.hop_start >= p.hop_limit && p.hop_start <= 7)
            .then(|| f64::from(p.hop_start - p.hop_limit)),
    );
    let mut extra = None;
    if let Some(pb::mesh_packet::PayloadVariant::Decoded(d)) = &p.payload_variant {
        let bytes = d.payload.as_slice();
        match pb::PortNum::try_from(d.portnum) {
            Ok(pb::PortNum::TelemetryApp) => {
                if let Ok(t) = <pb::Telemetry as prost::Message>::decode(bytes) {
                    sample.add_telemetry(&t);
                }
            }
            Ok(pb::PortNum::PositionApp) => {
                extra = <pb::Position as prost::Message>::decode(bytes)
                    .ok()
                    .and_then(|p| position(p.latitude_i, p.longitude_i, p.altitude));
            }
            Ok(pb::PortNum::NodeinfoApp) => {
                extra = <pb::User as prost::Message>::decode(bytes)
                    .ok()
                    .map(|u| user(&u));
            }
            _ => {}
        }
    }
    let mut out = vec![Observation {
        radio,
        node,
        at: now,
        what: Observed::Heard(sample),
    }];
    if let Some(what) = extra {
        out.push(Observation {
            radio,
            node,
            at: now,
            what,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    /// A packet from node 7, heard at 6.25 dB / -90 dBm two hops away.
    fn packet(port: pb::PortNum, payload: Vec<u8>) -> pb::MeshPacket {
        let data = pb::Data {
            portnum: port as i32,
            payload,
            ..Default::default()
        };
        let signal = (6.25, -90, 3, 1);
        pb::MeshPacket {
            from: 7,
            payload_variant: Some(pb::mesh_packet::PayloadVariant::Decoded(data)),
            ..pb::MeshPacket {
                rx_snr: signal.0,
                rx_rssi: signal.1,
                hop_start: signal.2,
                hop_limit: signal.3,
                ..Default::default()
            }
        }
    }

    #[test]
    fn a_telemetry_packet_is_one_sample_with_its_signal_and_metrics() {
        let t = pb::Telemetry {
            time: 0,
            variant: Some(pb::telemetry::Variant::DeviceMetrics(pb::DeviceMetrics {
                battery_level: Some(80),
                voltage: Some(3.9),
                channel_utilization: Some(12.5),
                air_util_tx: None,
                uptime_seconds: Some(5),
            })),
        };
        let now = SystemTime::now();
        let obs = from_packet(
            RadioKey(1),
            &packet(pb::PortNum::TelemetryApp, t.encode_to_vec()),
            now,
        );
        assert_eq!(obs.len(), 1);
        let Observed::Heard(s) = &obs[0].what else {
            panic!("{obs:?}")
        };
        assert_eq!(s.get(Metric::Battery), Some(80.0));
        assert_eq!(s.get(Metric::Snr), Some(6.25));
        assert_eq!(s.get(Metric::Rssi), Some(-90.0));
        assert_eq!(s.get(Metric::Hops), Some(2.0));
        assert_eq!(s.get(Metric::AirUtilTx), None);
        assert!((s.get(Metric::Voltage).unwrap() - 3.9).abs() < 1e-6);
    }

    #[test]
    fn positions_without_a_fix_and_garbage_are_left_out() {
        let no_fix = pb::Position {
            latitude_i: Some(0),
            longitude_i: Some(0),
            ..Default::default()
        };
        let p = packet(pb::PortNum::PositionApp, no_fix.encode_to_vec());
        assert_eq!(from_packet(RadioKey(1), &p, SystemTime::now()).len(), 1);
        let junk = packet(pb::PortNum::TelemetryApp, vec![0xff; 9]);
        let obs = from_packet(RadioKey(1), &junk, SystemTime::now());
        assert_eq!(obs.len(), 1);
        let mut s = Sample::default();
        s.set(Metric::Voltage, Some(f64::NAN));
        assert!(s.is_empty());
    }
}
