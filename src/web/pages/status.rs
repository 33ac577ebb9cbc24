//! The status bar's own URL (its polling fallback), its "Reconnect now", and the operators'
//! `/healthz` and `/metrics` (public, Prometheus text format).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Query, State};
use axum::http::header;
use axum::middleware::from_fn;
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::Result;
use crate::views::components;
use crate::views::status::Bar;
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

/// `?bar=line`: the compact line of the pages beside the nodes page.
#[derive(serde::Deserialize)]
struct BarQuery {
    bar: Option<String>,
}

async fn status(ctx: Ctx, Query(q): Query<BarQuery>) -> Result<Response> {
    if ctx.expired {
        return Ok(components::error_toast("Session expired, reconnect.").into_response());
    }
    let link = ctx.require_link()?;
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let bar = Bar::from_query(q.bar.as_deref());
    let alerts = ctx.app.alerts.unacknowledged(link.state().radio_key);
    Ok(parts::status(&link, &ctx.company(), notice.as_deref(), bar, alerts).into_response())
}

/// "Reconnect now": a lost radio is tried again at once, whatever its backoff (one that
/// another app took included); answers the status bar.
async fn reconnect_now(ctx: Ctx, Query(q): Query<BarQuery>) -> Result<Response> {
    let link = ctx.require_link()?;
    link.reconnect_now().await?;
    if !ctx.htmx {
        return Ok(Redirect::to("/nodes").into_response());
    }
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let bar = Bar::from_query(q.bar.as_deref());
    let alerts = ctx.app.alerts.unacknowledged(link.state().radio_key);
    Ok(parts::status(&link, &ctx.company(), notice.as_deref(), bar, alerts).into_response())
}

async fn healthz() -> impl IntoResponse {
    "ok"
}

/// Prometheus' text format, one figure at a time.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    fn figure(&mut self, kind: &str, name: &str, help: &str, value: impl std::fmt::Display) {
        let _ = writeln!(
            self.0,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.figure("gauge", name, help, value);
    }

    fn counter(&mut self, name: &str, help: &str, value: &AtomicU64) {
        self.figure("counter", name, help, value.load(Ordering::Relaxed));
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let mut out = Exposition::default();
    out.gauge(
        "meshdeck_sessions",
        "Sessions holding state.",
        state.sessions.count(),
    );
    out.gauge(
        "meshdeck_links_open",
        "Open radio links.",
        state.registry.open_links(),
    );
    out.counter(
        "meshdeck_packets_in_total",
        "Packets received from radios.",
        &m.packets_in,
    );
    let queued = m.send_queue.load(Ordering::Relaxed);
    out.gauge(
        "meshdeck_send_queue_depth",
        "Texts waiting for the firmware's interval.",
        queued,
    );
    let why = "History changes not stored because the writer's queue was full.";
    out.counter("meshdeck_history_dropped_total", why, &m.history_dropped);
    out.gauge(
        "meshdeck_kept_radios",
        "Kept radios (connected or not).",
        state.kept.list().len(),
    );
    let streams = m.sse_clients.load(Ordering::Relaxed);
    out.gauge("meshdeck_sse_clients", "Open live streams.", streams);
    let why = "Events slow live streams fell behind by (a packet log's are sent from the log).";
    out.counter("meshdeck_sse_lagged_total", why, &m.sse_lagged);
    let why = "Bytes of live-stream events before compression.";
    out.counter("meshdeck_sse_bytes_raw_total", why, &m.sse_bytes_raw);
    let why = "Bytes of live-stream events sent (gzipped where the browser accepts it).";
    out.counter("meshdeck_sse_bytes_sent_total", why, &m.sse_bytes_sent);
    out.counter("meshdeck_connects_total", "Connect attempts.", &m.connects);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out.0)
}
