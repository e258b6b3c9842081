//! The `oxbow` binary's library: wiring every role together, for the binary and for tests.

/// Applies every migration: the log's, then the read models'.
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    store::migrate(pool).await?;
    Ok(())
}
