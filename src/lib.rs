//! meshdeck: a multi-user web dashboard for Meshtastic radios on their TCP network API.
//!
//! The modules, from the wire up: `proto` (framing), `sim` (the simulated radio), `radio`
//! (one link task per radio), `session` (the moka-backed session store), `store` (SQLite),
//! `views` (maud), `web` (axum). [`App`] ties them together.

pub mod alerts;
pub mod allow;
pub mod auth;
pub mod config;
pub mod error;
pub mod ids;
pub mod install;
pub mod kept;
pub mod metrics;
pub mod proto;
pub mod radio;
pub mod read;
pub mod session;
pub mod sim;
pub mod store;
pub mod time;
pub mod views;
pub mod vnode;
pub mod web;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use tokio::net::TcpListener;
use tower_cookies::Key;

use config::Config;
use views::connect::DemoRadio;
use web::AppState;

/// A running server.
pub struct App {
    pub addr: SocketAddr,
    pub state: AppState,
    /// Simulated radios started by `--demo` (kept alive with the app).
    pub demo: Vec<sim::SimRadio>,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

/// The cookie key from `SECRET_KEY` (64+ bytes, hex or base64), or a random one.
pub fn cookie_key(secret: Option<&str>) -> anyhow::Result<Key> {
    match secret.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            let bytes = hex::decode(s)
                .ok()
                .or_else(|| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .or_else(|| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(s)
                        .ok()
                })
                .context("SECRET_KEY must be hex or base64")?;
            anyhow::ensure!(
                bytes.len() >= 64,
                "SECRET_KEY must be at least 64 bytes (it has {})",
                bytes.len()
            );
            Ok(Key::from(&bytes))
        }
        None => {
            tracing::warn!(
                "SECRET_KEY is not set: using a random key; sessions will not survive a restart"
            );
            Ok(Key::generate())
        }
    }
}

