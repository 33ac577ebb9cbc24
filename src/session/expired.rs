//! What a session leaves behind: the ids of evicted sessions (so their next request is told
//! "session expired") and the writer of stored session records.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Persist, SessionId};
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
