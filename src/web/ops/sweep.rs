//! RF sweeps, one per session: start one over the radio's candidates, stop it, and gather
//! what its panel shows (candidate count, estimated duration, the last two sweeps compared).

use std::time::Duration;

use crate::error::{AppError, Result};
use crate::ids::NodeNum;
use crate::radio::LinkHandle;
use crate::session::sweep::{self, Comparison, Progress};
use crate::session::Session;
use crate::web::{AppState, Ctx};

/// The probe interval and a sweep's per-node timeout.
pub fn timing(state: &AppState) -> (Duration, Duration) {
    (
        Duration::from_millis(state.config.traceroute_interval_ms),
        Duration::from_millis(state.config.sweep_node_timeout_ms),
    )
}

/// How long a sweep of `count` nodes takes at the least.
pub fn estimate(state: &AppState, count: usize) -> Duration {
    let (interval, per_node) = timing(state);
    sweep::estimate(count, interval, per_node)
}

fn session(ctx: &Ctx) -> Result<&Session> {
    ctx.session.as_deref().ok_or(AppError::NotConnected)
}

fn already_running() -> AppError {
    AppError::Conflict("a sweep is already running in this session".into())
}

/// Starts the session's sweep; returns the candidates.
pub async fn start(state: &AppState, ctx: &Ctx) -> Result<Vec<NodeNum>> {
    let link = ctx.require_link()?;
    // A script (or the original's page) that names a kept radio may have no session yet.
    let session = match &ctx.session {
        Some(s) => s.clone(),
        None => state.sessions.stateful(&ctx.id).await,
    };
    if session.sweep().is_some_and(|s| s.is_running()) {
        return Err(already_running());
    }
    let (radio, nodes) = {
        let st = link.state();
        (st.radio_key, sweep::candidates(&st))
    };
    if nodes.is_empty() {
        return Err(AppError::BadRequest("no candidate nodes to sweep".into()));
    }
    // The sweep's probes are this session's traceroutes.
    for n in &nodes {
        session.asked(*n);
    }
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let id = state.store.start_sweep(radio, count).await?;
    let (interval, per_node) = timing(state);
    let (l, store, n) = (link.clone(), state.store.clone(), nodes.clone());
    if !session.set_sweep(move || sweep::start(l, store, id, n, interval, per_node)) {
        let _ = state.store.end_sweep(radio, id, true).await;
        return Err(already_running());
    }
    Ok(nodes)
}

/// Stops the session's running sweep.
pub fn stop(ctx: &Ctx) -> Result<()> {
    match session(ctx)?.sweep() {
        Some(s) if s.is_running() => {
            s.stop();
            Ok(())
        }
        _ => Err(AppError::NotFound("no sweep is running".into())),
    }
}

/// What the sweep panel shows besides the progress.
pub struct Overview {
    pub candidates: usize,
    pub estimate: Duration,
    /// The last two finished sweeps compared, when no sweep is running.
    pub comparison: Option<Comparison>,
}

pub async fn overview(
    state: &AppState,
    link: &LinkHandle,
    progress: Option<&Progress>,
) -> Result<Overview> {
    let (radio, candidates) = {
        let st = link.state();
        (st.radio_key, sweep::candidates(&st).len())
    };
    let done: Vec<_> = state
        .store
        .sweeps(radio, 2)
        .await?
        .into_iter()
        .filter(|s| s.ended.is_some())
        .collect();
    let mut comparison = None;
    if let [now, before] = done.as_slice() {
        if progress.is_none_or(|p| !p.running) {
            let now = state.store.sweep_traces(radio, now.id).await?;
            let before = state.store.sweep_traces(radio, before.id).await?;
            comparison = Some(sweep::compare(&before, &now));
        }
    }
    Ok(Overview {
        candidates,
        estimate: estimate(state, candidates),
        comparison,
    })
}
