//! The `oxbow` binary's library: every role wired together, for the binary and for tests.

mod health;
mod operations;
pub mod serve;

pub use serve::{Role, Server};

/// Every crate's migrations, in the order they run: the log's, the read models', the sagas'.
fn migrators() -> [sqlx::migrate::Migrator; 3] {
    [store::migrator(), projections::migrator(), sagas::migrator()]
}

/// Applies every migration. Run as the schema's owner (the migrator role).
pub async fn migrate(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    for migrator in migrators() {
        migrator.run(pool).await?;
    }
    Ok(())
}

/// Applies every migration, then gives `serving_role` what the serving processes need and no
/// more (see `store::roles`), and destroys again any key the log records as forgotten (a
/// restored database may hold it again). Returns how many keys that destroyed.
pub async fn migrate_for(pool: &sqlx::PgPool, serving_role: Option<&str>) -> anyhow::Result<u64> {
    migrate(pool).await?;
    if let Some(role) = serving_role {
        store::roles::grant_serving(pool, role).await?;
    }
    Ok(store::personal::reapply_erasures(pool).await?)
}

/// Whether every migration of this build is applied, read without writing anything: a serving
/// role, which may not change the schema, can ask.
pub async fn schema_is_current(pool: &sqlx::PgPool) -> anyhow::Result<bool> {
    let applied: Vec<i64> =
        match sqlx::query_scalar("select version from _sqlx_migrations where success").fetch_all(pool).await {
            Ok(applied) => applied,
            // No migration has ever run here.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P01") => return Ok(false),
            Err(error) => return Err(error.into()),
        };
    Ok(migrators().iter().flat_map(|migrator| migrator.iter()).all(|migration| applied.contains(&migration.version)))
}
