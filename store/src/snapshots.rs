//! Snapshots of long streams' states. Only a shortcut: a stream's state is always its events
//! folded, and a snapshot is that fold up to its `version`, kept so a cold read starts there.

use sqlx::PgExecutor;

use crate::Result;

/// A stream's state after `version`, whose last event is at `last_position`.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Snapshot {
    pub version: i64,
    pub last_position: i64,
    pub state: serde_json::Value,
}

/// The stream's snapshot taken with `state_version`, if there is one.
pub async fn load_snapshot(
    executor: impl PgExecutor<'_>,
    stream_id: &str,
    state_version: i32,
) -> Result<Option<Snapshot>> {
    let snapshot = sqlx::query_as(
        "select version, last_position, state from snapshots where stream_id = $1 and state_version = $2",
    )
    .bind(stream_id)
    .bind(state_version)
    .fetch_optional(executor)
    .await?;
    Ok(snapshot)
}

/// Keeps `snapshot` unless a later one of the same state version is kept already.
pub async fn save_snapshot(
    executor: impl PgExecutor<'_>,
    stream_id: &str,
    state_version: i32,
    snapshot: &Snapshot,
) -> Result<()> {
    sqlx::query(
        "insert into snapshots (stream_id, version, last_position, state_version, state) values ($1, $2, $3, $4, $5) \
         on conflict (stream_id) do update set version = excluded.version, last_position = excluded.last_position, \
            state_version = excluded.state_version, state = excluded.state, taken_at = now() \
          where snapshots.state_version <> excluded.state_version or snapshots.version < excluded.version",
    )
    .bind(stream_id)
    .bind(snapshot.version)
    .bind(snapshot.last_position)
    .bind(state_version)
    .bind(&snapshot.state)
    .execute(executor)
    .await?;
    Ok(())
}
