//! `/api/device/...`, `/api/reset-nodedb`, `/api/mqtt/health` and
//! `/api/store-forward/status`: a radio's settings (admins write them) and admin actions
//! (admins only).

use std::time::SystemTime;

use axum::middleware::from_fn;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::ApiJson;
use crate::error::{AppError, Result};
use crate::read::settings::{self, camel_key, mqtt_health};
use crate::web::ops::device::{self, Confirm, MqttChange};
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
        .route("/api/mqtt/bridge/status", get(bridge))
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
            settings::channels_json(&st.channels),
        )
    };
    Ok(Json(json!({
        "localConfig": object(local),
        "moduleConfig": object(modules),
        "channels": channels,
    })))
}

/// The radio's MQTT settings in the original's names, without the password (`passwordSet`
/// says whether there is one); `root` is the firmware's default when unset.
async fn mqtt(ctx: Ctx) -> Result<Json<Value>> {
    let link = ctx.require_link()?;
    let m = link.state().module_config.mqtt.clone().unwrap_or_default();
    let mut v = settings::section("mqtt", &m);
    if m.root.is_empty() {
        v["root"] = json!("msh/US");
    }
    Ok(Json(v))
}

/// `camelCase` to `snake_case`.
fn snake(k: &str) -> String {
    let mut out = String::with_capacity(k.len() + 4);
    for c in k.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The original's camelCase fields (`tlsEnabled`, ...) and our snake_case ones alike; any
/// other field is refused, so nothing is dropped unsaid.
async fn write_mqtt(ctx: Ctx, ApiJson(body): ApiJson<Map<String, Value>>) -> Result<Json<Value>> {
    let fields: Map<String, Value> = body
        .into_iter()
        .filter(|(k, _)| k != "session_name")
        .map(|(k, v)| (snake(&k), v))
        .collect();
    let c: MqttChange = serde_json::from_value(Value::Object(fields))
        .map_err(|e| AppError::BadRequest(format!("MQTT settings: {e}")))?;
    device::write_mqtt(&ctx.require_link()?, c).await?;
    let message = "MQTT configuration updated. Device will reboot to apply changes.";
    Ok(Json(json!({"status": "success", "message": message})))
}

async fn action(ctx: &Ctx, name: &str) -> Result<Json<Value>> {
    let msg = device::action(&ctx.require_link()?, name, Confirm::Api).await?;
    Ok(Json(json!({"status": "success", "message": msg})))
}

async fn reboot(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "reboot").await
}

async fn shutdown(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "shutdown").await
}

async fn nodedb_reset(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "nodedb-reset").await
}

/// As the original: no body and no confirmation over JSON (an admin's route when login is
/// on); the page keeps its typed confirmation.
async fn factory_reset(ctx: Ctx) -> Result<Json<Value>> {
    action(&ctx, "factory-reset").await
}

/// Always an answer, as the original: before a radio is connected, nothing counted yet and
/// the root `unknown`.
async fn health(ctx: Ctx) -> Result<Json<Value>> {
    let Some(link) = ctx.link() else {
        return Ok(Json(json!({
            "last_mqtt_ago": null, "last_rf_ago": null, "mqtt_count": 0, "rf_count": 0,
            "mqtt_sent": 0, "uptime": 0, "health_status": "unknown", "health_color": "gray",
            "health_message": "No data yet", "mqtt_root": "unknown", "mqtt_enabled": false,
        })));
    };
    let mut h = mqtt_health(&link.state(), SystemTime::now());
    if h.mqtt_root.is_empty() {
        h.mqtt_root = "msh/US".into();
    }
    Ok(Json(serde_json::to_value(h).map_err(anyhow::Error::from)?))
}

/// The original manages a local mosquitto bridge; meshdeck runs none, and says so in the
/// original's shape.
async fn bridge() -> Json<Value> {
    Json(json!({
        "installed": false,
        "running": false,
        "config": null,
        "managed": false,
        "message": "meshdeck manages no MQTT bridge; configure the radio's own MQTT module instead",
    }))
}

async fn store_forward(ctx: Ctx) -> Result<Json<Value>> {
    let sf = ctx
        .require_link()?
        .state()
        .module_config
        .store_forward
        .unwrap_or_default();
    let mut v = settings::section("store_forward", &sf);
    v["available"] = json!(true);
    v["role"] = json!(match (sf.enabled, sf.is_server) {
        (true, true) => "server",
        (true, false) => "client",
        (false, _) => "disabled",
    });
    Ok(Json(v))
}
