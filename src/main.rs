//! Start-up only: parse the settings, initialise logging, run the server or the simulator.

use clap::Parser;
use meshdeck::config::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sim(args)) => meshdeck::sim::run(args).await,
        Some(Command::User(cmd)) => meshdeck::users_cli(&cli.server, cmd).await,
        None => {
            let mut config = cli.server;
            let secret = meshdeck::install::secret_key(
                std::env::var("SECRET_KEY").ok(),
                config.secret_key_file.as_deref(),
            )?;
            let key = meshdeck::cookie_key(secret.as_deref())?;
            config.persist_sessions = secret.is_some();
            // Listening for the stop before the address is announced: a SIGTERM right after
            // the announcement is a clean stop too.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            let app = meshdeck::App::start(config, key).await?;
            println!("meshdeck on http://{}", app.addr);
            tokio::select! {
                r = tokio::signal::ctrl_c() => r?,
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
            app.stop().await;
            Ok(())
        }
    }
}
