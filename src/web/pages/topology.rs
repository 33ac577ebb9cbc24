//! `/topology`: who hears whom, as a graph and a table of links (NeighborInfo reports and
//! traceroute hops).

use std::time::SystemTime;

use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::Result;
use crate::views::layout::Tab;
use crate::views::topology::topology_page;
use crate::web::ops::topology;
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/topology", get(show))
        .route_layer(from_fn(access::operate))
}

async fn show(ctx: Ctx) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let topo = topology::of_link(&ctx.app, &link).await?;
    let body = topology_page(&topo, SystemTime::now());
    Ok(page::full(&ctx, "Topology", Some(Tab::Topology), None, body).into_response())
}
