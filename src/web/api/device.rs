//! `/api/device/...`, `/api/reset-nodedb`, `/api/mqtt/health` and
//! `/api/store-forward/status`: a radio's settings (admins write them) and admin actions
//! (admins only).

use std::time::SystemTime;

use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::ApiJson;
use crate::error::{AppError, Result};
use crate::read::settings::{self, camel_key, mqtt_health};
use crate::web::ops::device::{self, MqttChange};
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let mqtt = Router::new()
        .route("/api/device/mqtt/config", get(mqtt).post(write_mqtt))
        .route_layer(from_fn(access::configure));
    let admin = Router::new()
        .route("/api/device/reboot", post(reboot))
        .route("/api/device/shutdown", post(shutdown))
        .route("/api/device/factory-reset", post(factory_reset))
        .route("/api/reset-nodedb", post(nodedb_reset))
        .route_layer(from_fn(access::admin));
    Router::new()
        .route("/api/device/config", get(config))
        .route("/api/mqtt/health", get(health))
        .route("/api/store-forward/status", get(store_forward))
        .route_layer(from_fn(access::operate))
        .merge(mqtt)
        .merge(admin)
}

fn object(pairs: Vec<(&'static str, Value)>) -> Value {
    let map: Map<String, Value> = pairs.into_iter().map(|(k, v)| (camel_key(k), v)).collect();
    Value::Object(map)
}

async fn config(ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let (local, modules, channels) = {
        let st = link.state();
        (
            settings::local_config(&st.config),
            settings::module_config(&st.module_config),
            settings::channels(&st.channels),
        )
    };
    Ok(Json(json!({
        "localConfig": object(local),
        "moduleConfig": object(modules),
        "channels": channels,
    })))
}

async fn mqtt(ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let m = link.state().module_config.mqtt.clone().unwrap_or_default();
    Ok(Json(settings::section("mqtt", &m)))
}

async fn write_mqtt(ctx: Ctx, ApiJson(c): ApiJson<MqttChange>) -> Result<Json<Value>> {
    device::write_mqtt(&ctx.require_link()?, c).await?;
    let message = "MQTT settings written; the radio reboots to apply them";
    Ok(Json(json!({"status": "success", "message": message})))
}

async fn action(ctx: &Ctx, name: &str, confirm: Option<&str>) -> Result<Json<Value>> {
    let msg = device::action(&ctx.require_link()?, name, confirm).await?;
    Ok(Json(json!({"status": "success", "message": msg})))
}

async fn reboot(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "reboot", None).await
}

async fn shutdown(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "shutdown", None).await
}

async fn nodedb_reset(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "nodedb-reset", None).await
}

#[derive(Deserialize, Default)]
struct ConfirmBody {
    #[serde(default)]
    confirm: Option<String>,
}

async fn factory_reset(
    ctx: Ctx,
    body: std::result::Result<ApiJson<ConfirmBody>, AppError>,
) -> Result<Json<Value>> {
    // No body (or not JSON) means no confirmation: refused by the action.
    let confirm = body.ok().and_then(|ApiJson(b)| b.confirm);
    action(&ctx, "factory-reset", confirm.as_deref()).await
}

async fn health(ctx: Ctx) -> Result<Json<Value>> {
    let h = mqtt_health(&ctx.require_link()?.state(), SystemTime::now());
    Ok(Json(serde_json::to_value(h).map_err(anyhow::Error::from)?))
}

async fn store_forward(ctx: Ctx) -> Result<Json<Value>> {
    let sf = ctx
        .require_link()?
        .state()
        .module_config
        .store_forward
        .unwrap_or_default();
    let mut v = settings::section("store_forward", &sf);
    v["role"] = json!(match (sf.enabled, sf.is_server) {
        (true, true) => "server",
        (true, false) => "client",
        (false, _) => "disabled",
    });
    Ok(Json(v))
}
