//! SQLite: opening the file (pragmas, migrations from `migrations/`) and one file per table
//! group. Every query is scoped by its owner. Each connection is owned by one thread of its
//! own (the writer's, and the readers' who share one queue); calls are sent to it and
//! awaited, never run on the async worker threads.

pub mod alerts;
pub mod automation;
mod connections;
pub mod export;
mod history;
pub mod history_read;
#[cfg(test)]
mod history_tests;
pub mod identity;
pub mod kept;
pub mod messages;
pub mod neighbors;
pub mod retention;
pub mod sessions;
mod sql;
mod thread;
pub mod traces;
pub mod tracks;
mod users;
pub mod vnode;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

pub use connections::SavedConnection;
pub use messages::{Delivery, HistoryOp, Message};

/// The migrations, embedded at compile time in order. Never edit one that has shipped.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../../migrations/0001_saved_connections.sql")),
        M::up(include_str!("../../migrations/0002_messages.sql")),
        M::up(include_str!("../../migrations/0003_traceroutes.sql")),
        M::up(include_str!("../../migrations/0004_automation.sql")),
        M::up(include_str!("../../migrations/0005_users.sql")),
        M::up(include_str!(
            "../../migrations/0006_kept_radios_and_sessions.sql"
        )),
        M::up(include_str!("../../migrations/0007_message_heard.sql")),
        M::up(include_str!("../../migrations/0008_history.sql")),
        M::up(include_str!("../../migrations/0009_radio_identity.sql")),
        M::up(include_str!("../../migrations/0010_virtual_node.sql")),
        M::up(include_str!("../../migrations/0011_neighbors.sql")),
        M::up(include_str!("../../migrations/0012_alerts.sql")),
    ])
}

/// A time as Unix milliseconds, as the tables store it.
fn ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn from_ms(v: i64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// How many history changes may wait for the writer (see [`writer`]).
pub const WRITE_QUEUE: usize = 8192;

/// Read-only connections beside the writer's: WAL lets them read while it writes.
const READERS: usize = 2;
/// Page cache of the writing connection, KiB (see `Store::open`).
const WRITER_CACHE_KB: i64 = 64;
/// Page cache of each reading connection, KiB: the pages a query touches more than once (the
/// b-tree's upper levels); the rest it copies from the kernel's page cache, which is not this
/// process's memory. (They mapped the file and kept 64 KB: each mapping's touched pages
/// counted in the server's RSS, 13 kB a session at 10 sessions, BENCHMARKS.md.)
const READER_CACHE_KB: i64 = 16;

pub use thread::wait_closed;
use thread::{owners, Calls};

/// A handle to the database; cheap to clone. The connections' threads end when the last
/// clone is gone ([`wait_closed`] waits for that).
#[derive(Clone)]
pub struct Store {
    /// The thread of the one connection that writes.
    writer: Calls,
    /// The queue of the read-only connections' threads: the first one free takes a call.
    readers: Calls,
    /// Messages inserted per radio since its history was last trimmed.
    trim_counts: Arc<Mutex<std::collections::HashMap<crate::ids::RadioKey, u32>>>,
}

impl Store {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating data directory {}", dir.display()))?;
        }
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite's default cache is 2 MB per connection, kept for the process's life. The
        // writer's batches touch a few pages per node heard; those it no longer holds it reads
        // back from the kernel's page cache (a copy, not a disk read), and each batch writes
        // what it changed either way; a batch that changes more pages than it holds writes
        // them to the WAL before its commit. 64 KB (it had 1 MB, then 256 KB: at 10 sessions
        // each step was 20–40 KB a session, BENCHMARKS.md).
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KB)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations()
            .to_latest(&mut conn)
            .context("applying migrations")?;
        let readers = (0..READERS)
            .map(|_| {
                let r = Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .with_context(|| format!("opening database {} to read", path.display()))?;
                r.busy_timeout(std::time::Duration::from_secs(5))?;
                // No `mmap_size`: a history page reads a few pages of many nodes, each copied
                // in from the kernel's page cache with one system call, where a mapping would
                // leave every page it touched in the server's RSS.
                r.pragma_update(None, "cache_size", -READER_CACHE_KB)?;
                Ok(r)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Store {
            writer: owners("sqlite-write", vec![conn])?,
            readers: owners("sqlite-read", readers)?,
            trim_counts: Default::default(),
        })
    }

    /// Runs `f` on the writing connection's thread.
    async fn write<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.writer.call(f).await
    }

    /// Runs a query that only reads on one of the read connections, beside the writer, in
    /// one read transaction: every statement of `f` sees the same snapshot, so a commit of
    /// the writer between two of them cannot show half of a batch (names without the
    /// first-heard row they came with).
    async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        // The connection's thread ends the transaction after the call, as after every call
        // that leaves one open (a read has nothing to commit).
        self.readers
            .call(|c| {
                c.execute_batch("BEGIN")?;
                f(c)
            })
            .await
    }
}

