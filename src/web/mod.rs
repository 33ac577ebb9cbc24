//! The HTTP surface: shared state, the router, and one file per page or API area.

pub(crate) mod api;
mod assets;
mod automation;
mod connect;
mod events;
mod extract;
mod guard;
mod login;
mod messages;
mod pages;
mod settings;
mod traceroute;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use tower_cookies::{CookieManagerLayer, Key};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::radio::{LinkOptions, Registry};
use crate::session::Sessions;
use crate::store::Store;
use crate::views::connect::DemoRadio;

pub use extract::Ctx;

/// The settings of every link this server opens.
pub fn link_options(
    config: &Config,
    messages: &tokio::sync::mpsc::Sender<crate::store::HistoryOp>,
    metrics: &Arc<crate::metrics::Metrics>,
) -> LinkOptions {
    LinkOptions {
        handshake_timeout: Duration::from_secs(config.connect_timeout.max(1)),
        packet_log_max: config.packet_log_max,
        stale_after: Duration::from_secs(config.stale_after.max(1)),
        text_interval: Duration::from_millis(config.text_interval_ms),
        probe_interval: Duration::from_millis(config.traceroute_interval_ms),
        ack_timeout: Duration::from_secs(config.ack_timeout.max(1)),
        beacon_minute: Duration::from_millis(config.beacon_minute_ms.max(1)),
        messages: Some(messages.clone()),
        metrics: metrics.clone(),
    }
}

/// What the app builds before its state: the radios' owners and the queues they feed.
pub struct Parts {
    pub registry: Arc<Registry>,
    pub kept: crate::kept::KeptRadios,
    pub messages: tokio::sync::mpsc::Sender<crate::store::HistoryOp>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub sessions: Sessions,
    pub registry: Arc<Registry>,
    /// Radios kept connected with no browser open.
    pub kept: crate::kept::KeptRadios,
    pub store: Store,
    pub key: Key,
    pub demo: Vec<DemoRadio>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The store writer's queue; links send message history here.
    pub messages: tokio::sync::mpsc::Sender<crate::store::HistoryOp>,
    /// Whether users exist (then every route but the public ones needs a login).
    pub users_exist: std::sync::atomic::AtomicBool,
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
        let sessions = Sessions::new(
            Duration::from_secs(config.session_timeout.max(1)),
            config.max_sessions.max(1),
            config.persist_sessions.then(|| store.clone()),
        );
        AppState(Arc::new(Inner {
            config,
            sessions,
            registry,
            store,
            key,
            demo,
            metrics,
            kept,
            messages,
            users_exist: std::sync::atomic::AtomicBool::new(false),
            throttle: crate::auth::Throttle::default(),
        }))
    }

    pub fn login_required(&self) -> bool {
        self.users_exist.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Re-reads whether users exist (they are managed from the command line).
    pub async fn refresh_users(&self) {
        match self.store.user_count().await {
            Ok(n) => self
                .users_exist
                .store(n > 0, std::sync::atomic::Ordering::Relaxed),
            Err(e) => tracing::warn!(error = ?e, "counting users failed"),
        }
    }

    pub fn link_options(&self) -> LinkOptions {
        link_options(&self.config, &self.messages, &self.metrics)
    }
}

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route("/connect", get(pages::connect_page).post(pages::connect))
        .route("/disconnect", post(pages::disconnect))
        .route("/connections", post(pages::save_connection))
        .route("/connections/{id}/delete", post(pages::delete_connection))
        .route("/nodes", get(pages::nodes))
        .route("/node/{id}", get(pages::node))
        .route("/packets", get(pages::packets))
        .route("/messages", get(messages::messages_page))
        .route("/messages/send", post(messages::send_form))
        .route(
            "/traceroute",
            get(traceroute::page_handler).post(traceroute::trace_form),
        )
        .route("/traceroute/cancel", post(traceroute::cancel_form))
        .route("/traceroute/coverage.svg", get(traceroute::coverage))
        .route("/sweep", post(traceroute::sweep_start_form))
        .route("/sweep/stop", post(traceroute::sweep_stop_form))
        .route("/api/traceroute", post(traceroute::api_trace))
        .route("/api/traceroute/results", get(traceroute::api_results))
        .route("/api/traceroute/cancel", post(traceroute::api_cancel))
        .route("/api/sweep", post(traceroute::api_sweep))
        .route("/api/sweep/status", get(traceroute::api_sweep_status))
        .route("/api/sweep/stop", post(traceroute::api_sweep_stop))
        .route("/automation", get(automation::page_handler))
        .route("/automation/{form}", post(automation::form_post))
        .route(
            "/api/autoresponder",
            get(automation::api_responder_get).post(automation::api_responder_post),
        )
        .route(
            "/api/beacon",
            get(automation::api_beacon_get).post(automation::api_beacon_post),
        )
        .route("/api/beacon/start", post(automation::api_beacon_start))
        .route("/api/beacon/stop", post(automation::api_beacon_stop))
        .route("/api/beacon/test", post(automation::api_beacon_test))
        .route(
            "/api/message-filter",
            get(automation::api_filter_get).post(automation::api_filter_post),
        )
        .route("/settings", get(settings::page_handler))
        .route("/settings/health", get(settings::health_fragment))
        .route("/settings/mqtt", post(settings::mqtt_form_post))
        .route("/settings/admin/{action}", post(settings::admin_form))
        .route("/api/device/config", get(settings::api_config))
        .route(
            "/api/device/mqtt/config",
            get(settings::api_mqtt_get).post(settings::api_mqtt_post),
        )
        .route("/api/device/reboot", post(settings::api_reboot))
        .route("/api/device/shutdown", post(settings::api_shutdown))
        .route(
            "/api/device/factory-reset",
            post(settings::api_factory_reset),
        )
        .route("/api/reset-nodedb", post(settings::api_nodedb_reset))
        .route("/api/mqtt/health", get(settings::api_mqtt_health))
        .route(
            "/api/store-forward/status",
            get(settings::api_store_forward),
        )
        .route("/status", get(pages::status))
        .route("/events", get(events::events))
        .route("/healthz", get(pages::healthz))
        .route("/metrics", get(pages::metrics))
        .merge(api::router())
        .route("/assets/{*path}", get(assets::serve))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::authorize,
        ))
        .layer(axum::middleware::from_fn(guard::cross_site))
        .layer(CookieManagerLayer::new())
        // Pages are compressed at level 2: at the default level (6) deflate was half of the
        // server's CPU under browser-like load; level 2 takes half of that time for 13 %
        // more bytes, level 1 a third less again for 9 % more than level 2 (BENCHMARKS.md).
        // The static assets come gzipped at the best level already and pass through.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(2)))
        // A response must start within 30 s (a connect waits at most the handshake timeout);
        // live streams start at once and are not cut.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}
