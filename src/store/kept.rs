//! Kept radios: name, address and start-up wishes of every radio the server keeps connected.

use rusqlite::{params, OptionalExtension};

use super::{from_ms, ms, Store};
use crate::ids::RadioKey;

/// One kept radio as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptRadio {
    /// 32 hex digits; the API's `session_id`.
    pub id: String,
    pub name: String,
    pub host: String,
    pub port: u16,
    pub auto_connect: bool,
    /// Connected on purpose (and not disconnected since): reconnected after a restart.
    pub wanted: bool,
    pub created_at: std::time::SystemTime,
    pub last_connected: Option<std::time::SystemTime>,
    pub radio: Option<RadioKey>,
    /// Automation sent before the radio was first connected, applied when it is (JSON).
    pub pending: Option<String>,
}

const COLUMNS: &str =
    "id, name, host, port, auto_connect, wanted, created_at_ms, last_connected_ms, radio, pending";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeptRadio> {
    Ok(KeptRadio {
        id: r.get(0)?,
        name: r.get(1)?,
        host: r.get(2)?,
        port: r.get(3)?,
        auto_connect: r.get(4)?,
        wanted: r.get(5)?,
        created_at: from_ms(r.get(6)?),
        last_connected: r.get::<_, Option<i64>>(7)?.map(from_ms),
        radio: r.get(8)?,
        pending: r.get(9)?,
    })
}

/// A change to one kept radio's record.
#[derive(Debug, Clone)]
pub enum KeptChange {
    AutoConnect(bool),
    Wanted(bool),
    Connected {
        at: std::time::SystemTime,
        radio: RadioKey,
    },
    Pending(Option<String>),
}

impl Store {
    /// Every kept radio, in the order they were created.
    pub async fn kept_radios(&self) -> anyhow::Result<Vec<KeptRadio>> {
        self.read(|c| {
            let mut st = c.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM kept_radio ORDER BY position"
            ))?;
            let rows = st.query_map([], row)?;
            rows.collect()
        })
        .await
    }

    /// Adds a kept radio; false when the name is taken.
    pub async fn add_kept_radio(&self, k: &KeptRadio) -> anyhow::Result<bool> {
        let k = k.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO kept_radio (id, name, host, port, auto_connect, wanted, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (name) DO NOTHING",
                params![
                    k.id,
                    k.name,
                    k.host,
                    k.port,
                    k.auto_connect,
                    k.wanted,
                    ms(k.created_at)
                ],
            )
        })
        .await
        .map(|n| n > 0)
    }

    pub async fn kept_radio(&self, name: &str) -> anyhow::Result<Option<KeptRadio>> {
        let name = name.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM kept_radio WHERE name = ?1"),
                [name],
                row,
            )
            .optional()
        })
        .await
    }

    pub async fn change_kept_radio(&self, name: &str, change: KeptChange) -> anyhow::Result<()> {
        let name = name.to_string();
        self.write(move |c| match change {
            KeptChange::AutoConnect(on) => c.execute(
                "UPDATE kept_radio SET auto_connect = ?2 WHERE name = ?1",
                params![name, on],
            ),
            KeptChange::Wanted(on) => c.execute(
                "UPDATE kept_radio SET wanted = ?2 WHERE name = ?1",
                params![name, on],
            ),
            KeptChange::Connected { at, radio } => c.execute(
                "UPDATE kept_radio SET last_connected_ms = ?2, radio = ?3, pending = NULL WHERE name = ?1",
                params![name, ms(at), radio],
            ),
            KeptChange::Pending(json) => c.execute(
                "UPDATE kept_radio SET pending = ?2 WHERE name = ?1",
                params![name, json],
            ),
        })
        .await?;
        Ok(())
    }

    /// Removes a kept radio; its history (kept by the radio's node number) stays.
    pub async fn remove_kept_radio(&self, name: &str) -> anyhow::Result<bool> {
        let name = name.to_string();
        self.write(move |c| c.execute("DELETE FROM kept_radio WHERE name = ?1", [name]))
            .await
            .map(|n| n > 0)
    }
}
