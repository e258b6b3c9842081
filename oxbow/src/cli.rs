//! The `oxbow` command: each subcommand's work, by concern (`log`, `projections`, `kafka`);
//! `flags` is what clap reads.

mod database;
pub mod flags;
mod kafka;
mod log;
mod progress;
mod projections;

use std::process::ExitCode;

use anyhow::Context;
use oxbow::Role;
use platform::Config;

use flags::{Cli, Command, KafkaCommand, LogCommand, ProjectionsCommand};

/// How long `serve` lets the requests in flight finish after SIGTERM or Ctrl-C.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { roles, dev } => serve(roles, dev).await,
        Command::Probe { url } => probe(&url).await,
        Command::Migrate => migrate().await,
        Command::Token { sub, email, ttl_hours, operator } => token(&sub, email.as_deref(), ttl_hours, operator),
        Command::Log { command: LogCommand::Verify(args) } => log::verify(args).await,
        Command::Log { command: LogCommand::Export(args) } => log::export(args).await,
        Command::Log { command: LogCommand::State(args) } => log::state(args).await,
        Command::Log { command: LogCommand::Forget { subject, key_id, by } } => {
            log::forget(subject.as_deref().map(str::trim), key_id, by).await
        }
        Command::Projections { command: ProjectionsCommand::Status { json } } => projections::status(json).await,
        Command::Projections { command: ProjectionsCommand::Retry { position, consumer, wait } } => {
            projections::retry(&consumer, position, wait).await
        }
        Command::Projections { command: ProjectionsCommand::Skip { position, consumer, reason, by, wait } } => {
            projections::skip(&consumer, position, &reason, by, wait).await
        }
        Command::Projections { command: ProjectionsCommand::Rebuild { which, fresh } } => {
            projections::rebuild(which.names()?, fresh).await
        }
        Command::Projections { command: ProjectionsCommand::Diff { which } } => projections::diff(which.names()?).await,
        Command::Kafka { command: KafkaCommand::Republish { from, to } } => kafka::republish(from, to).await,
    }
}

/// Runs `roles` until a role stops or the process is told to stop.
async fn serve(roles: Vec<Role>, dev: bool) -> anyhow::Result<ExitCode> {
    let mut config = Config::from_env()?;
    config.development = dev;
    let roles = if roles.is_empty() { Role::ALL.to_vec() } else { roles };
    let mut server = oxbow::serve::start(config, &roles).await?;
    if let Some(addr) = server.http_addr {
        tracing::info!("serving on http://{addr} (GraphiQL at /graphql)");
    }
    tokio::select! {
        _ = server.wait() => {}
        _ = shutdown_signal() => {
            tracing::info!("shutting down: finishing the requests in flight");
            server.shut_down(SHUTDOWN_GRACE).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A container's health check, where the image has no curl.
async fn probe(url: &str) -> anyhow::Result<ExitCode> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build()?;
    let response = client.get(url).send().await.with_context(|| format!("asking {url}"))?;
    anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
    Ok(ExitCode::SUCCESS)
}

async fn migrate() -> anyhow::Result<ExitCode> {
    let (config, pool) = database::connect(2).await?;
    let erased = oxbow::migrate_for(&pool, config.serving_role.as_deref()).await?;
    if erased > 0 {
        println!("destroyed again {erased} key(s) the log records as forgotten (the database was restored?)");
    }
    match &config.serving_role {
        Some(role) => println!("migrated; {role} may serve"),
        None => println!("migrated"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Mints a development token signed with `OXBOW_JWT_SECRET` (or the public development secret).
fn token(sub: &str, email: Option<&str>, ttl_hours: i64, operator: bool) -> anyhow::Result<ExitCode> {
    if sub.trim().is_empty() {
        anyhow::bail!("--sub must not be empty");
    }
    if ttl_hours <= 0 {
        anyhow::bail!("--ttl-hours must be positive");
    }
    let secret = match std::env::var("OXBOW_JWT_SECRET").ok().filter(|s| !s.is_empty()) {
        Some(secret) => secret,
        None => {
            eprintln!("note: OXBOW_JWT_SECRET is not set; signing with the public development secret");
            platform::config::DEVELOPMENT_JWT_SECRET.to_owned()
        }
    };
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    let issuers = platform::config::issuers(env("OXBOW_JWT_ISSUER").as_deref());
    let tokens = platform::auth::Tokens::expecting(&secret, &issuers, env("OXBOW_JWT_AUDIENCE").as_deref());
    let roles: &[&str] = if operator { &["operator"] } else { &[] };
    println!("{}", tokens.mint_with_roles(sub, email, roles, chrono::Duration::hours(ttl_hours)));
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return interrupt.await.unwrap_or(()),
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.unwrap_or(());
}
