//! What every command that works on the database starts with.

use anyhow::Context;
use platform::Config;
use sqlx::PgPool;

/// The configuration from the environment, and a pool of `connections` to its database.
pub async fn connect(connections: u32) -> anyhow::Result<(Config, PgPool)> {
    let config = Config::from_env()?;
    let pool = store::connect(&config.database_url, connections).await.context("connecting to PostgreSQL")?;
    Ok((config, pool))
}
