//! Node history, read: a node's points over a time range from the finest tier that has them,
//! its first and last heard, names, roles and positions. Scoped by radio and node.

use std::collections::HashMap;
use std::time::SystemTime;

use rusqlite::{params, Connection, OptionalExtension};

use super::history::{from_stored, DAY_MS, HOUR_MS};
use super::{from_ms, ms, Store};
use crate::ids::NodeNum;
use crate::ids::RadioKey;
use crate::radio::observe::{Metric, Sample};

/// Where a point comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Raw,
    Hourly,
    Daily,
}

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Hourly => "hourly",
            Tier::Daily => "daily",
        }
    }
}

/// How finely to read: every sample, raw samples grouped by so many ms, or by hour (from the
/// hourly tier as far as it goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Sample,
    Ms(u32),
    Hour,
}

/// A sample, or a bucket's minimum, mean and maximum of each value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub at: SystemTime,
    pub tier: Tier,
    pub samples: u32,
    pub min: Sample,
    pub mean: Sample,
    pub max: Sample,
}

/// One hour of a sparkline: its mean battery and SNR. 20 bytes, where a [`Point`] (every
/// metric's min, mean and max) takes 512: a radio's sparklines are cached for a minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparkPoint {
    /// Unix seconds.
    pub at: u32,
    pub battery: Option<f32>,
    pub snr: Option<f32>,
}

impl SparkPoint {
    pub fn get(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::Battery => self.battery.map(f64::from),
            Metric::Snr => self.snr.map(f64::from),
            _ => None,
        }
    }
}

/// The sparklines of a radio's nodes: each node's points in one shared list, the nodes in
/// order of number. 8 bytes a node and 20 a point: a hash map of a list per node took 33
/// bytes a node plus a heap block (32 bytes) per list, about 15 KB for 200 nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sparks {
    /// (node, where its points end in `points`), by node.
    ends: Vec<(NodeNum, u32)>,
    points: Vec<SparkPoint>,
}

impl Sparks {
    /// Adds a node's points; nodes come in any order, each once.
    fn push(&mut self, node: NodeNum, list: impl IntoIterator<Item = SparkPoint>) {
        self.points.extend(list);
        let end = u32::try_from(self.points.len()).unwrap_or(u32::MAX);
        self.ends.push((node, end));
    }

    /// Sorted by node, each node's points moved along with it, and no spare capacity.
    fn finish(mut self) -> Sparks {
        let mut starts = 0u32;
        let mut spans: Vec<(NodeNum, u32, u32)> = Vec::with_capacity(self.ends.len());
        for &(n, end) in &self.ends {
            spans.push((n, starts, end));
            starts = end;
        }
        spans.sort_unstable_by_key(|s| s.0);
        let mut points = Vec::with_capacity(self.points.len());
        self.ends.clear();
        for (n, a, b) in spans {
            points.extend_from_slice(self.points.get(a as usize..b as usize).unwrap_or(&[]));
            self.ends
                .push((n, u32::try_from(points.len()).unwrap_or(u32::MAX)));
        }
        self.ends.shrink_to_fit();
        Sparks {
            ends: self.ends,
            points,
        }
    }

    /// From each node's points, in any order of node.
    pub fn from_lists(lists: Vec<(NodeNum, Vec<SparkPoint>)>) -> Sparks {
        let mut s = Sparks::default();
        for (n, list) in lists {
            s.push(n, list);
        }
        s.finish()
    }

    /// A node's points, oldest first; `None` for a node that was not read.
    pub fn get(&self, node: NodeNum) -> Option<&[SparkPoint]> {
        let i = self.ends.binary_search_by_key(&node, |e| e.0).ok()?;
        let start = match i.checked_sub(1) {
            Some(j) => self.ends.get(j)?.1,
            None => 0,
        };
        self.points
            .get(start as usize..self.ends.get(i)?.1 as usize)
    }

    /// The nodes read.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// A node's history but its samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeHistory {
    pub first_seen: Option<SystemTime>,
    pub last_seen: Option<SystemTime>,
    /// (time, long name, short name), oldest first.
    pub names: Vec<(SystemTime, String, String)>,
    /// (time, role, hardware model), oldest first.
    pub roles: Vec<(SystemTime, i32, i32)>,
    /// (time, latitude, longitude, altitude), oldest first.
    pub positions: Vec<(SystemTime, f64, f64, Option<i32>)>,
}

/// `min, avg, max` of each metric, as both raw groups and roll-ups select them.
fn triples(prefix: impl Fn(Metric) -> [String; 3]) -> String {
    Metric::ALL.map(|m| prefix(m).join(", ")).join(", ")
}

