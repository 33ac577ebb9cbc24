//! The parts of a page its live stream pushes again: the status bar, the traceroute table
//! and the sweep panel. Each copies what it needs under the radio state's lock and renders
//! after the lock is gone.

use std::time::SystemTime;

use maud::Markup;

use super::ops::sweep;
use super::AppState;
use crate::error::Result;
use crate::ids::NodeNum;
use crate::radio::LinkHandle;
use crate::read::company::Company;
use crate::read::names::long_names;
use crate::read::summary::Summary;
use crate::read::traces::latest_first;
use crate::session::Session;
use crate::views;
use crate::views::traceroute::SweepView;

/// The status bar and cards of a link, with who else is on it.
pub fn status(link: &LinkHandle, company: &Company, notice: Option<&str>) -> Markup {
    let summary = Summary::of(&link.state(), link.addr().to_string());
    views::status::status(&summary, company, notice, SystemTime::now())
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
