//! NeighborInfo reports per radio: the latest of each reporting node, at most
//! [`MAX_REPORTS`] per radio (the oldest go), written by the store's writer task.

use rusqlite::{params, Transaction};

use super::{from_ms, ms, Store};
use crate::ids::{NodeNum, RadioKey};
use crate::radio::neighbors::{Report, MAX_NEIGHBORS, MAX_REPORTS};

/// Keeps a report in place of the node's previous one, inside the writer's transaction.
pub(super) fn insert(tx: &Transaction<'_>, radio: RadioKey, r: &Report) -> rusqlite::Result<()> {
    let list: Vec<(u32, Option<f32>)> = r
        .neighbors
        .iter()
        .take(MAX_NEIGHBORS)
        .map(|(n, s)| (n.0, *s))
        .collect();
    let json = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO neighbor_report (radio, node, at_ms, interval_s, neighbors) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![radio, r.node, ms(r.at), r.interval_secs, json])?;
    tx.prepare_cached(
        "DELETE FROM neighbor_report WHERE radio = ?1 AND node IN \
         (SELECT node FROM neighbor_report WHERE radio = ?1 ORDER BY at_ms DESC LIMIT -1 OFFSET ?2)",
    )?
    .execute(params![radio, MAX_REPORTS as i64])?;
    Ok(())
}

impl Store {
    /// The latest report of every node a radio heard, newest first.
    pub async fn neighbor_reports(&self, radio: RadioKey) -> anyhow::Result<Vec<Report>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT node, at_ms, interval_s, neighbors FROM neighbor_report WHERE radio = ?1 ORDER BY at_ms DESC LIMIT ?2",
            )?;
            let rows = st.query_map(params![radio, MAX_REPORTS as i64], |r| {
                let list: Vec<(u32, Option<f32>)> =
                    serde_json::from_str(&r.get::<_, String>(3)?).unwrap_or_default();
                Ok(Report {
                    node: r.get(0)?,
                    at: from_ms(r.get(1)?),
                    interval_secs: r.get(2)?,
                    neighbors: list
                        .into_iter()
                        .take(MAX_NEIGHBORS)
                        .map(|(n, s)| (NodeNum(n), s))
                        .collect(),
                })
            })?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radio::text::HistoryOp;
    use std::time::{Duration, SystemTime};

    fn report(node: u32, secs: u64, neighbors: Vec<(NodeNum, Option<f32>)>) -> Report {
        Report {
            node: NodeNum(node),
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs),
            interval_secs: 14_400,
            neighbors,
        }
    }

    #[tokio::test]
    async fn the_latest_report_per_node_is_kept_per_radio() {
        let dir = std::env::temp_dir().join(format!("meshdeck-nb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir.join("t.db")).unwrap();
        let ops = vec![
            HistoryOp::Neighbors {
                radio: RadioKey(1),
                report: report(5, 1, vec![(NodeNum(6), Some(1.5))]),
            },
            HistoryOp::Neighbors {
                radio: RadioKey(1),
                report: report(5, 2, vec![(NodeNum(7), None)]),
            },
            HistoryOp::Neighbors {
                radio: RadioKey(2),
                report: report(5, 3, vec![(NodeNum(8), Some(-3.0))]),
            },
        ];
        store.apply_message_ops(ops, 10).await.unwrap();
        let one = store.neighbor_reports(RadioKey(1)).await.unwrap();
        assert_eq!(one, vec![report(5, 2, vec![(NodeNum(7), None)])]);
        let two = store.neighbor_reports(RadioKey(2)).await.unwrap();
        assert_eq!(two[0].neighbors, vec![(NodeNum(8), Some(-3.0))]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