fn point(r: &rusqlite::Row<'_>, tier: Tier) -> rusqlite::Result<Point> {
    let mut p = Point {
        at: from_ms(r.get(0)?),
        tier,
        samples: r.get(1)?,
        min: Sample::default(),
        mean: Sample::default(),
        max: Sample::default(),
    };
    for (i, m) in Metric::ALL.into_iter().enumerate() {
        let v = |k: usize| -> rusqlite::Result<Option<f64>> {
            Ok(r.get::<_, Option<i64>>(2 + 3 * i + k)?
                .map(|v| from_stored(m, v)))
        };
        p.min.set(m, v(0)?);
        p.mean.set(m, v(1)?);
        p.max.set(m, v(2)?);
    }
    Ok(p)
}

/// Raw samples of a node in `[a, b)`, each one (`unit` ≤ 1) or grouped by `unit` ms.
fn raw(
    c: &Connection,
    radio: RadioKey,
    node: NodeNum,
    a: i64,
    b: i64,
    unit: i64,
) -> rusqlite::Result<Vec<Point>> {
    let each = unit <= 1;
    let cols = triples(|m| {
        let c = m.column();
        if each {
            [c.to_string(), c.to_string(), c.to_string()]
        } else {
            [
                format!("min({c})"),
                format!("CAST(round(avg({c})) AS INTEGER)"),
                format!("max({c})"),
            ]
        }
    });
    let sql = if each {
        format!("SELECT at_ms, 1, {cols} FROM sample WHERE radio = ?1 AND node = ?2 AND at_ms >= ?3 AND at_ms < ?4 ORDER BY at_ms")
    } else {
        format!(
            "SELECT (at_ms / {unit}) * {unit} AS b, count(*), {cols} FROM sample \
             WHERE radio = ?1 AND node = ?2 AND at_ms >= ?3 AND at_ms < ?4 GROUP BY b ORDER BY b"
        )
    };
    let tier = if unit >= HOUR_MS {
        Tier::Hourly
    } else {
        Tier::Raw
    };
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(params![radio, node, a, b], |r| point(r, tier))?;
    rows.collect()
}

/// Roll-up rows of a node in `[a, b)`.
fn rolled(
    c: &Connection,
    radio: RadioKey,
    node: NodeNum,
    tier: Tier,
    a: i64,
    b: i64,
) -> rusqlite::Result<Vec<Point>> {
    let cols = triples(|m| {
        let c = m.column();
        [format!("{c}_min"), format!("{c}_avg"), format!("{c}_max")]
    });
    let mut st = c.prepare_cached(&format!(
        "SELECT bucket_ms, n, {cols} FROM rollup \
         WHERE radio = ?1 AND node = ?2 AND tier = ?3 AND bucket_ms >= ?4 AND bucket_ms < ?5 ORDER BY bucket_ms"
    ))?;
    let code = if tier == Tier::Daily { 2 } else { 1 };
    let rows = st.query_map(params![radio, node, code, a, b], |r| point(r, tier))?;
    rows.collect()
}

