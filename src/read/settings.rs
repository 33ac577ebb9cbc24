//! The radio's settings as plain data for the page and the JSON API: every config and module
//! section as a JSON object with camelCase keys and enum names, secrets removed (PSKs, the
//! MQTT password, Wi-Fi PSK, private keys, the Bluetooth PIN), channels with the kind of their key only.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::proto::pb;

/// Fields that are never sent to a browser or a script.
/// (PSKs, passwords, private keys, the Bluetooth PIN.)
const SECRETS: [&str; 5] = ["password", "wifi_psk", "private_key", "psk", "fixed_pin"];

/// `snake_case` to `camelCase`.
pub fn camel_key(s: &str) -> String {
    camel(s)
}

fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The enum a field holds, by section and field name.
fn enum_name(section: &str, field: &str, v: i32) -> Option<String> {
    use pb::config::bluetooth_config::PairingMode;
    use pb::config::device_config::{BuzzerMode, RebroadcastMode, Role};
    use pb::config::display_config::{CompassOrientation, DisplayMode, DisplayUnits, OledType};
    use pb::config::lo_ra_config::{ModemPreset, RegionCode};
    use pb::config::network_config::AddressMode;
    use pb::config::position_config::GpsMode;
    use pb::module_config::audio_config::AudioBaud;
    use pb::module_config::detection_sensor_config::TriggerType;
    use pb::module_config::serial_config::{SerialBaud, SerialMode};
    /// The protobuf name of `v` as the enum `E`, if it is one of its values.
    fn named<E: TryFrom<i32>>(v: i32, name: fn(&E) -> &'static str) -> Option<&'static str> {
        E::try_from(v).ok().as_ref().map(name)
    }
    let name = match (section, field) {
        ("device", "role") => named(v, Role::as_str_name),
        ("device", "rebroadcast_mode") => named(v, RebroadcastMode::as_str_name),
        ("device", "buzzer_mode") => named(v, BuzzerMode::as_str_name),
        ("position", "gps_mode") => named(v, GpsMode::as_str_name),
        ("display", "units") => named(v, DisplayUnits::as_str_name),
        ("display", "oled") => named(v, OledType::as_str_name),
        ("display", "displaymode") => named(v, DisplayMode::as_str_name),
        ("display", "compass_orientation") => named(v, CompassOrientation::as_str_name),
        ("lora", "region") => named(v, RegionCode::as_str_name),
        ("lora", "modem_preset") => named(v, ModemPreset::as_str_name),
        ("bluetooth", "mode") => named(v, PairingMode::as_str_name),
        ("network", "address_mode") => named(v, AddressMode::as_str_name),
        ("serial", "baud") => named(v, SerialBaud::as_str_name),
        ("serial", "mode") => named(v, SerialMode::as_str_name),
        ("audio", "bitrate") => named(v, AudioBaud::as_str_name),
        ("detection_sensor", "detection_trigger_type") => named(v, TriggerType::as_str_name),
        _ => None,
    }?;
    Some(name.to_string())
}

/// One section as `{camelCaseKey: value}`, enums named, secrets replaced by whether one is set.
pub fn section<T: Serialize>(name: &str, v: &T) -> Value {
    let Ok(Value::Object(fields)) = serde_json::to_value(v) else {
        return Value::Object(Map::new());
    };
    let mut out = Map::new();
    for (k, v) in fields {
        if SECRETS.contains(&k.as_str()) {
            let set = match &v {
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Number(n) => n.as_u64() != Some(0),
                _ => false,
            };
            out.insert(camel(&format!("{k}_set")), Value::Bool(set));
            continue;
        }
        let v = match (&v, v.as_i64()) {
            (Value::Number(_), Some(n)) => i32::try_from(n)
                .ok()
                .and_then(|n| enum_name(name, &k, n))
                .map(Value::String)
                .unwrap_or(v),
            _ => v,
        };
        out.insert(camel(&k), redact_nested(v));
    }
    Value::Object(out)
}

/// Nested messages (map report settings, ...) lose their secrets too.
fn redact_nested(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !SECRETS.contains(&k.as_str()))
                .map(|(k, v)| (camel(&k), redact_nested(v)))
                .collect(),
        ),
        other => other,
    }
}

