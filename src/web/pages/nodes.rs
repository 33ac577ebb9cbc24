//! The nodes tab: the table (filter and search, live as you type) and a node's detail page
//! with its traceroutes and actions.

use std::time::SystemTime;

use axum::extract::{Path, Query};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::html;
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::ids::NodeNum;
use crate::read::history::HeardWithin;
use crate::read::names::long_names;
use crate::read::nodes::{self, NodeFilter};
use crate::views;
use crate::views::history::Range;
use crate::views::layout::Tab;
use crate::web::ops::{history, trace};
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/nodes", get(table))
        .route("/node/{id}", get(node))
        .route_layer(from_fn(access::operate))
}

/// `?filter=` (a [`NodeFilter`]) and `?q=` (a search); both may be left out.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NodesQuery {
    filter: String,
    q: String,
    /// "Heard within": any, 1h, 24h, 7d.
    heard: String,
}

async fn table(ctx: Ctx, Query(q): Query<NodesQuery>) -> Result<Response> {
    let filter: NodeFilter = q.filter.parse().map_err(AppError::BadRequest)?;
    let query = q.q.chars().take(100).collect::<String>();
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let heard = HeardWithin::parse(&q.heard).map_err(AppError::BadRequest)?;
    let now = SystemTime::now();
    let (radio, mut rows, all) = {
        let st = link.state();
        let all = st.nodes.iter().map(|n| n.num()).collect();
        (st.radio_key, nodes::rows(&st, filter, &query), all)
    };
    rows.retain(|r| heard.keeps(r.last_heard, now));
    let spark = history::sparks(&ctx.app, radio, all, now).await;
    if ctx.htmx {
        return Ok(views::nodes::nodes_table(&rows, &spark, now).into_response());
    }
    let body = views::nodes::nodes_page(&rows, (filter, heard), &query, &spark, now);
    Ok(page::full(&ctx, "Nodes", Some(Tab::Nodes), None, body).into_response())
}

/// `?range=` of a node's page: 24h (default), 7d or 30d.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NodeQuery {
    range: String,
}

async fn node(ctx: Ctx, Path(id): Path<String>, Query(q): Query<NodeQuery>) -> Result<Response> {
    let range = Range::parse(&q.range)
        .ok_or_else(|| AppError::BadRequest("range must be 24h, 7d or 30d".into()))?;
    let state = &ctx.app;
    let num: NodeNum = id.parse()?;
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    let (row, me, radio, names) = {
        let st = link.state();
        let here = nodes::my_row(&st).and_then(|r| r.lat.zip(r.lon));
        let row = st.nodes.get(num).map(|n| nodes::row(n, here));
        (row, st.my_node_num, st.radio_key, long_names(&st))
    };
    let row =
        row.ok_or_else(|| AppError::NotFound(format!("node {id} is not in the radio's node DB")))?;
    let (latest, traces) = trace::of_node(state, &link, num).await?;
    let now = SystemTime::now();
    let (points, past) = history::of_node(state, radio, num, range, now).await?;
    let body = html! {
        (views::nodes::node_detail(&row, now))
        (views::history::node_history(&row.id, &row.long_name, &points, &past, range, now))
        (views::traceroute::node_traces(num, latest.as_ref(), &traces, me, &names, now))
    };
    Ok(page::full(&ctx, &row.long_name, Some(Tab::Nodes), None, body).into_response())
}
