//! Radio identities (`radio_identity`): which store key a radio at an address with a node
//! number (and public key) gets, and an admin's word that two are the same radio.

use std::net::SocketAddr;

use futures_util::future::BoxFuture;
use rusqlite::{params, OptionalExtension};

use super::{ms, Store};
use crate::ids::{NodeNum, RadioKey};
use crate::radio::identity::{Identities, Identity};

/// A radio kept apart from another that reported the same node number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apart {
    pub key: RadioKey,
    pub node: NodeNum,
    pub address: String,
    /// Where the radio first known by that number was seen.
    pub known_at: String,
    pub known_key: RadioKey,
}

/// Tables keyed by a radio key, moved over when two keys are found to be one radio (rows
/// the known radio has already, by their primary key, stay the known radio's).
const KEYED: [&str; 13] = [
    "message",
    "traceroute",
    "sweep",
    "automation",
    "node_seen",
    "sample",
    "rollup",
    "node_name",
    "node_role",
    "node_position",
    "neighbor_report",
    "alert_rule",
    "alert",
];

impl Store {
    /// The key of the radio at `addr` that says it is `num`. The first radio to report a
    /// number keys its data by it; a radio at another address is kept apart until an admin
    /// says they are one (a public key proves nothing: every node on the mesh hears it).
    pub async fn identify(
        &self,
        addr: SocketAddr,
        num: NodeNum,
        public_key: Vec<u8>,
    ) -> anyhow::Result<Identity> {
        let address = addr.to_string();
        self.write(move |c| {
            let tx = c.transaction()?;
            let rows: Vec<(i64, Option<String>, Option<Vec<u8>>)> = {
                let mut st = tx.prepare_cached(
                    "SELECT key, address, public_key FROM radio_identity WHERE node_num = ?1 ORDER BY id",
                )?;
                let rows = st.query_map(params![num], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            let pk = (!public_key.is_empty()).then_some(public_key);
            let now = ms(std::time::SystemTime::now());
            let key = if let Some((key, _, known)) = rows.iter().find(|r| r.1.as_deref() == Some(&address)) {
                if known.is_none() && pk.is_some() {
                    tx.execute(
                        "UPDATE radio_identity SET public_key = ?3 WHERE node_num = ?1 AND address = ?2",
                        params![num, address, pk],
                    )?;
                }
                *key
            } else if let Some((key, _, _)) = rows.iter().find(|r| r.1.is_none()) {
                // Data from before identities: the first radio to report the number claims it.
                tx.execute(
                    "UPDATE radio_identity SET address = ?2, public_key = ?3 WHERE node_num = ?1 AND address IS NULL",
                    params![num, address, pk],
                )?;
                *key
            } else {
                // The next key apart: above every node number, never one given before.
                let key = if rows.is_empty() {
                    i64::from(num.0)
                } else {
                    let top: Option<i64> = tx
                        .query_row("SELECT MAX(id) FROM radio_identity", [], |r| r.get(0))
                        .optional()?
                        .flatten();
                    RadioKey::APART + top.unwrap_or(0) + 1
                };
                tx.execute(
                    "INSERT INTO radio_identity (key, node_num, address, public_key, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![key, num, address, pk, now],
                )?;
                key
            };
            // Another radio (another key) with this number: this one is kept apart from it.
            let apart_from: Option<String> = tx
                .query_row(
                    "SELECT address FROM radio_identity WHERE node_num = ?1 AND key != ?2 ORDER BY id LIMIT 1",
                    params![num, key],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()?
                .flatten()
                .filter(|_| key >= RadioKey::APART);
            tx.commit()?;
            Ok(Identity {
                key: RadioKey(key),
                apart_from,
            })
        })
        .await
    }

    /// Radios kept apart from another radio with the same node number.
    pub async fn kept_apart(&self) -> anyhow::Result<Vec<Apart>> {
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT a.key, a.node_num, a.address, k.address, k.key FROM radio_identity a \
                 JOIN radio_identity k ON k.id = (SELECT MIN(id) FROM radio_identity \
                 WHERE node_num = a.node_num AND key < ?1) \
                 WHERE a.key >= ?1 ORDER BY a.key, a.id",
            )?;
            let rows = st.query_map(params![RadioKey::APART], |r| {
                Ok(Apart {
                    key: r.get(0)?,
                    node: r.get(1)?,
                    address: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    known_at: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    known_key: r.get(4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// An admin says the radio kept apart under `apart` is the radio known by the same
    /// number: its addresses and data go to that radio's key (the known radio's automation
    /// stays). Returns false when `apart` is not a radio kept apart.
    pub async fn same_radio(&self, apart: RadioKey) -> anyhow::Result<bool> {
        self.write(move |c| {
            let tx = c.transaction()?;
            let known: Option<i64> = tx
                .query_row(
                    "SELECT k.key FROM radio_identity a JOIN radio_identity k \
                     ON k.node_num = a.node_num AND k.key < ?2 WHERE a.key = ?1 AND a.key >= ?2 LIMIT 1",
                    params![apart, RadioKey::APART],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(known) = known else {
                return Ok(false);
            };
            tx.execute("UPDATE radio_identity SET key = ?2 WHERE key = ?1", params![apart, known])?;
            for table in KEYED {
                tx.execute(
                    &format!("UPDATE OR IGNORE {table} SET radio = ?2 WHERE radio = ?1"),
                    params![apart, known],
                )?;
                tx.execute(&format!("DELETE FROM {table} WHERE radio = ?1"), params![apart])?;
            }
            tx.execute("UPDATE kept_radio SET radio = ?2 WHERE radio = ?1", params![apart, known])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

/// The store tells radios apart for the links.
impl Identities for Store {
    fn identify<'a>(
        &'a self,
        addr: SocketAddr,
        num: NodeNum,
        public_key: &'a [u8],
    ) -> BoxFuture<'a, Option<Identity>> {
        Box::pin(async move {
            match Store::identify(self, addr, num, public_key.to_vec()).await {
                Ok(who) => Some(who),
                Err(e) => {
                    tracing::warn!(error = ?e, "looking up a radio's identity failed");
                    None
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn a_radio_claiming_a_known_number_from_elsewhere_is_kept_apart_until_merged() {
        let dir = std::env::temp_dir().join(format!("meshdeck-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("t.db")).unwrap();
        let num = NodeNum(0xa1b2_c3d4);
        let a = addr("127.0.0.1:4403");
        let first = store.identify(a, num, vec![]).await.unwrap();
        assert_eq!(
            first,
            Identity {
                key: RadioKey::from(num),
                apart_from: None
            }
        );
        assert_eq!(store.identify(a, num, vec![]).await.unwrap().key, first.key);
        // Another address, no key in common: its own store.
        let b = addr("127.0.0.2:4403");
        let fake = store.identify(b, num, vec![9; 32]).await.unwrap();
        assert!(fake.key.0 >= RadioKey::APART);
        assert_eq!(fake.apart_from.as_deref(), Some("127.0.0.1:4403"));
        assert_eq!(store.identify(b, num, vec![9; 32]).await.unwrap(), fake);
        // The real radio's public key learnt, then the same number and key at a new
        // address: kept apart too (anyone on the mesh hears a node's public key).
        store.identify(a, num, vec![7; 32]).await.unwrap();
        let copy = store
            .identify(addr("127.0.0.3:4403"), num, vec![7; 32])
            .await
            .unwrap();
        assert!(
            copy.key.0 >= RadioKey::APART && copy.key != fake.key,
            "{copy:?}"
        );
        let apart = store.kept_apart().await.unwrap();
        assert_eq!(apart.len(), 2);
        assert_eq!((apart[0].key, apart[0].known_key), (fake.key, first.key));
        // An admin says they are one radio.
        assert!(store.same_radio(fake.key).await.unwrap());
        assert!(
            !store.same_radio(fake.key).await.unwrap(),
            "nothing left apart"
        );
        assert_eq!(
            store.identify(b, num, vec![9; 32]).await.unwrap().key,
            first.key
        );
        assert_eq!(
            store.kept_apart().await.unwrap().len(),
            1,
            "the copy stays apart"
        );
        // A key once given is never given again.
        let next = store
            .identify(addr("127.0.0.4:4403"), num, vec![])
            .await
            .unwrap();
        assert!(next.key != fake.key && next.key != copy.key);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