pub const CONFIG_SECTIONS: [&str; 8] = [
    "device",
    "position",
    "power",
    "network",
    "display",
    "lora",
    "bluetooth",
    "security",
];
pub const MODULE_SECTIONS: [&str; 13] = [
    "mqtt",
    "serial",
    "external_notification",
    "store_forward",
    "range_test",
    "telemetry",
    "canned_message",
    "audio",
    "remote_hardware",
    "neighbor_info",
    "ambient_lighting",
    "detection_sensor",
    "paxcounter",
];

fn opt<T: Serialize + Default>(name: &str, v: &Option<T>) -> Value {
    match v {
        Some(v) => section(name, v),
        None => Value::Null,
    }
}

/// Every config section; `null` for one the radio did not send.
pub fn local_config(c: &pb::LocalConfig) -> Vec<(&'static str, Value)> {
    vec![
        ("device", opt("device", &c.device)),
        ("position", opt("position", &c.position)),
        ("power", opt("power", &c.power)),
        ("network", opt("network", &c.network)),
        ("display", opt("display", &c.display)),
        ("lora", opt("lora", &c.lora)),
        ("bluetooth", opt("bluetooth", &c.bluetooth)),
        ("security", opt("security", &c.security)),
    ]
}

pub fn module_config(m: &pb::LocalModuleConfig) -> Vec<(&'static str, Value)> {
    vec![
        ("mqtt", opt("mqtt", &m.mqtt)),
        ("serial", opt("serial", &m.serial)),
        (
            "external_notification",
            opt("external_notification", &m.external_notification),
        ),
        ("store_forward", opt("store_forward", &m.store_forward)),
        ("range_test", opt("range_test", &m.range_test)),
        ("telemetry", opt("telemetry", &m.telemetry)),
        ("canned_message", opt("canned_message", &m.canned_message)),
        ("audio", opt("audio", &m.audio)),
        (
            "remote_hardware",
            opt("remote_hardware", &m.remote_hardware),
        ),
        ("neighbor_info", opt("neighbor_info", &m.neighbor_info)),
        (
            "ambient_lighting",
            opt("ambient_lighting", &m.ambient_lighting),
        ),
        (
            "detection_sensor",
            opt("detection_sensor", &m.detection_sensor),
        ),
        ("paxcounter", opt("paxcounter", &m.paxcounter)),
    ]
}

/// What kind of key a channel has, never the key itself.
pub fn psk_kind(psk: &[u8]) -> &'static str {
    match psk {
        [] | [0] => "none",
        [1..=10] => "default",
        _ => "custom",
    }
}

/// Channels as the original's API shows them: `{index, role, settings: {name, psk,
/// uplinkEnabled, downlinkEnabled, ...}}` with `role` the enum's number as a string
/// (`"1"` primary). `psk` is the kind of key ("default", "custom"), left out for none, as the
/// original leaves out an empty key: never the key itself.
pub fn channels_json(list: &[pb::Channel]) -> Vec<Value> {
    list.iter()
        .map(|c| {
            let s = c.settings.clone().unwrap_or_default();
            let kind = psk_kind(&s.psk);
            let mut settings = section("channel", &s);
            if let Value::Object(m) = &mut settings {
                m.remove("pskSet");
                if kind != "none" {
                    m.insert("psk".into(), Value::from(kind));
                }
                m.insert("pskKind".into(), Value::from(kind));
            }
            let name = pb::channel::Role::try_from(c.role).map(|r| r.as_str_name());
            serde_json::json!({
                "index": c.index,
                "role": c.role.to_string(),
                "roleName": name.unwrap_or("UNKNOWN"),
                "settings": settings,
            })
        })
        .collect()
}

