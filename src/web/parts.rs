//! The parts of a page its live stream pushes again: the status bar, the traceroute table
//! and the sweep panel. Each copies what it needs under the radio state's lock and renders
//! after the lock is gone.

use std::sync::Arc;
use std::time::SystemTime;

use maud::Markup;

use super::ops::sweep;
use super::AppState;
use crate::error::Result;
use crate::ids::NodeNum;
use crate::radio::LinkHandle;
use crate::read::company::Company;
use crate::read::names::long_names;
use crate::read::names::short_names_of;
use crate::read::summary::Summary;
use crate::read::traces::latest_first;
use crate::session::Session;
use crate::views;
use crate::views::status::Bar;
use crate::views::traceroute::SweepView;

/// The status bar (and, in full, the cards) of a link, with who else is on it and how many
/// of its alerts nobody acknowledged.
pub fn status(
    link: &LinkHandle,
    company: &Company,
    notice: Option<&str>,
    bar: Bar,
    alerts: u32,
) -> Markup {
    let now = SystemTime::now();
    let (summary, notes, apart) = {
        let st = link.state();
        (
            Summary::of(&st, link.addr().to_string()),
            st.notes.shown(now),
            st.apart_from.as_ref().map(|_| {
                format!(
                    "This radio says it is {}, as does a radio known at another address: its messages and settings are kept apart from that radio's. If they are one radio, an admin can say so on the Radios page.",
                    st.my_node_num
                )
            }),
        )
    };
    let notice = notice.or(apart.as_deref());
    views::status::status(&summary, company, notice, &notes, now, bar, alerts)
}

/// The link's traceroutes that `sees` lets through (a session's own), newest first.
pub fn traces(link: &LinkHandle, sees: impl Fn(NodeNum) -> bool) -> Markup {
    let (me, mut list, names) = {
        let st = link.state();
        (st.my_node_num, latest_first(&st), long_names(&st))
    };
    list.retain(|t| sees(t.dest));
    views::traceroute::traces_table(&list, me, &names, SystemTime::now())
}

/// The session's sweep panel: progress, candidates, estimate, the last sweeps compared.
pub async fn sweep(
    state: &AppState,
    link: &LinkHandle,
    session: Option<&Session>,
) -> Result<Markup> {
    let progress = session.and_then(|s| s.sweep()).map(|s| s.progress());
    let o = sweep::overview(state, link, progress.as_ref()).await?;
    let (me, names) = {
        let st = link.state();
        (st.my_node_num, long_names(&st))
    };
    let v = SweepView {
        progress: progress.as_ref(),
        candidates: o.candidates,
        estimate: o.estimate,
        comparison: o.comparison.as_ref(),
    };
    Ok(views::traceroute::sweep_panel(
        &v,
        me,
        &names,
        SystemTime::now(),
    ))
}

/// The last packet row rendered for each radio. Every packet-log stream of a shared radio sends
/// the same row for a packet: the first stream renders it, the others take it from here.
#[derive(Default)]
pub struct Rows(std::sync::Mutex<std::collections::HashMap<std::net::SocketAddr, (u64, Arc<str>)>>);

/// Radios whose last row is kept; past it the table starts again (closed links leave theirs).
const ROWS_KEPT: usize = 1024;

impl Rows {
    /// The row of the newest packet, `seq`, for every packet-log stream of the link; `None`
    /// once the log no longer holds it.
    pub fn packet(&self, link: &LinkHandle, seq: u64) -> Option<Arc<str>> {
        let lock = || self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((newest, html)) = lock().get(&link.addr()) {
            if *newest == seq {
                return Some(html.clone());
            }
        }
        let html = render(link, seq, None)?;
        let mut rows = lock();
        if rows.len() >= ROWS_KEPT {
            rows.clear();
        }
        rows.insert(link.addr(), (seq, html.clone()));
        Some(html)
    }

    /// The row of an older packet a stream that fell behind still owes its tab, when the log
    /// holds it and it is of `port` (a port's name, or `all`). Nobody else's: not kept here.
    pub fn owed(&self, link: &LinkHandle, seq: u64, port: &str) -> Option<Arc<str>> {
        render(link, seq, Some(port).filter(|p| *p != "all"))
    }
}

/// Packet `seq` of the link's log as a row, when the log holds it and it is of `port` (when
/// given).
fn render(link: &LinkHandle, seq: u64, port: Option<&str>) -> Option<Arc<str>> {
    let (entry, names) = {
        let st = link.state();
        let entry = st.packets.get(seq)?;
        if port.is_some_and(|want| entry.port_name() != want) {
            return None;
        }
        let names = short_names_of(&st, [entry.from, entry.to]);
        (entry, names)
    };
    Some(
        views::packets::packet_row(&entry, &names)
            .into_string()
            .into(),
    )
}
