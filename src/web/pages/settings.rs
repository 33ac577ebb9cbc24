//! The device settings tab: every config section, the channels, MQTT health, store &
//! forward; the MQTT form (admins write it) and the admin actions (admins only).

use std::time::SystemTime;

use axum::extract::Path;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;
use crate::radio::LinkHandle;
use crate::read::settings::{self, mqtt_health};
use crate::views::layout::Tab;
use crate::views::settings as view;
use crate::web::ops::device::{self, MqttChange};
use crate::web::{access, page, respond, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let write = Router::new()
        .route("/settings/mqtt", post(write_mqtt))
        .route_layer(from_fn(access::configure));
    let admin = Router::new()
        .route("/settings/admin/{action}", post(admin_action))
        .route_layer(from_fn(access::admin));
    Router::new()
        .route("/settings", get(tab))
        .route("/settings/health", get(health))
        .route_layer(from_fn(access::operate))
        .merge(write)
        .merge(admin)
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

async fn tab(ctx: Ctx) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let (cfg, modules, channels, health) = {
        let st = link.state();
        (
            settings::local_config(&st.config),
            settings::module_config(&st.module_config),
            settings::channels(&st.channels),
            mqtt_health(&st, SystemTime::now()),
        )
    };
    let short = device::short_name(&link);
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
    let tab = Some(Tab::Settings);
    Ok(page::full(&ctx, "Device settings", tab, None, body).into_response())
}

async fn health(ctx: Ctx) -> Result<Response> {
    let link = ctx.require_link()?;
    let h = mqtt_health(&link.state(), SystemTime::now());
    Ok(view::health(&h).into_response())
}

/// The MQTT form as posted: unchecked boxes are absent, so they mean "off".
#[derive(Deserialize)]
struct MqttFormBody {
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

async fn write_mqtt(ctx: Ctx, Form(f): Form<MqttFormBody>) -> Result<Response> {
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
    device::write_mqtt(&link, change).await?;
    let note = "Written to the radio. It reboots to apply the change; the settings below are re-read when it is back.";
    Ok(view::mqtt_form(&mqtt_form(&link), Some(note)).into_response())
}

#[derive(Deserialize)]
struct ConfirmForm {
    confirm: Option<String>,
}

async fn admin_action(
    ctx: Ctx,
    Path(name): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> Result<Response> {
    let link = ctx.require_link()?;
    let msg = device::action(&link, &name, device::Confirm::Typed(f.confirm.as_deref())).await?;
    Ok(respond::toast(msg))
}
