//! Reading node history for pages: a node's points for a chart range and its changes, and
//! the nodes table's sparklines. A failed read shows as an empty history (logged), not an
//! error page: the live parts of the page still work.

use std::time::SystemTime;

use crate::error::Result;
use crate::ids::NodeNum;
use crate::read::nodes::NodeRow;
use crate::store::history_read::{NodeHistory, Point};
use crate::views::history::{Range, Sparks};
use crate::web::AppState;

/// Most rows of the nodes table that get sparklines (the table's first, in its order).
const SPARK_ROWS: usize = 300;

/// A node's points over `range` (raw for a day, hourly beyond) and its history.
pub async fn of_node(
    state: &AppState,
    radio: NodeNum,
    node: NodeNum,
    range: Range,
    now: SystemTime,
) -> Result<(Vec<Point>, NodeHistory)> {
    let points = state
        .store
        .node_points(radio, node, now - range.span(), now, range.every())
        .await?;
    let past = state.store.node_history(radio, node).await?;
    Ok((points, past))
}

/// The last day of the table's nodes by hour.
pub async fn sparks(state: &AppState, radio: NodeNum, rows: &[NodeRow], now: SystemTime) -> Sparks {
    let nodes = rows.iter().take(SPARK_ROWS).map(|r| r.num).collect();
    let day = std::time::Duration::from_secs(86_400);
    match state
        .store
        .hourly_points(radio, nodes, now - day, now)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = ?e, "reading sparklines failed");
            Sparks::default()
        }
    }
}
