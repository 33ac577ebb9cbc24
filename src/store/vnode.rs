//! Virtual node settings of kept radios (columns of `kept_radio`, migration 0010), keyed by
//! the kept radio's id so that a radio deleted and made again under its name starts without.

use rusqlite::params;

use super::Store;

/// A kept radio's virtual node, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VirtualNode {
    /// Where meshdeck serves the firmware's client API for the radio; `None`: nowhere.
    pub port: Option<u16>,
    /// Whether its clients may send admin messages (off: read and chat only).
    pub admin: bool,
}

impl Store {
    /// The virtual node of every kept radio, by kept radio id.
    pub async fn virtual_nodes(&self) -> anyhow::Result<Vec<(String, VirtualNode)>> {
        self.read(|c| {
            let mut st =
                c.prepare_cached("SELECT id, virtual_port, virtual_admin FROM kept_radio")?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    VirtualNode {
                        port: r.get(1)?,
                        admin: r.get(2)?,
                    },
                ))
            })?;
            rows.collect()
        })
        .await
    }

    /// Stores a kept radio's virtual node; false when there is no such kept radio.
    pub async fn set_virtual_node(&self, id: &str, v: VirtualNode) -> anyhow::Result<bool> {
        let id = id.to_string();
        self.write(move |c| {
            c.execute(
                "UPDATE kept_radio SET virtual_port = ?2, virtual_admin = ?3 WHERE id = ?1",
                params![id, v.port, v.admin],
            )
        })
        .await
        .map(|n| n > 0)
    }
}
