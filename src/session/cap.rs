//! The cap on sessions: at most `max` sessions hold a radio at once, and one user holds at
//! most [`PER_USER`] logged-in sessions. A session is let go only when another one has
//! just taken a radio (or logged in) and so goes over: a login, a pending connect or a failed
//! one never ends a connected session.

use std::sync::Arc;
use std::time::Instant;

use super::{Session, SessionId, Sessions};

/// Logged-in sessions one user may hold (e.g. tabs on several devices).
pub const PER_USER: usize = 16;

impl Session {
    /// Whether it holds a radio (an attachment to a link).
    pub fn holds_radio(&self) -> bool {
        self.lock().attachment.is_some()
    }

    /// Notes a use that makes no request (an open live stream).
    pub fn mark_used(&self) {
        *self.used.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    fn last_used(&self) -> Instant {
        *self.used.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sessions {
    /// After `id` took a radio: lets the least recently used other sessions go while more
    /// than the cap hold one. They are told "session expired" at their next request.
    pub async fn admit(&self, id: &SessionId) {
        let over = self.oldest_over(self.max as usize, id, |s| s.holds_radio());
        for victim in over {
            self.evict(&victim, "capacity").await;
        }
    }

    /// After `id` logged in as `user`: the user's oldest other logins go past [`PER_USER`].
    pub async fn admit_login(&self, id: &SessionId, user: &str) {
        let over = self.oldest_over(PER_USER, id, |s| s.user().is_some_and(|u| u.name == user));
        for victim in over {
            self.evict(&victim, "too many logins of one user").await;
        }
    }

    /// Ends the sessions of a user who was removed or whose role changed.
    pub async fn end_user(&self, user: &str) {
        let theirs: Vec<Arc<SessionId>> = self
            .cache
            .iter()
            .filter(|(_, s)| s.user().is_some_and(|u| u.name == user))
            .map(|(id, _)| id)
            .collect();
        for id in theirs {
            tracing::info!(
                session = id.short(),
                "ended: its user was removed or changed"
            );
            self.cache.invalidate(&*id).await;
        }
        self.cache.run_pending_tasks().await;
    }

    /// The sessions matching `counts`, least recently used first, beyond the `keep` most
    /// recent (never `id`, which just came in).
    fn oldest_over(
        &self,
        keep: usize,
        id: &SessionId,
        counts: impl Fn(&Session) -> bool,
    ) -> Vec<SessionId> {
        let mut found: Vec<(Instant, Arc<SessionId>)> = self
            .cache
            .iter()
            .filter(|(_, s)| counts(s))
            .map(|(k, s)| (s.last_used(), k))
            .collect();
        if found.len() <= keep {
            return Vec::new();
        }
        found.sort_by_key(|(used, _)| *used);
        let excess = found.len() - keep;
        found
            .into_iter()
            .filter(|(_, k)| **k != *id)
            .take(excess)
            .map(|(_, k)| (*k).clone())
            .collect()
    }

    async fn evict(&self, id: &SessionId, why: &str) {
        tracing::info!(session = id.short(), "evicted ({why})");
        self.expired.add(id.clone());
        self.cache.invalidate(id).await;
        self.cache.run_pending_tasks().await;
    }
}
