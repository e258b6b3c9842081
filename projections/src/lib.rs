//! Read models built from the log.
//!
//! Each projection is pure logic (an event becomes a list of read-model changes) plus an adapter
//! that writes those changes. The [`projector`] follows the log and applies it in order, a
//! chunk per PostgreSQL transaction together with its watermark, and announces its progress on
//! Redis after the commit. An event it keeps failing on is parked (`store::parked`) and its
//! stream waits; [`set_aside`] lets a rebuild set aside the same.

pub mod agents;
pub mod billing;
pub mod catalog;
pub mod dead_letter;
pub mod live;
pub mod projector;
pub mod rebuild;
pub mod runs;
pub mod set_aside;
pub mod status;
pub mod workflows;
pub mod workspaces;

/// Each once, in order.
pub(crate) fn distinct<T: Ord>(mut touched: Vec<T>) -> Vec<T> {
    touched.sort_unstable();
    touched.dedup();
    touched
}

/// What an event changed that Redis also serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Touched {
    /// The workspace's summary (name, suspension, members).
    Workspace(events::WorkspaceId),
    /// The run's live status and its workspace's run counters.
    Run { workspace_id: events::WorkspaceId, run_id: events::RunId },
}

/// This crate's migrations, run beside the other crates' into the same database.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
}
