//! Traceroute history and RF sweeps per radio.

use crate::ids::{NodeNum, RadioKey};
use std::time::{Duration, SystemTime};

use rusqlite::{params, Transaction};

use super::{from_ms, ms, Store};
use crate::radio::trace::{Trace, TraceStatus};

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(super) fn insert(tx: &Transaction<'_>, radio: RadioKey, t: &Trace) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO traceroute (radio, dest, sweep_id, status, hop_limit, route, route_back, snr_towards, snr_back, error, sent_ms, done_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        radio,
        t.dest,
        t.sweep_id,
        t.status.name(),
        t.hop_limit,
        json(&t.route),
        json(&t.route_back),
        json(&t.snr_towards),
        json(&t.snr_back),
        t.error,
        t.sent_at.map(ms),
        ms(t.done_at.unwrap_or_else(SystemTime::now)),
    ])?;
    Ok(())
}

const COLUMNS: &str = "dest, sweep_id, status, hop_limit, route, route_back, snr_towards, snr_back, error, sent_ms, done_ms";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Trace> {
    let parse = |i: usize| -> rusqlite::Result<String> { r.get(i) };
    let done: i64 = r.get(10)?;
    let sent: Option<i64> = r.get(9)?;
    Ok(Trace {
        dest: r.get(0)?,
        sweep_id: r.get(1)?,
        status: TraceStatus::parse(&parse(2)?),
        hop_limit: r.get(3)?,
        route: serde_json::from_str(&parse(4)?).unwrap_or_default(),
        route_back: serde_json::from_str(&parse(5)?).unwrap_or_default(),
        snr_towards: serde_json::from_str(&parse(6)?).unwrap_or_default(),
        snr_back: serde_json::from_str(&parse(7)?).unwrap_or_default(),
        error: r.get(8)?,
        packet_id: 0,
        queued_at: from_ms(sent.unwrap_or(done)),
        sent_at: sent.map(from_ms),
        done_at: Some(from_ms(done)),
        sends_in: Duration::ZERO,
        timeout: Duration::ZERO,
    })
}

/// A sweep as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    pub id: i64,
    pub started: SystemTime,
    pub ended: Option<SystemTime>,
    pub total: u32,
    pub stopped: bool,
}

impl Store {
    /// The latest traceroutes to one node, newest first.
    pub async fn trace_history(
        &self,
        radio: RadioKey,
        dest: NodeNum,
        limit: u32,
    ) -> anyhow::Result<Vec<Trace>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!("SELECT {COLUMNS} FROM traceroute WHERE radio = ?1 AND dest = ?2 ORDER BY id DESC LIMIT ?3"))?;
            let rows = st.query_map(params![radio, dest, limit], row)?;
            rows.collect()
        })
        .await
    }

    /// The latest finished traceroute to every node of a radio.
    pub async fn latest_traces(&self, radio: RadioKey) -> anyhow::Result<Vec<Trace>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM traceroute WHERE id IN (SELECT MAX(id) FROM traceroute WHERE radio = ?1 GROUP BY dest)"
            ))?;
            let rows = st.query_map(params![radio], row)?;
            rows.collect()
        })
        .await
    }

    pub async fn start_sweep(&self, radio: RadioKey, total: u32) -> anyhow::Result<i64> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO sweep (radio, started_ms, total) VALUES (?1, ?2, ?3)",
                params![radio, ms(SystemTime::now()), total],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    pub async fn end_sweep(&self, radio: RadioKey, id: i64, stopped: bool) -> anyhow::Result<()> {
        self.write(move |c| {
            c.execute(
                "UPDATE sweep SET ended_ms = ?3, stopped = ?4 WHERE radio = ?1 AND id = ?2",
                params![radio, id, ms(SystemTime::now()), stopped],
            )
        })
        .await?;
        Ok(())
    }

    /// The radio's sweeps, newest first.
    pub async fn sweeps(&self, radio: RadioKey, limit: u32) -> anyhow::Result<Vec<SweepRow>> {
        self.read(move |c| {
            let mut st = c.prepare_cached("SELECT id, started_ms, ended_ms, total, stopped FROM sweep WHERE radio = ?1 ORDER BY id DESC LIMIT ?2")?;
            let rows = st.query_map(params![radio, limit], |r| {
                Ok(SweepRow {
                    id: r.get(0)?,
                    started: from_ms(r.get(1)?),
                    ended: r.get::<_, Option<i64>>(2)?.map(from_ms),
                    total: r.get(3)?,
                    stopped: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// The traceroutes of one sweep.
    pub async fn sweep_traces(&self, radio: RadioKey, sweep: i64) -> anyhow::Result<Vec<Trace>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM traceroute WHERE radio = ?1 AND sweep_id = ?2 ORDER BY id"
            ))?;
            let rows = st.query_map(params![radio, sweep], row)?;
            rows.collect()
        })
        .await
    }
}
