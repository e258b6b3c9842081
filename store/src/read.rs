//! Reading the log: by stream, by position, and its head.

use events::{ChainHash, RecordedEvent};
use sqlx::PgExecutor;

use crate::{Error, Result};

/// A select of whole events with the given tail (`where …`), as a static string.
macro_rules! select_events {
    ($tail:literal) => {
        concat!(
            "select position, stream_id, stream_version, event_id, event_type, schema_version, ",
            "payload, metadata, recorded_at, hash from events ",
            $tail
        )
    };
}

#[derive(sqlx::FromRow)]
struct EventRow {
    position: i64,
    stream_id: String,
    stream_version: i64,
    event_id: uuid::Uuid,
    event_type: String,
    schema_version: i32,
    payload: serde_json::Value,
    metadata: serde_json::Value,
    recorded_at: chrono::DateTime<chrono::Utc>,
    hash: Vec<u8>,
}

impl TryFrom<EventRow> for RecordedEvent {
    type Error = Error;

    fn try_from(row: EventRow) -> Result<RecordedEvent> {
        let hash = ChainHash::from_slice(&row.hash).ok_or_else(|| Error::CorruptRow {
            position: row.position,
            reason: format!("hash has {} bytes, not 32", row.hash.len()),
        })?;
        Ok(RecordedEvent {
            position: row.position,
            stream_id: row.stream_id,
            stream_version: row.stream_version,
            event_id: row.event_id,
            event_type: row.event_type,
            schema_version: row.schema_version,
            payload: row.payload,
            metadata: row.metadata,
            recorded_at: row.recorded_at,
            hash,
        })
    }
}

fn convert(rows: Vec<EventRow>) -> Result<Vec<RecordedEvent>> {
    rows.into_iter().map(RecordedEvent::try_from).collect()
}

/// A stream's events after `after_version`, in order.
pub async fn read_stream(
    executor: impl PgExecutor<'_>,
    stream_id: &str,
    after_version: i64,
) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where stream_id = $1 and stream_version > $2 order by stream_version");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(stream_id).bind(after_version).fetch_all(executor).await?;
    convert(rows)
}

/// Up to `limit` events after `after_position`, in log order. A follower that calls this with
/// the last position it saw never misses an event: positions are gap-free and commit-ordered.
pub async fn read_all(executor: impl PgExecutor<'_>, after_position: i64, limit: i64) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where position > $1 order by position limit $2");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(after_position).bind(limit).fetch_all(executor).await?;
    convert(rows)
}

/// The events at positions `first..=last`.
pub async fn read_range(executor: impl PgExecutor<'_>, first: i64, last: i64) -> Result<Vec<RecordedEvent>> {
    let sql = select_events!("where position between $1 and $2 order by position");
    let rows = sqlx::query_as::<_, EventRow>(sql).bind(first).bind(last).fetch_all(executor).await?;
    convert(rows)
}

/// The last position and hash of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub position: i64,
    pub hash: ChainHash,
}

pub async fn read_head(executor: impl PgExecutor<'_>) -> Result<Head> {
    let (position, hash): (i64, Vec<u8>) =
        sqlx::query_as("select position, hash from log_head").fetch_one(executor).await?;
    let hash = ChainHash::from_slice(&hash)
        .ok_or_else(|| Error::CorruptRow { position, reason: "the log head's hash is not 32 bytes".into() })?;
    Ok(Head { position, hash })
}

/// The events at positions `first..=last`, streamed in log order in constant memory.
pub fn stream_range<'a>(
    pool: &'a sqlx::PgPool,
    first: i64,
    last: i64,
) -> futures::stream::BoxStream<'a, Result<RecordedEvent>> {
    use futures::StreamExt;
    sqlx::query_as::<_, EventRow>(select_events!("where position between $1 and $2 order by position"))
        .bind(first)
        .bind(last)
        .fetch(pool)
        .map(|row| RecordedEvent::try_from(row?))
        .boxed()
}
