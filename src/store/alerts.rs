//! Alerts per radio: the rules (`alert_rule`) and the alerts they fired (`alert`, the newest
//! [`KEEP`] per radio). Every query is scoped by the radio's store key. The types are plain
//! data; what a rule means is `crate::alerts`'s business.

use std::time::SystemTime;

use rusqlite::{params, OptionalExtension, Row};

use super::{from_ms, ms, Store};
use crate::ids::{NodeNum, RadioKey};

/// Fired alerts kept per radio; older ones go.
pub const KEEP: i64 = 1000;

/// What a rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    NodeSilent,
    BatteryBelow,
    NewNode,
    Dm,
    Keyword,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::NodeSilent,
        Kind::BatteryBelow,
        Kind::NewNode,
        Kind::Dm,
        Kind::Keyword,
    ];

    /// The API's name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::NodeSilent => "node_silent",
            Kind::BatteryBelow => "battery_below",
            Kind::NewNode => "new_node",
            Kind::Dm => "dm",
            Kind::Keyword => "keyword",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One stored rule.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: i64,
    pub kind: Kind,
    pub node: Option<NodeNum>,
    pub minutes: Option<u32>,
    pub percent: Option<u32>,
    pub text: Option<String>,
    pub webhook: Option<String>,
    /// Muted until then; `None`: not muted. [`MUTED_FOR_GOOD`] is "until unmuted".
    pub muted_until: Option<SystemTime>,
}

/// What "muted until unmuted" is stored as (a time far away).
pub fn muted_for_good() -> SystemTime {
    from_ms(i64::MAX / 2)
}

/// `t` as the table keeps it (whole milliseconds).
pub fn to_ms_precision(t: SystemTime) -> SystemTime {
    from_ms(ms(t))
}

impl AlertRule {
    pub fn muted(&self, now: SystemTime) -> bool {
        self.muted_until.is_some_and(|t| t > now)
    }
}

/// One fired alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub id: i64,
    pub radio: RadioKey,
    pub rule: Option<i64>,
    pub time: SystemTime,
    pub kind: Kind,
    pub node: NodeNum,
    pub message: String,
    pub acknowledged: bool,
}

fn rule_of(r: &Row<'_>) -> rusqlite::Result<AlertRule> {
    let kind: String = r.get(1)?;
    let muted: Option<i64> = r.get(7)?;
    Ok(AlertRule {
        id: r.get(0)?,
        // Only this module writes the column, with a kind's name.
        kind: Kind::parse(&kind).unwrap_or(Kind::Dm),
        node: r.get(2)?,
        minutes: r.get(3)?,
        percent: r.get(4)?,
        text: r.get(5)?,
        webhook: r.get(6)?,
        muted_until: muted.map(from_ms),
    })
}

fn fired_of(r: &Row<'_>) -> rusqlite::Result<Fired> {
    let kind: String = r.get(4)?;
    Ok(Fired {
        id: r.get(0)?,
        radio: r.get(1)?,
        rule: r.get(2)?,
        time: from_ms(r.get(3)?),
        kind: Kind::parse(&kind).unwrap_or(Kind::Dm),
        node: r.get(5)?,
        message: r.get(6)?,
        acknowledged: r.get(7)?,
    })
}

const RULE_COLUMNS: &str = "id, kind, node, minutes, percent, text, webhook, muted_until";
const ALERT_COLUMNS: &str = "id, radio, rule, time_ms, kind, node, message, acknowledged";

impl Store {
    /// A radio's rules, oldest first.
    pub async fn alert_rules(&self, radio: RadioKey) -> anyhow::Result<Vec<AlertRule>> {
        self.read(move |c| {
            let mut q = c.prepare(&format!(
                "SELECT {RULE_COLUMNS} FROM alert_rule WHERE radio = ?1 ORDER BY id"
            ))?;
            let rows = q.query_map(params![radio], rule_of)?;
            rows.collect()
        })
        .await
    }

