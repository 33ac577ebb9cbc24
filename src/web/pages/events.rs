//! The live stream of a tab (one per tab): Server-Sent Events carrying rendered fragments
//! named after the part they replace. Every stream carries the status bar (`status`, `last`);
//! `?port=all|PORT` adds a packet log's rows (`packet`), `?convo=KEY` a conversation's
//! messages and delivery states; the plain stream adds traceroute and sweep progress. A slow
//! tab never blocks the radio link: what it missed of the broadcast, a packet log's stream
//! sends from the link's log (`Follow`); other streams skip it.
//! An open stream keeps its session alive by touching it periodically.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::middleware::from_fn;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;

use crate::radio::{LinkEvent, LinkHandle};
use crate::read::company::Company;
use crate::read::names::short_names_of;
use crate::read::summary::Summary;
use crate::session::SessionId;
use crate::views;
use crate::views::status::Bar;
use crate::web::sse::{self, Event};
use crate::web::{access, parts, AppState, Ctx};
use std::time::SystemTime;

/// How often the status bar is re-rendered (its "last packet … ago" moves).
const STATUS_EVERY: Duration = Duration::from_secs(2);
/// The whole status bar (cards, counts) is pushed at most this often, unless the link's
/// state changes.
const FULL_EVERY: Duration = Duration::from_secs(15);

