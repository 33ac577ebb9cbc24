//! The coverage picture: an SVG document of every positioned node by bearing and distance
//! from this radio, coloured by its last traceroute (live, else the newest stored).

use std::collections::HashMap;

use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::Result;
use crate::ids::NodeNum;
use crate::radio::trace::TraceStatus;
use crate::read::geometry;
use crate::views::traceroute::coverage_svg;
use crate::web::{access, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/traceroute/coverage.svg", get(picture))
        .route_layer(from_fn(access::operate))
}

/// The picture styles itself; nothing else may run or load in it.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

async fn picture(ctx: Ctx) -> Result<Response> {
    let state = &ctx.app;
    let link = ctx.require_link()?;
    let radio = link.state().radio_key;
    let stored = state.store.latest_traces(radio).await?;
    let mut outcome: HashMap<NodeNum, TraceStatus> =
        stored.into_iter().map(|t| (t.dest, t.status)).collect();
    let (placed, label) = {
        let st = link.state();
        outcome.extend(st.traces.traces.values().map(|t| (t.dest, t.status)));
        geometry::coverage(&st, &outcome)
    };
    let css = include_str!("../../../assets/coverage.css");
    let body = coverage_svg(&placed, &label).into_string().replacen(
        "<rect",
        &format!("<style>{css}</style><rect"),
        1,
    );
    let headers = [
        ("content-type", "image/svg+xml"),
        ("cache-control", "no-store"),
        ("content-security-policy", CSP),
    ];
    Ok((headers, body).into_response())
}
