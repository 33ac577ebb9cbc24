//! Reading node history for pages: a node's points for a chart range and its changes, and
//! the nodes table's sparklines. A failed read shows as an empty history (logged), not an
//! error page: the live parts of the page still work.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::Result;
use crate::ids::NodeNum;
use crate::ids::RadioKey;
use crate::store::history_read::{NodeHistory, Point};
use crate::views::history::{Range, Sparks};
use crate::web::AppState;

/// Most nodes of a radio that get sparklines.
const SPARK_NODES: usize = 2000;

/// Sparklines change by the hour: each radio's are read at most once a minute, for all its
/// nodes, and every nodes table of that radio shares them.
#[derive(Clone)]
pub struct SparkCache(moka::future::Cache<RadioKey, Arc<Sparks>>);

impl Default for SparkCache {
    fn default() -> SparkCache {
        SparkCache::lasting(Duration::from_secs(60))
    }
}

impl SparkCache {
    fn lasting(ttl: Duration) -> SparkCache {
        SparkCache(
            moka::future::Cache::builder()
                .max_capacity(256)
                .time_to_live(ttl)
                .build(),
        )
    }

    /// Drops the sparklines past their minute. The cache drops them only when it is next
    /// used, and a radio's are 6 KB, so a radio whose nodes table nobody opens again would
    /// keep them for good.
    pub async fn maintain(&self) {
        self.0.run_pending_tasks().await;
    }
}

/// A node's points over `range` (raw for a day, hourly beyond) and its history.
pub async fn of_node(
    state: &AppState,
    radio: RadioKey,
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

/// The last day of a radio's nodes by hour (`nodes`: its node DB), from the cache when fresh.
pub async fn sparks(
    state: &AppState,
    radio: RadioKey,
    nodes: Vec<NodeNum>,
    now: SystemTime,
) -> Arc<Sparks> {
    if let Some(s) = state.sparks.0.get(&radio).await {
        return s;
    }
    let nodes = nodes.into_iter().take(SPARK_NODES).collect();
    let day = Duration::from_secs(86_400);
    match state
        .store
        .hourly_points(radio, nodes, now - day, now)
        .await
    {
        Ok(s) => {
            let s = Arc::new(s);
            state.sparks.0.insert(radio, s.clone()).await;
            s
        }
        Err(e) => {
            tracing::error!(error = ?e, "reading sparklines failed");
            Arc::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stale_sparklines_are_dropped_without_a_read() {
        let cache = SparkCache::lasting(Duration::from_millis(50));
        cache.0.insert(RadioKey(1), Arc::default()).await;
        cache.maintain().await;
        assert_eq!(cache.0.entry_count(), 1, "fresh ones stay");
        tokio::time::sleep(Duration::from_millis(120)).await;
        cache.maintain().await;
        assert_eq!(cache.0.entry_count(), 0);
    }
}
