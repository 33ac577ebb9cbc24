//! The channels, config and module config a simulated radio ships with. The MQTT password
//! (`SIMSECRET-<index>`) is a canary: it must never reach a browser.

use super::{mesh, SimConfig};
use crate::proto::pb;

/// What a radio holds when it starts, and again after a factory reset.
pub(super) struct Factory {
    pub my_node_num: u32,
    pub nodes: Vec<pb::NodeInfo>,
    pub channels: Vec<pb::Channel>,
    pub config: pb::LocalConfig,
    pub module_config: pb::LocalModuleConfig,
}

impl Factory {
    /// The mesh of the radio's seed and index (made hostile if asked) and the shipped config.
    pub fn new(cfg: &SimConfig) -> Factory {
        let mut mesh = mesh::generate_mesh(cfg.nodes.max(1), cfg.seed, cfg.index);
        let mut channels = channels(cfg.index);
        if cfg.hostile_names {
            mesh::make_hostile(&mut mesh, &mut channels);
        }
        Factory {
            my_node_num: mesh.my_node_num,
            nodes: mesh.nodes,
            channels,
            config: local_config(),
            module_config: module_config(cfg.index),
        }
    }
}

/// Eight channels: a primary with the default key, a secondary with its own key, the rest off.
pub fn channels(index: u32) -> Vec<pb::Channel> {
    (0..8)
        .map(|i| {
            let (role, settings) = match i {
                0 => (
                    pb::channel::Role::Primary,
                    Some(pb::ChannelSettings {
                        psk: vec![1],
                        name: String::new(),
                        uplink_enabled: true,
                        ..Default::default()
                    }),
                ),
                1 => (
                    pb::channel::Role::Secondary,
                    Some(pb::ChannelSettings {
                        psk: (0..32)
                            .map(|b| (b as u8).wrapping_mul(7).wrapping_add(index as u8))
                            .collect(),
                        name: "Ops".into(),
                        downlink_enabled: true,
                        ..Default::default()
                    }),
                ),
                _ => (pb::channel::Role::Disabled, None),
            };
            pb::Channel {
                index: i,
                settings,
                role: role as i32,
            }
        })
        .collect()
}

/// The radio's config as it ships.
pub fn local_config() -> pb::LocalConfig {
    use pb::config::*;
    pb::LocalConfig {
        device: Some(DeviceConfig {
            role: device_config::Role::Client as i32,
            node_info_broadcast_secs: 10_800,
            ..Default::default()
        }),
        position: Some(PositionConfig {
            position_broadcast_secs: 900,
            gps_update_interval: 120,
            ..Default::default()
        }),
        power: Some(PowerConfig {
            ls_secs: 300,
            min_wake_secs: 10,
            ..Default::default()
        }),
        network: Some(NetworkConfig {
            wifi_enabled: true,
            wifi_ssid: "meshnet".into(),
            wifi_psk: "SIMWIFIPSK".into(),
            ntp_server: "pool.ntp.org".into(),
            ..Default::default()
        }),
        display: Some(DisplayConfig {
            screen_on_secs: 60,
            ..Default::default()
        }),
        lora: Some(LoRaConfig {
            use_preset: true,
            modem_preset: lo_ra_config::ModemPreset::LongFast as i32,
            region: lo_ra_config::RegionCode::Eu868 as i32,
            hop_limit: 3,
            tx_enabled: true,
            tx_power: 27,
            ..Default::default()
        }),
        bluetooth: Some(BluetoothConfig {
            enabled: true,
            mode: bluetooth_config::PairingMode::RandomPin as i32,
            fixed_pin: 123_456,
        }),
        security: Some(SecurityConfig {
            serial_enabled: true,
            ..Default::default()
        }),
        version: 23,
    }
}

/// The radio's module config as it ships.
pub fn module_config(index: u32) -> pb::LocalModuleConfig {
    use pb::module_config::*;
    pb::LocalModuleConfig {
        mqtt: Some(MqttConfig {
            enabled: true,
            address: "mqtt.example.invalid".into(),
            username: "meshdev".into(),
            password: format!("SIMSECRET-{index}"),
            encryption_enabled: true,
            root: "msh/EU_868".into(),
            map_reporting_enabled: false,
            ..Default::default()
        }),
        serial: Some(SerialConfig::default()),
        external_notification: Some(ExternalNotificationConfig::default()),
        store_forward: Some(StoreForwardConfig {
            enabled: false,
            records: 30,
            history_return_max: 25,
            history_return_window: 240,
            ..Default::default()
        }),
        range_test: Some(RangeTestConfig::default()),
        telemetry: Some(TelemetryConfig {
            device_update_interval: 1800,
            ..Default::default()
        }),
        canned_message: Some(CannedMessageConfig::default()),
        audio: Some(AudioConfig::default()),
        remote_hardware: Some(RemoteHardwareConfig::default()),
        neighbor_info: Some(NeighborInfoConfig {
            enabled: true,
            update_interval: 14_400,
            ..Default::default()
        }),
        ambient_lighting: Some(AmbientLightingConfig::default()),
        detection_sensor: Some(DetectionSensorConfig::default()),
        paxcounter: Some(PaxcounterConfig::default()),
        version: 23,
        ..Default::default()
    }
}
