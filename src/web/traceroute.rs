//! Traceroutes and RF sweeps: the page, its actions, the JSON API, and the fragments the
//! live stream pushes. Every probe goes through the link's probe queue.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use maud::Markup;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::ApiJson;
use super::{AppState, Ctx};
use crate::error::{ApiResult, AppError, Result};
use crate::ids::NodeNum;
use crate::radio::trace::{Trace, TraceStatus};
use crate::radio::LinkHandle;
use crate::radio::TraceError;
use crate::read::nodes::{haversine_km, row};
use crate::session::sweep::{self, Progress};
use crate::session::Session;
use crate::views::layout::{page, Chrome, Tab};
use crate::views::traceroute::{self as view, Placed, SweepView};

fn session_of(ctx: &Ctx) -> Result<&std::sync::Arc<Session>> {
    ctx.session.as_ref().ok_or(AppError::NotConnected)
}

fn long_names(link: &LinkHandle) -> HashMap<NodeNum, String> {
    let st = link.state();
    st.nodes
        .iter()
        .filter_map(|n| {
            n.user
                .as_ref()
                .map(|u| (n.num(), u.display_name().to_string()))
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}

/// The probe interval and a sweep's per-node timeout.
fn timing(state: &AppState) -> (Duration, Duration) {
    (
        Duration::from_millis(state.config.traceroute_interval_ms),
        Duration::from_millis(state.config.sweep_node_timeout_ms),
    )
}

/// A traceroute's target as typed: a node id, or `^all` (which the checks then refuse).
fn parse_node(s: &str) -> Result<NodeNum> {
    Ok(s.parse::<crate::ids::Dest>()?.num())
}

/// Queues a traceroute after the checks the page and the API share.
async fn queue(
    state: &AppState,
    link: &LinkHandle,
    dest: NodeNum,
    hop_limit: Option<u32>,
) -> Result<Duration> {
    if dest.is_broadcast() {
        return Err(AppError::BadRequest("cannot traceroute broadcast".into()));
    }
    if hop_limit.is_some_and(|h| !(1..=7).contains(&h)) {
        return Err(AppError::BadRequest("hop limit must be 1–7".into()));
    }
    {
        let st = link.state();
        if dest != st.my_node_num && !st.nodes.contains(dest) {
            return Err(AppError::BadRequest(format!(
                "unknown node {dest} (not in the radio's node DB)"
            )));
        }
    }
    link.traceroute(
        dest,
        hop_limit,
        Duration::from_millis(state.config.traceroute_timeout_ms),
        None,
    )
    .await
    .map_err(|e| match e {
        TraceError::Refused(r) => AppError::BadRequest(r.to_string()),
        TraceError::Link(l) => AppError::Radio(l.to_string()),
    })
}

/// A node's latest traceroute (live, or the newest stored) and its stored history.
pub async fn node_traces(
    state: &AppState,
    link: &LinkHandle,
    num: NodeNum,
) -> Result<(Option<Trace>, Vec<Trace>)> {
    let (radio, live) = {
        let st = link.state();
        (st.my_node_num, st.traces.traces.get(&num).cloned())
    };
    let history = state.store.trace_history(radio, num, 10).await?;
    let latest = live.or_else(|| history.first().cloned());
    Ok((latest, history))
}

/// The traceroute part of a node's detail page.
pub fn node_traces_markup(
    link: &LinkHandle,
    num: NodeNum,
    latest: Option<&Trace>,
    history: &[Trace],
) -> maud::Markup {
    let names = long_names(link);
    let me = link.state().my_node_num;
    let now = SystemTime::now();
    let id = num.to_string();
    maud::html! {
        section.panel #node-actions {
            h2 { "Actions" }
            div.row {
                a.button href=(format!("/messages?c={id}")) { "Message" }
                form.inline method="post" action="/traceroute" hx-post="/traceroute" hx-swap="none" {
                    input type="hidden" name="node" value=(id);
                    button type="submit" { "Traceroute" }
                }
            }
            h3 { "Latest traceroute" }
            @match latest {
                Some(t) => p { (t.status.name()) " · " (view::trace_detail(t, me, &names, now)) },
                None => p.muted { "None yet." },
            }
            @if !history.is_empty() {
                h3 { "History" }
                div.table-wrap {
                    table.traces {
                        thead { tr { th { "When" } th { "Result" } th { "Route" } } }
                        tbody {
                            @for t in history {
                                tr data-status=(t.status.name()) {
                                    td { (crate::views::ago(t.done_at.unwrap_or(t.queued_at), now)) }
                                    td { (t.status.name()) }
                                    td.summary { (view::trace_detail(t, me, &names, now)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The traces of this link, newest first.
fn traces(link: &LinkHandle) -> (NodeNum, Vec<Trace>) {
    let st = link.state();
    let mut v: Vec<Trace> = st.traces.traces.values().cloned().collect();
    v.sort_by_key(|t| std::cmp::Reverse(t.queued_at));
    (st.my_node_num, v)
}

pub fn traces_fragment(link: &LinkHandle) -> Markup {
    let (me, list) = traces(link);
    view::traces_table(&list, me, &long_names(link), SystemTime::now())
}

async fn sweep_view_parts(
    state: &AppState,
    link: &LinkHandle,
    progress: Option<&Progress>,
) -> Result<(usize, Duration, Option<sweep::Comparison>)> {
    let (radio, candidates) = {
        let st = link.state();
        (st.my_node_num, sweep::candidates(&st).len())
    };
    let (interval, per_node) = timing(state);
    let mut comparison = None;
    let done: Vec<_> = state
        .store
        .sweeps(radio, 2)
        .await?
        .into_iter()
        .filter(|s| s.ended.is_some())
        .collect();
    if done.len() == 2 && progress.is_none_or(|p| !p.running) {
        let now = state.store.sweep_traces(radio, done[0].id).await?;
        let before = state.store.sweep_traces(radio, done[1].id).await?;
        comparison = Some(sweep::compare(&before, &now));
    }
    Ok((
        candidates,
        sweep::estimate(candidates, interval, per_node),
        comparison,
    ))
}

pub async fn sweep_fragment(
    state: &AppState,
    link: &LinkHandle,
    session: Option<&Session>,
) -> Result<Markup> {
    let progress = session.and_then(|s| s.sweep()).map(|s| s.progress());
    let (candidates, estimate, comparison) =
        sweep_view_parts(state, link, progress.as_ref()).await?;
    let me = link.state().my_node_num;
    let v = SweepView {
        progress: progress.as_ref(),
        candidates,
        estimate,
        comparison: comparison.as_ref(),
    };
    Ok(view::sweep_panel(
        &v,
        me,
        &long_names(link),
        SystemTime::now(),
    ))
}

pub async fn page_handler(State(state): State<AppState>, ctx: Ctx) -> Result<Response> {
    let Some(link) = ctx.link() else {
        return Ok(axum::response::Redirect::to("/").into_response());
    };
    let (nodes, hop_limit) = {
        let st = link.state();
        let mut nodes: Vec<(NodeNum, String)> = st
            .nodes
            .iter()
            .filter(|n| n.num() != st.my_node_num)
            .map(|n| {
                (
                    n.num(),
                    n.user
                        .as_ref()
                        .map(|u| u.long_name().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect();
        nodes.sort_by_key(|a| a.1.to_lowercase());
        (
            nodes,
            st.config
                .lora
                .as_ref()
                .map(|l| l.hop_limit)
                .filter(|h| (1..=7).contains(h))
                .unwrap_or(3),
        )
    };
    let sweep = sweep_fragment(&state, &link, ctx.session.as_deref()).await?;
    let body = maud::html! {
        h2 { "Traceroute" }
        (view::trace_form(&nodes, None, hop_limit))
        (traces_fragment(&link))
        (sweep)
        section.panel {
            h2 { "Coverage" }
            p.muted { "Nodes with a position, by bearing and distance from this radio; colour is the last traceroute's outcome." }
            img.coverage src="/traceroute/coverage.svg" alt="Coverage picture" width="600" height="600";
        }
    };
    let notice = ctx.session.as_ref().and_then(|s| s.notice());
    let addr = link.addr().to_string();
    let chrome = Chrome {
        title: "Traceroute",
        radio: Some(&addr),
        tab: Some(Tab::Traceroute),
        status: Some(super::pages::status_markup(&link, notice.as_deref())),
        notice: None,
        stream: None,
    };
    Ok(page(chrome, body).into_response())
}

#[derive(Deserialize)]
pub struct TraceForm {
    node: String,
    hop_limit: Option<String>,
}

fn toast(msg: &str) -> Response {
    (
        [("HX-Retarget", "#toast"), ("HX-Reswap", "innerHTML")],
        crate::views::components::info_toast(msg),
    )
        .into_response()
}

pub async fn trace_form(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(f): Form<TraceForm>,
) -> Result<Response> {
    let link = ctx.require_link()?;
    let dest: NodeNum = parse_node(&f.node)?;
    let hops = match f.hop_limit.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) => Some(
            h.parse::<u32>()
                .map_err(|_| AppError::BadRequest("hop limit must be 1–7".into()))?,
        ),
    };
    let sends_in = queue(&state, &link, dest, hops).await?;
    let msg = if sends_in < Duration::from_millis(500) {
        format!("Traceroute to {} sent", dest)
    } else {
        format!(
            "Traceroute to {} queued, sends in {} s",
            dest,
            sends_in.as_secs().max(1)
        )
    };
    if ctx.htmx {
        Ok(toast(&msg))
    } else {
        Ok(axum::response::Redirect::to("/traceroute").into_response())
    }
}

#[derive(Deserialize)]
pub struct CancelForm {
    node: String,
}

pub async fn cancel_form(ctx: Ctx, Form(f): Form<CancelForm>) -> Result<Response> {
    let link = ctx.require_link()?;
    let dest: NodeNum = parse_node(&f.node)?;
    if !link
        .cancel_traceroute(dest)
        .await
        .map_err(|e| AppError::Radio(e.to_string()))?
    {
        return Err(AppError::NotFound(
            "no queued or pending traceroute to that node".into(),
        ));
    }
    if ctx.htmx {
        Ok(toast("Traceroute cancelled"))
    } else {
        Ok(axum::response::Redirect::to("/traceroute").into_response())
    }
}

/// Starts the session's sweep; returns the candidates.
async fn start_sweep(state: &AppState, ctx: &Ctx) -> Result<Vec<NodeNum>> {
    let link = ctx.require_link()?;
    let session = session_of(ctx)?;
    if session.sweep().is_some_and(|s| s.is_running()) {
        return Err(AppError::Conflict(
            "a sweep is already running in this session".into(),
        ));
    }
    let (radio, nodes) = {
        let st = link.state();
        (st.my_node_num, sweep::candidates(&st))
    };
    if nodes.is_empty() {
        return Err(AppError::BadRequest("no candidate nodes to sweep".into()));
    }
    let id = state
        .store
        .start_sweep(radio, u32::try_from(nodes.len()).unwrap_or(u32::MAX))
        .await?;
    let (interval, per_node) = timing(state);
    let (l, store, n) = (link.clone(), state.store.clone(), nodes.clone());
    if !session.set_sweep(move || sweep::start(l, store, id, n, interval, per_node)) {
        let _ = state.store.end_sweep(radio, id, true).await;
        return Err(AppError::Conflict(
            "a sweep is already running in this session".into(),
        ));
    }
    Ok(nodes)
}

pub async fn sweep_start_form(State(state): State<AppState>, ctx: Ctx) -> Result<Response> {
    let n = start_sweep(&state, &ctx).await?;
    if ctx.htmx {
        Ok(toast(&format!("Sweep of {} nodes started", n.len())))
    } else {
        Ok(axum::response::Redirect::to("/traceroute").into_response())
    }
}

fn stop_sweep(ctx: &Ctx) -> Result<()> {
    let session = session_of(ctx)?;
    match session.sweep() {
        Some(s) if s.is_running() => {
            s.stop();
            Ok(())
        }
        _ => Err(AppError::NotFound("no sweep is running".into())),
    }
}

pub async fn sweep_stop_form(ctx: Ctx) -> Result<Response> {
    stop_sweep(&ctx)?;
    if ctx.htmx {
        Ok(toast("Sweep stopping"))
    } else {
        Ok(axum::response::Redirect::to("/traceroute").into_response())
    }
}

/// The coverage picture as an SVG document.
pub async fn coverage(State(state): State<AppState>, ctx: Ctx) -> Result<Response> {
    let link = ctx.require_link()?;
    let radio = link.state().my_node_num;
    let history = state.store.latest_traces(radio).await?;
    let mut outcome: HashMap<NodeNum, TraceStatus> =
        history.into_iter().map(|t| (t.dest, t.status)).collect();
    let (placed, label) = {
        let st = link.state();
        for t in st.traces.traces.values() {
            outcome.insert(t.dest, t.status);
        }
        let me = st.my_node().map(|n| row(n, None));
        let label = me
            .as_ref()
            .map(|m| m.short_name.clone())
            .unwrap_or_else(|| radio.to_string());
        let origin = me.and_then(|m| m.lat.zip(m.lon));
        let mut placed = Vec::new();
        if let Some((lat1, lon1)) = origin {
            for n in st.nodes.iter().filter(|n| n.num() != radio) {
                let r = row(n, None);
                let Some((lat2, lon2)) = r.lat.zip(r.lon) else {
                    continue;
                };
                let (p1, p2, dl) = (
                    lat1.to_radians(),
                    lat2.to_radians(),
                    (lon2 - lon1).to_radians(),
                );
                let bearing = (dl.sin() * p2.cos())
                    .atan2(p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos())
                    .to_degrees();
                placed.push(Placed {
                    num: n.num(),
                    label: if r.long_name.is_empty() {
                        r.id.clone()
                    } else {
                        r.long_name.clone()
                    },
                    distance_km: haversine_km((lat1, lon1), (lat2, lon2)),
                    bearing_deg: bearing,
                    via_mqtt: r.via_mqtt,
                    outcome: outcome.get(&n.num()).copied(),
                    hops: r.hops_away,
                });
            }
        }
        (placed, label)
    };
    let svg = view::coverage_svg(&placed, &label);
    let css = include_str!("../../assets/coverage.css");
    let body = svg
        .into_string()
        .replacen("<rect", &format!("<style>{css}</style><rect"), 1);
    // The picture styles itself; nothing else may run or load in it.
    let csp = "default-src 'none'; style-src 'unsafe-inline'";
    Ok((
        [
            ("content-type", "image/svg+xml"),
            ("cache-control", "no-store"),
            ("content-security-policy", csp),
        ],
        body,
    )
        .into_response())
}

/// A trace as the original's API shows it.
pub fn trace_json(t: &Trace) -> Value {
    let ids = |v: &[NodeNum]| v.iter().map(NodeNum::to_string).collect::<Vec<_>>();
    let mut v = json!({
        "status": t.status.name(),
        "route": ids(&t.route),
        "routeBack": ids(&t.route_back),
        "snrTowards": t.snr_towards,
        "snrBack": t.snr_back,
        "hopLimit": t.hop_limit,
        "timestamp": crate::views::iso(t.done_at.or(t.sent_at).unwrap_or(t.queued_at)),
    });
    if let Some(e) = &t.error {
        v["error"] = json!(e);
    }
    v
}

#[derive(Deserialize)]
pub struct TraceBody {
    dest: Value,
    #[serde(rename = "hopLimit", default)]
    hop_limit: Option<u32>,
}

fn dest_of(v: &Value) -> Result<NodeNum> {
    match v {
        Value::String(s) => parse_node(s),
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(NodeNum)
            .ok_or_else(|| AppError::BadRequest("bad node number".into())),
        _ => Err(AppError::BadRequest(
            "dest must be !xxxxxxxx or a node number".into(),
        )),
    }
}

pub async fn api_trace(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(b): ApiJson<TraceBody>,
) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let dest = dest_of(&b.dest)?;
    let sends_in = queue(&state, &link, dest, b.hop_limit).await?;
    let id = dest.to_string();
    if sends_in < Duration::from_millis(500) {
        Ok(Json(json!({"status": "sent", "dest": id})))
    } else {
        Ok(Json(
            json!({"status": "queued", "dest": id, "sendsIn": sends_in.as_secs_f64().ceil()}),
        ))
    }
}

pub async fn api_results(ctx: Ctx) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let (_, list) = traces(&link);
    let map: serde_json::Map<String, Value> = list
        .iter()
        .map(|t| (t.dest.to_string(), trace_json(t)))
        .collect();
    Ok(Json(Value::Object(map)))
}

#[derive(Deserialize)]
pub struct CancelBody {
    #[serde(rename = "nodeId")]
    node_id: Value,
}

pub async fn api_cancel(ctx: Ctx, ApiJson(b): ApiJson<CancelBody>) -> ApiResult<Json<Value>> {
    let link = ctx.require_link()?;
    let dest = dest_of(&b.node_id)?;
    if !link
        .cancel_traceroute(dest)
        .await
        .map_err(|e| AppError::Radio(e.to_string()))?
    {
        return Err(
            AppError::NotFound("no queued or pending traceroute to that node".into()).into(),
        );
    }
    Ok(Json(
        json!({"status": "cancelled", "nodeId": dest.to_string()}),
    ))
}

pub async fn api_sweep(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    let nodes = start_sweep(&state, &ctx).await?;
    let (interval, per_node) = timing(&state);
    Ok(Json(json!({
        "status": "started",
        "total": nodes.len(),
        "candidates": nodes.iter().map(NodeNum::to_string).collect::<Vec<_>>(),
        "estimatedSeconds": sweep::estimate(nodes.len(), interval, per_node).as_secs(),
    })))
}

pub async fn api_sweep_status(ctx: Ctx) -> ApiResult<Json<Value>> {
    let session = session_of(&ctx)?;
    let Some(p) = session.sweep().map(|s| s.progress()) else {
        return Ok(Json(
            json!({"running": false, "current": null, "total": 0, "completed": 0, "results": {}}),
        ));
    };
    let results: serde_json::Map<String, Value> = p
        .results
        .iter()
        .map(|t| (t.dest.to_string(), trace_json(t)))
        .collect();
    Ok(Json(json!({
        "running": p.running,
        "current": p.current.map(|n| n.to_string()),
        "total": p.total,
        "completed": p.completed,
        "results": results,
        "remaining": p.candidates.iter().skip(p.completed).map(NodeNum::to_string).collect::<Vec<_>>(),
        "secondsLeft": p.time_left().as_secs(),
    })))
}

pub async fn api_sweep_stop(ctx: Ctx) -> ApiResult<Json<Value>> {
    stop_sweep(&ctx)?;
    Ok(Json(json!({"status": "stopped"})))
}
