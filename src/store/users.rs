//! Users of an installation with login.

use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::auth::Role;

impl Store {
    pub async fn user_count(&self) -> anyhow::Result<u64> {
        let n: i64 = self
            .read(|c| c.query_row("SELECT COUNT(*) FROM user", [], |r| r.get(0)))
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A user's role and password hash.
    pub async fn user(&self, name: &str) -> anyhow::Result<Option<(Role, String)>> {
        let name = name.to_string();
        let row: Option<(String, String)> = self
            .read(move |c| {
                c.query_row(
                    "SELECT role, hash FROM user WHERE name = ?1",
                    params![name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
            })
            .await?;
        Ok(row.and_then(|(role, hash)| role.parse().ok().map(|r| (r, hash))))
    }

    /// Adds a user or replaces its role and password.
    pub async fn put_user(&self, name: &str, role: Role, hash: &str) -> anyhow::Result<()> {
        let (name, role, hash) = (name.to_string(), role.to_string(), hash.to_string());
        self.write(move |c| {
            c.execute(
                "INSERT INTO user (name, role, hash) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET role = excluded.role, hash = excluded.hash",
                params![name, role, hash],
            )
        })
        .await?;
        Ok(())
    }

    pub async fn remove_user(&self, name: &str) -> anyhow::Result<bool> {
        let name = name.to_string();
        Ok(self
            .write(move |c| c.execute("DELETE FROM user WHERE name = ?1", params![name]))
            .await?
            > 0)
    }

    /// Every user with their role and password hash (a changed hash is a changed password).
    pub async fn logins(&self) -> anyhow::Result<Vec<(String, (String, String))>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT name, role, hash FROM user ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
            rows.collect()
        })
        .await
    }

    pub async fn users(&self) -> anyhow::Result<Vec<(String, String)>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT name, role FROM user ORDER BY name")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
        .await
    }
}