/// A channel for display: index, role, name, uplink/downlink, key kind.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub index: i32,
    pub role: String,
    pub name: String,
    pub uplink_enabled: bool,
    pub downlink_enabled: bool,
    pub psk: &'static str,
}

pub fn channels(list: &[pb::Channel]) -> Vec<ChannelView> {
    list.iter()
        .map(|c| {
            let s = c.settings.clone().unwrap_or_default();
            ChannelView {
                index: c.index,
                role: pb::channel::Role::try_from(c.role)
                    .map(|r| r.as_str_name().to_string())
                    .unwrap_or_else(|_| c.role.to_string()),
                name: s.name,
                uplink_enabled: s.uplink_enabled,
                downlink_enabled: s.downlink_enabled,
                psk: psk_kind(&s.psk),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_name_enums_and_drop_secrets() {
        let m = pb::module_config::MqttConfig {
            enabled: true,
            password: "hunter2".into(),
            root: "msh/EU".into(),
            ..Default::default()
        };
        let v = section("mqtt", &m);
        assert_eq!(v["passwordSet"], true);
        let bt = pb::config::BluetoothConfig {
            enabled: true,
            fixed_pin: 123_456,
            ..Default::default()
        };
        let b = section("bluetooth", &bt);
        assert_eq!(b["fixedPinSet"], true);
        assert!(
            b.get("fixedPin").is_none() && !b.to_string().contains("123456"),
            "{b}"
        );
        assert!(!v.to_string().contains("hunter2"));
        assert_eq!(v["root"], "msh/EU");
        let l = pb::config::LoRaConfig {
            region: pb::config::lo_ra_config::RegionCode::Eu868 as i32,
            hop_limit: 3,
            ..Default::default()
        };
        let v = section("lora", &l);
        assert_eq!(v["region"], "EU_868");
        assert_eq!(v["hopLimit"], 3);
        assert_eq!(psk_kind(&[1]), "default");
        assert_eq!(psk_kind(&[7; 32]), "custom");
        assert_eq!(psk_kind(&[]), "none");
    }
}

/// MQTT health of a link, as the original's `/api/mqtt/health` reports it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MqttHealth {
    pub last_mqtt_ago: Option<u64>,
    pub last_rf_ago: Option<u64>,
    pub mqtt_count: u64,
    pub rf_count: u64,
    pub mqtt_sent: u64,
    pub uptime: u64,
    pub health_status: &'static str,
    pub health_color: &'static str,
    pub health_message: String,
    pub mqtt_root: String,
    pub mqtt_enabled: bool,
}

pub fn mqtt_health(st: &crate::radio::RadioState, now: std::time::SystemTime) -> MqttHealth {
    let ago = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| now.duration_since(t).ok())
            .map(|d| d.as_secs())
    };
    let last_mqtt_ago = ago(st.traffic.last_mqtt);
    let uptime = ago(Some(st.connected_since)).unwrap_or(0);
    // The original's thresholds and words.
    let (status, color, message) = match last_mqtt_ago {
        Some(s) if s < 300 => ("healthy", "green", "MQTT active"),
        Some(s) if s < 900 => ("slow", "yellow", "MQTT quiet"),
        Some(_) => ("stalled", "red", "No MQTT traffic"),
        None if uptime > 600 => ("stalled", "red", "No MQTT received"),
        None => ("unknown", "gray", "No data yet"),
    };
    let mqtt = st.module_config.mqtt.clone().unwrap_or_default();
    MqttHealth {
        last_mqtt_ago,
        last_rf_ago: ago(st.traffic.last_rf),
        mqtt_count: st.traffic.mqtt_count,
        rf_count: st.traffic.rf_count,
        mqtt_sent: st.traffic.sent_count,
        uptime,
        health_status: status,
        health_color: color,
        health_message: message.to_string(),
        mqtt_root: mqtt.root,
        mqtt_enabled: mqtt.enabled,
    }
}