    /// Stores a new rule (its `id` is ignored) and gives it back with its id.
    pub async fn add_alert_rule(
        &self,
        radio: RadioKey,
        rule: AlertRule,
    ) -> anyhow::Result<AlertRule> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO alert_rule (radio, kind, node, minutes, percent, text, webhook, created_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    radio,
                    rule.kind.name(),
                    rule.node,
                    rule.minutes,
                    rule.percent,
                    rule.text,
                    rule.webhook,
                    ms(SystemTime::now())
                ],
            )?;
            Ok(AlertRule {
                id: c.last_insert_rowid(),
                ..rule
            })
        })
        .await
    }

    /// Removes one of a radio's rules; false when it has no such rule.
    pub async fn delete_alert_rule(&self, radio: RadioKey, id: i64) -> anyhow::Result<bool> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM alert_rule WHERE radio = ?1 AND id = ?2",
                params![radio, id],
            )
        })
        .await
        .map(|n| n > 0)
    }

    /// Mutes one of a radio's rules until `until` (`None` unmutes); false when no such rule.
    pub async fn mute_alert_rule(
        &self,
        radio: RadioKey,
        id: i64,
        until: Option<SystemTime>,
    ) -> anyhow::Result<bool> {
        self.write(move |c| {
            c.execute(
                "UPDATE alert_rule SET muted_until = ?3 WHERE radio = ?1 AND id = ?2",
                params![radio, id, until.map(ms)],
            )
        })
        .await
        .map(|n| n > 0)
    }

    /// Records a fired alert (its `id` is ignored) and gives it back with its id; the
    /// radio's alerts beyond the newest [`KEEP`] go.
    pub async fn add_alert(&self, alert: Fired) -> anyhow::Result<Fired> {
        self.write(move |c| {
            let tx = c.transaction()?;
            tx.execute(
                "INSERT INTO alert (radio, rule, time_ms, kind, node, message, acknowledged) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
                params![
                    alert.radio,
                    alert.rule,
                    ms(alert.time),
                    alert.kind.name(),
                    alert.node,
                    alert.message
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "DELETE FROM alert WHERE radio = ?1 AND id <= \
                 (SELECT id FROM alert WHERE radio = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                params![alert.radio, KEEP],
            )?;
            tx.commit()?;
            Ok(Fired {
                id,
                acknowledged: false,
                ..alert
            })
        })
        .await
    }

    /// A radio's alerts, newest first, at most `limit`.
    pub async fn alerts(&self, radio: RadioKey, limit: u32) -> anyhow::Result<Vec<Fired>> {
        self.read(move |c| {
            let mut q = c.prepare(&format!(
                "SELECT {ALERT_COLUMNS} FROM alert WHERE radio = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = q.query_map(params![radio, limit], fired_of)?;
            rows.collect()
        })
        .await
    }

    /// How many of a radio's alerts nobody acknowledged.
    pub async fn unacknowledged_alerts(&self, radio: RadioKey) -> anyhow::Result<u32> {
        self.read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM alert WHERE radio = ?1 AND acknowledged = 0",
                params![radio],
                |r| r.get(0),
            )
        })
        .await
    }

    /// Acknowledges one of a radio's alerts, or all of them (`None`); returns how many
    /// changed (0 for an unknown id, or one acknowledged already).
    pub async fn acknowledge_alerts(
        &self,
        radio: RadioKey,
        id: Option<i64>,
    ) -> anyhow::Result<usize> {
        self.write(move |c| match id {
            Some(id) => c.execute(
                "UPDATE alert SET acknowledged = 1 WHERE radio = ?1 AND id = ?2 AND acknowledged = 0",
                params![radio, id],
            ),
            None => c.execute(
                "UPDATE alert SET acknowledged = 1 WHERE radio = ?1 AND acknowledged = 0",
                params![radio],
            ),
        })
        .await
    }

    /// Whether the radio has an alert with this id.
    pub async fn has_alert(&self, radio: RadioKey, id: i64) -> anyhow::Result<bool> {
        self.read(move |c| {
            c.query_row(
                "SELECT 1 FROM alert WHERE radio = ?1 AND id = ?2",
                params![radio, id],
                |_| Ok(()),
            )
            .optional()
        })
        .await
        .map(|r| r.is_some())
    }

    /// When each (rule, node) of the radio last fired, for episodes that outlive a restart.
    pub async fn alerts_last_fired(
        &self,
        radio: RadioKey,
    ) -> anyhow::Result<Vec<(i64, NodeNum, SystemTime)>> {
        self.read(move |c| {
            let mut q = c.prepare(
                "SELECT rule, node, MAX(time_ms) FROM alert WHERE radio = ?1 AND rule IS NOT NULL \
                 GROUP BY rule, node",
            )?;
            let rows = q.query_map(params![radio], |r| {
                Ok((r.get(0)?, r.get(1)?, from_ms(r.get(2)?)))
            })?;
            rows.collect()
        })
        .await
    }

    /// The nodes this radio's history has ever seen (for "a node never seen before").
    pub async fn nodes_ever_seen(&self, radio: RadioKey) -> anyhow::Result<Vec<NodeNum>> {
        self.read(move |c| {
            let mut q = c.prepare("SELECT node FROM node_seen WHERE radio = ?1")?;
            let rows = q.query_map(params![radio], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn temp() -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "meshdeck-alerts-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let store = Store::open(&dir.join("t.db")).unwrap();
        (store, dir)
    }

    fn alert(radio: i64, n: u32) -> Fired {
        Fired {
            id: 0,
            radio: RadioKey(radio),
            rule: Some(1),
            time: SystemTime::now(),
            kind: Kind::Dm,
            node: NodeNum(n),
            message: format!("m{n}"),
            acknowledged: false,
        }
    }

    #[tokio::test]
    async fn alerts_are_kept_per_radio_newest_first_and_bounded() {
        let (store, dir) = temp();
        for n in 0..(KEEP as u32 + 5) {
            store.add_alert(alert(1, n)).await.unwrap();
        }
        store.add_alert(alert(2, 7)).await.unwrap();
        let mine = store.alerts(RadioKey(1), 5000).await.unwrap();
        assert_eq!(mine.len(), KEEP as usize);
        assert_eq!(mine[0].node, NodeNum(KEEP as u32 + 4));
        assert!(mine.windows(2).all(|w| w[0].id > w[1].id));
        assert_eq!(store.alerts(RadioKey(2), 10).await.unwrap().len(), 1);
        assert_eq!(
            store.unacknowledged_alerts(RadioKey(1)).await.unwrap(),
            KEEP as u32
        );
        let id = mine[0].id;
        assert_eq!(
            store
                .acknowledge_alerts(RadioKey(2), Some(id))
                .await
                .unwrap(),
            0,
            "another radio's"
        );
        assert_eq!(
            store
                .acknowledge_alerts(RadioKey(1), Some(id))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.acknowledge_alerts(RadioKey(1), None).await.unwrap(),
            KEEP as usize - 1
        );
        assert_eq!(store.unacknowledged_alerts(RadioKey(2)).await.unwrap(), 1);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