struct Live {
    state: AppState,
    id: SessionId,
    /// The login the stream was opened with: when it ends (logout, the user removed or
    /// changed), so does the stream.
    user: Option<crate::auth::User>,
    /// The stream said why it stops and sends nothing more.
    ended: bool,
    link: Option<LinkHandle>,
    events: Option<tokio::sync::broadcast::Receiver<LinkEvent>>,
    /// Alerts as they fire (of every radio: the stream keeps its own radio's).
    alerts: Option<tokio::sync::broadcast::Receiver<crate::alerts::AlertEvent>>,
    tick: tokio::time::Interval,
    /// The stream of one conversation of the messages page (`ch:0`, `!a1b2c3d4`).
    convo: Option<crate::ids::Convo>,
    /// What the last full status bar showed (to push only its age when nothing else changed).
    /// What the last full status bar showed (but the "last packet" age), to send it again
    /// only when that changes.
    last_sig: Option<Shown>,
    last_full: Option<std::time::Instant>,
    /// The stream of a packet log: `all` or one port's packets, and nothing else. Other
    /// streams get no packet rows (most tabs never show them).
    port: Option<String>,
    /// The status the tab shows: the full bar (nodes page) or one line (`?bar=line`).
    bar: Bar,
    /// The packets a packet log's stream owes its tab.
    follow: super::follow::Follow,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.state.streams.release(&self.id);
        self.state
            .metrics
            .sse_clients
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Seconds until a lost link's next attempt.
fn retry_in(status: &crate::radio::LinkStatus, now: SystemTime) -> Option<u64> {
    match status {
        crate::radio::LinkStatus::Reconnecting { retry_at, .. } => {
            retry_at.duration_since(now).ok().map(|d| d.as_secs())
        }
        _ => None,
    }
}

/// The parts of the status bar that decide whether a full one is sent again.
#[derive(PartialEq)]
struct Shown {
    summary: Summary,
    since_min: u64,
    notice: Option<String>,
    company: Company,
    notes: Vec<crate::radio::notice::Note>,
    /// Seconds to the next reconnect attempt: the bar's countdown moves with it.
    retry_in: Option<u64>,
    /// Unacknowledged alerts.
    alerts: u32,
}

impl Live {
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            if let (Some(link), Some(port), Some(seq)) =
                (&self.link, self.port.as_deref(), self.follow.take())
            {
                if let Some(row) = self.state.rows.owed(link, seq, port) {
                    return Some(Event::default().event("packet").data(&*row));
                }
                continue;
            }
            let recv = async {
                match self.events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let fired = async {
                match self.alerts.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                a = fired => match a {
                    Ok(a) => {
                        let Some(link) = &self.link else { continue };
                        if link.state().radio_key != a.radio() {
                            continue;
                        }
                        let n = self.state.alerts.unacknowledged(a.radio());
                        let fired = match &a { crate::alerts::AlertEvent::Fired(f) => Some(&**f), _ => None };
                        return Some(Event::default().event("alert").data(views::alerts::pill(n, fired).into_string()));
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => { self.alerts = None; continue; }
                },
                _ = self.tick.tick() => {
                    // Touch the session: an open tab counts as activity.
                    let session = self.state.sessions.get(&self.id).await;
                    if let Some(s) = &session {
                        s.mark_used();
                    }
                    let login = session.as_ref().and_then(|s| s.user()).filter(|u| self.state.current(u));
                    if self.user.is_some() && login != self.user {
                        return Some(self.end("Your login ended; log in again."));
                    }
                    let link = session.as_ref().and_then(|s| s.link());
                    let notice = session.as_ref().and_then(|s| s.notice());
                    match (&self.link, link) {
                        (Some(ours), Some(now)) if ours.addr() == now.addr() => {
                            let clock = SystemTime::now();
                            // Counts and cards move with the traffic; at most one full bar per
                            // FULL_EVERY keeps a tab cheap on a busy mesh. In between, only the
                            // "last packet" age, which needs nothing but one timestamp.
                            let recent = self.last_full.is_some_and(|t| t.elapsed() < FULL_EVERY);
                            if recent && self.last_sig.is_some() {
                                let last = ours.state().last_packet;
                                return Some(Event::default().event("last").data(views::status::last_packet(last, clock).into_string()));
                            }
                            // The whole bar only when something in it besides the "last packet"
                            // age changed; otherwise just that age.
                            let (summary, notes) = {
                                let st = ours.state();
                                (Summary::of(&st, ours.addr().to_string()), st.notes.shown(clock))
                            };
                            let company = Company::of(&self.state.registry.holders(ours.addr()), &self.id);
                            let since_min = clock.duration_since(summary.connected_since).map(|d| d.as_secs() / 60).unwrap_or(0);
                            let mut shown = summary.clone();
                            shown.last_packet = None;
                            shown.packets_seen = 0;
                            let alerts = self.state.alerts.unacknowledged(ours.state().radio_key);
                            let sig = Shown { summary: shown, since_min, notice: notice.clone(), company: company.clone(), notes: notes.clone(), retry_in: retry_in(&summary.status, clock), alerts };
                            if self.last_sig.as_ref() == Some(&sig) {
                                self.last_full = Some(std::time::Instant::now());
                                return Some(Event::default().event("last").data(views::status::last_packet(summary.last_packet, clock).into_string()));
                            }
                            self.last_sig = Some(sig);
                            self.last_full = Some(std::time::Instant::now());
                            return Some(Event::default().event("status").data(views::status::status(&summary, &company, notice.as_deref(), &notes, clock, self.bar, alerts).into_string()));
                        }
                        _ => {
                            // The session lost this link (disconnect, take-over, expiry).
                            let msg = notice.unwrap_or_else(|| "Disconnected. Reconnect from the connect page.".into());
                            return Some(self.end(&msg));
                        }
                    }
                }
                ev = recv => match ev {
                    Ok(LinkEvent::Packet(p)) => {
                        let Some(link) = &self.link else { continue };
                        // Packet rows go only to a packet log's own stream (`?port=all` or a port).
                        let Some(port) = self.port.as_deref() else { continue };
                        if self.follow.announced(p.seq, || link.state().packets.len()) {
                            // Some were missed: the loop sends them from the log, this one last.
                            continue;
                        }
                        if port != "all" && p.port_name() != port {
                            continue;
                        }
                        // Gone from the log already (this stream fell 500 packets behind).
                        let Some(row) = self.state.rows.packet(link, p.seq) else { continue };
                        return Some(Event::default().event("packet").data(&*row));
                    }
                    // A conversation's stream: its messages and delivery states, nothing else.
                    Ok(LinkEvent::Message(m)) if self.convo == Some(m.convo) => {
                        let Some(link) = &self.link else { continue };
                        let names = short_names_of(&link.state(), [m.from]);
                        let item = views::messages::message_item(&m, &names, std::time::SystemTime::now());
                        return Some(Event::default().event(format!("msg-{}", m.convo)).data(item.into_string()));
                    }
                    Ok(LinkEvent::Delivery { packet_id, state }) if self.convo.is_some() => {
                        return Some(Event::default().event(format!("dlv-{packet_id}")).data(views::messages::delivery(&state).into_string()));
                    }
                    Ok(LinkEvent::Message(_) | LinkEvent::Delivery { .. }) => continue,
                    // Traceroute and sweep parts are only on the pages with the plain stream.
                    Ok(LinkEvent::Trace(_) | LinkEvent::Sweep) if self.port.is_some() || self.convo.is_some() => continue,
                    Ok(LinkEvent::Trace(_)) => {
                        let Some(link) = &self.link else { continue };
                        let session = self.state.sessions.get(&self.id).await;
                        let sees = |d| session.as_ref().is_some_and(|s| s.did_ask(d));
                        return Some(Event::default().event("traces").data(parts::traces(link, sees).into_string()));
                    }
                    Ok(LinkEvent::Sweep) => {
                        let Some(link) = &self.link else { continue };
                        let session = self.state.sessions.get(&self.id).await;
                        match parts::sweep(&self.state, link, session.as_deref()).await {
                            Ok(m) => return Some(Event::default().event("sweep").data(m.into_string())),
                            Err(_) => continue,
                        }
                    }
                    Ok(LinkEvent::Status | LinkEvent::Holders) => {
                        let Some(link) = &self.link else { continue };
                        self.last_sig = None;
                        let company = Company::of(&self.state.registry.holders(link.addr()), &self.id);
                        let alerts = self.state.alerts.unacknowledged(link.state().radio_key);
                        return Some(Event::default().event("status").data(parts::status(link, &company, None, self.bar, alerts).into_string()));
                    }
                    Err(RecvError::Lagged(n)) => {
                        self.state.metrics.sse_lagged.fetch_add(n, Ordering::Relaxed);
                        continue;
                    }
                    Err(RecvError::Closed) => { self.events = None; continue; }
                }
            }
        }
    }
}

impl Live {
    /// The last event: why the stream stops. Nothing of the radio reaches it after.
    fn end(&mut self, why: &str) -> Event {
        self.ended = true;
        self.link = None;
        self.events = None;
        Event::default()
            .event("status")
            .data(views::components::error_toast(why).into_string())
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route_layer(from_fn(access::operate))
}

#[derive(serde::Deserialize)]
struct EventsQuery {
    port: Option<String>,
    convo: Option<String>,
    bar: Option<String>,
}

async fn events(
    ctx: Ctx,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<EventsQuery>,
) -> crate::error::Result<Response> {
    let state = ctx.app.clone();
    // Streams never take every connection: requests need some too.
    let most = state
        .config
        .max_streams
        .min(state.connection_cap / 2)
        .max(1);
    state.streams.take(&ctx.id, most)?;
    state.metrics.sse_clients.fetch_add(1, Ordering::Relaxed);
    let link = ctx.link();
    // Touch the session well within its idle timeout, however short that is.
    let touch = Duration::from_millis(state.config.session_timeout.saturating_mul(250).max(100));
    let mut tick = tokio::time::interval(STATUS_EVERY.min(touch));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let live = Live {
        user: ctx.user(),
        ended: false,
        state,
        id: ctx.id,
        events: link.as_ref().map(|l| l.subscribe()),
        alerts: link.as_ref().map(|_| ctx.app.alerts.subscribe()),
        link,
        tick,
        port: q.port,
        convo: q.convo.as_deref().and_then(|c| c.parse().ok()),
        last_sig: None,
        last_full: None,
        bar: Bar::from_query(q.bar.as_deref()),
        follow: Default::default(),
    };
    let metrics = live.state.metrics.clone();
    // The tick sends at least the "last packet" age every few seconds: no keep-alive needed.
    let s = stream::unfold(live, |mut live| async move {
        live.next().await.map(|e| (e, live))
    });
    Ok(sse::response(&headers, metrics, s))
}
