//! `projection_streams`: the last version of every stream the sagas have handled, written in
//! the same transaction as the work its events ask for. An event at or below it is a duplicate
//! and is skipped; an event further ahead means Kafka lost something (or the sagas' shortcut
//! handled the events in between), and the missing events are read from the log. So each
//! event is handled once in effect, whatever Kafka redelivers.
//!
//! The table keeps its first name: its migration predates the sagas owning it, and applied
//! migrations are never edited.

use std::collections::HashMap;

use events::RecordedEvent;
use sqlx::PgConnection;

/// The events of `batch` that `consumer` may not have handled yet, read without a lock or a
/// transaction. Versions only go up, so an event at or below its stream's committed version is
/// handled for good. Filtering first keeps [`handle_once`] from locking streams it has nothing
/// to do for: for the sagas, whose shortcut handles most events before Kafka brings them, that
/// is most streams, and taking their locks would queue the consumer and the shortcut behind
/// each other.
pub async fn not_yet_handled(
    executor: impl sqlx::PgExecutor<'_>,
    consumer: &str,
    batch: &[&RecordedEvent],
) -> sqlx::Result<Vec<RecordedEvent>> {
    let mut streams: Vec<&str> = batch.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    let handled: Vec<(String, i64)> = sqlx::query_as(
        "select stream_id, version from projection_streams where projection = $1 and stream_id = any($2)",
    )
    .bind(consumer)
    .bind(&streams)
    .fetch_all(executor)
    .await?;
    let handled: HashMap<String, i64> = handled.into_iter().collect();
    Ok(batch
        .iter()
        .filter(|e| handled.get(&e.stream_id).is_none_or(|known| e.stream_version > *known))
        .map(|e| (*e).clone())
        .collect())
}

/// Hands `handle` each event that `consumer` has not handled yet, in stream order, filling any
/// gap from the log, and records the streams' new versions, all on `connection` (the caller's
/// transaction). Returns what `handle` returned for the events it was given.
pub async fn handle_once<T>(
    connection: &mut PgConnection,
    consumer: &str,
    batch: &[RecordedEvent],
    mut handle: impl AsyncFnMut(&mut PgConnection, &RecordedEvent) -> anyhow::Result<Option<T>>,
) -> anyhow::Result<Vec<T>> {
    let mut streams: Vec<&str> = batch.iter().map(|e| e.stream_id.as_str()).collect();
    streams.sort_unstable();
    streams.dedup();
    // One statement makes each stream's row, locks it and reads its version. The rows are
    // locked in a fixed order, so consumers that overlap (a rebalance, the sagas' own shortcut)
    // take turns instead of interleaving or deadlocking.
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "insert into projection_streams (projection, stream_id, version) \
         select $1, s, 0 from unnest($2::text[]) as s order by s \
         on conflict (projection, stream_id) do update set version = projection_streams.version \
         returning stream_id, version",
    )
    .bind(consumer)
    .bind(&streams)
    .fetch_all(&mut *connection)
    .await?;
    let mut versions: HashMap<String, i64> = rows.into_iter().collect();

    let mut results = Vec::new();
    for event in batch {
        let known = versions.get(&event.stream_id).copied().unwrap_or(0);
        if event.stream_version <= known {
            continue;
        }
        let mut pending = Vec::new();
        if event.stream_version > known + 1 {
            let missing = store::read_stream(&mut *connection, &event.stream_id, known).await?;
            pending.extend(missing.into_iter().filter(|e| e.stream_version < event.stream_version));
            // Routine for the sagas, which handle their own commands' events before Kafka
            // brings the ones in between.
            tracing::debug!(stream = %event.stream_id, known, next = event.stream_version, "filled a gap from the log");
        }
        pending.push(event.clone());
        for event in &pending {
            results.extend(handle(connection, event).await?);
        }
        versions.insert(event.stream_id.clone(), event.stream_version);
    }
    let (ids, new_versions): (Vec<String>, Vec<i64>) = versions.into_iter().unzip();
    sqlx::query(
        "update projection_streams p set version = v.version \
           from unnest($2::text[], $3::bigint[]) as v(stream_id, version) \
          where p.projection = $1 and p.stream_id = v.stream_id and p.version < v.version",
    )
    .bind(consumer)
    .bind(&ids)
    .bind(&new_versions)
    .execute(&mut *connection)
    .await?;
    Ok(results)
}
