//! The threads that own SQLite's connections: each connection lives on one thread of its own,
//! which takes calls from a bounded queue (the read connections share one) and answers each
//! on a oneshot. A call never runs on an async worker, and no call leaves a transaction open
//! for the next: whatever a call leaves open (a read's snapshot, a failed write) is rolled
//! back after it. The threads end when every sender is gone; [`wait_closed`] waits for that.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::Context;
use rusqlite::Connection;
use tokio::sync::mpsc;

/// A call to run on a connection's thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Calls that may wait for a connection's threads before a caller waits to send.
const QUEUE: usize = 256;

/// Where calls to one group of connections go; cheap to clone.
#[derive(Clone)]
pub(super) struct Calls(mpsc::Sender<Job>);

/// Connection threads of this process still running (their connections still open).
static OPEN: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// Counts a thread as open while it lives.
struct Open;

impl Open {
    fn new() -> Open {
        *OPEN.0.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Open
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        let mut n = OPEN.0.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        OPEN.1.notify_all();
    }
}

/// Waits (at most `limit`) until every connection thread has ended, its connection closed
/// (the writer moves the WAL into the file first). For the end of the process, after
/// every `Store` is gone: a call still queued is then answered before its thread ends.
/// Returns whether they all ended.
pub fn wait_closed(limit: Duration) -> bool {
    let n = OPEN.0.lock().unwrap_or_else(|e| e.into_inner());
    let (n, _) = OPEN
        .1
        .wait_timeout_while(n, limit, |n| *n > 0)
        .unwrap_or_else(|e| e.into_inner());
    *n == 0
}

/// Starts one thread per connection, all taking calls from one queue. A call that fails or
/// panics fails alone: what it left open is rolled back and the thread goes on with the next.
pub(super) fn owners(name: &str, conns: Vec<Connection>) -> anyhow::Result<Calls> {
    let (tx, rx) = mpsc::channel::<Job>(QUEUE);
    let rx = Arc::new(Mutex::new(rx));
    for (i, mut conn) in conns.into_iter().enumerate() {
        let rx = rx.clone();
        let open = Open::new();
        std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || {
                let _open = open;
                loop {
                    // Waiting holds the lock; the others wait for it, then for their call.
                    let job = match rx.lock() {
                        Ok(mut rx) => rx.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(job) = job else { break };
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut conn)));
                    if !conn.is_autocommit() {
                        if let Err(e) = conn.execute_batch("ROLLBACK") {
                            tracing::error!(error = %e, "ending a database call's transaction failed");
                        }
                    }
                }
                // The writer moves the WAL into the database file before it closes: SQLite
                // does that only when the last connection closes, and a reader may be last.
                if !conn.is_readonly(rusqlite::MAIN_DB).unwrap_or(true) {
                    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                        tracing::warn!(error = %e, "checkpointing the database at close failed");
                    }
                }
            })
            .with_context(|| format!("starting the {name} thread"))?;
    }
    Ok(Calls(tx))
}

impl Calls {
    /// Sends `f` to a connection's thread and waits for its answer.
    pub(super) async fn call<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.0
            .send(Box::new(move |c| {
                let _ = tx.send(f(c));
            }))
            .await
            .map_err(|_| anyhow::anyhow!("the database is closed"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("a database call failed (it panicked)"))?
            .map_err(anyhow::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: &str) -> (Calls, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("meshdeck-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let c = Connection::open(&path).unwrap();
        c.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        (owners("test", vec![c]).unwrap(), dir)
    }

    async fn count(calls: &Calls) -> i64 {
        calls
            .call(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)))
            .await
            .unwrap()
    }

    /// A call that panics inside a transaction it opened by hand is an error of its own; the
    /// thread rolls the transaction back and takes the next call.
    #[tokio::test]
    async fn a_call_that_panics_fails_alone_and_its_transaction_is_rolled_back() {
        let (calls, dir) = one("panic");
        let r = calls
            .call(|c| -> rusqlite::Result<()> {
                c.execute_batch("BEGIN IMMEDIATE; DELETE FROM t;")?;
                panic!("a bug in a write")
            })
            .await;
        assert!(r.is_err());
        assert_eq!(count(&calls).await, 1, "the delete was rolled back");
        calls
            .call(|c| c.execute_batch("BEGIN IMMEDIATE; COMMIT;"))
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A call that returns an error with its transaction open leaves nothing open either.
    #[tokio::test]
    async fn a_failed_call_leaves_no_transaction_open() {
        let (calls, dir) = one("fail");
        let r = calls
            .call(|c| {
                c.execute_batch("BEGIN IMMEDIATE; DELETE FROM t;")?;
                c.execute_batch("SELECT * FROM no_such_table")
            })
            .await;
        assert!(r.is_err());
        assert_eq!(count(&calls).await, 1);
        calls
            .call(|c| c.execute_batch("BEGIN IMMEDIATE; COMMIT;"))
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
