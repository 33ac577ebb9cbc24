//! Browser sessions that hold state, kept so that a restart with the same `SECRET_KEY`
//! finds them: who was logged in and which radio the session was attached to.

use std::time::SystemTime;

use rusqlite::{params, OptionalExtension};

use super::{from_ms, ms, Store};

/// A stored browser session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub user: Option<String>,
    /// The radio's address (`127.0.0.1:4403`, `[::1]:4403`).
    pub radio: Option<String>,
    pub seen: SystemTime,
}

impl Store {
    /// Writes a session's record (a new one, or its new login, radio or last use).
    pub async fn put_session(&self, r: &SessionRecord) -> anyhow::Result<()> {
        let r = r.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO browser_session (id, user, radio, seen_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET user = excluded.user, radio = excluded.radio, seen_ms = excluded.seen_ms",
                params![r.id, r.user, r.radio, ms(r.seen)],
            )
        })
        .await?;
        Ok(())
    }

    /// A session's record unless it was last used before `not_before`.
    pub async fn session(
        &self,
        id: &str,
        not_before: SystemTime,
    ) -> anyhow::Result<Option<SessionRecord>> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, user, radio, seen_ms FROM browser_session WHERE id = ?1 AND seen_ms >= ?2",
                params![id, ms(not_before)],
                |r| {
                    Ok(SessionRecord {
                        id: r.get(0)?,
                        user: r.get(1)?,
                        radio: r.get(2)?,
                        seen: from_ms(r.get(3)?),
                    })
                },
            )
            .optional()
        })
        .await
    }

    /// The ids of every stored session.
    pub async fn session_ids(&self) -> anyhow::Result<Vec<String>> {
        self.read(|c| {
            let mut st = c.prepare_cached("SELECT id FROM browser_session")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    pub async fn remove_session(&self, id: &str) -> anyhow::Result<()> {
        let id = id.to_string();
        self.write(move |c| c.execute("DELETE FROM browser_session WHERE id = ?1", [id]))
            .await?;
        Ok(())
    }

    /// Forgets sessions last used before `not_before`; returns how many.
    pub async fn expire_sessions(&self, not_before: SystemTime) -> anyhow::Result<usize> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM browser_session WHERE seen_ms < ?1",
                [ms(not_before)],
            )
        })
        .await
    }
}
