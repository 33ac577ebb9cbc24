//! The topology of the radio a request addresses, for the topology page, the map and
//! `/api/topology`: the stored NeighborInfo reports and traceroutes with the link's own.

use crate::error::Result;
use crate::radio::LinkHandle;
use crate::read::topology::{self, Topology};
use crate::web::AppState;

pub async fn of_link(state: &AppState, link: &LinkHandle) -> Result<Topology> {
    let radio = link.state().radio_key;
    let stored = state.store.neighbor_reports(radio).await?;
    let mut traces = state.store.latest_traces(radio).await?;
    let st = link.state();
    traces.extend(st.traces.traces.values().cloned());
    Ok(topology::build(&st, &stored, &traces))
}
