//! `relay_checkpoints`: how far each relay has published the log, one row per target topic.
//! A relay moves its checkpoint only after the broker acknowledged everything up to it, so after
//! a crash it publishes again from there.

use sqlx::PgExecutor;

use crate::Result;

/// Where a relay resumes: the last position it published, and whether it has parked events
/// (`store::parked`) to look after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayCheckpoint {
    pub position: i64,
    pub any_parked: bool,
}

/// The checkpoint `name`, made at position 0 the first time. `consumer`: the relay's name in
/// the dead letter.
pub async fn open_relay_checkpoint<'c>(
    executor: impl PgExecutor<'c> + Copy,
    name: &str,
    consumer: &str,
) -> Result<RelayCheckpoint> {
    sqlx::query("insert into relay_checkpoints (name, position) values ($1, 0) on conflict do nothing")
        .bind(name)
        .execute(executor)
        .await?;
    let (position, any_parked): (i64, bool) = sqlx::query_as(
        "select position, exists (select 1 from parked_events where consumer = $2) from relay_checkpoints where name = $1",
    )
    .bind(name)
    .bind(consumer)
    .fetch_one(executor)
    .await?;
    Ok(RelayCheckpoint { position, any_parked })
}

/// Moves the checkpoint `name` on to `position` (never back), and tells whether the relay has
/// parked events.
pub async fn advance_relay_checkpoint(
    executor: impl PgExecutor<'_>,
    name: &str,
    position: i64,
    consumer: &str,
) -> Result<RelayCheckpoint> {
    let (position, any_parked): (i64, bool) = sqlx::query_as(
        "update relay_checkpoints set position = greatest(position, $2) where name = $1 \
         returning position, exists (select 1 from parked_events where consumer = $3)",
    )
    .bind(name)
    .bind(position)
    .bind(consumer)
    .fetch_one(executor)
    .await?;
    Ok(RelayCheckpoint { position, any_parked })
}
