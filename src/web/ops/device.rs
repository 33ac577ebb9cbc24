//! Writing to the radio with the admin protocol: the MQTT module (begin edit → set → commit)
//! and the admin actions (reboot, shutdown, NodeDB reset, factory reset). Nothing that is
//! refused here reaches the radio.

use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::proto::pb;
use crate::radio::LinkHandle;

use pb::admin_message::PayloadVariant as A;

/// Sends one admin message; the session passkey of a first answer goes with writes.
async fn admin(link: &LinkHandle, v: A, passkey: &[u8], reboots: bool) -> Result<()> {
    let msg = pb::AdminMessage {
        session_passkey: passkey.to_vec(),
        payload_variant: Some(v),
    };
    link.admin(msg, false, reboots).await?;
    Ok(())
}

/// Asks the radio for its owner, which also hands out the session passkey writes need.
async fn passkey(link: &LinkHandle) -> Vec<u8> {
    let ask = pb::AdminMessage {
        payload_variant: Some(A::GetOwnerRequest(true)),
        ..Default::default()
    };
    match link.admin(ask, true, false).await {
        Ok(Some(answer)) => answer.session_passkey,
        _ => Vec::new(),
    }
}

/// The MQTT fields a user may change; `None` keeps the radio's value. Any other field is
/// an error (never dropped unsaid).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttChange {
    pub enabled: Option<bool>,
    pub address: Option<String>,
    pub username: Option<String>,
    /// Empty or absent keeps the stored password.
    pub password: Option<String>,
    pub encryption_enabled: Option<bool>,
    pub tls_enabled: Option<bool>,
    pub root: Option<String>,
    pub proxy_to_client_enabled: Option<bool>,
    pub map_reporting_enabled: Option<bool>,
    pub json_enabled: Option<bool>,
}

fn limit(name: &str, v: &Option<String>, max: usize) -> Result<()> {
    match v {
        Some(s) if s.len() > max => Err(AppError::BadRequest(format!(
            "{name} is at most {max} bytes"
        ))),
        Some(s) if s.chars().any(char::is_control) => Err(AppError::BadRequest(format!(
            "{name} contains control characters"
        ))),
        _ => Ok(()),
    }
}

/// A changed value replaces the radio's; `None` keeps it.
fn change<T>(field: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *field = v;
    }
}

/// Validates, merges and writes the MQTT module; the radio reboots to apply it.
pub async fn write_mqtt(link: &LinkHandle, c: MqttChange) -> Result<()> {
    // nanopb sizes include the terminating NUL.
    limit("address", &c.address, 63)?;
    limit("username", &c.username, 63)?;
    limit("password", &c.password, 31)?;
    limit("root topic", &c.root, 31)?;
    let mut m = link.state().module_config.mqtt.clone().unwrap_or_default();
    let trim = |s: String| s.trim().to_string();
    change(&mut m.enabled, c.enabled);
    change(&mut m.address, c.address.map(trim));
    change(&mut m.username, c.username);
    change(&mut m.password, c.password.filter(|p| !p.is_empty()));
    change(&mut m.encryption_enabled, c.encryption_enabled);
    change(&mut m.tls_enabled, c.tls_enabled);
    change(&mut m.root, c.root.map(trim));
    change(&mut m.proxy_to_client_enabled, c.proxy_to_client_enabled);
    change(&mut m.map_reporting_enabled, c.map_reporting_enabled);
    change(&mut m.json_enabled, c.json_enabled);
    let key = passkey(link).await;
    admin(link, A::BeginEditSettings(true), &key, false).await?;
    let set = pb::ModuleConfig {
        payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(m)),
    };
    admin(link, A::SetModuleConfig(set), &key, false).await?;
    admin(link, A::CommitEditSettings(true), &key, true).await
}

/// The radio's short name, which a factory reset must be confirmed with.
pub fn short_name(link: &LinkHandle) -> String {
    link.state()
        .my_node()
        .and_then(|n| n.user.as_ref())
        .map(|u| u.short_name().to_string())
        .unwrap_or_default()
}

/// How a factory reset must be confirmed.
#[derive(Debug, Clone, Copy)]
pub enum Confirm<'a> {
    /// The page's typed confirmation: the radio's short name.
    Typed(Option<&'a str>),
    /// The JSON API, as the original: no confirmation (the route needs an admin when login
    /// is on).
    Api,
}

/// An admin action by name, checked before anything is sent; returns what to tell the user.
pub async fn action(link: &LinkHandle, name: &str, confirm: Confirm<'_>) -> Result<&'static str> {
    let (v, msg) = match name {
        "reboot" => (
            A::RebootSeconds(2),
            "The radio reboots in 2 s; the dashboard reconnects by itself.",
        ),
        "shutdown" => (A::ShutdownSeconds(2), "The radio shuts down in 2 s."),
        // Firmware reboots after a NodeDB reset; the link comes back with the emptied DB.
        "nodedb-reset" => (
            A::NodedbReset(true),
            "The radio's NodeDB was reset; it reboots to apply it.",
        ),
        "factory-reset" => {
            if let Confirm::Typed(typed) = confirm {
                let short = short_name(link);
                match typed.map(str::trim) {
                    Some(c) if !short.is_empty() && c == short => {}
                    _ => {
                        return Err(AppError::BadRequest(format!(
                            "factory reset needs the radio's short name typed as confirmation ({short:?}); nothing was sent"
                        )))
                    }
                }
            }
            (
                A::FactoryResetConfig(1),
                "The radio is being reset to factory settings and reboots.",
            )
        }
        other => return Err(AppError::NotFound(format!("no admin action {other:?}"))),
    };
    let key = passkey(link).await;
    let forget = matches!(v, A::NodedbReset(_));
    // Every action here reboots the radio.
    admin(link, v, &key, true).await?;
    if forget {
        link.forget_nodes().await?;
    }
    Ok(msg)
}