fn oldest(
    c: &Connection,
    sql: &str,
    radio: RadioKey,
    node: NodeNum,
) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached(sql)?
        .query_row(params![radio, node], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

/// A node's points in `[since, until)`, oldest first: from raw samples (each one, grouped by
/// `every`, or by hour from hourly rows), and before those from hourly rows, and before those
/// from daily rows.
fn points(
    c: &Connection,
    radio: RadioKey,
    node: NodeNum,
    a: i64,
    b: i64,
    every: Every,
) -> rusqlite::Result<Vec<Point>> {
    let by_hour = every == Every::Hour;
    let first_raw = oldest(
        c,
        "SELECT min(at_ms) FROM sample WHERE radio = ?1 AND node = ?2",
        radio,
        node,
    )?;
    let first_hour = oldest(
        c,
        "SELECT min(bucket_ms) FROM rollup WHERE radio = ?1 AND node = ?2 AND tier = 1",
        radio,
        node,
    )?;
    let mut out = Vec::new();
    let (hours, raw_from) = if by_hour {
        // Complete hours are rolled up; the hours since come from raw samples.
        let rolled_to = oldest(
            c,
            "SELECT hourly_ms FROM node_seen WHERE radio = ?1 AND node = ?2",
            radio,
            node,
        )?
        .unwrap_or(a);
        (
            rolled(c, radio, node, Tier::Hourly, a, b.min(rolled_to))?,
            a.max(rolled_to),
        )
    } else {
        let before = first_raw
            .map_or(b, |t| t.div_euclid(HOUR_MS) * HOUR_MS)
            .min(b);
        (rolled(c, radio, node, Tier::Hourly, a, before)?, a)
    };
    // Days before the first hour kept (hourly rows go a whole day at a time).
    let daily_to = first_hour
        .or(first_raw)
        .map_or(b, |t| t.div_euclid(DAY_MS) * DAY_MS)
        .min(b);
    out.extend(rolled(c, radio, node, Tier::Daily, a, daily_to)?);
    out.extend(hours);
    let unit = match every {
        Every::Sample => 1,
        Every::Ms(ms) => i64::from(ms).max(1),
        Every::Hour => HOUR_MS,
    };
    out.extend(raw(c, radio, node, raw_from, b, unit)?);
    Ok(out)
}

impl Store {
    /// A node's samples in `[since, until)`, oldest first; older than the raw window they are
    /// hourly or daily means.
    pub async fn node_points(
        &self,
        radio: RadioKey,
        node: NodeNum,
        since: SystemTime,
        until: SystemTime,
        every: Every,
    ) -> anyhow::Result<Vec<Point>> {
        let (a, b) = (ms(since), ms(until));
        self.read(move |c| points(c, radio, node, a, b, every))
            .await
    }

    /// Hourly points of many nodes since `since` (the nodes table's sparklines).
    pub async fn hourly_points(
        &self,
        radio: RadioKey,
        nodes: Vec<NodeNum>,
        since: SystemTime,
        until: SystemTime,
    ) -> anyhow::Result<Sparks> {
        let (a, b) = (ms(since), ms(until));
        // Battery and SNR only, in one statement per node: the nodes page runs this for
        // every row, and the general `points` took four times as long.
        self.read(move |c| {
            let mut hours = c.prepare_cached(
                "SELECT bucket_ms, n, battery_avg, snr_avg FROM rollup \
                 WHERE radio = ?1 AND node = ?2 AND tier = 1 AND bucket_ms >= ?3 AND bucket_ms < ?4",
            )?;
            // What is not rolled up yet (the current hour, and the last one until the next
            // round) as one point.
            let mut latest = c.prepare_cached(&format!(
                "SELECT (max(at_ms) / {HOUR_MS}) * {HOUR_MS}, count(*), CAST(round(avg(battery)) AS INTEGER), CAST(round(avg(snr)) AS INTEGER) FROM sample \
                 WHERE radio = ?1 AND node = ?2 AND at_ms < ?4 \
                 AND at_ms >= max(?3, coalesce((SELECT hourly_ms FROM node_seen WHERE radio = ?1 AND node = ?2), ?3))"
            ))?;
            let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Option<SparkPoint>> {
                let Some(at) = r.get::<_, Option<i64>>(0)? else {
                    return Ok(None);
                };
                let value = |i, m| -> rusqlite::Result<Option<f32>> {
                    Ok(r.get::<_, Option<i64>>(i)?.map(|v| from_stored(m, v) as f32))
                };
                Ok(Some(SparkPoint {
                    at: u32::try_from(at / 1000).unwrap_or(0),
                    battery: value(2, Metric::Battery)?,
                    snr: value(3, Metric::Snr)?,
                }))
            };
            let mut out = Sparks::default();
            let mut list = Vec::new();
            for n in nodes {
                list.clear();
                for p in hours.query_map(params![radio, n, a, b], row)? {
                    list.extend(p?);
                }
                list.extend(latest.query_row(params![radio, n, a, b], row)?);
                out.push(n, list.drain(..));
            }
            Ok(out.finish())
        })
        .await
    }

    /// First and last heard, names, roles and positions of a node.
    pub async fn node_history(
        &self,
        radio: RadioKey,
        node: NodeNum,
    ) -> anyhow::Result<NodeHistory> {
        self.read(move |c| {
            let seen: Option<(i64, i64)> = c
                .prepare_cached("SELECT first_ms, last_ms FROM node_seen WHERE radio = ?1 AND node = ?2")?
                .query_row(params![radio, node], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let names = c
                .prepare_cached("SELECT at_ms, long_name, short_name FROM node_name WHERE radio = ?1 AND node = ?2 ORDER BY at_ms LIMIT 1000")?
                .query_map(params![radio, node], |r| Ok((from_ms(r.get(0)?), r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let roles = c
                .prepare_cached("SELECT at_ms, role, hw_model FROM node_role WHERE radio = ?1 AND node = ?2 ORDER BY at_ms LIMIT 1000")?
                .query_map(params![radio, node], |r| Ok((from_ms(r.get(0)?), r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let positions = c
                .prepare_cached("SELECT at_ms, lat_i, lon_i, alt FROM node_position WHERE radio = ?1 AND node = ?2 ORDER BY at_ms DESC LIMIT 2000")?
                .query_map(params![radio, node], |r| {
                    let deg = |v: i32| f64::from(v) / 1e7;
                    Ok((from_ms(r.get(0)?), deg(r.get(1)?), deg(r.get(2)?), r.get(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(NodeHistory {
                first_seen: seen.map(|s| from_ms(s.0)),
                last_seen: seen.map(|s| from_ms(s.1)),
                names,
                roles,
                positions: positions.into_iter().rev().collect(),
            })
        })
        .await
    }

    /// First heard of every node of a radio.
    pub async fn first_seen(
        &self,
        radio: RadioKey,
    ) -> anyhow::Result<HashMap<NodeNum, SystemTime>> {
        self.read(move |c| {
            c.prepare_cached("SELECT node, first_ms FROM node_seen WHERE radio = ?1")?
                .query_map(params![radio], |r| Ok((r.get(0)?, from_ms(r.get(1)?))))?
                .collect()
        })
        .await
    }
}
