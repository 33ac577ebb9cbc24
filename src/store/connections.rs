//! Saved connections: name, host and port, private to the owner that saved them.

use serde::Serialize;

use super::Store;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SavedConnection {
    pub id: i64,
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Store {
    /// The owner's saved connections, by name.
    pub async fn saved_connections(&self, owner: &str) -> anyhow::Result<Vec<SavedConnection>> {
        let owner = owner.to_string();
        self.read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT id, name, host, port FROM saved_connection WHERE owner = ?1 ORDER BY name",
            )?;
            let rows = st.query_map([owner], |r| {
                Ok(SavedConnection {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    host: r.get(2)?,
                    port: r.get(3)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Saves a connection; a name the owner already used is overwritten.
    pub async fn save_connection(
        &self,
        owner: &str,
        name: &str,
        host: &str,
        port: u16,
    ) -> anyhow::Result<()> {
        let (owner, name, host) = (owner.to_string(), name.to_string(), host.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO saved_connection (owner, name, host, port) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (owner, name) DO UPDATE SET host = excluded.host, port = excluded.port",
                rusqlite::params![owner, name, host, port],
            )
        })
        .await?;
        Ok(())
    }

    /// Deletes one of the owner's saved connections; returns whether it existed.
    pub async fn delete_connection(&self, owner: &str, id: i64) -> anyhow::Result<bool> {
        let owner = owner.to_string();
        let n = self
            .write(move |c| {
                c.execute(
                    "DELETE FROM saved_connection WHERE owner = ?1 AND id = ?2",
                    rusqlite::params![owner, id],
                )
            })
            .await?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn saved_connections_are_private_to_their_owner() {
        let dir = std::env::temp_dir().join(format!("meshdeck-store-{}", std::process::id()));
        let store = Store::open(&dir.join("t.db")).unwrap();
        store
            .save_connection("alice", "home", "127.0.0.1", 4403)
            .await
            .unwrap();
        store
            .save_connection("alice", "home", "127.0.0.2", 4404)
            .await
            .unwrap();
        store
            .save_connection("bob", "club", "10.0.0.5", 4403)
            .await
            .unwrap();
        let a = store.saved_connections("alice").await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].host.as_str(), a[0].port), ("127.0.0.2", 4404));
        assert!(!store.delete_connection("bob", a[0].id).await.unwrap());
        assert!(store.delete_connection("alice", a[0].id).await.unwrap());
        assert_eq!(store.saved_connections("bob").await.unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
