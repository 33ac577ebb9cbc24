//! Device settings and admin: the page, the MQTT write (begin edit → set → commit), admin
//! actions, MQTT health and store & forward, and their JSON twins. Nothing that is refused
//! here reaches the radio.

use std::time::SystemTime;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::api::ApiJson;
use super::Ctx;
use crate::error::{ApiResult, AppError, Result};
use crate::proto::pb;
use crate::radio::LinkHandle;
use crate::read::settings::{self, mqtt_health};
use crate::views::layout::{page, Chrome, Tab};
use crate::views::settings as view;

use pb::admin_message::PayloadVariant as A;

fn radio_err(e: crate::radio::LinkError) -> AppError {
    AppError::Radio(e.to_string())
}

/// Sends one admin message; the session passkey of a first answer goes with writes.
async fn admin(link: &LinkHandle, v: A, passkey: &[u8], reboots: bool) -> Result<()> {
    let msg = pb::AdminMessage {
        session_passkey: passkey.to_vec(),
        payload_variant: Some(v),
    };
    link.admin(msg, false, reboots).await.map_err(radio_err)?;
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

/// The MQTT fields a user may change; `None` keeps the radio's value.
#[derive(Debug, Default, Deserialize)]
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

/// Validates, merges and writes the MQTT module; the radio reboots to apply it.
pub async fn write_mqtt(link: &LinkHandle, c: MqttChange) -> Result<()> {
    // nanopb sizes include the terminating NUL.
    limit("address", &c.address, 63)?;
    limit("username", &c.username, 63)?;
    limit("password", &c.password, 31)?;
    limit("root topic", &c.root, 31)?;
    let mut m = link.state().module_config.mqtt.clone().unwrap_or_default();
    if let Some(v) = c.enabled {
        m.enabled = v;
    }
    if let Some(v) = c.address {
        m.address = v.trim().to_string();
    }
    if let Some(v) = c.username {
        m.username = v;
    }
    if let Some(v) = c.password.filter(|p| !p.is_empty()) {
        m.password = v;
    }
    if let Some(v) = c.encryption_enabled {
        m.encryption_enabled = v;
    }
    if let Some(v) = c.tls_enabled {
        m.tls_enabled = v;
    }
    if let Some(v) = c.root {
        m.root = v.trim().to_string();
    }
    if let Some(v) = c.proxy_to_client_enabled {
        m.proxy_to_client_enabled = v;
    }
    if let Some(v) = c.map_reporting_enabled {
        m.map_reporting_enabled = v;
    }
    if let Some(v) = c.json_enabled {
        m.json_enabled = v;
    }
    let key = passkey(link).await;
    admin(link, A::BeginEditSettings(true), &key, false).await?;
    let set = pb::ModuleConfig {
        payload_variant: Some(pb::module_config::PayloadVariant::Mqtt(m)),
    };
    admin(link, A::SetModuleConfig(set), &key, false).await?;
    admin(link, A::CommitEditSettings(true), &key, true).await
}

/// An admin action by name, checked before anything is sent.
async fn action(link: &LinkHandle, name: &str, confirm: Option<&str>) -> Result<&'static str> {
    let (v, reboots, msg) = match name {
        "reboot" => (
            A::RebootSeconds(2),
            true,
            "The radio reboots in 2 s; the dashboard reconnects by itself.",
        ),
        "shutdown" => (A::ShutdownSeconds(2), true, "The radio shuts down in 2 s."),
        // Firmware reboots after a NodeDB reset; the link comes back with the emptied DB.
        "nodedb-reset" => (
            A::NodedbReset(true),
            true,
            "The radio's NodeDB was reset; it reboots to apply it.",
        ),
        "factory-reset" => {
            let short = link
                .state()
                .my_node()
                .and_then(|n| n.user.as_ref())
                .map(|u| u.short_name().to_string())
                .unwrap_or_default();
            match confirm.map(str::trim) {
                Some(c) if !short.is_empty() && c == short => {}
                _ => {
                    return Err(AppError::BadRequest(format!(
                        "factory reset needs the radio's short name typed as confirmation ({short:?}); nothing was sent"
                    )))
                }
            }
            (
                A::FactoryResetConfig(1),
                true,
                "The radio is being reset to factory settings and reboots.",
            )
        }
        other => return Err(AppError::NotFound(format!("no admin action {other:?}"))),
    };
    let key = passkey(link).await;
    let forget = matches!(v, A::NodedbReset(_));
    admin(link, v, &key, reboots).await?;
    if forget {
        link.forget_nodes().await.map_err(radio_err)?;
    }
    Ok(msg)
}

fn mqtt_form(link: &LinkHandle) -> view::MqttForm {
    let m = link.state().module_config.mqtt.clone().unwrap_or_default();
    view::MqttForm {
        enabled: m.enabled,
        address: m.address,
        username: m.username,
        password_set: !m.password.is_empty(),
        encryption_enabled: m.encryption_enabled,
        tls_enabled: m.tls_enabled,
        root: m.root,
        proxy_to_client_enabled: m.proxy_to_client_enabled,
        map_reporting_enabled: m.map_reporting_enabled,
        json_enabled: m.json_enabled,
    }
}

