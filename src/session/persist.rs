//! What outlives a session in memory: the ids of evicted sessions (so their next request is
//! told "session expired"), and, with a fixed cookie key, the session records in SQLite that
//! a restart brings back (written in order by one task).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use std::collections::HashSet;
use std::time::SystemTime;

use super::{Persist, Restored, Session, SessionId, Sessions, SAVE_EVERY};
use crate::store::sessions::SessionRecord;
use crate::store::Store;

/// Ids of sessions that were evicted, remembered for a while (bounded).
#[derive(Default)]
pub(super) struct Expired {
    ids: Mutex<HashMap<SessionId, Instant>>,
}

const EXPIRED_MAX: usize = 10_000;
const EXPIRED_KEEP: Duration = Duration::from_secs(24 * 3600);

impl Expired {
    pub(super) fn add(&self, id: SessionId) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if ids.len() >= EXPIRED_MAX {
            ids.retain(|_, at| at.elapsed() < EXPIRED_KEEP);
            if ids.len() >= EXPIRED_MAX {
                if let Some(oldest) = ids
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| k.clone())
                {
                    ids.remove(&oldest);
                }
            }
        }
        ids.insert(id, Instant::now());
    }

    pub(super) fn take(&self, id: &SessionId) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some()
    }
}

/// Writes session records in the order they change.
pub(super) async fn write_records(store: Store, mut rx: mpsc::Receiver<Persist>) {
    while let Some(op) = rx.recv().await {
        let r = match op {
            Persist::Put(rec) => store.put_session(&rec).await,
            Persist::Remove(id) => store.remove_session(id.as_str()).await,
        };
        if let Err(e) = r {
            tracing::warn!(error = ?e, "writing a session record failed");
        }
    }
}

impl Session {
    /// Writes the session's record (login, radio, now as its last use).
    pub(super) fn save(&self) {
        let Some(tx) = &self.persist else { return };
        // Queued under the lock, so two changes of one session are written in their order.
        let inner = self.lock();
        let record = SessionRecord {
            id: self.id.as_str().to_string(),
            user: inner.user.as_ref().map(|u| u.name.clone()),
            radio: inner
                .attachment
                .as_ref()
                .map(|a| a.link().addr().to_string())
                .or_else(|| inner.wanted_radio.clone()),
            seen: SystemTime::now(),
        };
        *self.saved.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let queued = tx.try_send(Persist::Put(record));
        drop(inner);
        if queued.is_err() {
            tracing::warn!(
                session = self.id.short(),
                "session record not written (queue full)"
            );
        }
    }

    /// Writes the last use when the stored one is getting old.
    pub(super) fn touch(&self) {
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        let due = self
            .saved
            .lock()
            .map(|t| t.elapsed() > SAVE_EVERY)
            .unwrap_or(true);
        if due {
            self.save();
        }
    }
}

impl Sessions {
    /// The records' writer task, to await once every session is gone (server shutdown).
    pub fn take_writer(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub(super) fn stored_ids(&self) -> std::sync::MutexGuard<'_, HashSet<SessionId>> {
        self.stored.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets stored sessions past their idle timeout and learns which ids are stored, so
    /// that only those are looked up. Called at start-up, then now and again.
    pub async fn load_stored(&self) {
        let Some((store, _)) = &self.store else {
            return;
        };
        let Some(not_before) = SystemTime::now().checked_sub(self.idle) else {
            return;
        };
        if let Err(e) = store.expire_sessions(not_before).await {
            tracing::warn!(error = ?e, "forgetting expired session records failed");
        }
        match store.session_ids().await {
            Ok(ids) => {
                let live: HashSet<SessionId> =
                    ids.iter().filter_map(|i| SessionId::parse(i)).collect();
                let mut stored = self.stored_ids();
                // Only those not in the cache are waiting to be restored.
                stored.clear();
                for id in live {
                    if !self.cache.contains_key(&id) {
                        stored.insert(id);
                    }
                }
            }
            Err(e) => tracing::warn!(error = ?e, "reading stored session ids failed"),
        }
    }

    /// A session stored before a restart, back in the cache; `None` when there is none.
    pub(super) async fn restore(&self, id: &SessionId) -> Option<Restored> {
        let (store, _) = self.store.as_ref()?;
        // Only ids stored at start-up are looked up: a stranger's cookie costs no query.
        if !self.stored_ids().contains(id) {
            return None;
        }
        let not_before = SystemTime::now().checked_sub(self.idle)?;
        let record = match store.session(id.as_str(), not_before).await {
            Ok(r) => r?,
            Err(e) => {
                tracing::warn!(error = ?e, "reading a stored session failed");
                return None;
            }
        };
        // Back in the cache as it was stored: its record stays until the login and the radio
        // are restored (or found gone).
        let session = self
            .cache
            .get_with(id.clone(), async {
                let s = self.new_session(id);
                s.lock().wanted_radio = record.radio.clone();
                s
            })
            .await;
        self.cache.run_pending_tasks().await;
        self.stored_ids().remove(id);
        tracing::info!("restored session {} from before a restart", id.short());
        Some(Restored {
            session,
            user: record.user,
            radio: record.radio,
        })
    }
}
