//! The PostgreSQL event log.
//!
//! Appends go through one group committer per process: concurrent commands are appended in a
//! single statement that moves the log's head with a compare-and-set, so positions are gap-free
//! and in commit order, and each command is acknowledged only after that statement commits.

mod append;
pub mod bulk;
mod checkpoints;
mod error;
mod fragments;
pub mod memory;
pub mod parked;
pub mod personal;
mod ports;
mod present;
mod read;
pub mod roles;
pub mod secrets;
mod snapshots;
pub mod traces;

pub use append::{
    AppendOutcome, AppendRequest, AppendedEvent, BatchObserver, BatchWritten, CommitterConfig, ExpectedVersion,
    IdempotencyClaim, IdempotencyRecord, StreamAppend, find_idempotency_key, used_idempotency_keys,
};
pub use checkpoints::{RelayCheckpoint, advance_relay_checkpoint, open_relay_checkpoint};
pub use error::{AppendError, Error, Result};
pub use ports::{EventLog, KeyStore, StreamEvents};
pub use present::present;
pub use read::{
    Head, HeadBesideLast, events_where, hashes_at, last_event_type, load_stream, load_streams, read_all, read_head,
    read_head_beside_last, read_positions, read_range, read_stream, read_stream_page, read_streams, stream_range,
};
pub use snapshots::{Snapshot, load_snapshot, save_snapshot};

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// The channel an append notifies with the new head position, for followers that wait.
pub const APPEND_CHANNEL: &str = "oxbow_events";

/// Waits up to `timeout` for appends on `listener` (listening on [`APPEND_CHANNEL`]) and
/// returns the highest head they announced, so that a follower already past it need not read
/// the log. `None` when the wait timed out, the connection dropped or a notification named no
/// position (a nudge to look again): the follower reads the log then.
pub async fn wait_for_appends(listener: &mut sqlx::postgres::PgListener, timeout: std::time::Duration) -> Option<i64> {
    let first = tokio::time::timeout(timeout, listener.try_recv()).await.ok()?.ok()??;
    let mut head = first.payload().parse::<i64>().ok();
    while let Some(notification) = listener.next_buffered() {
        head = head.zip(notification.payload().parse::<i64>().ok()).map(|(a, b)| a.max(b));
    }
    head
}

/// This crate's migrations, run beside the other crates' into the same database.
pub fn migrator() -> sqlx::migrate::Migrator {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.set_ignore_missing(true);
    migrator
}

pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect(url)
        .await?)
}

/// The log: reads, and appends through the group committer.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    committer: append::CommitterHandle,
}

impl EventStore {
    /// Starts the group committer on `pool`.
    pub fn new(pool: PgPool, config: CommitterConfig) -> EventStore {
        let committer = append::spawn(pool.clone(), config);
        EventStore { pool, committer }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Appends one command's events; returns once they are committed, or why not.
    pub async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, AppendError> {
        self.committer.append(request).await
    }
}
