//! `/api/connect` and `/api/disconnect`: the original's connect replies, `{"status":
//! "error", "message": ...}` on failure rather than the usual error shape.

use axum::extract::State;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::status::link_json;
use super::ApiJson;
use crate::error::AppError;
use crate::web::connect::{self, Target};
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/connect", post(connect))
        .route("/api/disconnect", post(disconnect))
        .route_layer(from_fn(access::view))
}

#[derive(Deserialize)]
struct ConnectBody {
    host: String,
    #[serde(default)]
    port: Option<Value>,
    #[serde(default)]
    takeover: bool,
}

async fn connect(
    State(state): State<AppState>,
    ctx: Ctx,
    body: Result<ApiJson<ConnectBody>, AppError>,
) -> Response {
    let result = async {
        let ApiJson(b) = body?;
        let target = Target::parse(&b.host, Target::json_port(b.port.as_ref()))?;
        let link = connect::connect(&state, &ctx, &target, b.takeover).await?;
        // "connected" only once it is: `/api/status` says the same right after.
        connect::until_up(&state, &link).await?;
        Ok::<_, AppError>(link)
    };
    match result.await {
        Ok(link) => {
            let (my_node, node_count) = link_json(&link);
            let body = json!({"status": "connected", "myNode": my_node, "nodeCount": node_count});
            Json(body).into_response()
        }
        Err(e) => {
            let body = json!({"status": "error", "message": e.public_message()});
            (e.status(), Json(body)).into_response()
        }
    }
}

async fn disconnect(State(state): State<AppState>, ctx: Ctx) -> Json<Value> {
    connect::disconnect(&state, &ctx).await;
    Json(json!({"status": "disconnected"}))
}
