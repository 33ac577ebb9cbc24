//! HTML pages and fragments. One URL, two renderings: an HTMX request gets the fragment,
//! a plain request the whole page.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::Markup;
use serde::Deserialize;

use super::connect::{self, Target};
use super::{AppState, Ctx};
use crate::error::{AppError, Result};
use crate::radio::LinkHandle;
use crate::read::nodes::{self, NodeFilter};
use crate::read::summary::Summary;
use crate::views::connect::{connect_form, connect_page as connect_view, saved_list, ConnectPage};
use crate::views::layout::{page, Chrome, Tab};
use crate::views::{self, components};

const EXPIRED: &str = "Session expired, reconnect.";

/// The status bar and cards of a link.
pub fn status_markup(link: &LinkHandle, notice: Option<&str>) -> Markup {
    let summary = Summary::of(&link.state(), link.addr().to_string());
    views::status::status(&summary, notice, SystemTime::now())
}

/// A page of a connected session, or the connect page when there is no link.
async fn connected_page(
    state: &AppState,
    ctx: &Ctx,
    title: &str,
    tab: Tab,
    stream: Option<&str>,
    body: impl FnOnce(&LinkHandle) -> Markup,
) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return Ok(disconnected_page(state, ctx, None).await?.into_response());
    };
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let addr = link.addr().to_string();
    let chrome = Chrome {
        title,
        radio: Some(&addr),
        tab: Some(tab),
        status: Some(status_markup(&link, notice.as_deref())),
        notice: None,
        stream,
    };
    Ok(page(chrome, body(&link)).into_response())
}

async fn disconnected_page(state: &AppState, ctx: &Ctx, error: Option<&str>) -> Result<Markup> {
    let saved = state.store.saved_connections(&ctx.owner).await?;
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let notice = if ctx.expired {
        Some(EXPIRED.to_string())
    } else {
        notice
    };
    let p = ConnectPage {
        host: "",
        port: 4403,
        saved: &saved,
        demo: &state.demo,
        in_use: false,
        error,
    };
    // A session that holds a radio keeps its header while it picks another.
    let link = ctx.link();
    let addr = link.as_ref().map(|l| l.addr().to_string());
    let chrome = Chrome {
        title: "Connect",
        radio: addr.as_deref(),
        tab: None,
        status: link.as_ref().map(|l| status_markup(l, notice.as_deref())),
        notice: notice.as_deref(),
        stream: None,
    };
    Ok(page(chrome, connect_view(&p)))
}

pub async fn home(State(state): State<AppState>, ctx: Ctx) -> Result<Response> {
    if ctx.link().is_some() {
        return Ok(Redirect::to("/nodes").into_response());
    }
    Ok(disconnected_page(&state, &ctx, None).await?.into_response())
}

pub async fn connect_page(State(state): State<AppState>, ctx: Ctx) -> Result<Response> {
    Ok(disconnected_page(&state, &ctx, None).await?.into_response())
}

#[derive(Deserialize)]
pub struct ConnectForm {
    host: String,
    port: Option<String>,
    takeover: Option<String>,
}

pub async fn connect(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<ConnectForm>,
) -> Result<Response> {
    let port = match f.port.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(
            p.parse::<i64>()
                .map_err(|_| AppError::BadRequest(format!("port must be a number, not {p:?}")))?,
        ),
    };
    let target = Target::parse(&f.host, port)?;
    let result = connect::connect(&state, &ctx, &target, f.takeover.is_some()).await;
    match result {
        Ok(_) if ctx.htmx => Ok(([("HX-Redirect", "/nodes")], StatusCode::OK).into_response()),
        Ok(_) => Ok(Redirect::to("/nodes").into_response()),
        Err(e) => {
            let in_use = matches!(e, AppError::Conflict(_));
            let msg = e.public_message();
            if ctx.htmx {
                let p = ConnectPage {
                    host: &target.host,
                    port: target.port,
                    saved: &[],
                    demo: &[],
                    in_use,
                    error: Some(&msg),
                };
                // The form itself carries the error, so it is swapped like a success.
                Ok((
                    e.status(),
                    [("HX-Retarget", "#connect-form"), ("HX-Reswap", "outerHTML")],
                    connect_form(&p),
                )
                    .into_response())
            } else {
                let saved = state.store.saved_connections(&ctx.owner).await?;
                let p = ConnectPage {
                    host: &target.host,
                    port: target.port,
                    saved: &saved,
                    demo: &state.demo,
                    in_use,
                    error: Some(&msg),
                };
                let chrome = Chrome {
                    title: "Connect",
                    radio: None,
                    tab: None,
                    status: None,
                    notice: None,
                    stream: None,
                };
                Ok((e.status(), page(chrome, connect_view(&p))).into_response())
            }
        }
    }
}

pub async fn disconnect(State(state): State<AppState>, ctx: Ctx) -> Response {
    connect::disconnect(&state, &ctx).await;
    if ctx.htmx {
        ([("HX-Redirect", "/")], StatusCode::OK).into_response()
    } else {
        Redirect::to("/").into_response()
    }
}

#[derive(Deserialize)]
pub struct SaveForm {
    name: String,
    host: String,
    port: Option<String>,
}

pub async fn save_connection(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<SaveForm>,
) -> Result<Response> {
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
    saved_fragment(&state, &ctx).await
}

