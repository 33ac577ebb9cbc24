//! Node history, written: what links observed about nodes (`radio::observe`) goes in with the
//! writer's batch: first and last heard, one raw sample per packet heard, and a row for each
//! change of names, role and hardware, or position. Every row is keyed by the radio.

use std::sync::LazyLock;

use rusqlite::{params, params_from_iter, OptionalExtension, Transaction};

use super::ms;
use crate::ids::NodeNum;
use crate::ids::RadioKey;
use crate::radio::observe::{Metric, Observation, Observed, Sample};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A value as the tables keep it: an integer in the metric's unit × its scale.
pub fn to_stored(m: Metric, v: f64) -> i64 {
    // `as` saturates: a hostile value cannot wrap.
    (v * m.scale()).round() as i64
}

pub fn from_stored(m: Metric, v: i64) -> f64 {
    v as f64 / m.scale()
}

/// `f` of each metric's column, joined by commas, in the order of [`Metric::ALL`].
pub fn per_metric(f: impl Fn(&str) -> String) -> String {
    Metric::ALL.map(|m| f(m.column())).join(", ")
}

/// `battery, voltage, …` in the order of [`Metric::ALL`].
pub fn metric_columns() -> String {
    per_metric(str::to_string)
}

static INSERT_SAMPLE: LazyLock<String> = LazyLock::new(|| {
    let cols = metric_columns();
    let marks = (4..4 + Metric::ALL.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT OR IGNORE INTO sample (radio, node, at_ms, {cols}) VALUES (?1, ?2, ?3, {marks})"
    )
});

/// Two packets of one node in one millisecond are two samples: the later one moves on by a
/// millisecond, this many times at most.
const SAME_MS_TRIES: i64 = 16;

/// Applies observations inside the writer's transaction.
pub(super) fn apply(tx: &Transaction<'_>, obs: &[Observation]) -> rusqlite::Result<()> {
    for o in obs {
        let at = ms(o.at);
        match &o.what {
            Observed::Heard(s) => {
                seen(tx, o.radio, o.node, at)?;
                if !s.is_empty() {
                    insert_sample(tx, o.radio, o.node, at, s)?;
                }
            }
            Observed::Known(t) => seen(tx, o.radio, o.node, ms(*t))?,
            Observed::Position { lat_i, lon_i, alt } => {
                let last: Option<(i32, i32, Option<i32>)> = tx
                    .prepare_cached("SELECT lat_i, lon_i, alt FROM node_position WHERE radio = ?1 AND node = ?2 ORDER BY at_ms DESC LIMIT 1")?
                    .query_row(params![o.radio, o.node], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                if last != Some((*lat_i, *lon_i, *alt)) {
                    tx.prepare_cached("INSERT OR REPLACE INTO node_position (radio, node, at_ms, lat_i, lon_i, alt) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                        .execute(params![o.radio, o.node, at, lat_i, lon_i, alt])?;
                }
            }
            Observed::User {
                long_name,
                short_name,
                hw_model,
                role,
            } => {
                let names: Option<(String, String)> = tx
                    .prepare_cached("SELECT long_name, short_name FROM node_name WHERE radio = ?1 AND node = ?2 ORDER BY at_ms DESC LIMIT 1")?
                    .query_row(params![o.radio, o.node], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if names.as_ref().map(|(l, s)| (l.as_str(), s.as_str()))
                    != Some((long_name.as_str(), short_name.as_str()))
                {
                    tx.prepare_cached("INSERT OR REPLACE INTO node_name (radio, node, at_ms, long_name, short_name) VALUES (?1, ?2, ?3, ?4, ?5)")?
                        .execute(params![o.radio, o.node, at, long_name, short_name])?;
                }
                let kind: Option<(i32, i32)> = tx
                    .prepare_cached("SELECT role, hw_model FROM node_role WHERE radio = ?1 AND node = ?2 ORDER BY at_ms DESC LIMIT 1")?
                    .query_row(params![o.radio, o.node], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if kind != Some((*role, *hw_model)) {
                    tx.prepare_cached("INSERT OR REPLACE INTO node_role (radio, node, at_ms, role, hw_model) VALUES (?1, ?2, ?3, ?4, ?5)")?
                        .execute(params![o.radio, o.node, at, role, hw_model])?;
                }
            }
        }
    }
    Ok(())
}

/// The node was heard at `at`: first and last heard move out to it.
fn seen(tx: &Transaction<'_>, radio: RadioKey, node: NodeNum, at: i64) -> rusqlite::Result<()> {
    let hour = at.div_euclid(HOUR_MS) * HOUR_MS;
    let day = at.div_euclid(DAY_MS) * DAY_MS;
    tx.prepare_cached(
        "INSERT INTO node_seen (radio, node, first_ms, last_ms, hourly_ms, daily_ms) VALUES (?1, ?2, ?3, ?3, ?4, ?5) \
         ON CONFLICT (radio, node) DO UPDATE SET first_ms = min(first_ms, excluded.first_ms), last_ms = max(last_ms, excluded.last_ms)",
    )?
    .execute(params![radio, node, at, hour, day])?;
    Ok(())
}

fn insert_sample(
    tx: &Transaction<'_>,
    radio: RadioKey,
    node: NodeNum,
    at: i64,
    s: &Sample,
) -> rusqlite::Result<()> {
    let values = Metric::ALL.map(|m| s.get(m).map(|v| to_stored(m, v)));
    let head: [rusqlite::types::Value; 3] = [radio.0.into(), i64::from(node.0).into(), at.into()];
    let mut st = tx.prepare_cached(&INSERT_SAMPLE)?;
    for k in 0..SAME_MS_TRIES {
        let mut args = head.clone();
        args[2] = (at + k).into();
        let tail = values.map(rusqlite::types::Value::from);
        if st.execute(params_from_iter(args.into_iter().chain(tail)))? == 1 {
            break;
        }
    }
    Ok(())
}
