//! Choosing a radio: the start page, the connect form, disconnect, and the browser's saved
//! connections. Any user may choose the radio they look at.

use axum::extract::Path;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::views::connect::{connect_form, saved_list, ConnectPage};
use crate::web::connect::{self, Target};
use crate::web::page::{self, Retry};
use crate::web::{access, respond, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let start = Router::new()
        .route("/", get(home))
        .route_layer(from_fn(access::operate));
    Router::new()
        .route("/connect", get(connect_page).post(connect))
        .route("/disconnect", post(disconnect))
        .route("/connections", post(save_connection))
        .route("/connections/{id}/delete", post(delete_connection))
        .route_layer(from_fn(access::view))
        .merge(start)
}

/// The nodes of the session's radio, or the connect page.
async fn home(ctx: Ctx) -> Result<Response> {
    if ctx.link().is_some() {
        return Ok(Redirect::to("/nodes").into_response());
    }
    connect_page(ctx).await
}

async fn connect_page(ctx: Ctx) -> Result<Response> {
    Ok(page::connect(&ctx, None).await?.into_response())
}

#[derive(Deserialize)]
struct ConnectForm {
    host: String,
    port: Option<String>,
    takeover: Option<String>,
}

async fn connect(ctx: Ctx, Form(f): Form<ConnectForm>) -> Result<Response> {
    let state = &ctx.app;
    let target = Target::parse(&f.host, Target::form_port(f.port.as_deref())?)?;
    let e = match connect::connect(state, &ctx, &target, f.takeover.is_some()).await {
        Ok(_) => return Ok(respond::go(&ctx, "/nodes")),
        Err(e) => e,
    };
    // The form itself carries the error, so it is swapped like a success.
    let retry = Retry {
        host: &target.host,
        port: target.port,
        in_use: matches!(e, AppError::Conflict(_)),
        error: &e.public_message(),
    };
    if ctx.htmx {
        let p = ConnectPage {
            host: retry.host,
            port: retry.port,
            saved: &[],
            demo: &[],
            in_use: retry.in_use,
            error: Some(retry.error),
            first_admin: None,
        };
        let swap = [("HX-Retarget", "#connect-form"), ("HX-Reswap", "outerHTML")];
        return Ok((e.status(), swap, connect_form(&p)).into_response());
    }
    let body = page::connect(&ctx, Some(retry)).await?;
    Ok((e.status(), body).into_response())
}

async fn disconnect(ctx: Ctx) -> Response {
    let state = &ctx.app;
    connect::disconnect(state, &ctx).await;
    respond::go(&ctx, "/")
}

#[derive(Deserialize)]
struct SaveForm {
    name: String,
    host: String,
    port: Option<String>,
}

async fn save_connection(ctx: Ctx, Form(f): Form<SaveForm>) -> Result<Response> {
    let state = &ctx.app;
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::BadRequest("name must be 1–64 characters".into()));
    }
    let port = f.port.as_deref().and_then(|p| p.trim().parse::<i64>().ok());
    let t = Target::parse(&f.host, port)?;
    state
        .store
        .save_connection(&ctx.owner, name, &t.host, t.port)
        .await?;
    saved_fragment(state, &ctx).await
}

async fn delete_connection(ctx: Ctx, Path(id): Path<i64>) -> Result<Response> {
    let state = &ctx.app;
    if !state.store.delete_connection(&ctx.owner, id).await? {
        return Err(AppError::NotFound("no such saved connection".into()));
    }
    saved_fragment(state, &ctx).await
}

async fn saved_fragment(state: &AppState, ctx: &Ctx) -> Result<Response> {
    if !ctx.htmx {
        return Ok(Redirect::to("/connect").into_response());
    }
    let saved = state.store.saved_connections(&ctx.owner).await?;
    Ok(saved_list(&saved).into_response())
}