pub async fn delete_connection(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<i64>,
) -> Result<Response> {
    if !state.store.delete_connection(&ctx.owner, id).await? {
        return Err(AppError::NotFound("no such saved connection".into()));
    }
    saved_fragment(&state, &ctx).await
}

async fn saved_fragment(state: &AppState, ctx: &Ctx) -> Result<Response> {
    if !ctx.htmx {
        return Ok(Redirect::to("/connect").into_response());
    }
    let saved = state.store.saved_connections(&ctx.owner).await?;
    Ok(saved_list(&saved).into_response())
}

#[derive(Deserialize, Default)]
pub struct NodesQuery {
    #[serde(default)]
    filter: String,
    #[serde(default)]
    q: String,
}

pub async fn nodes(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<NodesQuery>,
) -> Result<Response> {
    let filter: NodeFilter = q.filter.parse().map_err(AppError::BadRequest)?;
    let query = q.q.chars().take(100).collect::<String>();
    if ctx.htmx {
        let link = ctx.link().ok_or(if ctx.expired {
            AppError::SessionExpired
        } else {
            AppError::NotConnected
        })?;
        let rows = nodes::rows(&link.state(), filter, &query);
        return Ok(views::nodes::nodes_table(&rows, SystemTime::now()).into_response());
    }
    connected_page(&state, &ctx, "Nodes", Tab::Nodes, None, |link| {
        let rows = nodes::rows(&link.state(), filter, &query);
        views::nodes::nodes_page(&rows, filter, &query, SystemTime::now())
    })
    .await
}

pub async fn node(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response> {
    let num: crate::ids::NodeNum = id.parse()?;
    let Some(link) = ctx.link() else {
        return Ok(disconnected_page(&state, &ctx, None).await?.into_response());
    };
    let row = {
        let st = link.state();
        let me = nodes::my_row(&st).and_then(|r| r.lat.zip(r.lon));
        st.nodes.get(num).map(|n| nodes::row(n, me))
    };
    let row =
        row.ok_or_else(|| AppError::NotFound(format!("node {id} is not in the radio's node DB")))?;
    let (latest, history) = super::traceroute::node_traces(&state, &link, num).await?;
    connected_page(
        &state,
        &ctx,
        &row.long_name.clone(),
        Tab::Nodes,
        None,
        |link| {
            maud::html! {
                (views::nodes::node_detail(&row, SystemTime::now()))
                (super::traceroute::node_traces_markup(link, num, latest.as_ref(), &history))
            }
        },
    )
    .await
}

#[derive(Deserialize, Default)]
pub struct PacketsQuery {
    #[serde(default)]
    port: String,
    /// Any value: the whole ring rather than the newest [`views::packets::PAGE_ROWS`].
    all: Option<String>,
}

pub async fn packets(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<PacketsQuery>,
) -> Result<Response> {
    let port = q.port.trim();
    if !port.is_empty()
        && (port.len() > 40
            || !port
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit()))
    {
        return Err(AppError::BadRequest(format!("unknown port type {port:?}")));
    }
    let port = (!port.is_empty()).then_some(port);
    let all = q.all.is_some();
    let stream = views::packets::stream_path(port);
    connected_page(
        &state,
        &ctx,
        "Packet log",
        Tab::Packets,
        Some(&stream),
        |link| {
            // Copy the rows and the names they need, then render without the lock, so the
            // link task is never kept waiting by a page.
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
                    if all || rows.len() < views::packets::PAGE_ROWS {
                        rows.push(p.clone());
                    }
                }
                let names = views::packets::names_of(&st, rows.iter().flat_map(|p| [p.from, p.to]));
                (rows, total, names)
            };
            views::packets::packets_page(&rows, total, &names, port, all)
        },
    )
    .await
}

pub async fn status(ctx: Ctx) -> Result<Response> {
    if ctx.expired {
        return Ok(components::error_toast(EXPIRED).into_response());
    }
    let link = ctx.link().ok_or(AppError::NotConnected)?;
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    Ok(status_markup(&link, notice.as_deref()).into_response())
}

pub async fn healthz() -> impl IntoResponse {
    "ok"
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let m = &state.metrics;
    let mut metric = |name: &str, help: &str, kind: &str, v: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    };
    metric(
        "meshdeck_sessions",
        "Sessions holding state.",
        "gauge",
        state.sessions.count().to_string(),
    );
    metric(
        "meshdeck_links_open",
        "Open radio links.",
        "gauge",
        state.registry.open_links().to_string(),
    );
    metric(
        "meshdeck_packets_in_total",
        "Packets received from radios.",
        "counter",
        m.packets_in.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "meshdeck_send_queue_depth",
        "Texts waiting for the firmware's interval.",
        "gauge",
        m.send_queue.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "meshdeck_history_dropped_total",
        "History changes not stored because the writer's queue was full.",
        "counter",
        m.history_dropped.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "meshdeck_sse_clients",
        "Open live streams.",
        "gauge",
        m.sse_clients.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "meshdeck_sse_lagged_total",
        "Events skipped by slow live streams.",
        "counter",
        m.sse_lagged.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "meshdeck_connects_total",
        "Connect attempts.",
        "counter",
        m.connects.load(Ordering::Relaxed).to_string(),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
