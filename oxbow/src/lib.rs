//! The `oxbow` binary's library: every role wired together, for the binary and for tests.

mod health;
pub mod serve;

pub use serve::{Role, Server};

/// Applies every migration: the log's, then the read models'.
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    store::migrate(pool).await?;
    projections::migrate(pool).await?;
    sagas::migrate(pool).await?;
    Ok(())
}
