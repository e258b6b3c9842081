//! Read models built from the log.
//!
//! Each projection is pure logic (an event becomes a list of read-model changes) plus an adapter
//! that writes those changes. The [`projector`] consumes Kafka and applies events in one
//! PostgreSQL transaction together with its bookkeeping, so a redelivered event changes
//! nothing, and announces its progress on Redis after the commit.

pub mod agents;
pub mod billing;
pub mod catalog;
pub mod live;
pub mod projector;
pub mod rebuild;
pub mod runs;
pub mod status;
pub mod workflows;
pub mod workspaces;

/// What an event changed that Redis also serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Touched {
    /// The workspace's summary (name, suspension, members).
    Workspace(events::WorkspaceId),
    /// The run's live status and its workspace's run counters.
    Run { workspace_id: events::WorkspaceId, run_id: events::RunId },
}

/// Applies the read models' migrations.
pub async fn migrate(pool: &sqlx::PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut migrator = sqlx::migrate!("./migrations");
    // The log's own migrations live in the store crate.
    migrator.set_ignore_missing(true);
    migrator.run(pool).await
}
