//! Node history in tiers, kept small: raw samples are rolled up by hour as soon as an hour is
//! complete, hourly rows by day as soon as a day is; raw samples past the raw window and
//! hourly rows past theirs are purged, daily rows stay. Past the size cap the oldest day goes.
//! Work happens in the background, a few nodes per transaction, so the writer never waits long.

use std::time::{Duration, SystemTime};

use rusqlite::{params, Connection};

use super::history::{per_metric, DAY_MS, HOUR_MS};
use super::{ms, Store};
use crate::ids::NodeNum;
use crate::ids::RadioKey;

/// How long each tier is kept, and the most the database may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub raw_days: u32,
    pub hourly_days: u32,
    /// Bytes of the database file in use (free pages aside) past which the oldest day goes.
    pub max_bytes: u64,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub hourly_rows: usize,
    pub daily_rows: usize,
    pub raw_purged: usize,
    pub hourly_purged: usize,
    /// Days of data dropped to stay under the size cap.
    pub capped_days: usize,
}

/// Nodes handled per transaction.
const NODES_PER_TX: usize = 32;
/// Days dropped per round at most, to stay under the cap.
const MAX_CAP_DAYS: usize = 8;

fn floor(t: i64, unit: i64) -> i64 {
    t.div_euclid(unit) * unit
}

/// `min(c), avg(c), max(c)` of each metric: an hour's roll-up of raw samples.
fn hourly_select() -> String {
    per_metric(|c| format!("min({c}), CAST(round(avg({c})) AS INTEGER), max({c})"))
}

/// A day's roll-up of hourly rows: min of minima, mean weighted by samples, max of maxima.
fn daily_select() -> String {
    per_metric(|c| {
        format!(
            "min({c}_min), CAST(round(sum({c}_avg * n) * 1.0 / sum(CASE WHEN {c}_avg IS NULL THEN 0 ELSE n END)) AS INTEGER), max({c}_max)"
        )
    })
}

fn rollup_columns() -> String {
    per_metric(|c| format!("{c}_min, {c}_avg, {c}_max"))
}

struct Mark {
    radio: RadioKey,
    node: NodeNum,
    hourly_ms: i64,
    daily_ms: i64,
}

