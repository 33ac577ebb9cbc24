//! Text message history per radio. Rows are written by the store writer task as the radio
//! link reports them; every query is scoped by the radio's node number.

use crate::ids::{Convo, RadioKey};
use std::time::SystemTime;

use rusqlite::params;

use super::{from_ms, ms, Store};

use crate::radio::packet::Heard;
pub use crate::radio::text::{Delivery, HistoryOp, Message};

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        radio: r.get(0)?,
        packet_id: r.get(1)?,
        outgoing: r.get(2)?,
        from: r.get(3)?,
        to: r.get(4)?,
        channel: r.get(5)?,
        convo: r.get(6)?,
        text: r.get(7)?,
        at: from_ms(r.get(8)?),
        state: Delivery::from_name(&r.get::<_, String>(9)?, r.get(10)?),
        heard: heard(r)?,
    })
}

/// How a received text was heard, from its columns (all NULL when it was not kept).
fn heard(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Heard>> {
    let Some(via_mqtt) = r.get::<_, Option<bool>>(15)? else {
        return Ok(None);
    };
    let snr = r.get::<_, Option<f64>>(11)?.map(|v| v as f32);
    let hops = (
        r.get::<_, Option<u8>>(13)?.unwrap_or(0),
        r.get::<_, Option<u8>>(14)?.unwrap_or(0),
    );
    Ok(Some(Heard::new((snr, r.get(12)?), hops, via_mqtt)))
}

const COLUMNS: &str = "radio, packet_id, outgoing, from_node, to_node, channel, convo, text, at_ms, state, error, snr, rssi, hop_start, hop_limit, via_mqtt";

impl Store {
    /// Applies a batch of changes in one transaction, then trims each radio's history to
    /// `keep` messages.
    pub async fn apply_message_ops(&self, ops: Vec<HistoryOp>, keep: u32) -> anyhow::Result<()> {
        let trim = self.trim_counts.clone();
        self.write(move |c| {
            let tx = c.transaction()?;
            let mut radios: std::collections::BTreeMap<RadioKey, u32> = Default::default();
            for op in ops {
                match op {
                    HistoryOp::Insert(m) => {
                        *radios.entry(m.radio).or_insert(0) += 1;
                        tx.prepare_cached(&format!("INSERT INTO message ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"))?
                            .execute(params![m.radio, m.packet_id, m.outgoing, m.from, m.to, m.channel, m.convo, m.text, ms(m.at), m.state.name(), m.state.error(),
                                m.heard.and_then(|h| h.snr()).map(f64::from), m.heard.and_then(|h| h.rssi()), m.heard.map(|h| h.hops().0), m.heard.map(|h| h.hops().1), m.heard.map(|h| h.via_mqtt())])?;
                    }
                    HistoryOp::State { radio, packet_id, state } => {
                        tx.prepare_cached("UPDATE message SET state = ?3, error = ?4 WHERE radio = ?1 AND packet_id = ?2 AND outgoing = 1")?
                            .execute(params![radio, packet_id, state.name(), state.error()])?;
                    }
                    HistoryOp::Trace { radio, trace } => super::traces::insert(&tx, radio, &trace)?,
                    HistoryOp::Nodes(seen) => super::history::apply(&tx, &seen)?,
                    HistoryOp::Neighbors { radio, report } => super::neighbors::insert(&tx, radio, &report)?,
                }
            }
            // Trimming walks `keep` index entries, so it runs once per many inserts, not per batch.
            let every = keep.clamp(1, 256);
            let mut due = Vec::new();
            {
                let mut counts = trim.lock().unwrap_or_else(|e| e.into_inner());
                for (radio, n) in radios {
                    let c = counts.entry(radio).or_insert(0);
                    *c += n;
                    if *c >= every {
                        *c = 0;
                        due.push(radio);
                    }
                }
            }
            for radio in due {
                tx.prepare_cached(
                    "DELETE FROM message WHERE radio = ?1 AND id <= (SELECT id FROM message WHERE radio = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
                )?
                .execute(params![radio, keep])?;
            }
            tx.commit()
        })
        .await
    }

    /// The last `limit` messages of one conversation, oldest first.
    pub async fn conversation(
        &self,
        radio: RadioKey,
        convo: Convo,
        limit: u32,
    ) -> anyhow::Result<Vec<Message>> {
        self.last_messages(radio, "convo = ?2", convo, limit).await
    }

    /// Messages of a radio after `since` (or the last `limit`), oldest first.
    pub async fn messages_since(
        &self,
        radio: RadioKey,
        since: Option<SystemTime>,
        limit: u32,
    ) -> anyhow::Result<Vec<Message>> {
        let since = since.map(ms).unwrap_or(i64::MIN);
        self.last_messages(radio, "at_ms > ?2", since, limit).await
    }

    /// The last `limit` messages of a radio that match `filter` (on `?2`, `arg`), oldest first.
    async fn last_messages(
        &self,
        radio: RadioKey,
        filter: &'static str,
        arg: impl rusqlite::ToSql + Send + 'static,
        limit: u32,
    ) -> anyhow::Result<Vec<Message>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM (SELECT id, {COLUMNS} FROM message WHERE radio = ?1 AND {filter} ORDER BY id DESC LIMIT ?3) ORDER BY id"
            ))?;
            let rows = st.query_map(params![radio, arg, limit], row)?;
            rows.collect()
        })
        .await
    }

    /// Conversations of a radio with their latest message time, newest first.
    pub async fn conversations(
        &self,
        radio: RadioKey,
    ) -> anyhow::Result<Vec<(Convo, SystemTime, u32)>> {
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT convo, MAX(at_ms), COUNT(*) FROM message WHERE radio = ?1 GROUP BY convo ORDER BY MAX(at_ms) DESC LIMIT 200",
            )?;
            let rows = st.query_map(params![radio], |r| Ok((r.get(0)?, from_ms(r.get(1)?), r.get(2)?)))?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeNum;
    use std::time::{Duration, UNIX_EPOCH};

    fn msg(radio: RadioKey, id: u32, convo: &str) -> Message {
        Message {
            radio,
            packet_id: id,
            outgoing: true,
            from: NodeNum(radio.0 as u32),
            to: NodeNum(5),
            channel: crate::ids::ChannelIndex::PRIMARY,
            convo: convo.parse().unwrap(),
            text: format!("hello {id} <b>"),
            at: UNIX_EPOCH + Duration::from_secs(1_000 + u64::from(id)),
            state: Delivery::Queued,
            heard: None,
        }
    }

    #[tokio::test]
    async fn history_is_per_radio_bounded_and_tracks_delivery() {
        let dir = std::env::temp_dir().join(format!("meshdeck-msg-{}", std::process::id()));
        let store = Store::open(&dir.join("m.db")).unwrap();
        let ops: Vec<HistoryOp> = (1..=5)
            .map(|i| HistoryOp::Insert(msg(RadioKey(1), i, "!00000005")))
            .chain([HistoryOp::Insert(msg(RadioKey(2), 9, "ch:0"))])
            .collect();
        store.apply_message_ops(ops, 3).await.unwrap();
        let state = Delivery::Failed("NO_ROUTE".into());
        store
            .apply_message_ops(
                vec![HistoryOp::State {
                    radio: RadioKey(1),
                    packet_id: 5,
                    state: state.clone(),
                }],
                3,
            )
            .await
            .unwrap();
        let conv = store
            .conversation(RadioKey(1), "!00000005".parse().unwrap(), 10)
            .await
            .unwrap();
        assert_eq!(
            conv.iter().map(|m| m.packet_id).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(conv[2].state, state);
        assert_eq!(conv[0].text, "hello 3 <b>");
        assert!(store
            .conversation(RadioKey(2), "!00000005".parse().unwrap(), 10)
            .await
            .unwrap()
            .is_empty());
        let since = store
            .messages_since(
                RadioKey(1),
                Some(UNIX_EPOCH + Duration::from_secs(1_003)),
                100,
            )
            .await
            .unwrap();
        assert_eq!(since.len(), 2);
        assert_eq!(
            store.conversations(RadioKey(2)).await.unwrap()[0]
                .0
                .to_string(),
            "ch:0"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
