//! `event_trace_context`: the trace each traced append was part of, by position.
//!
//! Why beside the log and not in the events' metadata: metadata is hash-chained, kept for ever
//! and exported to auditors, and a trace id is operational data that matters for days, exists
//! only where traces are switched on, and names spans in a system the auditor never sees. So
//! the committer writes it here in the same statement as the events (unlogged, no WAL), the
//! relay and the projector read it for the positions they handle, and the projector deletes
//! what every reader has passed.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::error::Result;

/// The W3C `traceparent` of traced events, by position.
pub type TraceContexts = HashMap<i64, String>;

/// The `traceparent` of each traced event in `(after, up_to]`, by position.
pub async fn read(executor: impl sqlx::PgExecutor<'_>, after: i64, up_to: i64) -> Result<TraceContexts> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("select position, traceparent from event_trace_context where position > $1 and position <= $2")
            .bind(after)
            .bind(up_to)
            .fetch_all(executor)
            .await?;
    Ok(rows.into_iter().collect())
}

/// The `traceparent` of each traced event among `positions`.
pub async fn read_positions(pool: &PgPool, positions: &[i64]) -> Result<TraceContexts> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("select position, traceparent from event_trace_context where position = any($1)")
            .bind(positions)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// Deletes the trace context of events the relay and the projection (at `applied`) have passed.
/// The relay furthest on counts: the checkpoint of a topic no longer published to (the old one
/// after a restore) must not keep rows for ever.
pub async fn prune(pool: &PgPool, applied: i64) -> Result<u64> {
    let done = sqlx::query(
        "delete from event_trace_context \
          where position <= least((select max(position) from relay_checkpoints), $1)",
    )
    .bind(applied)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