impl Store {
    /// One round of roll-ups and purges as of `now` (the clock is passed in, so tests can
    /// live a month in a second).
    pub async fn maintain_history(&self, now: SystemTime, policy: Policy) -> anyhow::Result<Round> {
        let marks = self
            .write(|c| {
                let mut st = c.prepare_cached(
                    "SELECT radio, node, hourly_ms, daily_ms FROM node_seen ORDER BY radio, node",
                )?;
                let rows = st.query_map([], |r| {
                    let (radio, node) = (r.get(0)?, r.get(1)?);
                    let (hourly_ms, daily_ms) = (r.get(2)?, r.get(3)?);
                    Ok(Mark {
                        radio,
                        node,
                        hourly_ms,
                        daily_ms,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let now = ms(now);
        let mut round = Round::default();
        let mut marks = marks.into_iter().peekable();
        while marks.peek().is_some() {
            let chunk: Vec<Mark> = marks.by_ref().take(NODES_PER_TX).collect();
            let done = self
                .write(move |c| {
                    let tx = c.transaction()?;
                    let mut r = Round::default();
                    for m in &chunk {
                        roll_node(&tx, m, now, policy, &mut r)?;
                    }
                    tx.commit()?;
                    Ok(r)
                })
                .await?;
            round.hourly_rows += done.hourly_rows;
            round.daily_rows += done.daily_rows;
            round.raw_purged += done.raw_purged;
            round.hourly_purged += done.hourly_purged;
        }
        for _ in 0..MAX_CAP_DAYS {
            let max = policy.max_bytes;
            let dropped = self.write(move |c| cap_one_day(c, max)).await?;
            if !dropped {
                break;
            }
            round.capped_days += 1;
        }
        Ok(round)
    }

    /// Bytes of the database in use (its pages but the free ones).
    pub async fn used_bytes(&self) -> anyhow::Result<u64> {
        self.write(|c| used_bytes(c)).await
    }
}

fn used_bytes(c: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = c.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(u64::try_from((pages - free).max(0) * size).unwrap_or(0))
}

/// Rolls up a node's rows of `[from, to)` into tier 1 (raw samples by hour) or tier 2 (hourly
/// rows by day).
fn roll(
    tx: &rusqlite::Transaction<'_>,
    m: &Mark,
    tier: u8,
    from: i64,
    to: i64,
) -> rusqlite::Result<usize> {
    let (unit, count, source, values) = if tier == 1 {
        (HOUR_MS, "count(*)", "sample WHERE at_ms", hourly_select())
    } else {
        (
            DAY_MS,
            "sum(n)",
            "rollup WHERE tier = 1 AND bucket_ms",
            daily_select(),
        )
    };
    let time = if tier == 1 { "at_ms" } else { "bucket_ms" };
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO rollup (radio, node, tier, bucket_ms, n, {}) \
         SELECT radio, node, {tier}, ({time} / {unit}) * {unit} AS b, {count}, {values} FROM {source} >= ?3 \
         AND {time} < ?4 AND radio = ?1 AND node = ?2 GROUP BY b",
        rollup_columns()
    ))?
    .execute(params![m.radio, m.node, from, to])
}

/// Rolls up one node's complete hours and days and purges past the windows.
fn roll_node(
    tx: &rusqlite::Transaction<'_>,
    m: &Mark,
    now: i64,
    policy: Policy,
    r: &mut Round,
) -> rusqlite::Result<()> {
    let hour = floor(now, HOUR_MS);
    let mut hourly_ms = m.hourly_ms;
    if hourly_ms < hour {
        r.hourly_rows += roll(tx, m, 1, hourly_ms, hour)?;
        hourly_ms = hour;
    }
    // Days whose every hour is rolled up.
    let day = floor(hourly_ms, DAY_MS);
    let mut daily_ms = m.daily_ms;
    if daily_ms < day {
        r.daily_rows += roll(tx, m, 2, daily_ms, day)?;
        daily_ms = day;
    }
    if (hourly_ms, daily_ms) != (m.hourly_ms, m.daily_ms) {
        tx.prepare_cached(
            "UPDATE node_seen SET hourly_ms = ?3, daily_ms = ?4 WHERE radio = ?1 AND node = ?2",
        )?
        .execute(params![m.radio, m.node, hourly_ms, daily_ms])?;
    }
    // Only what is rolled up goes.
    // Cuts fall on whole hours and days, so a tier never holds part of a bucket it reads.
    let raw_cut = floor(now - i64::from(policy.raw_days) * DAY_MS, HOUR_MS).min(hourly_ms);
    r.raw_purged += tx
        .prepare_cached("DELETE FROM sample WHERE radio = ?1 AND node = ?2 AND at_ms < ?3")?
        .execute(params![m.radio, m.node, raw_cut])?;
    let hourly_cut = floor(now - i64::from(policy.hourly_days) * DAY_MS, DAY_MS).min(daily_ms);
    r.hourly_purged += tx
        .prepare_cached(
            "DELETE FROM rollup WHERE radio = ?1 AND node = ?2 AND tier = 1 AND bucket_ms < ?3",
        )?
        .execute(params![m.radio, m.node, hourly_cut])?;
    tx.prepare_cached("DELETE FROM node_position WHERE radio = ?1 AND node = ?2 AND at_ms < ?3")?
        .execute(params![
            m.radio,
            m.node,
            now - i64::from(policy.hourly_days) * DAY_MS
        ])?;
    Ok(())
}

/// Past the cap, drops the oldest day of the oldest tier that has data; false when under it
/// (or nothing is left to drop).
fn cap_one_day(c: &mut Connection, max: u64) -> rusqlite::Result<bool> {
    if used_bytes(c)? <= max {
        return Ok(false);
    }
    let tx = c.transaction()?;
    let mut dropped = 0;
    for (table, time, filter) in [
        ("rollup", "bucket_ms", "tier = 2"),
        ("rollup", "bucket_ms", "tier = 1"),
        ("sample", "at_ms", "1"),
    ] {
        let oldest: Option<i64> = tx.query_row(
            &format!("SELECT min({time}) FROM {table} WHERE {filter}"),
            [],
            |r| r.get(0),
        )?;
        if let Some(t) = oldest {
            dropped = tx.execute(
                &format!("DELETE FROM {table} WHERE {filter} AND {time} < ?1"),
                params![floor(t, DAY_MS) + DAY_MS],
            )?;
            break;
        }
    }
    tx.commit()?;
    Ok(dropped > 0)
}

/// The background task: a round every `every` until `stop` changes.
pub async fn run(
    store: Store,
    policy: Policy,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match store.maintain_history(SystemTime::now(), policy).await {
            Ok(r) if r != Round::default() => tracing::debug!(?r, "history rolled up"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = ?e, "rolling up node history failed"),
        }
    }
}