pub async fn page_handler(ctx: Ctx) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return Ok(axum::response::Redirect::to("/").into_response());
    };
    let (cfg, modules, channels, health, short) = {
        let st = link.state();
        (
            settings::local_config(&st.config),
            settings::module_config(&st.module_config),
            settings::channels(&st.channels),
            mqtt_health(&st, SystemTime::now()),
            st.my_node()
                .and_then(|n| n.user.as_ref())
                .map(|u| u.short_name().to_string())
                .unwrap_or_default(),
        )
    };
    let sf = modules
        .iter()
        .find(|(k, _)| *k == "store_forward")
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null);
    let body = maud::html! {
        h2 { "Device settings" }
        (view::health(&health))
        (view::mqtt_form(&mqtt_form(&link), None))
        section.panel { h2 { "Channels" } (view::channels(&channels)) }
        section.panel {
            h2 { "Config" }
            @for (name, v) in &cfg { (view::section(name, v)) }
        }
        section.panel {
            h2 { "Modules" }
            @for (name, v) in &modules { (view::section(name, v)) }
        }
        (view::store_forward(&sf))
        (view::admin_actions(&short))
    };
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let addr = link.addr().to_string();
    let chrome = Chrome {
        title: "Device settings",
        radio: Some(&addr),
        tab: Some(Tab::Settings),
        status: Some(super::pages::status_markup(&link, notice.as_deref())),
        notice: None,
        stream: None,
    };
    Ok(page(chrome, body).into_response())
}

pub async fn health_fragment(ctx: Ctx) -> Result<Response> {
    let link = ctx.require_link()?;
    let h = mqtt_health(&link.state(), SystemTime::now());
    Ok(view::health(&h).into_response())
}

/// The MQTT form as posted: unchecked boxes are absent, so they mean "off".
#[derive(Deserialize)]
pub struct MqttFormBody {
    enabled: Option<String>,
    address: String,
    username: String,
    password: String,
    encryption_enabled: Option<String>,
    tls_enabled: Option<String>,
    root: String,
    proxy_to_client_enabled: Option<String>,
    map_reporting_enabled: Option<String>,
    json_enabled: Option<String>,
}

pub async fn mqtt_form_post(ctx: Ctx, Form(f): Form<MqttFormBody>) -> Result<Response> {
    let link = ctx.require_link()?;
    let change = MqttChange {
        enabled: Some(f.enabled.is_some()),
        address: Some(f.address),
        username: Some(f.username),
        password: Some(f.password),
        encryption_enabled: Some(f.encryption_enabled.is_some()),
        tls_enabled: Some(f.tls_enabled.is_some()),
        root: Some(f.root),
        proxy_to_client_enabled: Some(f.proxy_to_client_enabled.is_some()),
        map_reporting_enabled: Some(f.map_reporting_enabled.is_some()),
        json_enabled: Some(f.json_enabled.is_some()),
    };
    write_mqtt(&link, change).await?;
    let note = "Written to the radio. It reboots to apply the change; the settings below are re-read when it is back.";
    Ok(view::mqtt_form(&mqtt_form(&link), Some(note)).into_response())
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    confirm: Option<String>,
}

pub async fn admin_form(
    ctx: Ctx,
    Path(name): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Result<Response> {
    let link = ctx.require_link()?;
    let msg = action(&link, &name, f.confirm.as_deref()).await?;
    Ok((
        [("HX-Retarget", "#toast"), ("HX-Reswap", "innerHTML")],
        crate::views::components::info_toast(msg),
    )
        .into_response())
}

fn object(pairs: Vec<(&'static str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (crate::read::settings::camel_key(k), v))
            .collect::<Map<String, Value>>(),
    )
}

pub async fn api_config(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let st = link.state();
    Ok(Json(json!({
        "localConfig": object(settings::local_config(&st.config)),
        "moduleConfig": object(settings::module_config(&st.module_config)),
        "channels": settings::channels(&st.channels),
    })))
}

pub async fn api_mqtt_get(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let m = link.state().module_config.mqtt.clone().unwrap_or_default();
    Ok(Json(settings::section("mqtt", &m)))
}

pub async fn api_mqtt_post(ctx: Ctx, ApiJson(c): ApiJson<MqttChange>) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    write_mqtt(&link, c).await?;
    Ok(Json(
        json!({"status": "success", "message": "MQTT settings written; the radio reboots to apply them"}),
    ))
}

#[derive(Deserialize, Default)]
pub struct ConfirmBody {
    #[serde(default)]
    confirm: Option<String>,
}

async fn api_action(ctx: &Ctx, name: &str, confirm: Option<&str>) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let msg = action(&link, name, confirm).await?;
    Ok(Json(json!({"status": "success", "message": msg})))
}

pub async fn api_reboot(ctx: Ctx) -> ApiResult<Json<Value>> {
    api_action(&ctx, "reboot", None).await
}

pub async fn api_shutdown(ctx: Ctx) -> ApiResult<Json<Value>> {
    api_action(&ctx, "shutdown", None).await
}

pub async fn api_nodedb_reset(ctx: Ctx) -> ApiResult<Json<Value>> {
    api_action(&ctx, "nodedb-reset", None).await
}

pub async fn api_factory_reset(
    ctx: Ctx,
    body: std::result::Result<ApiJson<ConfirmBody>, crate::error::ApiError>,
) -> ApiResult<Json<Value>> {
    // No body (or not JSON) means no confirmation: refused below.
    let confirm = body.ok().and_then(|ApiJson(b)| b.confirm);
    api_action(&ctx, "factory-reset", confirm.as_deref()).await
}

pub async fn api_mqtt_health(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let h = mqtt_health(&link.state(), SystemTime::now());
    Ok(Json(serde_json::to_value(h).map_err(anyhow::Error::from)?))
}

pub async fn api_store_forward(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let sf = link.state().module_config.store_forward.unwrap_or_default();
    let mut v = settings::section("store_forward", &sf);
    v["role"] = json!(if sf.enabled && sf.is_server {
        "server"
    } else if sf.enabled {
        "client"
    } else {
        "disabled"
    });
    Ok(Json(v))
}
