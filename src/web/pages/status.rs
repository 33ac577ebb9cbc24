//! The status bar's own URL (its polling fallback), its "Reconnect now", and the operators'
//! `/healthz` and `/metrics` (public, Prometheus text format).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::middleware::from_fn;
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::Result;
use crate::views::components;
use crate::web::{access, parts, AppState, Ctx};

pub fn router() -> Router<AppState> {
    let public = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics));
    Router::new()
        .route("/status", get(status))
        .route("/reconnect", post(reconnect_now))
        .route_layer(from_fn(access::operate))
        .merge(public)
}

async fn status(ctx: Ctx) -> Result<Response> {
    if ctx.expired {
        return Ok(components::error_toast("Session expired, reconnect.").into_response());
    }
    let link = ctx.require_link()?;
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    Ok(parts::status(&link, &ctx.company(), notice.as_deref()).into_response())
}

/// "Reconnect now": a lost radio is tried again at once, whatever its backoff (one that
/// another app took included); answers the status bar.
async fn reconnect_now(ctx: Ctx) -> Result<Response> {
    let link = ctx.require_link()?;
    link.reconnect_now().await?;
    if !ctx.htmx {
        return Ok(Redirect::to("/nodes").into_response());
    }
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    Ok(parts::status(&link, &ctx.company(), notice.as_deref()).into_response())
}

async fn healthz() -> impl IntoResponse {
    "ok"
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let figures = [
        (
            "meshdeck_sessions",
            "Sessions holding state.",
            "gauge",
            state.sessions.count().to_string(),
        ),
        (
            "meshdeck_links_open",
            "Open radio links.",
            "gauge",
            state.registry.open_links().to_string(),
        ),
        (
            "meshdeck_packets_in_total",
            "Packets received from radios.",
            "counter",
            m.packets_in.load(Ordering::Relaxed).to_string(),
        ),
        (
            "meshdeck_send_queue_depth",
            "Texts waiting for the firmware's interval.",
            "gauge",
            m.send_queue.load(Ordering::Relaxed).to_string(),
        ),
        (
            "meshdeck_history_dropped_total",
            "History changes not stored because the writer's queue was full.",
            "counter",
            m.history_dropped.load(Ordering::Relaxed).to_string(),
        ),
        (
            "meshdeck_kept_radios",
            "Kept radios (connected or not).",
            "gauge",
            state.kept.list().len().to_string(),
        ),
        (
            "meshdeck_sse_clients",
            "Open live streams.",
            "gauge",
            m.sse_clients.load(Ordering::Relaxed).to_string(),
        ),
        (
            "meshdeck_sse_lagged_total",
            "Events skipped by slow live streams.",
            "counter",
            m.sse_lagged.load(Ordering::Relaxed).to_string(),
        ),
        (
            "meshdeck_connects_total",
            "Connect attempts.",
            "counter",
            m.connects.load(Ordering::Relaxed).to_string(),
        ),
    ];
    let mut out = String::new();
    for (name, help, kind, v) in figures {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
