//! Sessions: a private cookie carries the session id; the id keys an `Arc<Session>` in a moka
//! cache with an idle timeout. Only a session that holds state (an attachment to a radio, a
//! login) is in the cache, so probes and new browsers never evict anybody; and only sessions
//! that hold a radio count under the cap (`cap.rs`), so neither logins nor connects that are
//! pending or failed evict a connected session. A session never owns a link: it holds an [`Attachment`] to the registry's link.
//! The eviction listener releases it (the registry closes the link when nobody else holds
//! it) and remembers the id as expired, so that session's next request is told "session
//! expired, reconnect".
//!
//! With a fixed cookie key the sessions are also written to SQLite (login, radio, last use),
//! one writer task in order, so that a restart finds them: [`Sessions::resolve`] brings a
//! stored one back at its first request and says which radio it was attached to.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::future::Cache;
use moka::notification::RemovalCause;
use moka::policy::EvictionPolicy;
use tokio::sync::mpsc;

use crate::ids::NodeNum;
use crate::radio::registry::Attachment;
use crate::radio::LinkHandle;
use crate::store::sessions::SessionRecord;
use crate::store::Store;

mod cap;
mod persist;
pub mod sweep;

use persist::{write_records, Expired};

pub use crate::ids::SessionId;

/// One browser session that holds state.
pub struct Session {
    pub id: SessionId,
    pub created: Instant,
    inner: Mutex<Inner>,
    /// Where its record goes, when sessions survive restarts.
    persist: Option<mpsc::Sender<Persist>>,
    /// When its record was last written (its last use is written at most every minute).
    saved: Mutex<Instant>,
    /// Its last request, for the cap's least-recently-used choice.
    used: Mutex<Instant>,
}

/// A change to the stored sessions, in order.
pub(super) enum Persist {
    Put(SessionRecord),
    Remove(SessionId),
}

/// How often a session's last use is written while it is in use.
const SAVE_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Inner {
    attachment: Option<Attachment>,
    /// A message for the status bar (e.g. the radio was taken over by another session).
    notice: Option<String>,
    /// The session's RF sweep (one at a time).
    sweep: Option<Arc<crate::session::sweep::Sweep>>,
    /// The logged-in user, when the installation has users.
    user: Option<crate::auth::User>,
    /// The nodes this session asked a traceroute of on its radio: its traceroute tab shows
    /// those, not every session's (the radio is shared).
    asked: HashSet<NodeNum>,
    /// The radio a restored session was on, while it is not attached again (its radio was
    /// away at the first request): kept in its record for the next try.
    wanted_radio: Option<String>,
}

impl Session {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The link this session is attached to.
    pub fn link(&self) -> Option<LinkHandle> {
        self.lock().attachment.as_ref().map(|a| a.link().clone())
    }

    /// Attaches the session to a radio (or detaches it with `None`); returns the previous
    /// attachment, which the caller drops to release it.
    pub fn attach(&self, attachment: Option<Attachment>) -> Option<Attachment> {
        let mut inner = self.lock();
        if attachment.is_some() {
            inner.notice = None;
        }
        let old = std::mem::replace(&mut inner.attachment, attachment);
        inner.asked.clear();
        inner.wanted_radio = None;
        drop(inner);
        self.save();
        old
    }

    pub fn user(&self) -> Option<crate::auth::User> {
        self.lock().user.clone()
    }

    pub fn set_user(&self, user: Option<crate::auth::User>) {
        self.lock().user = user;
        self.save();
    }

    pub fn sweep(&self) -> Option<Arc<crate::session::sweep::Sweep>> {
        self.lock().sweep.clone()
    }

    /// Installs a new sweep unless one is running; returns false when one is.
    pub fn set_sweep(&self, sweep: impl FnOnce() -> Arc<crate::session::sweep::Sweep>) -> bool {
        let mut inner = self.lock();
        if inner.sweep.as_ref().is_some_and(|s| s.is_running()) {
            return false;
        }
        inner.sweep = Some(sweep());
        true
    }

    /// Notes that this session asked for a traceroute of `dest`.
    pub fn asked(&self, dest: NodeNum) {
        self.lock().asked.insert(dest);
    }

    /// Takes back [`Session::asked`] (the probe was refused).
    pub fn forget_asked(&self, dest: NodeNum) {
        self.lock().asked.remove(&dest);
    }

    /// Whether this session asked for a traceroute of `dest`.
    pub fn did_ask(&self, dest: NodeNum) -> bool {
        self.lock().asked.contains(&dest)
    }

    pub fn notice(&self) -> Option<String> {
        self.lock().notice.clone()
    }

    /// Drops the attachment (the registry already let it go) and leaves a notice.
    pub fn lose_link(&self, notice: &str) {
        let mut inner = self.lock();
        let gone = inner.attachment.take();
        inner.notice = Some(notice.to_string());
        drop(inner);
        drop(gone);
    }
}

/// Why a session was cleaned up.
fn reason(cause: RemovalCause) -> Option<&'static str> {
    match cause {
        RemovalCause::Expired => Some("idle"),
        RemovalCause::Size => Some("capacity"),
        RemovalCause::Explicit => Some("explicit"),
        RemovalCause::Replaced => None,
    }
}