/// How long the writer gathers changes after the first before it commits them: every commit
/// writes each page it touched again (the samples' and last-heard rows' pages, in the WAL
/// and again at the checkpoint), so at 2,000 packets/s committing whatever was there wrote
/// 3.25 GB a minute for 11 MB of data (BENCHMARKS.md).
const GATHER: std::time::Duration = std::time::Duration::from_millis(250);
/// The most changes in one transaction.
const BATCH_MOST: usize = 5000;

/// Whether a change should be stored at once: texts, delivery states and traceroutes are
/// read back right away (a script asks `/api/messages` after it sends); node history is not.
fn urgent(op: &HistoryOp) -> bool {
    !matches!(op, HistoryOp::Nodes(_) | HistoryOp::Neighbors { .. })
}

/// The store writer: applies history changes from every link in batches, off the receive
/// path, from a queue of at most [`WRITE_QUEUE`] changes. Node history that arrives within
/// [`GATHER`] of the first change goes in one transaction; a text, delivery state or
/// traceroute ends the gathering (with what is queued behind it). Ends when every sender is
/// gone, after writing what it holds.
pub async fn writer(store: Store, mut rx: tokio::sync::mpsc::Receiver<HistoryOp>, keep: u32) {
    while let Some(first) = rx.recv().await {
        let mut hurry = urgent(&first);
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + GATHER;
        while batch.len() < BATCH_MOST {
            let next = if hurry {
                rx.try_recv().ok()
            } else {
                tokio::time::timeout_at(until, rx.recv())
                    .await
                    .ok()
                    .flatten()
            };
            let Some(op) = next else { break };
            hurry |= urgent(&op);
            batch.push(op);
        }
        if let Err(e) = store.apply_message_ops(batch, keep.max(1)).await {
            tracing::error!(error = ?e, "writing message history failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    /// A commit landing between two statements of one read is not seen by the second.
    #[tokio::test]
    async fn a_read_sees_one_snapshot_across_its_statements() {
        let dir = std::env::temp_dir().join(format!("meshdeck-snap-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("s.db");
        let store = Store::open(&path).unwrap();
        let count = |c: &Connection| {
            c.query_row("SELECT COUNT(*) FROM node_seen", [], |r| r.get::<_, i64>(0))
        };
        let (before, after) = store
            .read(move |c| {
                let before = count(c)?;
                let w = Connection::open(&path)?;
                w.execute(
                    "INSERT INTO node_seen (radio, node, first_ms, last_ms, hourly_ms, daily_ms) \
                     VALUES (1, 2, 3, 3, 0, 0)",
                    [],
                )?;
                Ok((before, count(c)?))
            })
            .await
            .unwrap();
        assert_eq!((before, after), (0, 0));
        let now = store.read(move |c| count(c)).await.unwrap();
        assert_eq!(now, 1, "the next read sees the commit");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
