//! Position tracks for the map: the positions of every node of a radio since a time, from
//! the node history's `node_position` rows (one per change), bounded.

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::params;

use super::{from_ms, ms, Store};
use crate::ids::{NodeNum, RadioKey};

/// Most rows read for one map.
const MAX_ROWS: i64 = 20_000;

/// A node's positions, oldest first: (time, latitude, longitude) in degrees.
pub type Track = Vec<(SystemTime, f64, f64)>;

impl Store {
    /// The positions of each node of `radio` since `since`, oldest first, the newest
    /// `per_node` of each at most.
    pub async fn tracks(
        &self,
        radio: RadioKey,
        since: SystemTime,
        per_node: usize,
    ) -> anyhow::Result<HashMap<NodeNum, Track>> {
        let rows = self
            .read(move |c| {
                let mut st = c.prepare_cached(
                    "SELECT node, at_ms, lat_i, lon_i FROM node_position WHERE radio = ?1 AND at_ms >= ?2 ORDER BY at_ms DESC LIMIT ?3",
                )?;
                let rows = st.query_map(params![radio, ms(since), MAX_ROWS], |r| {
                    let deg = |v: i32| f64::from(v) / 1e7;
                    Ok((
                        r.get::<_, NodeNum>(0)?,
                        from_ms(r.get(1)?),
                        deg(r.get(2)?),
                        deg(r.get(3)?),
                    ))
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let mut out: HashMap<NodeNum, Track> = HashMap::new();
        for (node, at, lat, lon) in rows {
            let track = out.entry(node).or_default();
            if track.len() < per_node {
                track.push((at, lat, lon));
            }
        }
        for track in out.values_mut() {
            track.reverse();
        }
        Ok(out)
    }
}
