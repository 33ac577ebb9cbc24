//! The Radios page: kept radios (list, attach, connect, disconnect; create, edit and delete
//! for admins when the installation has users) and every radio open now.

use std::time::SystemTime;

use axum::extract::Path;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::auth::Role;
use crate::error::{AppError, Result};
use crate::kept::KeptError;
use crate::radio::registry::Holder;
use crate::views::radios::{radios_page, OpenLink, RadioRow};
use crate::web::connect::Target;
use crate::web::{access, connect, ops, page, respond, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let look = Router::new()
        .route("/radios", get(show))
        .route("/radios/{name}/open", post(open))
        .route_layer(from_fn(access::view));
    let run = Router::new()
        .route("/radios/{name}/connect", post(run_radio))
        .route("/radios/{name}/disconnect", post(stop_radio))
        .route_layer(from_fn(access::operate));
    let manage = Router::new()
        .route("/radios/create", post(create))
        .route("/radios/{name}/edit", post(edit))
        .route("/radios/{name}/delete", post(delete))
        .route("/radios/same/{key}", post(same_radio))
        .route_layer(from_fn(access::admin));
    look.merge(run).merge(manage)
}

/// Admins manage kept radios; without users, everybody is one.
fn manages(state: &AppState, ctx: &Ctx) -> bool {
    !state.login_required() || ctx.user().is_some_and(|u| u.role >= Role::Admin)
}

fn rows(state: &AppState) -> Vec<RadioRow> {
    state
        .kept
        .list()
        .iter()
        .map(|k| RadioRow {
            name: k.rec.name.clone(),
            address: crate::allow::display(&k.rec.host, k.rec.port),
            state: k.state_word(),
            detail: match &k.status {
                Some(crate::radio::LinkStatus::Reconnecting { error, .. }) => Some(error.clone()),
                Some(_) => None,
                None => k.error.clone(),
            },
            sessions: k.sessions,
            last_packet: k.last_packet,
            auto_connect: k.rec.auto_connect,
            responder: k.responder_on,
            beacon: k.beacon_on,
            filter: k.filter_on,
            held: k.link.is_some() || k.connecting,
            virtual_port: state.vnodes.get(&k.rec.id).port,
            virtual_listening: state.vnodes.is_listening(&k.rec.id),
            virtual_admin: state.vnodes.get(&k.rec.id).admin,
        })
        .collect()
}

fn open_links(state: &AppState) -> Vec<OpenLink> {
    state
        .registry
        .open()
        .into_iter()
        .map(|(addr, holders)| OpenLink {
            address: addr.to_string(),
            sessions: holders
                .iter()
                .filter(|h| matches!(h, Holder::Session { .. }))
                .count(),
            kept: holders
                .iter()
                .filter_map(|h| match h {
                    Holder::Kept(n) => Some(n.clone()),
                    Holder::Session { .. } => None,
                })
                .collect(),
        })
        .collect()
}

async fn render(state: &AppState, ctx: &Ctx) -> Response {
    let apart = state.store.kept_apart().await.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "reading the radios kept apart failed");
        Vec::new()
    });
    let body = radios_page(
        &rows(state),
        &open_links(state),
        &apart,
        manages(state, ctx),
        state.config.max_radios,
        SystemTime::now(),
    );
    page::full(ctx, "Radios", None, None, body).into_response()
}

async fn show(ctx: Ctx) -> Response {
    let state = &ctx.app;
    render(state, &ctx).await
}

/// Attaches this browser session to a kept radio's link, then shows its nodes.
async fn open(ctx: Ctx, Path(name): Path<String>) -> Result<Response> {
    let state = &ctx.app;
    let link = state
        .kept
        .link(&name)
        .ok_or(AppError::Conflict(format!("{name} is not connected")))?;
    connect::attach(state, &ctx, link.addr(), false).await?;
    Ok(respond::go(&ctx, "/nodes"))
}

async fn run_radio(ctx: Ctx, Path(name): Path<String>) -> Result<Response> {
    let state = &ctx.app;
    state.kept.connect(&name).await?;
    Ok(render(state, &ctx).await)
}

async fn stop_radio(ctx: Ctx, Path(name): Path<String>) -> Result<Response> {
    let state = &ctx.app;
    state.kept.disconnect(&name).await?;
    Ok(render(state, &ctx).await)
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    host: String,
    port: Option<String>,
    auto_connect: Option<String>,
    virtual_port: Option<String>,
    virtual_admin: Option<String>,
}

/// The virtual node fields of a form.
fn vnode_change(port: Option<&str>, admin: Option<&str>) -> Result<ops::vnode::Change> {
    Ok(ops::vnode::Change {
        port: Some(ops::vnode::form_port(port.unwrap_or(""))?),
        admin: Some(admin.is_some()),
    })
}

async fn create(ctx: Ctx, Form(f): Form<CreateForm>) -> Result<Response> {
    let state = &ctx.app;
    // An empty host is the kept radio's own error ("Host is required").
    let (host, port) = match f.host.trim() {
        "" => (String::new(), 4403),
        h => {
            let t = Target::parse(h, Target::form_port(f.port.as_deref())?)?;
            (t.host, t.port)
        }
    };
    let vnode = vnode_change(f.virtual_port.as_deref(), f.virtual_admin.as_deref())?;
    vnode.check_new(state)?;
    let rec = state
        .kept
        .create(&f.name, &host, port, f.auto_connect.is_some())
        .await?;
    vnode.apply(state, &rec.id).await?;
    Ok(render(state, &ctx).await)
}

#[derive(Deserialize)]
struct EditForm {
    auto_connect: Option<String>,
    virtual_port: Option<String>,
    virtual_admin: Option<String>,
}

async fn edit(ctx: Ctx, Path(name): Path<String>, Form(f): Form<EditForm>) -> Result<Response> {
    let state = &ctx.app;
    state
        .kept
        .set_auto_connect(&name, f.auto_connect.is_some())
        .await?;
    let id = state.kept.get(&name).ok_or(KeptError::NotFound)?.rec.id;
    vnode_change(f.virtual_port.as_deref(), f.virtual_admin.as_deref())?
        .apply(state, &id)
        .await?;
    Ok(render(state, &ctx).await)
}

async fn delete(ctx: Ctx, Path(name): Path<String>) -> Result<Response> {
    let state = &ctx.app;
    match state.kept.delete(&name).await {
        Ok(()) | Err(KeptError::NotFound) => Ok(render(state, &ctx).await),
        Err(e) => Err(e.into()),
    }
}

/// An admin says a radio kept apart is the one known by its node number: its data joins
/// that radio's, and its open link keys what it records so from now on.
async fn same_radio(ctx: Ctx, Path(key): Path<i64>) -> Result<Response> {
    let state = &ctx.app;
    let apart = state.store.kept_apart().await?;
    let Some(a) = apart.iter().find(|a| a.key.0 == key) else {
        return Err(AppError::NotFound("no radio kept apart by that key".into()));
    };
    // The links first, so nothing more is recorded under the key that goes.
    let joined: Vec<_> = state
        .registry
        .links()
        .into_iter()
        .filter(|l| l.state().radio_key == a.key)
        .collect();
    for link in &joined {
        let _ = link.rekey(a.known_key).await;
    }
    state.store.same_radio(a.key).await?;
    for link in &joined {
        crate::kept::prepare_link(&state.store, link).await;
    }
    tracing::info!(node = %a.node, address = %a.address, "an admin joined a radio kept apart");
    Ok(render(state, &ctx).await)
}
