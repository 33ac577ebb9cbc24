//! The state every handler shares: configuration, sessions, the radio registry and the kept
//! radios, the store and the app's counters. Cheap to clone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tower_cookies::Key;

use crate::config::Config;
use crate::kept::KeptRadios;
use crate::metrics::Metrics;
use crate::radio::{LinkOptions, Liveness, Registry};
use crate::session::Sessions;
use crate::store::{HistoryOp, Store};
use crate::views::connect::DemoRadio;

/// The settings of every link this server opens.
pub fn link_options(
    config: &Config,
    store: &Store,
    messages: &tokio::sync::mpsc::Sender<HistoryOp>,
    metrics: &Arc<Metrics>,
) -> LinkOptions {
    LinkOptions {
        handshake_timeout: Duration::from_secs(config.connect_timeout.max(1)),
        packet_log_max: config.packet_log_max,
        stale_after: Duration::from_secs(config.stale_after.max(1)),
        text_interval: Duration::from_millis(config.text_interval_ms),
        probe_interval: Duration::from_millis(config.traceroute_interval_ms),
        ack_timeout: Duration::from_secs(config.ack_timeout.max(1)),
        beacon_minute: Duration::from_millis(config.beacon_minute_ms.max(1)),
        liveness: Liveness {
            quiet: Duration::from_millis(config.heartbeat_after_ms.max(100)),
            answer_within: Duration::from_millis(config.heartbeat_timeout_ms.max(100)),
            taken_backoff: Duration::from_millis(config.taken_backoff_ms.max(100)),
            taken_backoff_max: Duration::from_millis(
                config
                    .taken_backoff_max_ms
                    .max(config.taken_backoff_ms)
                    .max(100),
            ),
        },
        messages: Some(messages.clone()),
        metrics: metrics.clone(),
        identities: Some(Arc::new(store.clone())),
    }
}

/// What the app builds before its state: the radios' owners and the queues they feed.
pub struct Parts {
    pub registry: Arc<Registry>,
    pub kept: KeptRadios,
    pub messages: tokio::sync::mpsc::Sender<HistoryOp>,
    pub metrics: Arc<Metrics>,
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub sessions: Sessions,
    /// The one owner of radio links.
    pub registry: Arc<Registry>,
    /// Radios kept connected with no browser open.
    pub kept: KeptRadios,
    /// The kept radios' virtual nodes.
    pub vnodes: crate::vnode::VirtualNodes,
    /// Alert rules and fired alerts of every radio.
    pub alerts: crate::alerts::Alerts,
    pub store: Store,
    pub key: Key,
    pub demo: Vec<DemoRadio>,
    pub metrics: Arc<Metrics>,
    /// The store writer's queue; links send message history here.
    pub messages: tokio::sync::mpsc::Sender<HistoryOp>,
    /// Whether users exist (then every route but the public ones needs a login).
    pub users_exist: AtomicBool,
    /// The users with their roles and password hashes as last read from the store (they are
    /// managed from the command line, by another process): a session's login counts only
    /// while it matches.
    pub users: std::sync::RwLock<std::collections::HashMap<String, (String, String)>>,
    pub throttle: crate::auth::Throttle,
    /// Password checks, off the async workers.
    pub hasher: crate::auth::Hasher,
    /// Most connections at once (the setting fitted under the open-file limit).
    pub connection_cap: usize,
    /// Places for live streams.
    pub streams: super::streams::Streams,
    /// The host names this server answers to.
    pub hosts: super::host::Hosts,
    /// Packet rows rendered once per radio for all its streams.
    pub rows: super::parts::Rows,
    /// Polled bodies encoded once per node DB change, per radio.
    pub encoded: super::encoded::Encoded,
    /// The nodes tables' sparklines, per radio, for a minute.
    pub sparks: super::ops::history::SparkCache,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        parts: Parts,
        config: Config,
        store: Store,
        key: Key,
        demo: Vec<DemoRadio>,
    ) -> AppState {
        let Parts {
            registry,
            kept,
            messages,
            metrics,
        } = parts;
        let hosts = super::host::Hosts::new(config.bind, &config.public_host);
        let connection_cap = super::serve::connection_cap(config.max_connections);
        let sessions = Sessions::new(
            Duration::from_secs(config.session_timeout.max(1)),
            config.max_sessions.max(1),
            config.persist_sessions.then(|| store.clone()),
        );
        let vnodes = crate::vnode::VirtualNodes::new(store.clone(), kept.clone(), config.bind);
        let alerts = crate::alerts::Alerts::new(
            store.clone(),
            registry.clone(),
            config.allowed_radios.clone(),
            crate::alerts::Timing {
                check_every: Duration::from_millis(config.alert_check_ms.max(10)),
                minute: Duration::from_millis(config.alert_minute_ms.max(1)),
            },
        );
        AppState(Arc::new(Inner {
            vnodes,
            alerts,
            config,
            sessions,
            registry,
            kept,
            store,
            key,
            demo,
            metrics,
            messages,
            users_exist: AtomicBool::new(false),
            users: Default::default(),
            throttle: crate::auth::Throttle::default(),
            hasher: crate::auth::Hasher::default(),
            rows: Default::default(),
            encoded: Default::default(),
            hosts,
            streams: Default::default(),
            connection_cap,
            sparks: Default::default(),
        }))
    }

    pub fn login_required(&self) -> bool {
        self.users_exist.load(Ordering::Relaxed)
    }

    /// Re-reads the users; ends the sessions of users who were removed or whose role or
    /// password changed (they log in again, with their role now).
    pub async fn refresh_users(&self) {
        let now: std::collections::HashMap<String, (String, String)> =
            match self.store.logins().await {
                Ok(list) => list.into_iter().collect(),
                Err(e) => {
                    tracing::warn!(error = ?e, "reading the users failed");
                    return;
                }
            };
        let changed: Vec<String> = {
            let mut known = self.users.write().unwrap_or_else(|e| e.into_inner());
            let changed = known
                .iter()
                .filter(|(name, login)| now.get(*name) != Some(login))
                .map(|(name, _)| name.clone())
                .collect();
            self.users_exist.store(!now.is_empty(), Ordering::Relaxed);
            *known = now;
            changed
        };
        for name in changed {
            self.sessions.end_user(&name).await;
        }
    }

    /// Whether a session's login still stands: the user exists with that role.
    pub fn current(&self, user: &crate::auth::User) -> bool {
        let known = self.users.read().unwrap_or_else(|e| e.into_inner());
        known.get(&user.name).map(|(role, _)| role.as_str()) == Some(user.role.as_str())
    }

    pub fn link_options(&self) -> LinkOptions {
        link_options(&self.config, &self.store, &self.messages, &self.metrics)
    }
}
