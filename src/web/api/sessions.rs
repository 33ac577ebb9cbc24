//! `/api/sessions`: kept radios with the original's persistent-session API (its newer
//! revision): list, create, connect, disconnect, delete, update. Beside its fields each
//! entry also says what meshdeck knows (state, attached sessions, last packet).

use axum::extract::{Path, State};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::status::link_json;
use super::ApiJson;
use crate::error::{AppError, Result};
use crate::kept::{KeptError, KeptView, PendingAutomation};
use crate::time::iso_us;
use crate::web::connect::Target;
use crate::web::{access, ops, AppState};

pub fn router() -> Router<AppState> {
    let look_and_use = Router::new()
        .route("/api/sessions", get(list))
        .route("/api/sessions/{name}/connect", post(connect))
        .route("/api/sessions/{name}/disconnect", post(disconnect))
        .route_layer(from_fn(access::operate));
    let manage = Router::new()
        .route("/api/sessions/create", post(create))
        .route("/api/sessions/{name}/delete", post(delete))
        .route("/api/sessions/{name}/update", post(update))
        .route_layer(from_fn(access::admin));
    look_and_use.merge(manage)
}

impl From<KeptError> for AppError {
    fn from(e: KeptError) -> AppError {
        match e {
            KeptError::NotFound => AppError::NotFound(e.to_string()),
            KeptError::NameTaken | KeptError::Invalid(_) | KeptError::Limit(_) => {
                AppError::BadRequest(e.to_string())
            }
            KeptError::NotAllowed(m) => AppError::Forbidden(m),
            KeptError::Radio(m) => AppError::Radio(m),
            KeptError::Store(m) => AppError::Internal(anyhow::anyhow!(m)),
        }
    }
}

fn entry(k: &KeptView) -> Value {
    json!({
        "name": k.rec.name,
        "host": k.rec.host,
        "port": k.rec.port,
        "session_id": k.rec.id,
        "auto_connect": k.rec.auto_connect,
        "connected": k.connected,
        "created_at": iso_us(k.rec.created_at),
        "last_connected": k.rec.last_connected.map(iso_us),
        "autoresponder_enabled": k.responder_on,
        "beacon_enabled": k.beacon_on,
        "filter_enabled": k.filter_on,
        "state": k.state_word(),
        "error": k.error,
        "attached_sessions": k.sessions,
        "last_packet": k.last_packet.map(iso_us),
    })
}

/// An entry with its virtual node.
fn entry_with_vnode(state: &AppState, k: &KeptView) -> Value {
    let mut e = entry(k);
    let v = state.vnodes.get(&k.rec.id);
    e["virtual_port"] = json!(v.port);
    e["virtual_admin"] = json!(v.admin);
    e["virtual_listening"] = json!(state.vnodes.is_listening(&k.rec.id));
    e
}

async fn list(State(state): State<AppState>) -> Json<Value> {
    let sessions: Vec<Value> = state
        .kept
        .list()
        .iter()
        .map(|k| entry_with_vnode(&state, k))
        .collect();
    Json(json!({ "sessions": sessions }))
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    name: Value,
    #[serde(default)]
    host: Value,
    #[serde(default)]
    port: Option<Value>,
    #[serde(default)]
    auto_connect: bool,
    #[serde(default, deserialize_with = "ops::vnode::present")]
    virtual_port: Option<Value>,
    #[serde(default)]
    virtual_admin: Option<bool>,
}

fn text_field(v: &Value, missing: &str) -> Result<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Value::String(_) | Value::Null => Err(AppError::BadRequest(missing.into())),
        _ => Err(AppError::BadRequest(format!("{missing} (as a string)"))),
    }
}

async fn create(
    State(state): State<AppState>,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<Json<Value>> {
    let name = text_field(&b.name, "Session name is required")?;
    let host = text_field(&b.host, "Host is required")?;
    let Target { host, port } = Target::parse(&host, Target::json_port(b.port.as_ref()))?;
    let vnode = ops::vnode::Change::from_json(b.virtual_port.as_ref(), b.virtual_admin)?;
    vnode.check_new(&state)?;
    let rec = state
        .kept
        .create(&name, &host, port, b.auto_connect)
        .await?;
    vnode.apply(&state, &rec.id).await?;
    Ok(Json(
        json!({"name": rec.name, "session_id": rec.id, "success": true}),
    ))
}

async fn connect(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(k) = state.kept.get(&name) else {
        return AppError::from(KeptError::NotFound).into_response();
    };
    let connected = match state.kept.connect(&name).await {
        Ok(link) => crate::web::connect::until_up(&state, &link)
            .await
            .map(|()| link)
            .map_err(|e| e.public_message()),
        Err(e) => Err(e.to_string()),
    };
    match connected {
        Ok(link) => {
            let (my_node, node_count) = link_json(&link);
            Json(json!({
                "status": "connected",
                "myNode": my_node,
                "nodeCount": node_count,
                "session_id": k.rec.id,
                "session_name": k.rec.name,
            }))
            .into_response()
        }
        Err(message) => {
            let body = json!({"status": "error", "message": message});
            let status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            (status, Json(body)).into_response()
        }
    }
}

async fn disconnect(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>> {
    // As the original: a radio that is not running is "not found" here.
    let running = state
        .kept
        .get(&name)
        .is_some_and(|k| k.link.is_some() || k.connecting);
    if !running {
        return Err(KeptError::NotFound.into());
    }
    state.kept.disconnect(&name).await?;
    Ok(Json(json!({"status": "disconnected"})))
}

async fn delete(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<Value>> {
    state.kept.delete(&name).await?;
    Ok(Json(json!({"success": true})))
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(default)]
    auto_connect: Option<bool>,
    #[serde(default, deserialize_with = "ops::vnode::present")]
    virtual_port: Option<Value>,
    #[serde(default)]
    virtual_admin: Option<bool>,
    #[serde(flatten)]
    automation: PendingAutomation,
}

async fn update(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<UpdateBody>,
) -> Result<Json<Value>> {
    let k = state.kept.get(&name).ok_or(KeptError::NotFound)?;
    if let Some(on) = b.auto_connect {
        state.kept.set_auto_connect(&name, on).await?;
    }
    ops::vnode::Change::from_json(b.virtual_port.as_ref(), b.virtual_admin)?
        .apply(&state, &k.rec.id)
        .await?;
    if !b.automation.is_empty() {
        match &k.link {
            Some(link) => ops::automation::apply(&state, link, &b.automation).await?,
            None => {
                // Kept for the first connect: checked now, together with what came before.
                let older = k
                    .rec
                    .pending
                    .as_deref()
                    .and_then(|j| serde_json::from_str::<PendingAutomation>(j).ok())
                    .unwrap_or_default();
                let pending = b.automation.over(older);
                pending.validate().map_err(AppError::BadRequest)?;
                let json = serde_json::to_string(&pending).map_err(anyhow::Error::from)?;
                state.kept.set_pending(&name, json).await?;
            }
        }
    }
    Ok(Json(json!({"success": true})))
}