/// The session store.
#[derive(Clone)]
pub struct Sessions {
    cache: Cache<SessionId, Arc<Session>>,
    expired: Arc<Expired>,
    /// Most sessions holding a radio at once.
    max: u64,
    idle: Duration,
    /// Stored sessions (when they survive restarts) and the queue to their writer.
    store: Option<(Store, mpsc::Sender<Persist>)>,
    /// Set while the server stops: sessions then leave the cache but keep their records.
    stopping: Arc<AtomicBool>,
    /// Ids of the stored sessions not restored yet (read at start-up).
    stored: Arc<Mutex<HashSet<SessionId>>>,
    /// The records' writer, awaited at shutdown so the last changes are written.
    writer: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

/// A stored session brought back at its first request after a restart.
pub struct Restored {
    pub session: Arc<Session>,
    /// The login it had (the user still exists), with its role now.
    pub user: Option<String>,
    /// The radio it was attached to.
    pub radio: Option<String>,
}

/// What a request's cookie resolved to.
pub struct Resolved {
    pub id: SessionId,
    pub session: Option<Arc<Session>>,
    /// The cookie named a session that was cleaned up; `id` is a fresh one.
    pub expired: bool,
    /// The cookie named a session stored before a restart; it is back.
    pub restored: Option<Restored>,
}

impl Sessions {
    /// The session store; with `store`, sessions are written to SQLite and survive a restart.
    pub fn new(idle: Duration, max: u64, store: Option<Store>) -> Sessions {
        let expired = Arc::new(Expired::default());
        let exp = expired.clone();
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let writer = Arc::new(Mutex::new(None));
        let store = store.map(|st| {
            let (tx, rx) = mpsc::channel(4096);
            let task = tokio::spawn(write_records(st.clone(), rx));
            *writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
            (st, tx)
        });
        let forget = store.as_ref().map(|(_, tx)| tx.clone());
        let cache = Cache::builder()
            // A backstop only: the cap that users see is [`Sessions::admit`]'s.
            .max_capacity(max.saturating_mul(64).max(4096))
            .time_to_idle(idle)
            .eviction_policy(EvictionPolicy::lru())
            .eviction_listener(move |id: Arc<SessionId>, session: Arc<Session>, cause| {
                let Some(reason) = reason(cause) else { return };
                tracing::info!("cleaned up session {} (reason: {reason})", id.short());
                if let Some(sweep) = session.sweep() {
                    sweep.stop();
                }
                // Released here, not whenever the last request lets go of the session.
                let attachment = session.lock().attachment.take();
                drop(attachment);
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(tx) = &forget {
                    let _ = tx.try_send(Persist::Remove((*id).clone()));
                }
                if reason != "explicit" {
                    exp.add((*id).clone());
                }
            })
            .build();
        Sessions {
            cache,
            expired,
            max,
            idle,
            store,
            stopping,
            stored: Default::default(),
            writer,
        }
    }

    fn new_session(&self, id: &SessionId) -> Arc<Session> {
        Arc::new(Session {
            id: id.clone(),
            created: Instant::now(),
            inner: Mutex::new(Inner::default()),
            persist: self.store.as_ref().map(|(_, tx)| tx.clone()),
            saved: Mutex::new(Instant::now()),
            used: Mutex::new(Instant::now()),
        })
    }

    /// Resolves a cookie's id. A session not in the cache is stateless (no place under the
    /// cap) unless it was evicted, in which case a fresh id replaces it and `expired` is set.
    pub async fn resolve(&self, cookie: Option<SessionId>) -> Resolved {
        match cookie {
            Some(id) => {
                if let Some(session) = self.cache.get(&id).await {
                    session.touch();
                    return Resolved {
                        id,
                        session: Some(session),
                        expired: false,
                        restored: None,
                    };
                }
                if self.expired.take(&id) {
                    return Resolved {
                        id: SessionId::random(),
                        session: None,
                        expired: true,
                        restored: None,
                    };
                }
                if let Some(r) = self.restore(&id).await {
                    return Resolved {
                        id,
                        session: Some(r.session.clone()),
                        expired: false,
                        restored: Some(r),
                    };
                }
                Resolved {
                    id,
                    session: None,
                    expired: false,
                    restored: None,
                }
            }
            None => Resolved {
                id: SessionId::random(),
                session: None,
                expired: false,
                restored: None,
            },
        }
    }

    /// The session for `id`, created when it does not hold state yet (it takes a place under
    /// the cap only once it holds a radio: [`Sessions::admit`]).
    pub async fn stateful(&self, id: &SessionId) -> Arc<Session> {
        let session = self
            .cache
            .get_with(id.clone(), async {
                tracing::info!("created session {}", id.short());
                let s = self.new_session(id);
                s.save();
                s
            })
            .await;
        session
    }

    /// Looks a session up without creating it (refreshes its idle clock).
    pub async fn get(&self, id: &SessionId) -> Option<Arc<Session>> {
        self.cache.get(id).await
    }

    /// Ends a session on purpose (disconnect of the last state it held).
    pub async fn remove(&self, id: &SessionId) {
        self.cache.invalidate(id).await;
        self.cache.run_pending_tasks().await;
    }

    /// Runs expirations and evictions that are due. Called every second by a background task.
    pub async fn maintain(&self) {
        self.cache.run_pending_tasks().await;
    }

    /// Ends every session (server shutdown): their links close, their records stay.
    pub async fn close_all(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.cache.invalidate_all();
        self.cache.run_pending_tasks().await;
    }

    pub fn count(&self) -> u64 {
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_parse_only_what_we_issue() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(id.short().len(), 8);
        assert!(SessionId::parse("../../etc/passwd").is_none());
        assert!(SessionId::parse(&"A".repeat(32)).is_none());
    }
}
