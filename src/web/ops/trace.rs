//! Traceroutes: queue one through the link's probe queue (after the checks the page and the
//! API share), cancel one, and read a node's latest result and stored history.

use std::time::Duration;

use crate::error::{AppError, Result};
use crate::ids::{Dest, NodeNum};
use crate::radio::trace::Trace;
use crate::radio::LinkHandle;
use crate::web::{AppState, Ctx};

/// A traceroute's target as typed: a node id, or `^all` (which [`queue`] then refuses).
pub fn target(s: &str) -> Result<NodeNum> {
    Ok(s.parse::<Dest>()?.num())
}

/// Queues a traceroute; returns how long until it leaves the radio.
pub async fn queue(
    state: &AppState,
    ctx: &Ctx,
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
    // A node the radio's DB does not hold is probed all the same, as the firmware does.
    let timeout = Duration::from_millis(state.config.traceroute_timeout_ms);
    // Marked before it is queued, so the live table shows it from its first event; a kept
    // radio's traceroutes (named by the request) are all its link's anyway.
    let scoped = ctx.session.as_ref().filter(|_| ctx.named.is_none());
    let fresh = scoped.is_some_and(|s| !s.did_ask(dest));
    if let Some(s) = scoped {
        s.asked(dest);
    }
    let queued = link.traceroute(dest, hop_limit, timeout, None).await;
    if let (Err(_), Some(s), true) = (&queued, scoped, fresh) {
        s.forget_asked(dest);
    }
    Ok(queued?)
}

/// Cancels a queued or pending traceroute to `dest` that this session asked for.
pub async fn cancel(ctx: &Ctx, link: &LinkHandle, dest: NodeNum) -> Result<()> {
    if ctx.sees_trace(dest) && link.cancel_traceroute(dest).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(
            "no queued or pending traceroute to that node".into(),
        ))
    }
}

/// A node's latest traceroute (live, or the newest stored) and its stored history.
pub async fn of_node(
    state: &AppState,
    link: &LinkHandle,
    num: NodeNum,
) -> Result<(Option<Trace>, Vec<Trace>)> {
    let (radio, live) = {
        let st = link.state();
        (st.radio_key, st.traces.traces.get(&num).cloned())
    };
    let history = state.store.trace_history(radio, num, 10).await?;
    let latest = live.or_else(|| history.first().cloned());
    Ok((latest, history))
}
