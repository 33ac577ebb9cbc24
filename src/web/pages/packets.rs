//! The packet log tab: the newest packets (or the whole ring), filtered by port type, with
//! live rows over the page's own stream.

use axum::extract::Query;
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::read::names::short_names_of;
use crate::views::layout::Tab;
use crate::views::packets::{packets_page, stream_path, PAGE_ROWS};
use crate::web::{access, page, AppState, Ctx};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/packets", get(log))
        .route_layer(from_fn(access::operate))
}

/// A port name as the filter sends it: upper-case letters, digits and `_`.
fn port_filter(port: &str) -> Result<Option<&str>> {
    let port = port.trim();
    let plausible = port.len() <= 40
        && port
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit());
    if !plausible {
        return Err(AppError::BadRequest(format!("unknown port type {port:?}")));
    }
    Ok((!port.is_empty()).then_some(port))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PacketsQuery {
    port: String,
    /// Any value: the whole ring rather than the newest [`PAGE_ROWS`].
    all: Option<String>,
}

async fn log(ctx: Ctx, Query(q): Query<PacketsQuery>) -> Result<Response> {
    let port = port_filter(&q.port)?;
    let all = q.all.is_some();
    let Some(link) = ctx.link() else {
        return page::no_radio(&ctx).await;
    };
    // Copy the rows and the names they need, then render without the lock, so the link
    // task is never kept waiting by a page.
    let (rows, total, names) = {
        let st = link.state();
        let mut rows = Vec::new();
        let mut total = 0;
        for p in st
            .packets
            .iter()
            .rev()
            .filter(|p| port.is_none_or(|want| p.port_name() == want))
        {
            total += 1;
            if all || rows.len() < PAGE_ROWS {
                rows.push(p.entry());
            }
        }
        let names = short_names_of(&st, rows.iter().flat_map(|p| [p.from, p.to]));
        (rows, total, names)
    };
    let body = packets_page(&rows, total, &names, port, all);
    let stream = stream_path(port);
    let tab = Some(Tab::Packets);
    Ok(page::full(&ctx, "Packet log", tab, Some(&stream), body).into_response())
}
