//! The traceroute tab: send a traceroute, cancel one, start and stop the session's RF
//! sweep. Results and sweep progress arrive over the page's stream (see `parts`).

use std::time::Duration;

use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::read::traces::{hop_limit, trace_targets};
use crate::views::layout::Tab;
use crate::views::traceroute::trace_form;
use crate::web::ops::{sweep, trace};
use crate::web::respond::done;
use crate::web::{access, page, parts, AppState, Ctx};

const PAGE: &str = "/traceroute";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(tab).post(send))
        .route("/traceroute/cancel", post(cancel))
        .route("/sweep", post(start_sweep))
        .route("/sweep/stop", post(stop_sweep))
        .route_layer(from_fn(access::operate))
}

async fn tab(ctx: Ctx) -> Result<Response> {
    let state = &ctx.app;
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let (targets, hops) = {
        let st = link.state();
        (trace_targets(&st), hop_limit(&st))
    };
    let sweep = parts::sweep(state, &link, ctx.session.as_deref()).await?;
    let body = html! {
        h2 { "Traceroute" }
        (trace_form(&targets, None, hops))
        (parts::traces(&link, |d| ctx.sees_trace(d)))
        (sweep)
        section.panel {
            h2 { "Coverage" }
            p.muted { "Nodes with a position, by bearing and distance from this radio; colour is the last traceroute's outcome." }
            img.coverage src="/traceroute/coverage.svg" alt="Coverage picture" width="600" height="600";
        }
    };
    Ok(page::full(&ctx, "Traceroute", Some(Tab::Traceroute), None, body).into_response())
}

#[derive(Deserialize)]
struct TraceForm {
    node: String,
    hop_limit: Option<String>,
}

async fn send(ctx: Ctx, Form(f): Form<TraceForm>) -> Result<Response> {
    let state = &ctx.app;
    let link = ctx.require_link()?;
    let dest = trace::target(&f.node)?;
    let hops = match f.hop_limit.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) => Some(
            h.parse::<u32>()
                .map_err(|_| AppError::BadRequest("hop limit must be 1–7".into()))?,
        ),
    };
    let sends_in = trace::queue(state, &ctx, &link, dest, hops).await?;
    let msg = if sends_in < Duration::from_millis(500) {
        format!("Traceroute to {dest} sent")
    } else {
        let secs = sends_in.as_secs().max(1);
        format!("Traceroute to {dest} queued, sends in {secs} s")
    };
    Ok(done(&ctx, &msg, PAGE))
}

#[derive(Deserialize)]
struct CancelForm {
    node: String,
}

async fn cancel(ctx: Ctx, Form(f): Form<CancelForm>) -> Result<Response> {
    let link = ctx.require_link()?;
    trace::cancel(&ctx, &link, trace::target(&f.node)?).await?;
    Ok(done(&ctx, "Traceroute cancelled", PAGE))
}

async fn start_sweep(ctx: Ctx) -> Result<Response> {
    let state = &ctx.app;
    let n = sweep::start(state, &ctx).await?;
    Ok(done(
        &ctx,
        &format!("Sweep of {} nodes started", n.len()),
        PAGE,
    ))
}

async fn stop_sweep(ctx: Ctx) -> Result<Response> {
    sweep::stop(&ctx)?;
    Ok(done(&ctx, "Sweep stopping", PAGE))
}