impl App {
    /// Starts the server on `config.bind` (port 0 picks a free port) and its background tasks.
    pub async fn start(config: Config, key: Key) -> anyhow::Result<App> {
        let store = store::Store::open(&config.data_dir.join("meshdeck.db"))?;
        let mut demo = Vec::new();
        let mut demo_list = Vec::new();
        if let Some(n) = config.demo {
            for index in 0..n.min(16) {
                let cfg = sim::SimConfig {
                    index,
                    nodes: 120,
                    rate: 1.0,
                    neighbor_interval: std::time::Duration::from_secs(600),
                    ..sim::SimConfig::default()
                };
                let radio = sim::SimRadio::bind("127.0.0.1:0", cfg)
                    .await
                    .context("starting a demo radio")?;
                demo_list.push(DemoRadio {
                    name: format!("Demo radio {}", index + 1),
                    host: radio.addr().ip().to_string(),
                    port: radio.addr().port(),
                    nodes: 120,
                });
                demo.push(radio);
            }
        }
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("binding {}", config.bind))?;
        let addr = listener.local_addr()?;
        let (messages, writer_rx) = tokio::sync::mpsc::channel(store::WRITE_QUEUE);
        let writer = tokio::spawn(store::writer(
            store.clone(),
            writer_rx,
            config.message_retention,
        ));
        let registry = std::sync::Arc::new(radio::Registry::default());
        let metrics = std::sync::Arc::new(metrics::Metrics::default());
        let kept = kept::KeptRadios::start(
            store.clone(),
            registry.clone(),
            config.allowed_radios.clone(),
            web::link_options(&config, &store, &messages, &metrics),
            config.max_radios,
        )
        .await?;
        let parts = web::Parts {
            registry,
            kept,
            messages,
            metrics,
        };
        let state = AppState::new(parts, config, store, key, demo_list);
        state.refresh_users().await;
        state.sessions.load_stored().await;
        if !state.config.bind.ip().is_loopback() && !state.login_required() {
            tracing::warn!(
                bind = %state.config.bind,
                "listening beyond loopback with no users: anyone who can reach it can use your radios; add one with `meshdeck user add`"
            );
        }
        let router = web::router(state.clone());
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        // Expire idle sessions on time even when nobody makes a request; notice users added,
        // removed or changed from the command line (within half a second); drop stale
        // sparklines (every 10 s).
        let background = state.clone();
        let mut stop = rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            let mut n: u64 = 0;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        background.sessions.maintain().await;
                        n += 1;
                        background.refresh_users().await;
                        if n.is_multiple_of(20) {
                            background.sparks.maintain().await;
                        }
                        // Stored sessions past their idle timeout go, every 5 minutes.
                        if n.is_multiple_of(600) {
                            background.sessions.load_stored().await;
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
        });
        tokio::spawn(store::retention::run(
            state.store.clone(),
            state.config.history_policy(),
            Duration::from_secs(300),
            rx.clone(),
        ));
        state.vnodes.load().await?;
        tokio::spawn(state.vnodes.clone().run(rx.clone()));
        tokio::spawn(state.alerts.clone().run(rx.clone()));
        let cap = state.connection_cap;
        let server = tokio::spawn(web::serve::serve(listener, router, cap, rx));
        tracing::info!(
            data = %std::path::absolute(state.config.data_dir.join("meshdeck.db"))
                .unwrap_or_else(|_| state.config.data_dir.join("meshdeck.db"))
                .display(),
            "meshdeck listening on {}",
            install::open_at(addr)
        );
        Ok(App {
            addr,
            state,
            demo,
            shutdown,
            server,
            writer,
        })
    }

    /// Stops accepting requests and waits for the server task.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        self.state.sessions.close_all().await;
        self.state.kept.stop_all();
        self.state.registry.close_all("the server stopped");
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        for d in &self.demo {
            d.shutdown();
        }
        // Links hold the writer's queue; once they are gone it drains and ends. So do the
        // sessions' records once the sessions are.
        let records = self.state.sessions.take_writer();
        drop(self.state);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.writer).await;
        if let Some(w) = records {
            let _ = tokio::time::timeout(Duration::from_secs(2), w).await;
        }
    }
}

/// A line of standard input. On a terminal it asks for it, and what is typed is not shown:
/// echo is off until the line is read (a newline still shows).
fn read_password() -> std::io::Result<String> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        let _quiet = install::NoEcho::on(&stdin)?;
        // Asked once echo is off, so nothing typed after the question shows.
        eprint!("password for the new user (at least 8 characters, not shown): ");
        stdin.read_line(&mut line)?;
    } else {
        stdin.read_line(&mut line)?;
    }
    Ok(line)
}

/// `meshdeck user …`: manage users in the data directory's database.
pub async fn users_cli(config: &Config, cmd: config::UserCommand) -> anyhow::Result<()> {
    use config::UserCommand;
    let store = store::Store::open(&config.data_dir.join("meshdeck.db"))?;
    match cmd {
        UserCommand::Add { name, role } => {
            auth::valid_name(&name).map_err(anyhow::Error::msg)?;
            let role: auth::Role = role.parse().map_err(anyhow::Error::msg)?;
            let password = read_password().context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            anyhow::ensure!(
                password.chars().count() >= 8,
                "the password must have at least 8 characters"
            );
            store.put_user(&name, role, &auth::hash(password)?).await?;
            println!("user {name} ({role}) saved");
        }
        UserCommand::Remove { name } => {
            anyhow::ensure!(store.remove_user(&name).await?, "no user {name}");
            println!("user {name} removed");
        }
        UserCommand::List => {
            for (name, role) in store.users().await? {
                println!("{name}\t{role}");
            }
        }
    }
    drop(store);
    // The connections close on their threads: the files are whole before their owner changes.
    if !store::wait_closed(std::time::Duration::from_secs(5)) {
        tracing::warn!("the database took over 5 s to close");
    }
    install::match_owner(&config.data_dir);
    Ok(())
}
