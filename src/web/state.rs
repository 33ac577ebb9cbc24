//! The state every handler shares: configuration, sessions, the radio registry, the store
//! and the counters `/metrics` shows. Cheap to clone.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tower_cookies::Key;

use crate::config::Config;
use crate::radio::{LinkOptions, Registry};
use crate::session::Sessions;
use crate::store::Store;
use crate::views::connect::DemoRadio;

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    pub sse_clients: AtomicI64,
    pub sse_lagged: AtomicU64,
    pub connects: AtomicU64,
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub sessions: Sessions,
    pub registry: Arc<Registry>,
    pub store: Store,
    pub key: Key,
    pub demo: Vec<DemoRadio>,
    pub metrics: Metrics,
    /// The store writer's queue; links send message history here.
    pub messages: tokio::sync::mpsc::UnboundedSender<crate::store::HistoryOp>,
    /// Whether users exist (then every route but the public ones needs a login).
    pub users_exist: AtomicBool,
    pub throttle: crate::auth::Throttle,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: Config,
        store: Store,
        key: Key,
        demo: Vec<DemoRadio>,
        messages: tokio::sync::mpsc::UnboundedSender<crate::store::HistoryOp>,
    ) -> AppState {
        let registry = Arc::new(Registry::default());
        let sessions = Sessions::new(
            Duration::from_secs(config.session_timeout.max(1)),
            config.max_sessions.max(1),
            registry.clone(),
        );
        AppState(Arc::new(Inner {
            config,
            sessions,
            registry,
            store,
            key,
            demo,
            metrics: Metrics::default(),
            messages,
            users_exist: AtomicBool::new(false),
            throttle: crate::auth::Throttle::default(),
        }))
    }

    pub fn login_required(&self) -> bool {
        self.users_exist.load(Ordering::Relaxed)
    }

    /// Re-reads whether users exist (they are managed from the command line).
    pub async fn refresh_users(&self) {
        match self.store.user_count().await {
            Ok(n) => self.users_exist.store(n > 0, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = ?e, "counting users failed"),
        }
    }

    pub fn link_options(&self) -> LinkOptions {
        LinkOptions {
            handshake_timeout: Duration::from_secs(self.config.connect_timeout.max(1)),
            packet_log_max: self.config.packet_log_max,
            stale_after: Duration::from_secs(self.config.stale_after.max(1)),
            text_interval: Duration::from_millis(self.config.text_interval_ms),
            probe_interval: Duration::from_millis(self.config.traceroute_interval_ms),
            ack_timeout: Duration::from_secs(self.config.ack_timeout.max(1)),
            messages: Some(self.messages.clone()),
        }
    }
}
