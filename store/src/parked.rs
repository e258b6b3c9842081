//! The dead letter of the log's consumers: an event a consumer keeps failing on is set aside
//! with its error after [`TRIES`] tries, and its stream is parked: the stream's later events
//! wait behind it, and every other stream flows on. An operator asks for a retry (after a fix)
//! or skips the event; the consumer then applies what waited, in order.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use events::RecordedEvent;
use sqlx::PgExecutor;

/// How many times a consumer fails on the same events before it looks for the failing one and
/// parks it.
pub const TRIES: i32 = 3;

/// A parked event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Parked {
    pub consumer: String,
    pub position: i64,
    pub stream_id: String,
    pub event_type: String,
    /// Why it failed; `None` when it waits behind an earlier event of its stream.
    pub error: Option<String>,
    pub tries: i32,
    pub retry_requested: bool,
    pub parked_at: DateTime<Utc>,
}

/// The streams `consumer` has parked.
pub async fn streams(executor: impl PgExecutor<'_>, consumer: &str) -> sqlx::Result<HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("select distinct stream_id from parked_events where consumer = $1")
        .bind(consumer)
        .fetch_all(executor)
        .await?;
    Ok(rows.into_iter().map(|(stream,)| stream).collect())
}

/// The positions `consumer` has parked.
pub async fn positions(executor: impl PgExecutor<'_>, consumer: &str) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("select position from parked_events where consumer = $1")
        .bind(consumer)
        .fetch_all(executor)
        .await
}

/// The positions the log records as given up for `consumer` (`ParkedEventSkipped`).
pub async fn skipped(executor: impl PgExecutor<'_>, consumer: &str) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select (payload->>'position')::bigint from events \
          where stream_id = $1 and event_type = 'ParkedEventSkipped' and payload->>'consumer' = $2",
    )
    .bind(events::operations::stream_id())
    .bind(consumer)
    .fetch_all(executor)
    .await
}

/// Parks `event` for `consumer`: failed with `error`, or waiting behind its stream's failed
/// event when `error` is `None`.
pub async fn park(
    executor: impl PgExecutor<'_>,
    consumer: &str,
    event: &RecordedEvent,
    error: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into parked_events (consumer, position, stream_id, event_type, error) values ($1, $2, $3, $4, $5) \
         on conflict (consumer, position) do update set error = coalesce(excluded.error, parked_events.error), \
                tries = parked_events.tries + 1, retry_requested = false",
    )
    .bind(consumer)
    .bind(event.position)
    .bind(&event.stream_id)
    .bind(&event.event_type)
    .bind(error)
    .execute(executor)
    .await?;
    Ok(())
}

/// Every parked event, of one consumer or of all, in order.
pub async fn list(executor: impl PgExecutor<'_>, consumer: Option<&str>) -> sqlx::Result<Vec<Parked>> {
    sqlx::query_as(
        "select consumer, position, stream_id, event_type, error, tries, retry_requested, parked_at \
           from parked_events where $1::text is null or consumer = $1 order by consumer, position",
    )
    .bind(consumer)
    .fetch_all(executor)
    .await
}

/// How many events each consumer has parked.
pub async fn counts(executor: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("select consumer, count(*) from parked_events group by consumer order by consumer")
        .fetch_all(executor)
        .await
}

/// Asks `consumer` to apply the parked events of `stream_id` again, in order. Returns how many
/// events the stream has parked.
pub async fn request_retry(executor: impl PgExecutor<'_>, consumer: &str, stream_id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query("update parked_events set retry_requested = true where consumer = $1 and stream_id = $2")
        .bind(consumer)
        .bind(stream_id)
        .execute(executor)
        .await?;
    Ok(done.rows_affected())
}

/// The streams whose parked events an operator asked to apply again, each with its parked
/// positions in order.
pub async fn due_for_retry(executor: impl PgExecutor<'_>, consumer: &str) -> sqlx::Result<Vec<(String, Vec<i64>)>> {
    sqlx::query_as(
        "select stream_id, array_agg(position order by position) from parked_events \
          where consumer = $1 and stream_id in \
                (select stream_id from parked_events where consumer = $1 and retry_requested) \
          group by stream_id",
    )
    .bind(consumer)
    .fetch_all(executor)
    .await
}

/// A retry failed again: the stream stays parked, with the new error on its first event.
pub async fn failed_again(
    executor: impl PgExecutor<'_>,
    consumer: &str,
    position: i64,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "update parked_events set retry_requested = false, \
                error = case when position = $2 then $3 else error end, \
                tries = case when position = $2 then tries + 1 else tries end \
          where consumer = $1 \
            and stream_id = (select stream_id from parked_events where consumer = $1 and position = $2)",
    )
    .bind(consumer)
    .bind(position)
    .bind(error)
    .execute(executor)
    .await?;
    Ok(())
}

/// Releases parked events once applied (or given up).
pub async fn release(executor: impl PgExecutor<'_>, consumer: &str, positions: &[i64]) -> sqlx::Result<()> {
    sqlx::query("delete from parked_events where consumer = $1 and position = any($2)")
        .bind(consumer)
        .bind(positions)
        .execute(executor)
        .await?;
    Ok(())
}
