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
            let secret = std::env::var("SECRET_KEY").ok();
            let key = meshdeck::cookie_key(secret.as_deref())?;
            let mut config = cli.server;
            config.persist_sessions = secret.is_some_and(|s| !s.trim().is_empty());
            let app = meshdeck::App::start(config, key).await?;
            println!("meshdeck on http://{}", app.addr);
            tokio::signal::ctrl_c().await?;
            tracing::info!("shutting down");
            app.stop().await;
            Ok(())
        }
    }
}
